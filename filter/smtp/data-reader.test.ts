import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpDataReader, type DataReaderOptions } from './data-reader.js';

const limits: DataReaderOptions = {
  maxMessageBytes: 1 << 20,
  maxHeaderBytes: 1 << 16,
  maxDataLineBytes: 1 << 16,
};

/** Feeds `pieces` and returns header block, body and summary. */
export function readAll(pieces: readonly Buffer[], options: DataReaderOptions = limits) {
  const reader = new SmtpDataReader(options);
  let headers: Buffer | null = null;
  const body: Buffer[] = [];
  let rest = Buffer.alloc(0);
  let done = false;
  for (const piece of pieces) {
    const step = reader.push(piece);
    for (const e of step.events) {
      if (e.kind === 'headers') headers = e.headers.toBuffer();
      else body.push(Buffer.from(e.bytes));
    }
    if (step.done) {
      done = true;
      rest = Buffer.concat([rest, step.rest]);
    }
  }
  return { headers, body: Buffer.concat(body), rest, done, summary: reader.summary };
}

const b = (s: string) => Buffer.from(s, 'latin1');

describe('SmtpDataReader', () => {
  it('splits headers from body and stops at CRLF.CRLF', () => {
    const r = readAll([b('Subject: hi\r\nFrom: a@b\r\n\r\nline 1\r\nline 2\r\n.\r\nQUIT\r\n')]);
    assert.equal(r.done, true);
    assert.equal(r.headers?.toString(), 'Subject: hi\r\nFrom: a@b\r\n');
    assert.equal(r.body.toString(), 'line 1\r\nline 2\r\n');
    assert.equal(r.rest.toString(), 'QUIT\r\n');
    assert.equal(r.summary.problem, null);
  });

  it('removes stuffed dots (RFC 5321 §4.5.2)', () => {
    const r = readAll([b('S: x\r\n\r\n..leading\r\n...\r\nmid.dle\r\n.\r\n')]);
    assert.equal(r.body.toString(), '.leading\r\n..\r\nmid.dle\r\n');
  });

  it('accepts an empty message', () => {
    const r = readAll([b('.\r\n')]);
    assert.equal(r.done, true);
    assert.equal(r.headers?.length, 0);
    assert.equal(r.body.length, 0);
  });

  it('treats a message without an empty line as all headers', () => {
    const r = readAll([b('Subject: only\r\n.\r\n')]);
    assert.equal(r.headers?.toString(), 'Subject: only\r\n');
    assert.equal(r.body.length, 0);
  });

  it('does not end at LF.LF, and refuses the message for the bare LF', () => {
    const r = readAll([b('S: x\r\n\r\nhello\n.\nMAIL FROM:<evil@x>\r\n.\r\n')]);
    assert.equal(r.done, true);
    assert.equal(r.rest.length, 0);
    assert.equal(r.summary.problem, 'bareLf');
  });

  it('does not end at CR.CR or CRLF.CR, and passes bare CR as content', () => {
    const r = readAll([b('S: x\r\n\r\nhello\r.\rworld\r\n.\rX\r\n.\r\n')]);
    assert.equal(r.done, true);
    assert.equal(r.summary.problem, null);
    assert.equal(r.body.toString('latin1'), 'hello\r.\rworld\r\n\rX\r\n');
    assert.equal(r.summary.bareCrCount, 3);
  });

  it('does not end at LF.CRLF', () => {
    const r = readAll([b('S: x\r\n\r\nhello\n.\r\nmore\r\n.\r\n')]);
    assert.equal(r.done, true);
    assert.equal(r.summary.problem, 'bareLf');
  });

  it('keeps reading past maxMessageBytes and reports tooLarge at the end', () => {
    const big = 'x'.repeat(100) + '\r\n';
    const r = readAll([b('S: x\r\n\r\n'), b(big.repeat(20)), b('.\r\nNOOP\r\n')], {
      ...limits,
      maxMessageBytes: 500,
    });
    assert.equal(r.done, true);
    assert.equal(r.summary.problem, 'tooLarge');
    assert.ok(r.body.length <= 500);
    assert.equal(r.rest.toString(), 'NOOP\r\n');
  });

  it('reports a data line over maxDataLineBytes', () => {
    const r = readAll([b(`S: x\r\n\r\n${'y'.repeat(300)}\r\n.\r\n`)], {
      ...limits,
      maxDataLineBytes: 200,
    });
    assert.equal(r.summary.problem, 'lineTooLong');
  });

  it('reports a header block over maxHeaderBytes', () => {
    const r = readAll([b(`S: ${'y'.repeat(300)}\r\n\r\nbody\r\n.\r\n`)], {
      ...limits,
      maxHeaderBytes: 100,
    });
    assert.equal(r.summary.problem, 'headerTooLarge');
    assert.equal(r.done, true);
  });

  it('gives the same result for every cut of the stream into two pieces', () => {
    const text = b('A: 1\r\nB: 2\r\n folded\r\n\r\n.a\r\n..\r\n\rx\r\nz\r\n.\r\nRSET\r\n');
    const whole = readAll([text]);
    for (let cut = 0; cut <= text.length; cut++) {
      const r = readAll([text.subarray(0, cut), text.subarray(cut)]);
      assert.deepEqual(r, whole, `cut at ${cut}`);
    }
  });

  it('after done returns further bytes as rest', () => {
    const reader = new SmtpDataReader(limits);
    assert.equal(reader.push(b('.\r\n')).done, true);
    assert.equal(reader.push(b('QUIT\r\n')).rest.toString(), 'QUIT\r\n');
  });
});

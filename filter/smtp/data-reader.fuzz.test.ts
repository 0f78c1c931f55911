import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SmtpDataReader, type DataReaderOptions } from './data-reader.js';
import { ParapetError } from '../errors.js';

const limits: DataReaderOptions = {
  maxMessageBytes: 1 << 20,
  maxHeaderBytes: 1 << 16,
  maxDataLineBytes: 1 << 16,
};

function read(pieces: readonly Buffer[], options: DataReaderOptions = limits) {
  const reader = new SmtpDataReader(options);
  const headers: Buffer[] = [];
  const body: Buffer[] = [];
  const rest: Buffer[] = [];
  let done = false;
  for (const piece of pieces) {
    try {
      const step = reader.push(piece);
      for (const e of step.events) {
        if (e.kind === 'headers') headers.push(e.headers.toBuffer());
        else body.push(Buffer.from(e.bytes));
      }
      if (step.done) {
        done = true;
        rest.push(step.rest);
      }
    } catch (err) {
      assert.ok(err instanceof ParapetError, `non-ParapetError thrown: ${String(err)}`);
      throw err;
    }
  }
  return {
    headers: headers.map((h) => h.toString('latin1')),
    body: Buffer.concat(body).toString('latin1'),
    rest: Buffer.concat(rest).toString('latin1'),
    done,
    summary: reader.summary,
  };
}

/** Cuts `bytes` at the given sorted positions. */
function cut(bytes: Buffer, at: readonly number[]): Buffer[] {
  const points = [...new Set(at.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  out.push(bytes.subarray(from));
  return out;
}

function inPieces(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

/** Dot-stuffs CRLF content and appends the end marker (what a correct client sends). */
function encode(content: string): Buffer {
  const stuffed = content.replace(/^\./, '..').replace(/\r\n\./g, '\r\n..');
  return Buffer.from(`${stuffed}.\r\n`, 'latin1');
}

// Bytes biased towards the characters that matter: CR, LF, dot.
const smtpByte = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0x0d, 0x0a, 0x2e) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 255 }) },
  { weight: 2, arbitrary: fc.constantFrom(0x41, 0x3a, 0x20) },
);
const smtpBytes = fc.array(smtpByte, { maxLength: 300 }).map((a) => Buffer.from(a));

// A valid line: no CR or LF inside.
const line = fc
  .array(
    fc.oneof(fc.constantFrom('.', 'a', ' ', ':', 'Subject', '\t'), fc.string({ maxLength: 5 })),
    {
      maxLength: 6,
    },
  )
  .map((parts) => parts.join('').replace(/[\r\n]/g, ''));
const content = fc
  .tuple(fc.array(line, { maxLength: 6 }), fc.array(line, { maxLength: 6 }))
  .map(([head, body]) =>
    [...head.map((l) => `H${l}\r\n`), '\r\n', ...body.map((l) => `${l}\r\n`)].join(''),
  );

describe('SmtpDataReader properties', () => {
  it('never throws on arbitrary bytes in arbitrary pieces, and the cut does not matter', () => {
    fc.assert(
      fc.property(smtpBytes, fc.array(fc.nat(), { maxLength: 8 }), (bytes, at) => {
        const whole = read([bytes]);
        const pieces = read(cut(bytes, at));
        assert.deepEqual(pieces, whole);
      }),
      { numRuns: 500 },
    );
  });

  it('gives back exactly what a correct client dot-stuffed', () => {
    fc.assert(
      fc.property(content, fc.array(fc.nat(), { maxLength: 6 }), (text, at) => {
        const r = read(cut(encode(text), at));
        assert.equal(r.done, true);
        assert.equal(r.summary.problem, null);
        assert.equal(`${r.headers.join('')}\r\n${r.body}`, text);
      }),
      { numRuns: 300 },
    );
  });

  it('chunk sweep: every boundary and sizes 1,2,3,4,7,64 give the same body', () => {
    const text =
      'From: a@example.org\r\nSubject: sweep\r\n folded\r\n\r\n.starts with dot\r\n..two\r\n' +
      'bare\rcr\r\n\r\n.\rx\r\nend\r\n';
    const stream = Buffer.concat([encode(text), Buffer.from('QUIT\r\n')]);
    const whole = read([stream]);
    assert.equal(`${whole.headers.join('')}\r\n${whole.body}`, text);
    assert.equal(whole.rest, 'QUIT\r\n');
    for (let i = 0; i <= stream.length; i++) {
      assert.deepEqual(read([stream.subarray(0, i), stream.subarray(i)]), whole, `cut at ${i}`);
    }
    for (const size of [1, 2, 3, 4, 7, 64]) {
      assert.deepEqual(read(inPieces(stream, size)), whole, `pieces of ${size}`);
    }
  });

  it('never ends at a smuggling variant', () => {
    for (const marker of ['\n.\n', '\r.\r', '\n.\r\n', '\r\n.\n', '\r\n.\r', '\r.\r\n']) {
      const r = read([Buffer.from(`S: x\r\n\r\nhello${marker}MAIL FROM:<x@y>\r\n`)]);
      assert.equal(r.done, false, JSON.stringify(marker));
    }
  });

  it('keeps memory bounded when the header block never ends', () => {
    const options = { maxMessageBytes: 1 << 30, maxHeaderBytes: 10_000, maxDataLineBytes: 1 << 30 };
    const reader = new SmtpDataReader(options);
    const chunk = Buffer.from('X-H: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'.repeat(2000));
    for (let i = 0; i < 300; i++) assert.equal(reader.push(chunk).events.length, 0);
    assert.equal(reader.summary.problem, 'headerTooLarge');
    assert.ok(process.memoryUsage().heapUsed < 512 * 1024 * 1024);
  });

  it('keeps memory bounded with a huge line and a huge message', () => {
    const options = { maxMessageBytes: 100_000, maxHeaderBytes: 10_000, maxDataLineBytes: 1000 };
    const reader = new SmtpDataReader(options);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let emitted = 0;
    for (let i = 0; i < 800; i++) {
      // ~50 MiB on one line, headers never end.
      for (const e of reader.push(chunk).events)
        emitted += e.kind === 'body' ? e.bytes.length : e.headerBytes;
    }
    const end = reader.push(Buffer.from('\r\n.\r\n'));
    assert.equal(end.done, true);
    assert.ok(emitted <= options.maxMessageBytes);
    assert.equal(reader.summary.problem, 'lineTooLong');
    assert.equal(reader.summary.messageBytes, 800 * 64 * 1024 + 2);
  });
});

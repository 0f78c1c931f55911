import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CommandLineReader,
  parseSmtpCommand,
  parseXforwardValue,
  decodeXtext,
  encodeXtext,
} from './command-parser.js';
import { SmtpSession } from './session.js';
import { FakePipeline } from './test-support.js';
import type { MessageReinjector } from './reinject-client.js';
import { ParapetError } from '../errors.js';
import { smtpReply } from './reply.js';

function onlyParapetErrors(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ParapetError, `threw a non-ParapetError: ${String(err)}`);
  }
}

const templates = [
  'EHLO postfix.test',
  'HELO x',
  'LHLO y',
  'XFORWARD NAME=a.example ADDR=192.0.2.1 PROTO=ESMTP HELO=h SOURCE=REMOTE IDENT=Q1 PORT=25',
  'XFORWARD NAME=[UNAVAILABLE] ADDR=[TEMPUNAVAIL]',
  'MAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME RET=FULL ENVID=x+2B',
  'MAIL FROM:<>',
  'RCPT TO:<b@example.net> NOTIFY=SUCCESS ORCPT=rfc822;b@example.net',
  'RCPT TO:<"q b"@example.net>',
  'DATA',
  'Subject: x',
  '',
  '.',
  '..x',
  'RSET',
  'NOOP',
  'VRFY x',
  'QUIT',
];

/** A template line with random edits: insert, delete or replace a few characters. */
const mutatedLine = fc
  .tuple(
    fc.constantFrom(...templates),
    fc.array(
      fc.tuple(
        fc.nat(),
        fc.constantFrom('insert', 'delete', 'replace'),
        fc.integer({ min: 0, max: 255 }),
      ),
      { maxLength: 3 },
    ),
  )
  .map(([line, edits]) => {
    const bytes = [...Buffer.from(line, 'utf8')];
    for (const [at, op, byte] of edits) {
      const p = bytes.length === 0 ? 0 : at % (bytes.length + 1);
      if (op === 'insert') bytes.splice(p, 0, byte);
      else if (op === 'delete') bytes.splice(p, 1);
      else bytes[p] = byte;
    }
    return Buffer.from(bytes);
  });

describe('command parser properties', () => {
  it('never throws on arbitrary bytes or text', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.string({ maxLength: 300 }),
        (bytes, text) => {
          onlyParapetErrors(() => parseSmtpCommand(Buffer.from(bytes)));
          onlyParapetErrors(() => parseSmtpCommand(text));
          onlyParapetErrors(() => parseXforwardValue(text));
          onlyParapetErrors(() => decodeXtext(text));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('never throws on mutated command lines; invalid results carry a 5xx reply', () => {
    fc.assert(
      fc.property(mutatedLine, (line) => {
        const c = parseSmtpCommand(line);
        if (c.kind === 'invalid') assert.ok(c.reply.code >= 500 && c.reply.code < 600);
      }),
      { numRuns: 2000 },
    );
  });

  it('xtext round-trips any string', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), (text) => {
        const wellFormed = Buffer.from(text, 'utf8').toString('utf8');
        assert.equal(decodeXtext(encodeXtext(wellFormed)), wellFormed);
        assert.match(encodeXtext(wellFormed), /^[\x21-\x3c\x3e-\x7e]*$/);
      }),
    );
  });

  it('the line reader never holds more than maxLineBytes and is chunk-independent', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.integer({ min: 4, max: 200 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (bytes, max, cuts) => {
          const run = (pieces: Buffer[]) => {
            const reader = new CommandLineReader(max);
            const out: string[] = [];
            for (const piece of pieces) {
              let rest = piece;
              for (;;) {
                const step = reader.next(rest);
                assert.ok(reader.pendingBytes <= max);
                if (step.kind === 'partial') break;
                out.push(step.kind === 'line' ? step.line.toString('hex') : 'TOO_LONG');
                rest = step.rest;
              }
            }
            return out;
          };
          const buf = Buffer.from(bytes);
          const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
          const pieces: Buffer[] = [];
          let from = 0;
          for (const p of points) {
            pieces.push(buf.subarray(from, p));
            from = p;
          }
          pieces.push(buf.subarray(from));
          const whole = run([buf]);
          const cut = run(pieces);
          // A too-long line is reported as soon as the limit is passed, so only lines that
          // fit are compared exactly; the count of TOO_LONG markers may not depend on cuts.
          assert.deepEqual(cut, whole);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('session under random and mutated transcripts', () => {
  const reinjector: MessageReinjector = {
    reinject: () => Promise.resolve({ reply: smtpReply(250, '2.0.0', 'Ok'), queueId: 'Q' }),
    close: () => Promise.resolve(),
  };

  it('answers with well-formed replies and never throws', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            mutatedLine,
            fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
          ),
          {
            maxLength: 30,
          },
        ),
        fc.constantFrom('\r\n', '\n'),
        fc.integer({ min: 1, max: 64 }),
        fc.constantFrom(...(['accept', 'reject', 'throw'] as const)),
        async (lines, eol, pieceSize, verdict) => {
          const pipeline = new FakePipeline();
          for (let i = 0; i < 5; i++) {
            if (verdict === 'throw') pipeline.runs.push({ kind: 'throw' });
            else if (verdict === 'reject') {
              pipeline.runs.push({
                kind: 'verdict',
                verdict: { kind: 'reject', reply: smtpReply(550, '5.7.1', 'no') },
              });
            }
          }
          let written = '';
          const session = new SmtpSession(
            {
              maxLineBytes: 128,
              maxMessageBytes: 4096,
              maxRecipients: 3,
              maxUnrecognizedCommands: 50,
            },
            {
              pipeline,
              reinjector,
              client: { address: '127.0.0.1', port: 1, name: null },
              transport: {
                write: (d) => {
                  written += d;
                },
                close: () => undefined,
              },
            },
          );
          await session.start();
          const stream = Buffer.concat(lines.flatMap((l) => [l, Buffer.from(eol)]));
          for (let i = 0; i < stream.length && !session.closed; i += pieceSize) {
            await session.feed(stream.subarray(i, i + pieceSize));
          }
          await session.abort();
          const replyLines = written.split('\r\n').filter((l) => l !== '');
          for (const l of replyLines) assert.match(l, /^[2-5][0-9]{2}[ -]/);
          // Every 2xx/4xx/5xx reply apart from greeting and HELO/EHLO carries an enhanced code.
          for (const l of replyLines) {
            if (/^(220|250[ -](?![245]\.))/.test(l)) continue;
            if (l.startsWith('354')) continue;
            assert.match(l, /^[245][0-9]{2}[ -][245]\.[0-9]{1,3}\.[0-9]{1,3} /, l);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

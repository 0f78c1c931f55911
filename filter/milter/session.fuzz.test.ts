/**
 * Mutated MTA transcripts through the real decoder and session: whatever arrives, the session
 * never throws, records each message at most once, never accepts after a fault it reported,
 * and leaves no spool file behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Verdict } from '../actions/verdict.js';
import type { Message } from '../message/message.js';
import type { Disposition, EnvelopeCheck, Pipeline } from '../pipeline/types.js';
import { smtpReply } from '../smtp/reply.js';
import { MilterFrameDecoder } from './frame-decoder.js';
import { MilterSession } from './session.js';
import { MilterCommandCode as C, encodeMilterCommand, type MilterCommand } from './wire.js';

const VALID: MilterCommand[] = [
  { kind: 'optneg', version: 6, actions: 0x1ff, protocol: 0x1fffff },
  { kind: 'macro', stage: C.Connect, macros: [['j', 'mx']] },
  { kind: 'connect', hostname: 'c.example', family: 'inet', port: 1, address: '192.0.2.1' },
  { kind: 'helo', name: 'c.example' },
  { kind: 'macro', stage: C.Mail, macros: [['i', 'Q1']] },
  { kind: 'mail', args: ['<a@b>', 'SIZE=10'] },
  { kind: 'rcpt', args: ['<c@d>'] },
  { kind: 'rcpt', args: ['<e@f>'] },
  { kind: 'header', name: 'Subject', value: Buffer.from(' hi') },
  { kind: 'eoh' },
  { kind: 'body', chunk: Buffer.from('body\r\n') },
  { kind: 'eom', chunk: Buffer.alloc(0) },
  { kind: 'abort' },
  { kind: 'mail', args: ['<x@y>'] },
  { kind: 'rcpt', args: ['<z@w>'] },
  { kind: 'body', chunk: Buffer.from('second\r\n') },
  { kind: 'abort' },
  { kind: 'quit' },
];

type Mutation =
  | { op: 'drop'; at: number }
  | { op: 'dup'; at: number }
  | { op: 'swap'; at: number }
  | { op: 'flip'; at: number; byte: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'truncate'; at: number; keep: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('drop' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('dup' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('swap' as const), at: fc.nat() }),
  fc.record({
    op: fc.constant('flip' as const),
    at: fc.nat(),
    byte: fc.nat(),
    value: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ maxLength: 40 }),
  }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat(), keep: fc.nat() }),
);

function mutate(frames: Buffer[], mutations: readonly Mutation[]): Buffer[] {
  const out = [...frames];
  for (const m of mutations) {
    if (out.length === 0) break;
    const i = m.at % out.length;
    const frame = out[i]!;
    switch (m.op) {
      case 'drop':
        out.splice(i, 1);
        break;
      case 'dup':
        out.splice(i, 0, frame);
        break;
      case 'swap':
        if (i + 1 < out.length) [out[i], out[i + 1]] = [out[i + 1]!, frame];
        break;
      case 'flip': {
        const copy = Buffer.from(frame);
        copy[m.byte % copy.length] = m.value;
        out[i] = copy;
        break;
      }
      case 'insert':
        out.splice(i, 0, Buffer.from(m.bytes));
        break;
      case 'truncate':
        out[i] = frame.subarray(0, m.keep % (frame.length + 1));
        break;
    }
  }
  return out;
}

class FuzzPipeline implements Pipeline {
  readonly recorded = new Map<string, number>();
  constructor(readonly verdict: Verdict | 'throw') {}
  checkEnvelope(): Promise<EnvelopeCheck> {
    return Promise.resolve({ kind: 'continue' });
  }
  run(): Promise<Verdict> {
    if (this.verdict === 'throw') return Promise.reject(new Error('boom'));
    return Promise.resolve(this.verdict);
  }
  recordOutcome(message: Message, _v: Verdict | null, _d: Disposition): void {
    this.recorded.set(message.id, (this.recorded.get(message.id) ?? 0) + 1);
  }
}

const verdictArb = fc.constantFrom<Verdict | 'throw'>(
  { kind: 'accept', modifications: [{ kind: 'addHeader', name: 'X-P', value: '1' }] },
  { kind: 'discard', reason: 'x' },
  { kind: 'reject', reply: smtpReply(550, '5.7.1', 'no') },
  'throw',
);

test('mutated transcripts: no throw, one outcome per message, no spool left', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'milter-fuzz-'));
  let messages = 0;
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(mutationArb, { maxLength: 6 }),
        verdictArb,
        fc.integer({ min: 1, max: 64 }),
        async (mutations, verdict, chunkSize) => {
          const pipeline = new FuzzPipeline(verdict);
          const session = new MilterSession(
            {
              write: () => Promise.resolve(),
              close: () => undefined,
            },
            {
              pipeline,
              messageTimeoutMs: 1000,
              progressIntervalMs: 1000,
              maxMessageBytes: 1 << 16,
              maxRecipients: 10,
              spoolMemoryBytes: 4,
              spoolDir: dir,
            },
          );
          const stream = Buffer.concat(mutate(VALID.map(encodeMilterCommand), mutations));
          const decoder = new MilterFrameDecoder({ maxFrameBytes: 4096 });
          outer: for (let at = 0; at < stream.length; at += chunkSize) {
            decoder.push(stream.subarray(at, at + chunkSize));
            for (;;) {
              const r = decoder.next();
              if (r.kind === 'incomplete') break;
              if (r.kind === 'frame') await session.handleFrame(r.frame);
              else {
                await session.handleFrameError(r);
                break outer;
              }
              if (session.isClosed()) break outer;
            }
          }
          await session.connectionClosed();
          assert.equal(session.inMessage, false);
          for (const count of pipeline.recorded.values()) assert.equal(count, 1);
          messages += pipeline.recorded.size;
        },
      ),
      { numRuns: 300 },
    );
    assert.deepEqual(await readdir(dir), [], 'every spool file was removed');
    assert.ok(messages > 100, `the transcripts reached the message stage (${messages})`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

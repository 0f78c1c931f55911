import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MilterFrameDecoder, type MilterFrameResult } from './frame-decoder.js';
import {
  decodeMilterCommand,
  encodeMilterCommand,
  encodeMilterFrame,
  type MilterCommand,
} from './wire.js';

/** Pushes `chunks` one by one, draining after each; returns everything `next()` produced. */
function decodeChunks(maxFrameBytes: number, chunks: readonly Buffer[]): MilterFrameResult[] {
  const decoder = new MilterFrameDecoder({ maxFrameBytes });
  const out: MilterFrameResult[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk);
    for (;;) {
      const r = decoder.next();
      if (r.kind === 'incomplete') break;
      out.push(r);
      if (r.kind !== 'frame') return out;
    }
    // Memory stays bounded by one frame, whatever the peer sends.
    assert.ok(decoder.bufferedBytes <= maxFrameBytes, `buffered ${decoder.bufferedBytes}`);
  }
  return out;
}

function cut(stream: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < stream.length; at += size) out.push(stream.subarray(at, at + size));
  return out;
}

function cutAt(stream: Buffer, points: readonly number[]): Buffer[] {
  const sorted = [...new Set(points.map((p) => p % (stream.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of [...sorted, stream.length]) {
    out.push(stream.subarray(last, p));
    last = p;
  }
  return out;
}

const frameArb = fc.record({
  code: fc.integer({ min: 0, max: 255 }),
  payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
});

test('arbitrary bytes never throw and never grow the buffer past one frame', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 600 }),
      fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }),
      (max, chunks) => {
        const results = decodeChunks(
          max,
          chunks.map((c) => Buffer.from(c)),
        );
        for (const r of results) {
          if (r.kind === 'frame') assert.ok(r.frame.payload.length + 1 <= max);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('chunk sweep: any cut of a valid stream gives the same frames', () => {
  fc.assert(
    fc.property(
      fc.array(frameArb, { minLength: 1, maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (frames, points) => {
        const stream = Buffer.concat(frames.map((f) => encodeMilterFrame(f.code, f.payload)));
        const expected = frames.map((f) => [f.code, f.payload.toString('hex')]);
        const sizes = [1, 2, 3, 4, 5, 7, 10, 64, 100, 400, stream.length];
        const cuts = [...sizes.map((n) => cut(stream, n)), cutAt(stream, points)];
        for (const chunks of cuts) {
          const got = decodeChunks(1024, chunks).map((r) => {
            if (r.kind !== 'frame') assert.fail(`unexpected ${r.kind}`);
            return [r.frame.code, r.frame.payload.toString('hex')];
          });
          assert.deepEqual(got, expected);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('an announced length over the cap is refused at the 4th byte, at every boundary', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1000 }),
      fc.integer({ min: 1, max: 0xffffffff }),
      fc.uint8Array({ maxLength: 500 }),
      fc.integer({ min: 1, max: 7 }),
      (max, announced, tail, size) => {
        fc.pre(announced > max);
        const head = Buffer.alloc(4);
        head.writeUInt32BE(announced);
        const results = decodeChunks(max, cut(Buffer.concat([head, Buffer.from(tail)]), size));
        assert.deepEqual(results, [
          { kind: 'tooLarge', announcedBytes: announced, maxFrameBytes: max },
        ]);
      },
    ),
    { numRuns: 300 },
  );
});

test('a whole Postfix-like transcript split at every boundary gives the same commands', () => {
  const commands: MilterCommand[] = [
    { kind: 'optneg', version: 6, actions: 0x1ff, protocol: 0x1fffff },
    {
      kind: 'macro',
      stage: 0x43,
      macros: [
        ['j', 'mta.example'],
        ['{daemon_name}', 'smtpd'],
      ],
    },
    { kind: 'connect', hostname: 'client', family: 'inet', port: 4000, address: '192.0.2.7' },
    { kind: 'helo', name: 'client.example' },
    { kind: 'mail', args: ['<a@example.org>', 'SIZE=120'] },
    { kind: 'rcpt', args: ['<b@example.net>'] },
    { kind: 'header', name: 'Subject', value: Buffer.from(' hello\n\tfolded') },
    { kind: 'eoh' },
    { kind: 'body', chunk: Buffer.from('line one\r\n.line two\r\n') },
    { kind: 'eom', chunk: Buffer.alloc(0) },
    { kind: 'abort' },
    { kind: 'quit' },
  ];
  const stream = Buffer.concat(commands.map((c) => encodeMilterCommand(c)));
  const whole = decodeChunks(1024, [stream]).map((r) =>
    r.kind === 'frame' ? decodeMilterCommand(r.frame) : r,
  );
  assert.deepEqual(whole, commands);
  for (let at = 1; at < stream.length; at++) {
    const split = decodeChunks(1024, [stream.subarray(0, at), stream.subarray(at)]).map((r) =>
      r.kind === 'frame' ? decodeMilterCommand(r.frame) : r,
    );
    assert.deepEqual(split, commands, `split at byte ${at}`);
  }
});

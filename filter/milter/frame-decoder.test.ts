import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MilterFrameDecoder, type MilterFrameResult } from './frame-decoder.js';
import { encodeMilterFrame } from './wire.js';

function drain(decoder: MilterFrameDecoder): MilterFrameResult[] {
  const out: MilterFrameResult[] = [];
  for (;;) {
    const r = decoder.next();
    if (r.kind === 'incomplete') return out;
    out.push(r);
    if (r.kind !== 'frame') return out;
  }
}

test('decodes several frames from one chunk', () => {
  const d = new MilterFrameDecoder({ maxFrameBytes: 1024 });
  d.push(
    Buffer.concat([
      encodeMilterFrame(0x41),
      encodeMilterFrame(0x48, Buffer.from('x\0')),
      encodeMilterFrame(0x42, Buffer.from('body')),
    ]),
  );
  const got = drain(d);
  assert.deepEqual(
    got.map((r) => (r.kind === 'frame' ? [r.frame.code, r.frame.payload.toString()] : r.kind)),
    [
      [0x41, ''],
      [0x48, 'x\0'],
      [0x42, 'body'],
    ],
  );
  assert.equal(d.bufferedBytes, 0);
});

test('a partial frame is incomplete until its last byte', () => {
  const d = new MilterFrameDecoder({ maxFrameBytes: 1024 });
  const frame = encodeMilterFrame(0x42, Buffer.from('abc'));
  d.push(frame.subarray(0, 6));
  assert.equal(d.next().kind, 'incomplete');
  d.push(frame.subarray(6));
  const r = d.next();
  assert.equal(r.kind, 'frame');
});

test('a frame announcing more than maxFrameBytes is refused before any payload is buffered', () => {
  const d = new MilterFrameDecoder({ maxFrameBytes: 100 });
  const head = Buffer.alloc(4);
  head.writeUInt32BE(0xfffffff0);
  d.push(head);
  const r = d.next();
  assert.deepEqual(r, { kind: 'tooLarge', announcedBytes: 0xfffffff0, maxFrameBytes: 100 });
  assert.equal(d.bufferedBytes, 0);
  d.push(Buffer.alloc(1000));
  assert.equal(d.next().kind, 'tooLarge', 'stays failed');
  assert.equal(d.bufferedBytes, 0, 'keeps nothing after failing');
});

test('exactly maxFrameBytes is accepted', () => {
  const d = new MilterFrameDecoder({ maxFrameBytes: 10 });
  d.push(encodeMilterFrame(0x42, Buffer.alloc(9)));
  assert.equal(d.next().kind, 'frame');
  d.push(encodeMilterFrame(0x42, Buffer.alloc(10)));
  assert.equal(d.next().kind, 'tooLarge');
});

test('zero length is invalid', () => {
  const d = new MilterFrameDecoder({ maxFrameBytes: 10 });
  d.push(Buffer.from([0, 0, 0, 0, 0x41]));
  assert.deepEqual(d.next(), { kind: 'invalid', reason: 'zero frame length' });
});

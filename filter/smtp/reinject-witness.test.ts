import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { startReinjectWitness } from './reinject-witness.js';
import { MilterFrameDecoder } from '../milter/frame-decoder.js';
import {
  decodeMilterReply,
  encodeMilterCommand,
  MilterProtocolFlag as P,
  type MilterCommand,
  type MilterReply,
} from '../milter/wire.js';
import { withTempDir } from '../test-support.js';

/** Speaks to the witness as Postfix's cleanup would; resolves with the replies at EOM. */
async function deliver(socketPath: string, headers: [string, string][]): Promise<MilterReply[]> {
  const socket = createConnection({ path: socketPath });
  await new Promise((r) => socket.once('connect', r));
  const replies: MilterReply[] = [];
  const decoder = new MilterFrameDecoder({ maxFrameBytes: 1 << 16 });
  const done = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (let r = decoder.next(); r.kind === 'frame'; r = decoder.next()) {
        const reply = decodeMilterReply(r.frame);
        replies.push(reply);
        if (reply.kind === 'accept' || reply.kind === 'tempfail') resolve();
      }
    });
  });
  const commands: MilterCommand[] = [
    { kind: 'optneg', version: 6, actions: 0x1ff, protocol: 0x1fffff },
    { kind: 'connect', hostname: 'localhost', family: 'inet', port: 1, address: '127.0.0.1' },
    { kind: 'mail', args: ['<a@example.org>'] },
    { kind: 'rcpt', args: ['<b@example.org>'] },
    ...headers.map(([name, value]): MilterCommand => ({
      kind: 'header',
      name,
      value: Buffer.from(` ${value}`),
    })),
    { kind: 'eoh' },
    { kind: 'eom', chunk: Buffer.alloc(0) },
  ];
  for (const c of commands) socket.write(encodeMilterCommand(c));
  await done;
  socket.end();
  return replies;
}

test('the witness accepts every copy, asks for no body, and records ids of ours', async () => {
  await withTempDir(async (dir) => {
    const socketPath = join(dir, 'witness.sock');
    const receiptsPath = join(dir, 'receipts.log');
    const witness = await startReinjectWitness({ socketPath, receiptsPath, rotateBytes: 40 });
    try {
      const first = await deliver(socketPath, [
        ['X-Parapet-Id', '01m810tfr47thqgt4vj7'],
        ['Subject', 'hello'],
      ]);
      const optneg = first[0];
      assert.ok(optneg?.kind === 'optneg');
      assert.notEqual(optneg.protocol & P.NoBody, 0, 'no body asked for');
      assert.notEqual(optneg.protocol & P.NoReplyHeader, 0, 'no reply per header');
      assert.equal(first.at(-1)?.kind, 'accept');
      // A copy that is not ours (no id, or a forged one) is accepted, not recorded.
      assert.equal((await deliver(socketPath, [['Subject', 'x']])).at(-1)?.kind, 'accept');
      await deliver(socketPath, [['X-Parapet-Id', 'bad id\n01m8']]);
      await deliver(socketPath, [['X-Parapet-Id', '01m810szf9h3637jv7qy']]);
      // Past rotateBytes the file moved to .1: the ledger reads both.
      await deliver(socketPath, [['X-Parapet-Id', '01m810t7zrhb8wned6rg']]);
      assert.equal(witness.receipts, 3);
      const all = readFileSync(`${receiptsPath}.1`, 'utf8') + readFileSync(receiptsPath, 'utf8');
      assert.equal(all, '01m810tfr47thqgt4vj7\n01m810szf9h3637jv7qy\n01m810t7zrhb8wned6rg\n');
    } finally {
      await witness.close();
    }
  });
});

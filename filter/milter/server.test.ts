import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Verdict } from '../actions/verdict.js';
import { ParapetError } from '../errors.js';
import type { Message } from '../message/message.js';
import type { Disposition, EnvelopeCheck, Pipeline } from '../pipeline/types.js';
import { MilterFrameDecoder } from './frame-decoder.js';
import { createMilterServer } from './server.js';
import {
  decodeMilterReply,
  encodeMilterCommand,
  type MilterCommand,
  type MilterReply,
} from './wire.js';

class SlowPipeline implements Pipeline {
  outcomes: Disposition[] = [];
  constructor(readonly delayMs: number) {}
  checkEnvelope(): Promise<EnvelopeCheck> {
    return Promise.resolve({ kind: 'continue' });
  }
  async run(): Promise<Verdict> {
    await new Promise((r) => setTimeout(r, this.delayMs).unref());
    return { kind: 'accept', modifications: [] };
  }
  recordOutcome(_m: Message, _v: Verdict | null, d: Disposition): void {
    this.outcomes.push(d);
  }
}

async function connect(port: number): Promise<{
  socket: Socket;
  replies: MilterReply[];
  ended: Promise<void>;
  send: (...c: MilterCommand[]) => void;
}> {
  const socket = createConnection({ host: '127.0.0.1', port });
  await new Promise((r) => socket.once('connect', r));
  const replies: MilterReply[] = [];
  const decoder = new MilterFrameDecoder({ maxFrameBytes: 1 << 16 });
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    for (let r = decoder.next(); r.kind === 'frame'; r = decoder.next()) {
      replies.push(decodeMilterReply(r.frame));
    }
  });
  socket.on('error', () => undefined);
  const ended = new Promise<void>((resolve) =>
    socket.once('close', () => {
      resolve();
    }),
  );
  return {
    socket,
    replies,
    ended,
    send: (...cmds) => {
      for (const c of cmds) socket.write(encodeMilterCommand(c));
    },
  };
}

const waitFor = async (cond: () => boolean, ms = 2000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 5));
  }
};

const opening: MilterCommand[] = [
  { kind: 'optneg', version: 6, actions: 0x1ff, protocol: 0x1fffff },
  { kind: 'connect', hostname: 'c', family: 'inet', port: 1, address: '192.0.2.1' },
  { kind: 'mail', args: ['<a@b>'] },
  { kind: 'rcpt', args: ['<c@d>'] },
];

test('close() lets a message in flight get its answer, closes idle sessions at once', async () => {
  const pipeline = new SlowPipeline(200);
  const server = await createMilterServer({ pipeline, tcp: { host: '127.0.0.1', port: 0 } });
  const busy = await connect(server.tcpAddress!.port);
  const idle = await connect(server.tcpAddress!.port);
  busy.send(...opening);
  idle.send(opening[0]!);
  await waitFor(() => busy.replies.length === 4 && idle.replies.length === 1);
  assert.equal(server.sessionCount, 2);
  busy.send({ kind: 'eom', chunk: Buffer.alloc(0) });
  await new Promise((r) => setTimeout(r, 50));
  const closing = server.close({ drainTimeoutMs: 2000 });
  await idle.ended;
  await closing;
  await busy.ended;
  assert.equal(busy.replies.at(-1)?.kind, 'accept');
  assert.deepEqual(pipeline.outcomes, ['released']);
});

test('close() gives up after drainTimeoutMs and records the message as aborted', async () => {
  const pipeline = new SlowPipeline(5000);
  const server = await createMilterServer({
    pipeline,
    tcp: { host: '127.0.0.1', port: 0 },
    messageTimeoutMs: 10_000,
  });
  const busy = await connect(server.tcpAddress!.port);
  busy.send(...opening, { kind: 'eom', chunk: Buffer.alloc(0) });
  await waitFor(() => busy.replies.length === 4);
  await new Promise((r) => setTimeout(r, 20));
  const started = Date.now();
  await server.close({ drainTimeoutMs: 100 });
  assert.ok(Date.now() - started < 2000);
  await busy.ended;
  await waitFor(() => pipeline.outcomes.length === 1, 6000);
  assert.deepEqual(pipeline.outcomes, ['aborted']);
});

test('an idle MTA connection is closed after commandTimeoutMs', async () => {
  const server = await createMilterServer({
    pipeline: new SlowPipeline(0),
    tcp: { host: '127.0.0.1', port: 0 },
    commandTimeoutMs: 100,
  });
  const c = await connect(server.tcpAddress!.port);
  c.send(opening[0]!);
  await c.ended;
  await server.close();
});

test('unix socket: a stale socket file is replaced, a regular file is refused, mode applied', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'milter-srv-'));
  try {
    const path = join(dir, 'milter.sock');
    // Leave a stale socket behind: a process that listens and dies without unlinking.
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    assert.ok((await stat(path)).isSocket());
    const server = await createMilterServer({
      pipeline: new SlowPipeline(0),
      unixSocket: { path, mode: 0o600 },
    });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    await assert.rejects(
      createMilterServer({ pipeline: new SlowPipeline(0), unixSocket: { path } }),
      (e: unknown) => e instanceof ParapetError && e.code === 'ERR_MILTER_LISTEN',
    );
    await server.close();
    await assert.rejects(stat(path));
    const file = join(dir, 'not-a-socket');
    await writeFile(file, 'x');
    await assert.rejects(
      createMilterServer({ pipeline: new SlowPipeline(0), unixSocket: { path: file } }),
      (e: unknown) => e instanceof ParapetError && e.code === 'ERR_MILTER_LISTEN',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a listener is required', async () => {
  await assert.rejects(
    createMilterServer({ pipeline: new SlowPipeline(0) }),
    (e: unknown) => e instanceof ParapetError && e.code === 'ERR_MILTER_CONFIG',
  );
});

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

test('envelope no-reply flags follow Pipeline.envelopeStages and the transport', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'parapet-milter-nr-'));
  const quiet = Object.assign(new SlowPipeline(0), { envelopeStages: [] });
  // Without envelopeStages a pipeline may refuse anywhere: every envelope step is answered.
  const undeclared = new SlowPipeline(0);
  const deciding = Object.assign(new SlowPipeline(0), {
    envelopeStages: ['rcptTo'] as const,
  });
  const optnegOf = async (
    pipeline: Pipeline,
    where: 'tcp' | 'unix',
  ): Promise<{ protocol: number; replies: MilterReply[] }> => {
    const path = join(dir, `${where}-${String(Date.now())}.sock`);
    const server = await createMilterServer({
      pipeline,
      ...(where === 'tcp' ? { tcp: { host: '127.0.0.1', port: 0 } } : { unixSocket: { path } }),
    });
    try {
      const socket =
        where === 'tcp'
          ? createConnection({ host: '127.0.0.1', port: server.tcpAddress?.port ?? 0 })
          : createConnection({ path });
      const replies: MilterReply[] = [];
      const decoder = new MilterFrameDecoder({ maxFrameBytes: 1 << 16 });
      socket.on('data', (chunk: Buffer) => {
        decoder.push(chunk);
        for (let r = decoder.next(); r.kind === 'frame'; r = decoder.next()) {
          replies.push(decodeMilterReply(r.frame));
        }
      });
      socket.on('error', () => undefined);
      // The whole message in one write, as Postfix sends what it held back for no-reply steps.
      const message: MilterCommand[] = [
        ...opening.slice(0, 2),
        { kind: 'helo', name: 'h' },
        ...opening.slice(2),
        { kind: 'data' },
        { kind: 'eom', chunk: Buffer.alloc(0) },
      ];
      socket.write(Buffer.concat(message.map((c) => encodeMilterCommand(c))));
      await waitFor(() => replies.some((r) => r.kind === 'accept'));
      socket.destroy();
      const first = replies[0];
      if (first?.kind !== 'optneg') throw new Error('no OPTNEG reply first');
      return { protocol: first.protocol, replies };
    } finally {
      await server.close({ drainTimeoutMs: 100 });
    }
  };
  try {
    const nrConn = 0x1000;
    const nrHelo = 0x2000;
    const nrMail = 0x4000;
    const nrRcpt = 0x8000;
    const unix = await optnegOf(quiet, 'unix');
    assert.equal(unix.protocol & 0xf000, nrConn | nrHelo | nrMail | nrRcpt);
    assert.deepEqual(
      unix.replies.map((r) => r.kind),
      ['optneg', 'continue', 'accept'],
      'replies only to DATA and end of message',
    );
    const tcp = await optnegOf(quiet, 'tcp');
    assert.equal(tcp.protocol & 0xf000, nrConn | nrHelo | nrRcpt, 'never NR_MAIL over TCP');
    assert.deepEqual(
      tcp.replies.map((r) => r.kind),
      ['optneg', 'continue', 'continue', 'accept'],
    );
    const partly = await optnegOf(deciding, 'unix');
    assert.equal(partly.protocol & 0xf000, nrConn | nrHelo | nrMail, 'RCPT is answered');
    assert.equal((await optnegOf(undeclared, 'unix')).protocol & 0xf000, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

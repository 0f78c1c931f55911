import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { createSmtpFilterServer } from './server.js';
import { FakeMta, FakePipeline } from './test-support.js';

/** A tiny client: send text, read until a reply line with a space after the code. */
function open(port: number): { socket: Socket; read: () => Promise<string>; all: () => string } {
  const socket = connect({ host: '127.0.0.1', port });
  let buffer = '';
  let ended = false;
  const waiters: (() => void)[] = [];
  socket.on('data', (d: Buffer) => {
    buffer += d.toString();
    waiters.splice(0).forEach((w) => {
      w();
    });
  });
  socket.on('close', () => {
    ended = true;
    waiters.splice(0).forEach((w) => {
      w();
    });
  });
  socket.on('error', () => undefined);
  const read = async (): Promise<string> => {
    for (;;) {
      const m = /^(?:\d{3}-.*\r\n)*\d{3} .*\r\n/.exec(buffer);
      if (m !== null) {
        buffer = buffer.slice(m[0].length);
        return m[0];
      }
      if (ended) return '';
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { socket, read, all: () => buffer };
}

describe('createSmtpFilterServer', () => {
  it('answers 421 4.3.2 at connect over maxSessions', async () => {
    const server = await createSmtpFilterServer({
      pipeline: new FakePipeline(),
      port: 0,
      maxSessions: 1,
    });
    const a = open(server.address.port);
    assert.match(await a.read(), /^220 /);
    const b = open(server.address.port);
    assert.match(await b.read(), /^421 4\.3\.2 /);
    a.socket.destroy();
    b.socket.destroy();
    await server.close();
  });

  it('close() lets an in-flight message finish, says 421 to idle sessions, then stops', async () => {
    const mta = new FakeMta();
    const mtaPort = await mta.listen();
    const pipeline = new FakePipeline();
    pipeline.runs.push({ kind: 'slow', ms: 150 });
    const server = await createSmtpFilterServer({
      pipeline,
      port: 0,
      reinject: { port: mtaPort },
      drainTimeoutMs: 2000,
    });
    const busy = open(server.address.port);
    const idle = open(server.address.port);
    await busy.read();
    await idle.read();
    busy.socket.write('EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n');
    for (let i = 0; i < 4; i++) await busy.read();
    busy.socket.write('Subject: x\r\n\r\nbody\r\n.\r\n');
    await new Promise((resolve) => setTimeout(resolve, 30));
    const closing = server.close();
    assert.match(await idle.read(), /^421 4\.3\.2/);
    assert.match(await busy.read(), /^250 2\.0\.0 Ok: queued/);
    assert.match(await busy.read(), /^421 4\.3\.2/);
    await closing;
    assert.equal(mta.delivered.length, 1);
    assert.equal(server.sessionCount, 0);
    // No longer listening.
    const late = connect({ host: '127.0.0.1', port: server.address.port });
    const refused = await new Promise<boolean>((resolve) => {
      late.on('error', () => {
        resolve(true);
      });
      late.on('connect', () => {
        resolve(false);
      });
    });
    late.destroy();
    assert.equal(refused, true);
    await mta.close();
  });

  it('cuts connections after drainTimeoutMs and records them as aborted', async () => {
    const pipeline = new FakePipeline();
    pipeline.runs.push({ kind: 'hang' });
    const server = await createSmtpFilterServer({
      pipeline,
      port: 0,
      drainTimeoutMs: 100,
      messageTimeoutMs: 60_000,
    });
    const c = open(server.address.port);
    await c.read();
    c.socket.write('EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n');
    for (let i = 0; i < 4; i++) await c.read();
    c.socket.write('Subject: x\r\n\r\nbody\r\n.\r\n');
    await new Promise((resolve) => setTimeout(resolve, 30));
    await server.close();
    assert.deepEqual(
      pipeline.outcomes.map((o) => o.disposition),
      ['aborted'],
    );
    c.socket.destroy();
  });
});

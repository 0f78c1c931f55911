import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { messageFromRaw, withTempDir } from '../../test-support.js';
import { ParapetError } from '../../errors.js';
import { ClamdClient, parseClamdScanReply } from './clamd-client.js';
import { createVirusScanner } from './virus-scanner.js';
import { formatVirusHeader, virusTestLevel } from './virus-header.js';

/**
 * A stand-in clamd speaking the INSTREAM framing, to pin down what the client sends (chunk sizes,
 * terminator) and how it behaves when clamd misbehaves. The real clamd is exercised in
 * appliance/antivirus/antivirus.e2e.test.ts.
 */
function fakeClamd(
  path: string,
  onConnection: (socket: Socket, received: () => Buffer) => void,
): Promise<Server> {
  const server = createServer((socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
    });
    socket.on('error', () => undefined);
    onConnection(socket, () => Buffer.concat(chunks));
  });
  return new Promise((resolve) => {
    server.listen(path, () => {
      resolve(server);
    });
  });
}

/** Splits an INSTREAM request into its chunk lengths; null if the framing is wrong. */
function instreamChunks(input: Buffer): { lengths: number[]; payload: Buffer } | null {
  const session = Buffer.from('zIDSESSION\0');
  const buf = input.subarray(0, session.length).equals(session)
    ? input.subarray(session.length)
    : input;
  const command = Buffer.from('zINSTREAM\0');
  if (!buf.subarray(0, command.length).equals(command)) return null;
  const lengths: number[] = [];
  const parts: Buffer[] = [];
  let at = command.length;
  while (at + 4 <= buf.length) {
    const len = buf.readUInt32BE(at);
    at += 4;
    if (len === 0) return at === buf.length ? { lengths, payload: Buffer.concat(parts) } : null;
    lengths.push(len);
    parts.push(buf.subarray(at, at + len));
    at += len;
  }
  return null;
}

test('INSTREAM sends length-prefixed chunks of at most chunkBytes and a zero terminator', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'clamd.sock');
    const server = await fakeClamd(path, (socket, received) => {
      socket.on('data', () => {
        const parsed = instreamChunks(received());
        if (parsed === null) return;
        socket.end(parsed.payload.includes('BAD') ? `stream: Fake.Sig FOUND\0` : `stream: OK\0`);
        seen.push(parsed);
      });
    });
    const seen: { lengths: number[]; payload: Buffer }[] = [];
    try {
      const client = new ClamdClient({ address: { kind: 'unix', path }, chunkBytes: 7 });
      const body = Buffer.from('0123456789abcdefghijBAD');
      const reply = await client.scan([body.subarray(0, 10), body.subarray(10)]);
      assert.deepEqual(reply, { kind: 'infected', names: ['Fake.Sig'] });
      assert.deepEqual(seen[0]?.lengths, [7, 3, 7, 6]);
      assert.equal(seen[0].payload.toString(), body.toString());
      assert.deepEqual(await client.scan([Buffer.from('fine')]), { kind: 'clean' });
    } finally {
      server.close();
    }
  });
});

test('scans reuse an IDSESSION connection, and a session closed under us is retried', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'clamd.sock');
    let connections = 0;
    let closeAfterReply = false;
    const server = await fakeClamd(path, (socket) => {
      connections++;
      let pending = Buffer.alloc(0);
      let number = 0;
      socket.on('data', (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        // Answer each complete INSTREAM (terminated by a zero length) in session style.
        for (;;) {
          const parsed = instreamChunks(pending);
          if (parsed === null) break;
          number++;
          socket.write(`${String(number)}: stream: OK\0`);
          pending = Buffer.alloc(0);
          if (closeAfterReply) socket.end();
        }
      });
    });
    try {
      const client = new ClamdClient({ address: { kind: 'unix', path } });
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(await client.scan([Buffer.from('x')]), { kind: 'clean' });
      }
      assert.equal(connections, 1);
      assert.equal(client.idleSessions, 1);
      // clamd drops the session after the next reply: the scan after it still works.
      closeAfterReply = true;
      await client.scan([Buffer.from('y')]);
      closeAfterReply = false;
      assert.deepEqual(await client.scan([Buffer.from('z')]), { kind: 'clean' });
      assert.equal(connections, 2);
      client.close();
      assert.equal(client.idleSessions, 0);
    } finally {
      server.close();
    }
  });
});

test('clamd replies are parsed: OK, one or several FOUND, ERROR; garbage is a protocol error', () => {
  assert.deepEqual(parseClamdScanReply('stream: OK'), { kind: 'clean' });
  assert.deepEqual(parseClamdScanReply('stream: Win.Test.EICAR_HDB-1 FOUND'), {
    kind: 'infected',
    names: ['Win.Test.EICAR_HDB-1'],
  });
  assert.deepEqual(parseClamdScanReply('7: stream: Win.Test.EICAR_HDB-1 FOUND'), {
    kind: 'infected',
    names: ['Win.Test.EICAR_HDB-1'],
  });
  assert.deepEqual(parseClamdScanReply('stream: A FOUND\0stream: B FOUND\0'), {
    kind: 'infected',
    names: ['A', 'B'],
  });
  assert.deepEqual(parseClamdScanReply('INSTREAM size limit exceeded. ERROR'), {
    kind: 'error',
    message: 'INSTREAM size limit exceeded. ERROR',
  });
  assert.throws(() => parseClamdScanReply('hello'), { code: 'ERR_CLAMD_PROTOCOL' });
  assert.throws(() => parseClamdScanReply(''), { code: 'ERR_CLAMD_PROTOCOL' });
});

test('a clamd that accepts but never answers ends in ERR_CLAMD_TIMEOUT at commandTimeoutMs', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'clamd.sock');
    const server = await fakeClamd(path, () => undefined);
    try {
      const client = new ClamdClient({ address: { kind: 'unix', path }, commandTimeoutMs: 150 });
      const started = performance.now();
      await assert.rejects(client.ping(), { code: 'ERR_CLAMD_TIMEOUT' });
      const elapsed = performance.now() - started;
      // Printed, not asserted (shared CPU): how close to its budget the timeout fired.
      console.log(`never-answering clamd: timeout after ${elapsed.toFixed(0)} ms (budget 150)`);
    } finally {
      server.close();
    }
  });
});

test('an abort signal ends a pending scan at once', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'clamd.sock');
    const server = await fakeClamd(path, () => undefined);
    try {
      const client = new ClamdClient({ address: { kind: 'unix', path } });
      const controller = new AbortController();
      const pending = client.scan([Buffer.from('x')], controller.signal);
      setTimeout(() => {
        controller.abort();
      }, 20);
      await assert.rejects(pending, { code: 'ERR_CLAMD_TIMEOUT' });
    } finally {
      server.close();
    }
  });
});

test('no socket, refused TCP, and a stream over the limit are ParapetErrors with their codes', async () => {
  const down = new ClamdClient({ address: { kind: 'unix', path: '/nonexistent/clamd.sock' } });
  await assert.rejects(down.ping(), (err: unknown) => {
    assert.ok(err instanceof ParapetError);
    assert.equal(err.code, 'ERR_CLAMD_UNAVAILABLE');
    return true;
  });
  const refused = new ClamdClient({ address: { kind: 'tcp', host: '127.0.0.1', port: 1 } });
  await assert.rejects(refused.version(), { code: 'ERR_CLAMD_UNAVAILABLE' });
  await withTempDir(async (dir) => {
    const path = join(dir, 'clamd.sock');
    const server = await fakeClamd(path, () => undefined);
    try {
      const small = new ClamdClient({ address: { kind: 'unix', path }, maxStreamBytes: 10 });
      await assert.rejects(small.scan([Buffer.alloc(11)]), { code: 'ERR_CLAMD_LIMIT' });
    } finally {
      server.close();
    }
  });
});

test('the virus scanner turns clamd trouble into unscanned with a reason, never a throw', async () => {
  const message = await messageFromRaw('From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n');
  const down = createVirusScanner({
    clamd: { address: { kind: 'unix', path: '/nonexistent/clamd.sock' } },
  });
  assert.equal(down.onError, 'tempfail');
  const out = await down.scan(message, new AbortController().signal);
  assert.equal(out.facts?.virus?.status, 'unscanned');
  assert.match(out.facts.virus.reason ?? '', /ERR_CLAMD_UNAVAILABLE/);
  assert.equal(out.findings[0]?.symbol, 'VIRUS_UNSCANNED');

  const tooBig = createVirusScanner({
    clamd: { address: { kind: 'unix', path: '/nonexistent/clamd.sock' }, maxStreamBytes: 10 },
  });
  const big = await tooBig.scan(message, new AbortController().signal);
  assert.match(big.facts?.virus?.reason ?? '', /over the scan limit/);

  await withTempDir(async (dir) => {
    const path = join(dir, 'clamd.sock');
    const server = await fakeClamd(path, () => undefined);
    try {
      const slow = createVirusScanner({
        clamd: { address: { kind: 'unix', path } },
        timeoutMs: 400,
      });
      const result = await slow.scan(message, new AbortController().signal);
      assert.equal(result.facts?.virus?.status, 'unscanned');
      assert.match(result.facts.virus.reason ?? '', /timeout/);
    } finally {
      server.close();
    }
  });
});

test('X-Parapet-Virus values and virustest levels', () => {
  assert.equal(formatVirusHeader({ status: 'clean', names: [] }), 'clean');
  assert.equal(formatVirusHeader({ status: 'unscanned', names: [], reason: 'x' }), 'unscanned');
  assert.equal(
    formatVirusHeader({ status: 'infected', names: ['Eicar.A', 'Bad (x),\r\nX-Evil: 1'] }),
    'infected (Eicar.A, Bad__x____X-Evil:_1)',
  );
  assert.equal(formatVirusHeader({ status: 'infected', names: [] }), 'infected (unknown)');
  assert.equal(virusTestLevel(null), 0);
  assert.equal(virusTestLevel({ status: 'clean', names: [] }), 1);
  assert.equal(virusTestLevel({ status: 'infected', names: ['x'] }), 4);
  assert.equal(virusTestLevel({ status: 'unscanned', names: [] }), 0);
});

/**
 * The Dashboard API: one snapshot from the node's real message log, queue and quarantine
 * folders (GET), and the live WebSocket (session cookie + same Origin) that pushes a new
 * snapshot after a line is appended to the log. No database: today comes from the local log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { startWebNode, WebClient } from '../../test/web-node.js';
import { MessageFlow } from './dashboard-routes.js';

const noDatabase = (): Promise<never> => Promise.reject(new Error('no database in this test'));

function record(seq: number, time: Date, disposition: string, sizeBytes = 1000): string {
  return `${JSON.stringify({
    nodeId: 'n1',
    seq,
    id: `id${String(seq)}`,
    time: time.toISOString(),
    queueId: null,
    client: { address: '192.0.2.1', name: null },
    helo: 'h',
    from: 'a@example.com',
    to: ['b@example.org'],
    subject: 's',
    sizeBytes,
    verdict: 'accept',
    reason: null,
    disposition,
    score: 0,
    symbols: [],
    rule: null,
    errorCode: null,
    timingsMs: {},
  })}\n`;
}

function cookieOf(setCookie: string | string[] | undefined): string {
  const first = (Array.isArray(setCookie) ? setCookie : [setCookie ?? ''])[0] ?? '';
  return first.split(';')[0] ?? '';
}

interface Snapshot {
  now: { messages: number; bytes: number; mix: Record<string, number>; perMinute: unknown[] };
  today: { messages: number; source: string; partial: boolean };
  queue: { queued: number } | null;
  quarantine: { messages: number } | null;
  services: { running: boolean };
}

/** Opens the live socket; resolves with the socket or the HTTP status it was refused with. */
function openLive(
  url: string,
  headers: Record<string, string>,
): Promise<{ ws: WebSocket; snapshots: Snapshot[] } | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('https:', 'wss:')}/api/v1/dashboard/live`, {
      headers,
      rejectUnauthorized: false,
    });
    const snapshots: Snapshot[] = [];
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString('utf8')) as { type: string; snapshot: Snapshot };
      if (m.type === 'snapshot') snapshots.push(m.snapshot);
    });
    ws.on('open', () => {
      resolve({ ws, snapshots });
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', (err) => {
      reject(err);
    });
  });
}

async function until<T>(what: string, probe: () => T | undefined): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('dashboard: snapshot from the local log, queue and quarantine; live socket', async (t) => {
  const node = await startWebNode({ database: noDatabase });
  t.after(() => node.close());
  await node.addUser('boss', 'admin', 'admin password 0001');
  await node.addUser('watcher', 'viewer', 'viewer password 0002');
  const now = new Date();
  const logPath = join(node.home, 'log', 'message-log.jsonl');
  await mkdir(join(node.home, 'log'), { recursive: true });
  await writeFile(
    logPath,
    record(1, new Date(now.getTime() - 2 * 86_400_000), 'reinjected') + // two days ago: not counted
      record(2, now, 'reinjected', 2000) +
      record(3, now, 'quarantined') +
      '{"torn line\n' +
      record(4, now, 'rejected') +
      record(5, now, 'aborted'),
  );
  const day = now.toISOString().slice(0, 10);
  await mkdir(join(node.home, 'quarantine', day), { recursive: true });
  await writeFile(join(node.home, 'quarantine', day, 'q1aaaaaaaa.eml'), 'x');
  await writeFile(join(node.home, 'quarantine', day, 'q1aaaaaaaa.json'), '{}');

  const url = node.manager.url;
  assert.equal((await new WebClient(url).request('GET', '/api/v1/dashboard')).status, 401);
  const viewer = new WebClient(url);
  assert.equal((await viewer.signIn('watcher', 'viewer password 0002')).status, 200);
  assert.equal((await viewer.request('GET', '/api/v1/dashboard')).status, 200);

  const admin = new WebClient(url);
  const signIn = await admin.signIn('boss', 'admin password 0001');
  assert.equal(signIn.status, 200);
  const first = (await admin.request('GET', '/api/v1/dashboard')).json() as Snapshot;
  assert.equal(first.now.messages, 4);
  assert.equal(first.now.bytes, 5000);
  assert.deepEqual(first.now.mix, {
    delivered: 1,
    quarantined: 1,
    rejected: 1,
    discarded: 0,
    tempfailed: 1,
  });
  assert.equal(first.now.perMinute.length, 15);
  assert.equal(first.today.messages, 4);
  assert.equal(first.today.source, 'local-log');
  assert.equal(first.today.partial, false);
  assert.deepEqual(first.queue, { queued: 0, failed: 0, uncertain: 0 });
  assert.deepEqual(first.quarantine, { messages: 1 });
  assert.equal(first.services.running, false);

  // Only what was appended is read next time.
  await appendFile(logPath, record(6, new Date(), 'discarded'));
  const second = (await admin.request('GET', '/api/v1/dashboard')).json() as Snapshot;
  assert.equal(second.now.messages, 5);
  assert.equal(second.now.mix['discarded'], 1);

  // The live socket: the session cookie and our own Origin.
  const cookie = cookieOf(signIn.headers['set-cookie']);
  const origin = url;
  assert.equal(await openLive(url, { origin }), 401, 'no cookie');
  assert.equal(await openLive(url, { cookie, origin: 'https://evil.example' }), 403, 'origin');
  assert.equal(await openLive(url, { cookie }), 403, 'no origin with a cookie');
  const live = await openLive(url, { cookie, origin });
  if (typeof live === 'number') assert.fail(`refused with ${String(live)}`);
  t.after(() => {
    live.ws.terminate();
  });
  const firstPush = await until('the first push', () => live.snapshots[0]);
  assert.equal(firstPush.now.messages, 5);
  await appendFile(logPath, record(7, new Date(), 'reinjected'));
  const pushed = await until('a push with the new line', () =>
    live.snapshots.find((s) => s.now.messages === 6),
  );
  assert.equal(pushed.now.mix['delivered'], 2);

  // A plain GET on the socket's path says how to use it.
  assert.equal((await admin.request('GET', '/api/v1/dashboard/live')).status, 426);
  // Signing out closes the socket within a few pushes.
  const closed = new Promise<number>((resolve) =>
    live.ws.on('close', (code) => {
      resolve(code);
    }),
  );
  assert.equal((await admin.send('DELETE', '/api/v1/session')).status, 200);
  assert.equal(await closed, 4401);
});

test('message flow: starts near midnight in a long log, reads only what is appended', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'parapet-flow-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'message-log.jsonl');
  const nowMs = Date.parse('2026-11-22T12:00:30Z');
  // 20,000 records from yesterday (~7 MB), then 30 from today.
  const old: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    old.push(record(i, new Date(Date.parse('2026-11-21T00:00:00Z') + i * 4000), 'reinjected'));
  }
  const today: string[] = [];
  for (let i = 0; i < 30; i++) {
    today.push(record(20_000 + i, new Date(nowMs - (29 - i) * 60_000), 'rejected'));
  }
  await writeFile(path, old.join('') + today.join(''));
  const flow = new MessageFlow(path);
  await flow.refresh(nowMs);
  assert.equal(flow.since(Date.parse('2026-11-22T00:00:00Z')).messages, 30);
  assert.equal(flow.partial, false);
  assert.equal(
    flow.perMinute(nowMs).reduce((n, p) => n + p.messages, 0),
    15,
  );

  // Midnight within reach of the last 40 KB: still whole.
  const reach = new MessageFlow(path, { maxInitialBytes: 40_000 });
  await reach.refresh(nowMs);
  assert.equal(reach.partial, false);
  assert.equal(reach.since(Date.parse('2026-11-22T00:00:00Z')).messages, 30);
  // Cut short: only the last 5 KB are read at first; today is then a lower bound.
  const capped = new MessageFlow(path, { maxInitialBytes: 5000 });
  await capped.refresh(nowMs);
  assert.equal(capped.partial, true);
  const seen = capped.since(Date.parse('2026-11-22T00:00:00Z')).messages;
  assert.ok(seen > 0 && seen < 30, String(seen));

  // Appended in pieces, a record split across two refreshes is counted once, when whole.
  const next = record(99_999, new Date(nowMs), 'quarantined');
  await appendFile(path, next.slice(0, 50));
  await flow.refresh(nowMs);
  assert.equal(flow.since(0).messages, 30);
  await appendFile(path, next.slice(50));
  await flow.refresh(nowMs);
  assert.equal(flow.since(0).messages, 31);
  assert.equal(flow.since(0).mix.quarantined, 1);
});

test('message flow: arbitrary bytes in the log never throw; only whole records count', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'parapet-flow-fuzz-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const nowMs = Date.parse('2026-11-22T12:00:30Z');
  const good = record(1, new Date(nowMs - 1000), 'discarded');
  let run = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          fc.constant(good),
          fc.string({ maxLength: 200 }),
          fc.uint8Array({ maxLength: 300 }),
        ),
        {
          maxLength: 20,
        },
      ),
      fc.integer({ min: 1, max: 4 }),
      async (pieces, refreshes) => {
        run += 1;
        const path = join(dir, `log-${String(run)}.jsonl`);
        const flow = new MessageFlow(path);
        await writeFile(path, '');
        const parts = pieces.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)));
        const step = Math.ceil(parts.length / refreshes);
        for (let i = 0; i < parts.length; i += step) {
          await appendFile(path, Buffer.concat(parts.slice(i, i + step)));
          await flow.refresh(nowMs);
        }
        // A final newline ends whatever the last piece left open.
        await appendFile(path, '\n');
        await flow.refresh(nowMs);
        const whole = Buffer.concat([...parts, Buffer.from('\n')])
          .toString('utf8')
          .split('\n')
          .filter((l) => `${l}\n` === good).length;
        assert.equal(flow.since(0).messages, whole);
        assert.equal(flow.since(0).mix.discarded, whole);
      },
    ),
    { numRuns: 60 },
  );
});

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ReinjectError,
  type Message,
  type MessageReinjector,
  type ReinjectSendOptions,
} from '../../filter/index.js';
import { OutboundQueue } from './outbound-queue.js';
import { QueueRunner } from './queue-runner.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function freshQueue(): OutboundQueue {
  const dir = mkdtempSync(join(tmpdir(), 'parapet-queue-'));
  dirs.push(dir);
  return new OutboundQueue(join(dir, 'queue'));
}
const RAW = Buffer.from('From: a@x\r\nTo: b@y\r\nSubject: hi\r\n\r\nbody\r\n');

/** A re-injection seam that answers as told and records what it was given. */
class ScriptedMta implements MessageReinjector {
  answers: ('ok' | 'tempfail' | 'reject' | 'down')[] = [];
  delivered: { from: string; to: string[]; subject: string | null }[] = [];
  reinject(message: Message, options: ReinjectSendOptions) {
    const answer = this.answers.shift() ?? 'ok';
    if (answer === 'down')
      return Promise.reject(new ReinjectError('connect', 'ECONNREFUSED', null));
    options.onEndOfDataWritten?.();
    if (answer === 'tempfail') {
      return Promise.reject(
        new ReinjectError('dot', 'try later', { code: 451, enhanced: '4.3.0', text: 'later' }),
      );
    }
    if (answer === 'reject') {
      return Promise.reject(
        new ReinjectError('dot', 'no', { code: 554, enhanced: '5.7.1', text: 'no' }),
      );
    }
    this.delivered.push({
      from: message.envelope.mailFrom?.address ?? '',
      to: message.envelope.recipients.map((r) => r.address),
      subject: message.headers.getFirst('subject'),
    });
    return Promise.resolve({ reply: { code: 250, enhanced: '2.0.0', text: 'ok' }, queueId: 'Q1' });
  }
  close() {
    return Promise.resolve();
  }
}

test('enqueue is durable and idempotent on its key', async () => {
  const q = freshQueue();
  const a = await q.enqueue({
    kind: 'release',
    from: 'a@x',
    to: ['b@y'],
    raw: RAW,
    key: 'release:Q1',
  });
  const b = await q.enqueue({
    kind: 'release',
    from: 'a@x',
    to: ['b@y'],
    raw: RAW,
    key: 'release:Q1',
  });
  assert.equal(a.created, true);
  assert.equal(b.created, false);
  assert.equal(b.item.id, a.item.id);
  const c = await q.enqueue({ kind: 'notice', from: '', to: ['c@z'], raw: RAW });
  assert.notEqual(c.item.id, a.item.id);
  assert.deepEqual((await q.list()).map((i) => i.id).sort(), [a.item.id, c.item.id].sort());
  assert.deepEqual(await q.message(a.item.id), RAW);
  await assert.rejects(
    q.enqueue({ kind: 'notice', from: '', to: [], raw: RAW }),
    /at least one recipient/,
  );
  await assert.rejects(q.delete('../../etc/passwd'), /no queue item/);
});

test('the runner delivers, backs off on temporary failures, gives up on 5xx', async () => {
  const q = freshQueue();
  const mta = new ScriptedMta();
  let now = new Date('2026-11-22T10:00:00Z');
  const runner = new QueueRunner({
    queue: q,
    target: { host: '127.0.0.1', port: 1 },
    reinjector: mta,
    now: () => now,
    firstRetryDelayMs: 60_000,
    concurrency: 1,
  });
  const ok = (await q.enqueue({ kind: 'release', from: 'a@x', to: ['b@y', 'c@y'], raw: RAW }, now))
    .item;
  const later = (ms: number): Date => new Date(now.getTime() + ms);
  const flaky = (await q.enqueue({ kind: 'digest', from: '', to: ['d@y'], raw: RAW }, later(1)))
    .item;
  const refused = (await q.enqueue({ kind: 'notice', from: '', to: ['e@y'], raw: RAW }, later(2)))
    .item;
  now = later(2);
  // Items are delivered oldest first.
  mta.answers = ['ok', 'down', 'reject'];
  assert.deepEqual(await runner.runOnce(), { delivered: 1, deferred: 1, failed: 1 });
  assert.equal(await q.get(ok.id), null);
  assert.deepEqual(mta.delivered, [{ from: 'a@x', to: ['b@y', 'c@y'], subject: 'hi' }]);
  const deferred = await q.get(flaky.id);
  assert.equal(deferred?.status, 'queued');
  assert.equal(deferred.attempts, 1);
  assert.equal(deferred.nextAttemptAt, '2026-11-22T10:01:00.002Z');
  assert.equal((await q.get(refused.id))?.status, 'failed');
  // Not due yet: nothing happens. Then a 4xx after DATA: the marker is cleared, retry doubles.
  assert.deepEqual(await runner.runOnce(), { delivered: 0, deferred: 0, failed: 0 });
  now = new Date('2026-11-22T10:01:00.002Z');
  mta.answers = ['tempfail'];
  await runner.runOnce();
  const again = await q.get(flaky.id);
  assert.equal(again?.status, 'queued');
  assert.equal(again.nextAttemptAt, '2026-11-22T10:03:00.002Z');
  now = new Date('2026-11-22T10:03:00.002Z');
  mta.answers = ['ok'];
  assert.deepEqual(await runner.runOnce(), { delivered: 1, deferred: 0, failed: 0 });
  // An administrator retries the failed one.
  await q.retryNow(refused.id, now);
  assert.equal((await runner.runOnce()).delivered, 1);
  assert.deepEqual(await q.list(), []);
  assert.deepEqual(readdirSync(q.dir), []);
});

test('a crash after the final "." leaves the item uncertain, never sent twice; claims exclude', async () => {
  const q = freshQueue();
  const item = (await q.enqueue({ kind: 'release', from: 'a@x', to: ['b@y'], raw: RAW })).item;
  q.markSending(item.id);
  assert.equal((await q.get(item.id))?.status, 'uncertain');
  const mta = new ScriptedMta();
  const runner = new QueueRunner({
    queue: q,
    target: { host: '127.0.0.1', port: 1 },
    reinjector: mta,
  });
  assert.equal((await runner.runOnce()).delivered, 0);
  assert.equal(mta.delivered.length, 0);
  assert.ok(await q.claim(item.id));
  assert.equal(await q.claim(item.id), false, 'held by another process');
  await q.release(item.id);
  await q.retryNow(item.id);
  assert.equal(existsSync(join(q.dir, `${item.id}.sending`)), false);
  assert.equal((await runner.runOnce()).delivered, 1);
});

test('a keyed item delivered once is never queued again (approving twice)', async () => {
  const q = freshQueue();
  const mta = new ScriptedMta();
  const runner = new QueueRunner({
    queue: q,
    target: { host: '127.0.0.1', port: 1 },
    reinjector: mta,
  });
  const first = await q.enqueue({
    kind: 'release',
    from: 'a@x',
    to: ['b@y'],
    raw: RAW,
    key: 'release:Z',
  });
  assert.equal((await runner.runOnce()).delivered, 1);
  const second = await q.enqueue({
    kind: 'release',
    from: 'a@x',
    to: ['b@y'],
    raw: RAW,
    key: 'release:Z',
  });
  assert.equal(second.created, false);
  assert.equal(second.item.id, first.item.id);
  assert.equal(second.item.status, 'delivered');
  assert.equal((await runner.runOnce()).delivered, 0);
  assert.equal(mta.delivered.length, 1);
  assert.deepEqual(await q.list(), []);
});

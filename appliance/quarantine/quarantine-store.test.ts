// The quarantine as qman reads it: search filters, newest first, state, delete and expiry
// over files laid out exactly as filter/quarantine/writer.ts writes them.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QuarantineStore } from './quarantine-store.js';

const dir = mkdtempSync(join(tmpdir(), 'parapet-qstore-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function put(id: string, time: string, over: Record<string, unknown> = {}): void {
  const day = join(dir, time.slice(0, 10));
  mkdirSync(day, { recursive: true });
  writeFileSync(join(day, `${id}.eml`), `Subject: ${id}\r\n\r\nbody\r\n`);
  writeFileSync(
    join(day, `${id}.json`),
    JSON.stringify({
      id,
      time,
      reason: 'high spam score',
      from: 'spam@bad.example',
      to: ['user@corp.example'],
      subject: `subject ${id}`,
      sizeBytes: 30,
      score: 12,
      symbols: ['GTUBE'],
      rule: 'default.sieve:44',
      client: '192.0.2.1',
      ...over,
    }),
  );
}

test('search, state, delete and expiry', async () => {
  const now = Date.now();
  const iso = (msAgo: number): string => new Date(now - msAgo).toISOString();
  put('old0000000000000001', iso(40 * 86_400_000));
  put('mid0000000000000002', iso(10 * 86_400_000), {
    reason: 'virus found',
    symbols: ['VIRUS_FOUND'],
    score: 0,
    from: 'x@virus.example',
  });
  put('new0000000000000003', iso(60_000), { to: ['boss@corp.example'], score: 25 });
  const store = new QuarantineStore(dir);

  assert.deepEqual(
    (await store.search()).map((e) => e.id),
    ['new0000000000000003', 'mid0000000000000002', 'old0000000000000001'],
  );
  assert.deepEqual(
    (await store.search({ to: 'BOSS@' })).map((e) => e.id),
    ['new0000000000000003'],
  );
  assert.deepEqual(
    (await store.search({ virus: 'virus_found' })).map((e) => e.id),
    ['mid0000000000000002'],
  );
  assert.deepEqual(
    (await store.search({ minScore: 20 })).map((e) => e.id),
    ['new0000000000000003'],
  );
  assert.deepEqual(
    (
      await store.search({
        since: new Date(now - 20 * 86_400_000),
        until: new Date(now - 86_400_000),
      })
    ).map((e) => e.id),
    ['mid0000000000000002'],
  );
  assert.equal((await store.search({ limit: 1 })).length, 1);

  await store.setState('new0000000000000003', (s) => ({
    ...s,
    releasedAt: new Date().toISOString(),
    releasedBy: 't',
  }));
  assert.equal((await store.get('new0000000000000003')).status, 'released');
  assert.deepEqual(
    (await store.search({ status: 'quarantined' })).map((e) => e.id),
    ['mid0000000000000002', 'old0000000000000001'],
  );

  assert.deepEqual(await store.expire(new Date(now - 30 * 86_400_000), true), [
    'old0000000000000001',
  ]);
  assert.ok(existsSync(join(dir, iso(40 * 86_400_000).slice(0, 10))), 'dry run deletes nothing');
  assert.deepEqual(await store.expire(new Date(now - 30 * 86_400_000)), ['old0000000000000001']);
  assert.equal(
    existsSync(join(dir, iso(40 * 86_400_000).slice(0, 10))),
    false,
    'empty day folder removed',
  );
  await store.delete('mid0000000000000002');
  assert.deepEqual(
    (await store.search()).map((e) => e.id),
    ['new0000000000000003'],
  );
  await assert.rejects(store.get('mid0000000000000002'), /no quarantined message/);
  await assert.rejects(store.get('../../etc/passwd'), /no quarantined message/);
});

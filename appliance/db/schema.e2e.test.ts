import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParapetError, type MessageLogRecord } from '../../filter/index.js';
import { Db } from './db.js';
import { loadMigrations, migrate } from './migrate.js';
import { insertMessageLogBatch, rollupMessageLog } from './message-log-repo.js';
import {
  insertQuarantineRows,
  searchQuarantine,
  type NewQuarantineRow,
  type QuarantineSearch,
} from './quarantine-repo.js';
import { pgUnavailableReason, startTestPostgres, type TestPostgres } from './test-support.js';

const skip = pgUnavailableReason();
let t: TestPostgres;

before(async () => {
  if (skip === undefined) t = await startTestPostgres({ migrate: false });
});
after(async () => {
  if (skip === undefined) await t.cleanup();
});

test('migrations apply from empty; running them again does nothing', { skip }, async () => {
  const all = await loadMigrations();
  const first = await migrate(t.db);
  assert.deepEqual(
    first.applied,
    all.map((m) => m.version),
  );
  const second = await migrate(t.db);
  assert.deepEqual(second.applied, []);
  assert.equal(second.version, first.version);
  const tables = await t.db.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'`,
  );
  const names = new Set(tables.map((r) => r.name));
  for (const name of [
    'schema_migrations',
    'config_versions',
    'audit_log',
    'message_log',
    'message_log_hourly',
    'message_log_daily',
    'quarantine',
    'bayes_tokens',
    'bayes_totals',
    'outbound_queue',
    'scheduler_runs',
    'ipblock_entries',
  ]) {
    assert.ok(names.has(name), `missing table ${name}`);
  }
  const trgm = await t.db.query(
    `SELECT 1 FROM pg_indexes WHERE indexname = 'quarantine_subject_trgm'`,
  );
  assert.equal(trgm.length, 1, 'pg_trgm index missing although Debian ships pg_trgm');
});

test(
  'two migrators on one database at once: each migration applied exactly once',
  { skip },
  async () => {
    await t.db.execute(`CREATE DATABASE race`);
    const conn = { ...(await t.pg.connection()), database: 'race' };
    const a = new Db(conn);
    const b = new Db(conn);
    try {
      const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
      const versions = [...ra.applied, ...rb.applied].sort((x, y) => x - y);
      assert.deepEqual(
        versions,
        (await loadMigrations()).map((m) => m.version),
      );
      const rows = await a.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      assert.equal(rows[0]?.n, versions.length);
    } finally {
      await a.close();
      await b.close();
    }
  },
);

test(
  'a failing migration leaves nothing behind; an edited applied one is refused',
  { skip },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parapet-mig-'));
    await t.db.execute(`CREATE DATABASE scratch`);
    const db = new Db({ ...(await t.pg.connection()), database: 'scratch' });
    try {
      await writeFile(join(dir, '0001_one.sql'), 'CREATE TABLE one (v int);');
      await writeFile(
        join(dir, '0002_two.sql'),
        'CREATE TABLE two (v int); SELECT no_such_function();',
      );
      await assert.rejects(migrate(db, { dir }), (err: unknown) => {
        return (
          err instanceof ParapetError &&
          err.code === 'ERR_DB_MIGRATION_FAILED' &&
          /0002_two/.test(err.message)
        );
      });
      const left = await db.query(`SELECT to_regclass('one') AS one, to_regclass('two') AS two`);
      assert.deepEqual(left, [{ one: 'one', two: null }]);
      await writeFile(join(dir, '0002_two.sql'), 'CREATE TABLE two (v int);');
      assert.deepEqual((await migrate(db, { dir })).applied, [2]);
      await writeFile(join(dir, '0001_one.sql'), 'CREATE TABLE one (v bigint);');
      await assert.rejects(migrate(db, { dir }), /was changed after it was applied/);
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);

function record(seq: number, time: string, over: Partial<MessageLogRecord> = {}): MessageLogRecord {
  return {
    nodeId: 'node-a',
    seq,
    id: `id-${seq}`,
    time,
    queueId: null,
    client: { address: '192.0.2.1', name: null },
    helo: 'mx.example',
    from: 'a@example.com',
    to: ['b@example.org', 'c@example.org'],
    subject: 'hello',
    sizeBytes: 1000,
    verdict: 'accept',
    reason: null,
    disposition: 'delivered',
    score: 1.5,
    symbols: [{ name: 'X', score: 1.5 }],
    rule: null,
    errorCode: null,
    timingsMs: { total: 3 },
    ...over,
  };
}

test(
  'message-log batches are idempotent on (node, seq) and survive hostile text',
  { skip },
  async () => {
    const batch = [
      record(1, '2026-01-01T10:15:00Z'),
      record(2, '2026-01-01T10:45:00Z', { subject: 'nul\0 and \ud800 lone' }),
      record(3, '2026-01-01T11:05:00Z', {
        disposition: 'quarantined',
        verdict: 'quarantine',
        score: 9,
      }),
    ];
    assert.equal(await insertMessageLogBatch(t.db, batch), 3);
    assert.equal(await insertMessageLogBatch(t.db, batch), 0);
    const rows = await t.db.query<{ subject: string; recipients: string[] }>(
      `SELECT subject, recipients FROM message_log WHERE node_id = 'node-a' AND seq = 2`,
    );
    assert.equal(rows[0]?.subject, 'nul and \ufffd lone');
    assert.deepEqual(rows[0].recipients, ['b@example.org', 'c@example.org']);
  },
);

test('roll-ups count per hour and day, and recomputing them is idempotent', { skip }, async () => {
  const from = new Date('2026-01-01T00:00:00Z');
  const to = new Date('2026-01-02T00:00:00Z');
  await rollupMessageLog(t.db, from, to);
  await insertMessageLogBatch(t.db, [record(4, '2026-01-01T23:59:59Z')]);
  await rollupMessageLog(t.db, from, to);
  await rollupMessageLog(t.db, from, to);
  const hourly = await t.db.query<{
    hour: string;
    disposition: string;
    messages: number;
    recipients: number;
  }>(
    `SELECT to_char(bucket AT TIME ZONE 'UTC', 'HH24') AS hour, disposition, messages, recipients
     FROM message_log_hourly WHERE node_id = 'node-a' ORDER BY bucket, disposition`,
  );
  assert.deepEqual(hourly, [
    { hour: '10', disposition: 'delivered', messages: 2, recipients: 4 },
    { hour: '11', disposition: 'quarantined', messages: 1, recipients: 2 },
    { hour: '23', disposition: 'delivered', messages: 1, recipients: 2 },
  ]);
  const daily = await t.db.query<{
    day: string;
    disposition: string;
    messages: number;
    bytes: number;
  }>(
    `SELECT bucket::text AS day, disposition, messages, bytes FROM message_log_daily ORDER BY disposition`,
  );
  assert.deepEqual(daily, [
    { day: '2026-01-01', disposition: 'delivered', messages: 3, bytes: 3000 },
    { day: '2026-01-01', disposition: 'quarantined', messages: 1, bytes: 1000 },
  ]);
});

function qrow(i: number, over: Partial<NewQuarantineRow> = {}): NewQuarantineRow {
  return {
    id: `q${String(i).padStart(4, '0')}`,
    nodeId: 'node-a',
    time: new Date(Date.UTC(2026, 0, 1, 0, i)),
    from: `sender${i % 3}@spam${i % 2}.example`,
    to: [`User${i % 4}@corp.example`],
    subject: i % 5 === 0 ? `Cheap 100% pills ${i}` : `Invoice ${i}`,
    sizeBytes: 100 + i,
    reason: i % 7 === 0 ? 'virus' : 'spam',
    score: i,
    symbols: [],
    rule: null,
    path: `/q/${i}.eml`,
    ...(i % 7 === 0 ? { virusNames: ['Eicar-Test-Signature'] } : {}),
    ...over,
  };
}

test('quarantine search filters and pages through every match exactly once', { skip }, async () => {
  const rows = Array.from({ length: 120 }, (_, i) => qrow(i));
  assert.equal(await insertQuarantineRows(t.db, rows), 120);
  assert.equal(await insertQuarantineRows(t.db, rows), 0, 'a forwarded row was stored twice');

  const seen: string[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 20; pages++) {
    const page = await searchQuarantine(t.db, {}, { limit: 7, after });
    seen.push(...page.rows.map((r) => r.id));
    after = page.next;
    if (after === null) break;
  }
  assert.equal(seen.length, 120);
  assert.equal(new Set(seen).size, 120);
  assert.deepEqual(seen, [...seen].sort().reverse(), 'not newest first');

  const pills = await searchQuarantine(t.db, { subject: '100%' }, { limit: 100 });
  assert.equal(pills.rows.length, 24);
  assert.ok(pills.rows.every((r) => r.subject?.includes('100%')));
  const literal = await searchQuarantine(t.db, { subject: '1_0' }, { limit: 100 });
  assert.equal(literal.rows.length, 0, '_ must not be a wildcard');

  const owner = await searchQuarantine(t.db, { owner: 'user1@CORP.example' }, { limit: 100 });
  assert.equal(owner.rows.length, 30);
  const local = await searchQuarantine(t.db, { recipient: 'user1@' }, { limit: 100 });
  assert.equal(local.rows.length, 30);
  const partial = await searchQuarantine(t.db, { recipient: 'ser1@c' }, { limit: 100 });
  assert.equal(partial.rows.length, 30);
  assert.equal((await searchQuarantine(t.db, { recipient: 'ser1@' })).rows.length, 0);
  assert.equal(
    (await searchQuarantine(t.db, { recipient: 'example' }, { limit: 200 })).rows.length,
    120,
  );
  assert.equal(
    (await searchQuarantine(t.db, { recipient: '@corp.example' }, { limit: 200 })).rows.length,
    120,
  );
  assert.equal(
    (await searchQuarantine(t.db, { recipient: '@example' }, { limit: 200 })).rows.length,
    0,
  );
  assert.equal(
    (await searchQuarantine(t.db, { sender: 'sender1@' }, { limit: 200 })).rows.length,
    40,
  );
  assert.equal((await searchQuarantine(t.db, { owner: 'ser1@corp.example' })).rows.length, 0);

  const sender = await searchQuarantine(
    t.db,
    { sender: 'SPAM1.example', minScore: 100 },
    { limit: 100 },
  );
  assert.deepEqual(
    sender.rows.map((r) => r.score),
    [119, 117, 115, 113, 111, 109, 107, 105, 103, 101],
  );
  const exact = await searchQuarantine(t.db, { sender: 'Sender2@spam0.example' }, { limit: 100 });
  assert.ok(
    exact.rows.length === 20 && exact.rows.every((r) => r.from === 'sender2@spam0.example'),
  );
  assert.equal(
    (await searchQuarantine(t.db, { sender: 'ender2@spam0' }, { limit: 100 })).rows.length,
    20,
  );
  assert.equal(
    (await searchQuarantine(t.db, { sender: 'spam0.example' }, { limit: 100 })).rows.length,
    60,
  );
  // A domain is a domain, not a substring: no sender is at am0.example or its subdomains.
  assert.equal(
    (await searchQuarantine(t.db, { sender: 'am0.example' }, { limit: 100 })).rows.length,
    0,
  );
  assert.equal(
    (await searchQuarantine(t.db, { sender: 'example' }, { limit: 200 })).rows.length,
    120,
  );
  assert.equal(
    (await searchQuarantine(t.db, { sender: '@spam0.example' }, { limit: 200 })).rows.length,
    60,
  );
  assert.equal(
    (await searchQuarantine(t.db, { sender: '@example' }, { limit: 200 })).rows.length,
    0,
  );
  const virus = await searchQuarantine(t.db, { virus: 'Eicar-Test-Signature' }, { limit: 100 });
  assert.equal(virus.rows.length, 18);
  const window = await searchQuarantine(
    t.db,
    { since: new Date(Date.UTC(2026, 0, 1, 0, 10)), until: new Date(Date.UTC(2026, 0, 1, 0, 20)) },
    { limit: 100 },
  );
  assert.equal(window.rows.length, 10);
  const bogus = await searchQuarantine(t.db, {}, { limit: 3, after: 'not a cursor' });
  assert.equal(bogus.rows[0]?.id, 'q0119');
});

test('both search plans give the same pages for every kind of filter', { skip }, async () => {
  const searches: QuarantineSearch[] = [
    { subject: 'pills' },
    { sender: 'spam1.example', minScore: 30, maxScore: 90 },
    { sender: 'sender2@' },
    { recipient: 'user3@corp.example', since: new Date(Date.UTC(2026, 0, 1, 0, 30)) },
    { recipient: 'corp.example', until: new Date(Date.UTC(2026, 0, 1, 1, 0)) },
    { owner: 'user0@corp.example', reason: 'spam', nodeId: 'node-a' },
    { virus: 'Eicar-Test-Signature' },
  ];
  for (const search of searches) {
    const pages: Record<string, string[]> = {};
    for (const plan of ['auto', 'walk', 'lookup'] as const) {
      const ids: string[] = [];
      let after: string | null = null;
      for (let n = 0; n < 30; n++) {
        const page = await searchQuarantine(t.db, search, { limit: 4, after, plan });
        ids.push(...page.rows.map((r) => r.id));
        after = page.next;
        if (after === null) break;
      }
      pages[plan] = ids;
    }
    assert.ok((pages['walk'] ?? []).length > 0, JSON.stringify(search));
    assert.deepEqual(pages['lookup'], pages['walk'], JSON.stringify(search));
    assert.deepEqual(pages['auto'], pages['walk'], JSON.stringify(search));
  }
});

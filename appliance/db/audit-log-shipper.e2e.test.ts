// The audit-log shipper against a real PostgreSQL: every line of audit.jsonl reaches
// audit_log exactly once — across a lost cursor, a replaced log and a database restart —
// and lines that are not audit entries are skipped without stalling the rest.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParapetError } from '../../filter/index.js';
import { AuditLogShipper, parseAuditLine, type AuditShipperEvent } from './audit-log-shipper.js';
import { pgUnavailableReason, startTestPostgres, type TestPostgres } from './test-support.js';

const skip = pgUnavailableReason();
let t: TestPostgres;
let dir: string;

const entry = (i: number, actor = 'admin'): string =>
  JSON.stringify({
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    actor,
    surface: 'manager',
    ip: '192.0.2.1',
    action: 'user.add',
    object: `user${String(i)}`,
    outcome: 'ok',
    details: { role: 'user' },
  }) + '\n';

async function count(nodeId: string): Promise<number> {
  const rows = await t.db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM audit_log WHERE node_id = $1',
    [nodeId],
  );
  return rows[0]?.n ?? 0;
}

async function waitFor(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  if (skip !== undefined) return;
  t = await startTestPostgres();
  dir = await mkdtemp(join(tmpdir(), 'parapet-audit-'));
});
after(async () => {
  if (skip !== undefined) return;
  await t.cleanup();
  await rm(dir, { recursive: true, force: true });
});

test('lines are shipped once, with their fields; bad lines are skipped', { skip }, async () => {
  const logPath = join(dir, 'a.jsonl');
  await writeFile(logPath, entry(1) + 'not json\n' + '{"at":"x"}\n' + entry(2) + entry(2));
  const events: AuditShipperEvent[] = [];
  const shipper = new AuditLogShipper({
    db: t.db,
    nodeId: 'n1',
    logPath,
    onEvent: (e) => events.push(e),
  });
  assert.deepEqual(await shipper.drain(), { lines: 5, inserted: 3 });
  assert.equal(events.filter((e) => e.type === 'skipped').length, 2);
  const rows = await t.db.query<Record<string, unknown>>(
    `SELECT actor, source, action, object_type, object_id, ip, outcome, details
     FROM audit_log WHERE node_id = 'n1' ORDER BY id LIMIT 1`,
  );
  assert.deepEqual(rows[0], {
    actor: 'admin',
    source: 'manager',
    action: 'user.add',
    object_type: 'user',
    object_id: 'user1',
    ip: '192.0.2.1',
    outcome: 'ok',
    details: { role: 'user' },
  });
  // Nothing new: nothing shipped. A partial last line waits for its end.
  assert.deepEqual(await shipper.drain(), { lines: 0, inserted: 0 });
  await appendFile(logPath, entry(3).slice(0, 20));
  assert.deepEqual(await shipper.drain(), { lines: 0, inserted: 0 });
  await appendFile(logPath, entry(3).slice(20));
  assert.deepEqual(await shipper.drain(), { lines: 1, inserted: 1 });
  // The cursor lost: everything is read again and nothing doubled.
  await rm(`${logPath}.cursor`);
  const again = new AuditLogShipper({ db: t.db, nodeId: 'n1', logPath });
  assert.deepEqual(await again.drain(), { lines: 6, inserted: 0 });
  assert.equal(await count('n1'), 4);
  // Another node's identical lines are its own.
  const other = new AuditLogShipper({
    db: t.db,
    nodeId: 'n2',
    logPath,
    cursorPath: join(dir, 'n2.cursor'),
  });
  assert.equal((await other.drain()).inserted, 4);
});

test('a replaced log is read from its start, old lines not doubled', { skip }, async () => {
  const logPath = join(dir, 'b.jsonl');
  await writeFile(logPath, entry(1) + entry(2));
  const shipper = new AuditLogShipper({ db: t.db, nodeId: 'n3', logPath });
  await shipper.drain();
  await rm(logPath);
  await writeFile(logPath, entry(7, 'other'));
  assert.deepEqual(await shipper.drain(), { lines: 1, inserted: 1 });
  assert.equal(await count('n3'), 3);
});

test('every line reaches the database exactly once across a restart', { skip }, async () => {
  const logPath = join(dir, 'c.jsonl');
  const shipper = new AuditLogShipper({
    db: t.db,
    nodeId: 'n4',
    logPath,
    idleMs: 20,
    retryInitialMs: 50,
    retryMaxMs: 200,
  });
  for (let i = 0; i < 50; i++) await appendFile(logPath, entry(i));
  shipper.start();
  try {
    await waitFor('first lines', async () => (await count('n4')) === 50, 30_000);
    await t.pg.stop();
    for (let i = 50; i < 120; i++) await appendFile(logPath, entry(i));
    await assert.rejects(
      new AuditLogShipper({
        db: t.db,
        nodeId: 'n4',
        logPath,
        cursorPath: join(dir, 'x'),
      }).shipOnce(),
      (err: unknown) => err instanceof ParapetError && err.code === 'ERR_DB_UNAVAILABLE',
    );
    await t.pg.start();
    await waitFor('all lines', async () => (await count('n4')) >= 120, 60_000);
  } finally {
    await shipper.stop();
  }
  assert.equal(await count('n4'), 120);
});

test('parseAuditLine never throws on junk', () => {
  for (const junk of [
    '',
    '[]',
    'null',
    '{"at":"2026-01-01T00:00:00Z"}',
    '{"at":"-270000-01-01","actor":"a","action":"b"}',
    '\u0000',
  ]) {
    assert.equal(typeof parseAuditLine(junk), 'string', junk);
  }
});

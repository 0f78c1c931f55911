// The database service against a real PostgreSQL (external URL): besides the message log it
// ships the audit log and records configuration versions, and stops cleanly.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadNodeConfig } from '../config/node-config.js';
import { pgUnavailableReason, startTestPostgres, type TestPostgres } from '../db/test-support.js';
import { startDatabaseService } from './database.js';

const skip = pgUnavailableReason();
let t: TestPostgres;
let home: string;

before(async () => {
  if (skip !== undefined) return;
  t = await startTestPostgres();
  home = await mkdtemp(join(tmpdir(), 'parapet-dbsvc-'));
});
after(async () => {
  if (skip !== undefined) return;
  await t.cleanup();
  await rm(home, { recursive: true, force: true });
});

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('the service ships the audit log and records configuration versions', { skip }, async () => {
  const c = await t.pg.connection();
  const url = `postgres://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${c.host}:${String(c.port)}/${c.database}`;
  await mkdir(join(home, 'config'), { recursive: true });
  await mkdir(join(home, 'log'), { recursive: true });
  await writeFile(join(home, 'config', 'node.json'), JSON.stringify({ database: { url } }));
  await writeFile(join(home, 'config', 'policy.sieve'), 'keep;\n');
  const config = await loadNodeConfig({ PARAPET_HOME: home });
  await appendFile(
    join(home, 'log', 'audit.jsonl'),
    `${JSON.stringify({ at: new Date().toISOString(), actor: 'boss', surface: 'manager', ip: null, action: 'policy.save', object: null, outcome: 'ok', details: {} })}\n`,
  );
  const service = await startDatabaseService(config, pino({ level: 'silent' }));
  try {
    const n = async (sql: string): Promise<number> =>
      (await t.db.query<{ n: number }>(sql))[0]?.n ?? 0;
    await waitFor(
      'the audit line',
      async () => (await n('SELECT count(*)::int AS n FROM audit_log')) === 1,
    );
    await waitFor(
      'a configuration version',
      async () =>
        (await n(`SELECT count(*)::int AS n FROM config_versions WHERE author = 'boss'`)) === 1,
    );
  } finally {
    await service.close();
  }
  const rows = await t.db.query<{ node_id: string; action: string }>(
    'SELECT node_id, action FROM audit_log',
  );
  assert.deepEqual(rows, [{ node_id: config.nodeId, action: 'policy.save' }]);
});

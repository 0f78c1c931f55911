// The Scheduler's built-in jobs against a real PostgreSQL, run through runJob as the service
// and `parapet scheduler run` do: message-log roll-up (reports, IP Blocker log, quarantine
// size), database maintenance (retention, roll-ups kept longer), Bayes expiry (file store and
// table), each logged with its outcome; a database that is down gives a failed, logged run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MemoryTokenStore,
  ParapetError,
  parseTokenSnapshot,
  serializeTokenSnapshot,
} from '../../filter/index.js';
import { loadNodeConfig, type NodeConfig } from '../config/node-config.js';
import { insertMessageLogBatch, insertQuarantineRows } from '../db/index.js';
import { reportIpBlocked, reportMessageCategories } from '../db/reports-repo.js';
import { pgUnavailableReason, startTestPostgres, type TestPostgres } from '../db/test-support.js';
import { findFreePort } from '../test/e2e/support/free-port.js';
import { DEFAULT_MAINTENANCE, readMaintenanceSettings } from './builtin-tasks.js';
import { JobStore, nextRun } from './jobs.js';
import { runJob } from './run-job.js';

const skip = pgUnavailableReason();
const DAY_MS = 86_400_000;
const now = Date.now();
let t: TestPostgres;
let home: string;
let config: NodeConfig;
let store: JobStore;

async function makeHome(databaseUrl: string, maintenance: object): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'parapet-jobs-'));
  await mkdir(join(dir, 'config'), { recursive: true });
  await writeFile(
    join(dir, 'config', 'node.json'),
    JSON.stringify({ database: { url: databaseUrl }, maintenance }),
  );
  return dir;
}

function logRecord(seq: number, time: number, nodeId: string, score: number) {
  return {
    nodeId,
    seq,
    id: `j${String(seq)}`,
    time: new Date(time).toISOString(),
    queueId: null,
    client: { address: '198.51.100.7', name: null },
    helo: null,
    from: 'spammer@spam.example',
    to: ['user@corp.example'],
    subject: 'x',
    sizeBytes: 100,
    verdict: 'accept',
    reason: null,
    disposition: 'reinjected',
    score,
    symbols: [],
    rule: 'policy.sieve:50',
    errorCode: null,
    timingsMs: {},
  };
}

before(async () => {
  if (skip !== undefined) return;
  t = await startTestPostgres();
  const c = await t.pg.connection();
  const url = `postgres://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${c.host}:${String(c.port)}/${c.database}`;
  home = await makeHome(url, { messageLogDays: 30, rollupDays: 60, bayesTokenDays: 100 });
  config = await loadNodeConfig({ PARAPET_HOME: home });
  store = new JobStore(config.paths.config, join(home, 'log'));
  // A recent spam message, one past the message-log retention.
  await insertMessageLogBatch(t.db, [
    logRecord(1, now - 3_600_000, config.nodeId, 9),
    logRecord(2, now - 45 * DAY_MS, config.nodeId, 0),
  ]);
  await insertQuarantineRows(t.db, [
    {
      id: 'held-1',
      nodeId: config.nodeId,
      time: new Date(now - 3_600_000),
      from: 'spammer@spam.example',
      to: ['user@corp.example'],
      subject: 'x',
      sizeBytes: 100,
      reason: 'high spam score',
      score: 12,
      symbols: [],
      rule: null,
      path: '/nonexistent',
    },
  ]);
  // Roll-up rows older than the roll-up retention (60 days) and younger.
  for (const age of [100, 45]) {
    await t.db.execute(
      `INSERT INTO report_top_daily (dimension, scope, bucket, node_id, key, messages)
       VALUES ('rule', '', $1::date, $2, 'policy.sieve:1', 1)`,
      [new Date(now - age * DAY_MS).toISOString().slice(0, 10), config.nodeId],
    );
  }
  await mkdir(join(home, 'log'), { recursive: true });
  const refusal = (client: string): string =>
    JSON.stringify({
      time: new Date(now - 60_000).toISOString(),
      nodeId: config.nodeId,
      client,
      source: 'local',
      action: 'reject',
    });
  await writeFile(config.paths.ipblockLog, `${refusal('192.0.2.1')}\n${refusal('192.0.2.2')}\n`);
  // Bayes: one token last seen 200 days ago, one today, in the file store and the table.
  const memory = new MemoryTokenStore();
  await memory.update({
    messageKey: 'a',
    tokens: [1],
    from: null,
    to: 'spam',
    atMs: now - 200 * DAY_MS,
  });
  await memory.update({ messageKey: 'b', tokens: [2], from: null, to: 'ham', atMs: now });
  await mkdir(join(home, 'bayes'), { recursive: true });
  await writeFile(join(home, 'bayes', 'tokens.json'), serializeTokenSnapshot(memory));
  await t.db.execute(
    `INSERT INTO bayes_tokens (token, nspam, nham, last_seen)
     VALUES (1, 1, 0, now() - interval '200 days'), (2, 0, 1, now())`,
  );
});
after(async () => {
  if (skip !== undefined) return;
  await t.cleanup();
  await rm(home, { recursive: true, force: true });
});

test('the built-in jobs are listed, enabled, with a next run', { skip }, async () => {
  const jobs = await store.list();
  for (const name of [
    'message-log-rollup',
    'db-maintenance',
    'bayes-expiry',
    'quarantine-digest',
  ]) {
    const job = jobs.find((j) => j.name === name);
    assert.ok(job?.builtin === true && job.enabled, name);
    assert.ok(nextRun(job.schedule) !== null);
    assert.deepEqual(job.command, ['scheduler', 'run', name]);
  }
});

test('message-log-rollup fills the report roll-ups and is logged', { skip }, async () => {
  const run = await runJob(store, await store.get('message-log-rollup'), {
    home,
    trigger: 'test',
  });
  assert.equal(run.ok, true, run.output);
  assert.match(run.output, /2 refused connections, 1 messages held/);
  const today = { from: new Date(now - DAY_MS), to: new Date(now + 60_000) };
  const cats = await reportMessageCategories(t.db, today);
  assert.equal(cats.totals.spam, 1);
  assert.equal(
    (await reportIpBlocked(t.db, { ...today, from: new Date(now - 2 * DAY_MS) })).total,
    2,
  );
  // Running it again recomputes instead of adding.
  assert.equal(
    (await runJob(store, await store.get('message-log-rollup'), { home, trigger: 'test' })).ok,
    true,
  );
  assert.equal((await reportMessageCategories(t.db, today)).totals.spam, 1);
  const held = await t.db.query<{ held: number }>(
    'SELECT held FROM quarantine_size_daily WHERE node_id = $1',
    [config.nodeId],
  );
  assert.deepEqual(held, [{ held: 1 }]);
});

test('db-maintenance deletes past retention and keeps roll-ups longer', { skip }, async () => {
  const run = await runJob(store, await store.get('db-maintenance'), { home, trigger: 'test' });
  assert.equal(run.ok, true, run.output);
  assert.match(run.output, /deleted 1 message-log rows older than 30 days/);
  const left = await t.db.query<{ seq: number }>('SELECT seq FROM message_log ORDER BY seq');
  assert.deepEqual(left, [{ seq: 1 }]);
  const rollups = await t.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM report_top_daily WHERE key = 'policy.sieve:1'`,
  );
  assert.equal(rollups[0]?.n, 1);
});

test(
  'bayes-expiry expires old tokens in the table and refreshes the node snapshot',
  { skip },
  async () => {
    const run = await runJob(store, await store.get('bayes-expiry'), { home, trigger: 'test' });
    assert.equal(run.ok, true, run.output);
    assert.match(run.output, /: 1 from the database/);
    const file = join(home, 'bayes', 'tokens.json');
    const kept = parseTokenSnapshot(await readFile(file, 'utf8'), file).snapshot();
    assert.deepEqual([...kept.tokens.keys()], [2]);
    const rows = await t.db.query<{ token: number }>('SELECT token FROM bayes_tokens');
    assert.deepEqual(rows, [{ token: 2 }]);
    const runs = (await readFile(store.runLog, 'utf8')).trim().split('\n');
    assert.deepEqual(
      runs.map((l) => (JSON.parse(l) as { job: string; ok: boolean }).job),
      ['message-log-rollup', 'message-log-rollup', 'db-maintenance', 'bayes-expiry'],
    );
  },
);

test('a database that is down gives a failed run with the reason, logged', { skip }, async () => {
  const port = await findFreePort();
  const other = await makeHome(`postgres://parapet:x@127.0.0.1:${String(port)}/parapet`, {});
  try {
    const otherConfig = await loadNodeConfig({ PARAPET_HOME: other });
    const otherStore = new JobStore(otherConfig.paths.config, join(other, 'log'));
    const run = await runJob(otherStore, await otherStore.get('db-maintenance'), {
      home: other,
      trigger: 'test',
    });
    assert.deepEqual([run.ok, run.exitCode], [false, 1]);
    assert.match(run.output, /^ERR_DB_UNAVAILABLE: /);
    assert.match(await readFile(otherStore.runLog, 'utf8'), /"job":"db-maintenance","startedAt/);
  } finally {
    await rm(other, { recursive: true, force: true });
  }
});

test('maintenance settings: defaults, and bad values refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'parapet-maint-'));
  try {
    assert.deepEqual(await readMaintenanceSettings(dir), DEFAULT_MAINTENANCE);
    for (const [maintenance, ok] of [
      [{ messageLogDays: 10 }, true],
      [{ messageLogDays: 0 }, false],
      [{ messageLogDays: 1.5 }, false],
      [{ bayesTokenDays: '30' }, false],
      [{ messageLogDays: 100, rollupDays: 50 }, false],
      ['yes', false],
    ] as const) {
      await writeFile(join(dir, 'node.json'), JSON.stringify({ maintenance }));
      if (ok) {
        assert.equal((await readMaintenanceSettings(dir)).messageLogDays, 10);
      } else {
        await assert.rejects(
          readMaintenanceSettings(dir),
          (err: unknown) => err instanceof ParapetError && err.code === 'ERR_CONFIG_INVALID',
          JSON.stringify(maintenance),
        );
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

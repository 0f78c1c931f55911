import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { EmbeddedPostgres } from './embedded-postgres.js';
import { Db } from './db.js';
import { pgUnavailableReason, startTestPostgres, type TestPostgres } from './test-support.js';

const skip = pgUnavailableReason();
let t: TestPostgres;

before(async () => {
  if (skip === undefined) t = await startTestPostgres({ migrate: false });
});
after(async () => {
  if (skip === undefined) await t.cleanup();
});

function uidOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}

test('the server never runs as root, and its files belong to its user', { skip }, async () => {
  const status = await t.pg.status();
  assert.ok(status.running && status.pid !== null);
  const uid = uidOf(status.pid);
  assert.notEqual(uid, 0, 'postmaster runs as root');
  const myUid = process.getuid?.() ?? 0;
  if (myUid !== 0) assert.equal(uid, myUid);
  assert.equal(statSync(t.pg.dataDir).uid, uid);
  assert.equal(statSync(t.pg.dataDir).mode & 0o777, 0o700);
});

test('the password file is 0600 and only SCRAM with it gets in', { skip }, async () => {
  assert.equal(statSync(t.pg.passwordFile).mode & 0o777, 0o600);
  const conn = await t.pg.connection();
  const rows = await t.db.query<{ u: string; method: string }>(
    `SELECT current_user AS u, (SELECT string_agg(DISTINCT auth_method, ',') FROM pg_hba_file_rules) AS method`,
  );
  assert.equal(rows[0]?.u, conn.user);
  assert.equal(rows[0].method, 'scram-sha-256');
  const wrong = new pg.Client({ ...conn, password: 'not-the-password' });
  await assert.rejects(wrong.connect(), /password authentication failed/);
  await wrong.end().catch(() => undefined);
});

test('it listens on 127.0.0.1 and on a unix socket in the data directory', { skip }, async () => {
  const rows = await t.db.query<{ listen: string; socket: string; port: number }>(
    `SELECT current_setting('listen_addresses') AS listen,
            current_setting('unix_socket_directories') AS socket,
            current_setting('port')::int AS port`,
  );
  assert.equal(rows[0]?.listen, '127.0.0.1');
  assert.equal(rows[0].socket, t.pg.dataDir);
  assert.equal(rows[0].port, t.pg.port);
  assert.ok(statSync(join(t.pg.dataDir, `.s.PGSQL.${t.pg.port}`)).isSocket());
  const viaSocket = new Db({ ...(await t.pg.connection()), host: t.pg.dataDir });
  try {
    assert.deepEqual(await viaSocket.query('SELECT 1 AS one'), [{ one: 1 }]);
  } finally {
    await viaSocket.close();
  }
});

test('start and stop are idempotent; restart keeps the data', { skip }, async () => {
  await t.db.execute('CREATE TABLE IF NOT EXISTS keep_me (v int)');
  await t.db.execute('INSERT INTO keep_me VALUES (42)');
  const first = await t.pg.status();
  const again = await t.pg.start();
  assert.equal(again.pid, first.pid, 'a second start started a second server');
  await t.pg.stop();
  assert.equal((await t.pg.status()).running, false);
  await t.pg.stop();
  const restarted = await t.pg.start();
  assert.ok(restarted.running);
  assert.notEqual(restarted.pid, first.pid);
  assert.deepEqual(await t.db.query('SELECT v FROM keep_me'), [{ v: 42 }]);
});

test('a second handle on the same home sees the same server', { skip }, async () => {
  const other = new EmbeddedPostgres({ home: t.home, port: t.pg.port });
  const mine = await t.pg.status();
  const theirs = await other.start();
  assert.equal(theirs.pid, mine.pid);
});

test('a stale postmaster.pid left by a crash does not stop the next start', { skip }, async () => {
  await t.pg.stop();
  // A lock file naming a PID that is alive but is not postgres (this test process).
  const lock = join(t.pg.dataDir, 'postmaster.pid');
  writeFileSync(lock, `${process.pid}\n${t.pg.dataDir}\n0\n${t.pg.port}\n\n\n\nready   \n`);
  assert.equal((await t.pg.status()).running, false);
  const status = await t.pg.start();
  assert.ok(status.running);
  assert.notEqual(status.pid, process.pid);
  assert.deepEqual(await t.db.query('SELECT v FROM keep_me'), [{ v: 42 }]);
});

test('after SIGKILL of the postmaster, start recovers the cluster', { skip }, async () => {
  const before = await t.pg.status();
  assert.ok(before.pid !== null);
  process.kill(before.pid, 'SIGKILL');
  // Its backends notice the postmaster's death and exit; then the shared memory is free.
  const deadline = Date.now() + 30_000;
  let status = await t.pg.status();
  while (status.running && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    status = await t.pg.status();
  }
  assert.equal(status.running, false);
  let started = false;
  for (let attempt = 0; attempt < 20 && !started; attempt++) {
    try {
      await t.pg.start();
      started = true;
    } catch (err) {
      // "pre-existing shared memory block is still in use" until the last backend has gone.
      if (!/shared memory/i.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  assert.ok(started);
  assert.deepEqual(await t.db.query('SELECT v FROM keep_me'), [{ v: 42 }]);
});

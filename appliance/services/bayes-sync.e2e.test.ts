// A node's Bayes files and the shared store, against a real (throw-away) PostgreSQL: the
// one-time import of a node's own tokens.json, the export the policy service's cache reloads,
// `parapet learn` into the database, touches shipped as last-seen times, and bayes-expiry on a
// node without a database.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MemoryTokenStore,
  parseTokenSnapshot,
  serializeTokenSnapshot,
} from '../../filter/index.js';
import { loadNodeConfig, type NodeConfig } from '../config/node-config.js';
import { readSnapshotOrigin } from '../db/bayes-snapshot.js';
import { PgTokenStore } from '../db/bayes-token-store.js';
import { pgUnavailableReason, startTestPostgres, type TestPostgres } from '../db/test-support.js';
import { learnFiles, learnNodeFiles } from '../cli/learn-command.js';
import { runBuiltinTask } from '../scheduler/builtin-tasks.js';
import { findFreePort } from '../test/e2e/support/free-port.js';
import { writeLearnFile } from './bayes-autolearn.js';
import { CachedTokenStore } from './bayes-cache.js';
import { BayesSync, bayesPaths } from './bayes-sync.js';

const skip = pgUnavailableReason();
const DAY = 86_400_000;
let t: TestPostgres;
let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'parapet-bayes-sync-'));
  if (skip === undefined) t = await startTestPostgres();
});
after(async () => {
  if (skip === undefined) await t.cleanup();
  await rm(root, { recursive: true, force: true });
});

async function nodeHome(name: string, nodeJson: object): Promise<NodeConfig> {
  const home = join(root, name);
  await mkdir(join(home, 'config'), { recursive: true });
  await writeFile(join(home, 'config', 'node.json'), JSON.stringify(nodeJson));
  return loadNodeConfig({ PARAPET_HOME: home });
}

async function messages(dir: string, n: number, words: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    await writeFile(
      join(dir, `${String(i)}.eml`),
      [
        `From x@example.net  Tue Aug  6 11:01:33 2002`,
        `From: sender${String(i)}@example.net`,
        'To: someone@example.org',
        `Subject: ${words} ${String(i)}`,
        `Message-ID: <${String(i)}.${words.replace(/\W/g, '')}@example.net>`,
        '',
        `${words} number ${String(i)}`,
        '',
      ].join('\n'),
    );
  }
  return dir;
}

test(
  'import once, export, learn into the database, ship touches: the cache follows',
  { skip },
  async () => {
    const c = await t.pg.connection();
    const url = `postgres://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${c.host}:${String(c.port)}/${c.database}`;
    const config = await nodeHome('central', { database: { url } });
    const paths = bayesPaths(config.home);
    // The node trained on its own before the shared store existed.
    const local = new MemoryTokenStore();
    await local.update({
      messageKey: 'a',
      tokens: [11, 12],
      from: null,
      to: 'spam',
      atMs: Date.now() - 30 * DAY,
    });
    await local.update({
      messageKey: 'b',
      tokens: [12],
      from: null,
      to: 'ham',
      atMs: Date.now() - 30 * DAY,
    });
    await mkdir(join(config.home, 'bayes'), { recursive: true });
    await writeFile(paths.tokens, serializeTokenSnapshot(local));

    const sync = new BayesSync({ db: t.db, home: config.home });
    const first = await sync.runOnce();
    assert.deepEqual(first.imported, { imported: true, tokens: 2, learned: 2 });
    assert.equal(first.exported?.tokens, 2);
    assert.ok(existsSync(paths.localBackup), 'the node-local store is kept aside');
    const origin = await readSnapshotOrigin(paths.tokens);
    assert.equal(origin?.kind, 'database');
    const spam = await messages(join(root, 'in-spam'), 3, 'cheap pills winner');
    const cache = await CachedTokenStore.open({ path: paths.tokens, touchDir: paths.touched });
    try {
      assert.deepEqual((await cache.counts([12])).get(12), { spam: 1, ham: 1 });
      const second = await sync.runOnce();
      assert.equal(second.exported, null, 'same version: no export');
      assert.equal(second.imported, null);

      // parapet learn on a node with a database: into the shared store, snapshot refreshed.
      const summary = await learnNodeFiles(config, 'spam', [spam]);
      assert.equal(summary.store, 'database');
      assert.equal(summary.learned, 3);
      assert.deepEqual(summary.totals, { spam: 4, ham: 1 });
      await assert.rejects(learnFiles(paths.tokens, 'spam', [spam]), {
        code: 'ERR_BAYES_STORE_IO',
        message: /copy of the database store/,
      });
      const again = await learnNodeFiles(config, 'spam', [spam]);
      assert.equal(again.alreadyLearned, 3);
      assert.equal(await cache.reload(), true);
      assert.deepEqual(await cache.totals(), { spam: 4, ham: 1 });
      assert.ok(cache.size > 2);

      // Auto-learn from the policy service: new messages are learned, a decision is never
      // overridden (a message `parapet learn` took as spam stays spam).
      const manual = await t.db.query<{ key: string }>(
        `SELECT message_key AS key FROM bayes_learned WHERE class = 'spam' LIMIT 1`,
      );
      const manualKey = manual[0]?.key ?? '';
      await writeLearnFile(paths.autolearn, [
        { key: manualKey, class: 'ham', tokens: [500], atMs: Date.now() },
        { key: 'auto-1', class: 'ham', tokens: [500, 501], atMs: Date.now() },
      ]);
      const learnedRun = await sync.runOnce();
      assert.deepEqual(learnedRun.autoLearned, { files: 1, learned: 1, skipped: 1, bad: 0 });
      assert.ok(learnedRun.exported !== null);
      const pg = new PgTokenStore(t.db);
      assert.equal(await pg.learnedAs(manualKey), 'spam');
      assert.equal(await pg.learnedAs('auto-1'), 'ham');
      assert.equal(await cache.reload(), true);
      assert.deepEqual(await cache.totals(), { spam: 4, ham: 2 });

      // The policy service's touches reach last_seen (day granularity); no export for that.
      await cache.touch([11], Date.now());
      await cache.flush();
      const third = await sync.runOnce();
      assert.equal(third.touched.files, 1);
      assert.equal(third.exported, null);
      const row = await t.db.query<{ t: Date }>(
        'SELECT last_seen AS t FROM bayes_tokens WHERE token = 11',
      );
      assert.equal(row[0]?.t.getTime(), Math.floor(Date.now() / DAY) * DAY);

      // Expiry in the database moves the version; the next step refreshes the snapshot.
      await t.db.execute(
        `UPDATE bayes_tokens SET last_seen = now() - interval '400 days' WHERE token = 12`,
      );
      assert.equal(await new PgTokenStore(t.db).expire(Date.now() - 180 * DAY), 1);
      const fourth = await sync.runOnce();
      assert.ok(fourth.exported !== null);
      assert.equal(await cache.reload(), true);
      assert.equal((await cache.counts([12])).size, 0);
    } finally {
      await cache.close();
    }

    // A node whose database is configured but away: learn fails clearly, the file is untouched.
    const port = await findFreePort();
    const away = await nodeHome('away', {
      database: {
        url: `postgres://parapet:x@127.0.0.1:${String(port)}/parapet`,
        connectTimeoutMs: 2000,
      },
    });
    await assert.rejects(learnNodeFiles(away, 'spam', [spam]), { code: 'ERR_DB_UNAVAILABLE' });
    assert.equal(existsSync(bayesPaths(away.home).tokens), false);
  },
);

test('bayes-expiry on a node without a database applies the touch spool, then expires the file', async () => {
  const config = await nodeHome('single', { maintenance: { bayesTokenDays: 100 } });
  const paths = bayesPaths(config.home);
  const now = new Date();
  const store = new MemoryTokenStore();
  // Three tokens learned 200 days ago; a scan used token 2 today.
  await store.update({
    messageKey: 'a',
    tokens: [1, 2],
    from: null,
    to: 'spam',
    atMs: now.getTime() - 200 * DAY,
  });
  await store.update({ messageKey: 'b', tokens: [3], from: null, to: 'ham', atMs: now.getTime() });
  await mkdir(join(config.home, 'bayes'), { recursive: true });
  await writeFile(paths.tokens, serializeTokenSnapshot(store));
  const cache = await CachedTokenStore.open({ path: paths.tokens, touchDir: paths.touched });
  await cache.touch([2], now.getTime());
  await cache.close();

  await writeLearnFile(paths.autolearn, [
    { key: 'auto-f', class: 'spam', tokens: [7], atMs: now.getTime() },
    { key: 'b', class: 'spam', tokens: [3], atMs: now.getTime() }, // learned already: left alone
  ]);
  const output = await runBuiltinTask('bayes-expiry', config, now);
  assert.match(
    output,
    /: 1 from bayes\/tokens\.json \(1 last-seen updates applied, 1 messages auto-learned\)/,
  );
  const kept = parseTokenSnapshot(await readFile(paths.tokens, 'utf8'), paths.tokens).snapshot();
  assert.deepEqual([...kept.tokens.keys()].sort(), [2, 3, 7]);
  assert.deepEqual(kept.totals, { spam: 2, ham: 1 });
});

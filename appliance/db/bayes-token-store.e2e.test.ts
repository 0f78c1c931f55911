// The PostgreSQL Bayes store against a real (throw-away) PostgreSQL: the TokenStore contract
// checked against the in-memory reference store, two trainers racing on the same messages,
// batched last-seen updates and expiry, and the snapshot export/import with measured figures.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MemoryTokenStore,
  parseTokenSnapshot,
  serializeTokenSnapshot,
  type BayesClass,
  type TrainingChange,
} from '../../filter/index.js';
import { Db } from './db.js';
import { PgTokenStore, dayStartMs } from './bayes-token-store.js';
import {
  exportBayesSnapshot,
  importBayesSnapshotIfEmpty,
  readSnapshotOrigin,
} from './bayes-snapshot.js';
import { pgUnavailableReason, startTestPostgres, type TestPostgres } from './test-support.js';
import { parseCompactSnapshot } from '../services/bayes-cache.js';

const skip = pgUnavailableReason();
const DAY = 86_400_000;
let t: TestPostgres;
let dir: string;

before(async () => {
  if (skip !== undefined) return;
  t = await startTestPostgres({ poolMax: 6 });
  dir = await mkdtemp(join(tmpdir(), 'parapet-bayes-pg-'));
});
after(async () => {
  if (skip !== undefined) return;
  await t.cleanup();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  if (skip !== undefined) return;
  await t.db.execute('TRUNCATE bayes_tokens, bayes_learned');
  await t.db.execute('UPDATE bayes_totals SET nspam = 0, nham = 0, version = 0');
});

/** A deterministic pseudo-random sequence (xorshift), so a failure repeats. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

test(
  'PgTokenStore follows the in-memory reference through learn, relearn and unlearn',
  { skip },
  async () => {
    const pg = new PgTokenStore(t.db);
    const memory = new MemoryTokenStore();
    const random = rng(7);
    const universe = Array.from({ length: 60 }, (_, i) => 2 ** 52 + i * 977); // big ids survive
    const messages = Array.from({ length: 25 }, () => [
      ...new Set(Array.from({ length: 12 }, () => universe[Math.floor(random() * 60)] ?? 0)),
    ]);
    const classes: (BayesClass | null)[] = ['spam', 'ham', null];
    for (let step = 0; step < 120; step++) {
      const m = Math.floor(random() * messages.length);
      const key = `m${String(m)}`;
      const to = classes[Math.floor(random() * 3)] ?? null;
      const from = await memory.learnedAs(key);
      if (from === to) continue;
      const change: TrainingChange = {
        messageKey: key,
        tokens: messages[m] ?? [],
        from,
        to,
        atMs: Date.UTC(2026, 0, 1) + step * 1000,
      };
      await memory.update(change);
      await pg.update(change);
      assert.equal(await pg.learnedAs(key), to);
    }
    assert.deepEqual(await pg.totals(), await memory.totals());
    const [fromPg, fromMemory] = [await pg.counts(universe), await memory.counts(universe)];
    assert.equal(fromPg.size, fromMemory.size);
    for (const [id, c] of fromMemory) {
      assert.deepEqual(fromPg.get(id), { spam: c.spam, ham: c.ham }, String(id));
    }
    assert.equal((await pg.counts([])).size, 0);
    assert.ok((await pg.version()) > 0);
  },
);

test(
  'two trainers on separate connections learning the same messages count each once',
  { skip },
  async () => {
    const c = await t.pg.connection();
    const other = new Db(c, { poolMax: 3 });
    try {
      const a = new PgTokenStore(t.db);
      const b = new PgTokenStore(other);
      // 30 messages over a shared vocabulary, so the trainers also contend on token rows.
      const changes = Array.from({ length: 30 }, (_, m): TrainingChange => ({
        messageKey: `k${String(m)}`,
        tokens: Array.from({ length: 40 }, (_, i) => ((m * 7 + i * 13) % 200) + 1),
        from: null,
        to: m % 3 === 0 ? 'ham' : 'spam',
        atMs: Date.now(),
      }));
      // Each trainer goes through the messages in its own order, several steps in flight.
      const run = async (store: PgTokenStore, order: readonly TrainingChange[]): Promise<void> => {
        for (let i = 0; i < order.length; i += 3) {
          await Promise.all(order.slice(i, i + 3).map((ch) => store.update(ch)));
        }
      };
      await Promise.all([run(a, changes), run(b, [...changes].reverse())]);
      const reference = new MemoryTokenStore();
      for (const ch of changes) await reference.update(ch);
      assert.deepEqual(await a.totals(), { spam: 20, ham: 10 });
      const ids = Array.from({ length: 200 }, (_, i) => i + 1);
      const [got, want] = [await b.counts(ids), await reference.counts(ids)];
      assert.equal(got.size, want.size);
      for (const [id, c] of want) assert.deepEqual(got.get(id), { spam: c.spam, ham: c.ham });
      const learned = await t.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM bayes_learned',
      );
      assert.equal(learned[0]?.n, 30);
    } finally {
      await other.close();
    }
  },
);

test(
  'touch is batched per day and only moves last_seen forward; expire drops old tokens and keys',
  { skip },
  async () => {
    const store = new PgTokenStore(t.db, { touchBatch: 1_000_000 });
    const now = Date.UTC(2026, 10, 22, 12);
    await store.update({
      messageKey: 'old',
      tokens: [1, 2],
      from: null,
      to: 'spam',
      atMs: now - 200 * DAY,
    });
    await store.update({ messageKey: 'new', tokens: [3], from: null, to: 'ham', atMs: now });
    await store.touch([2, 99], now);
    // Queued, not written yet.
    const seen = async (id: number): Promise<number> =>
      (
        await t.db.query<{ t: Date }>('SELECT last_seen AS t FROM bayes_tokens WHERE token = $1', [
          id,
        ])
      )[0]?.t.getTime() ?? -1;
    assert.equal(await seen(2), now - 200 * DAY);
    await store.flush();
    assert.equal(await seen(2), dayStartMs(now));
    assert.equal(await seen(3), now, 'a later last_seen is kept');
    const before = await store.version();
    assert.equal(await store.expire(now - 100 * DAY), 1);
    const left = await t.db.query<{ token: number }>(
      'SELECT token FROM bayes_tokens ORDER BY token',
    );
    assert.deepEqual(
      left.map((r) => r.token),
      [2, 3],
    );
    assert.equal(
      await store.learnedAs('old'),
      null,
      'a key learned before the cutoff is forgotten',
    );
    assert.equal(await store.learnedAs('new'), 'ham');
    assert.ok((await store.version()) > before);
    assert.equal(await store.expire(now - 100 * DAY), 0);
  },
);

test(
  'export writes a snapshot the JSON-file store reads; import fills only an empty store',
  { skip },
  async () => {
    // ~100k tokens as a server group's store might hold, inserted directly.
    const n = 100_000;
    await t.db.execute(
      `INSERT INTO bayes_tokens (token, nspam, nham, last_seen)
     SELECT g::bigint * 1000003, g % 7, g % 5 + 1, to_timestamp(1700000000 + g) FROM generate_series(1, $1) g`,
      [n],
    );
    await t.db.execute('UPDATE bayes_totals SET nspam = 300, nham = 400, version = 41');
    const path = join(dir, 'tokens.json');
    let started = performance.now();
    const result = await exportBayesSnapshot(t.db, path);
    const exportMs = performance.now() - started;
    assert.equal(result.tokens, n);
    assert.deepEqual(await readSnapshotOrigin(path), { kind: 'database', dbVersion: 41 });
    const text = await readFile(path, 'utf8');
    started = performance.now();
    const loaded = parseTokenSnapshot(text, path);
    const parseMs = performance.now() - started;
    // What the policy service does on a reload.
    started = performance.now();
    assert.equal(parseCompactSnapshot(text, path).size, n);
    const reloadMs = performance.now() - started;
    assert.equal(loaded.size, n);
    assert.deepEqual(await loaded.totals(), { spam: 300, ham: 400 });
    assert.deepEqual((await loaded.counts([7 * 1000003])).get(7 * 1000003), {
      spam: 0,
      ham: 3,
      lastSeenSec: 1700000007,
    });

    // counts() for one message's tokens (300, a third of them known), as a DB-backed scan would.
    const store = new PgTokenStore(t.db);
    const ids = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? (i + 1) * 1000003 : i + 7));
    await store.counts(ids);
    started = performance.now();
    for (let i = 0; i < 50; i++) assert.equal((await store.counts(ids)).size, 100);
    const countsMs = (performance.now() - started) / 50;
    console.log(
      `# bayes: export ${String(n)} tokens ${exportMs.toFixed(0)} ms (${String(result.bytes)} bytes), ` +
        `parse: cache ${reloadMs.toFixed(0)} ms, file store ${parseMs.toFixed(0)} ms; ` +
        `counts() of 300 tokens ${countsMs.toFixed(2)} ms`,
    );

    // Import: refused while the store holds data, done once it is empty.
    const local = new MemoryTokenStore();
    await local.update({
      messageKey: 'x',
      tokens: [5, 6],
      from: null,
      to: 'spam',
      atMs: Date.UTC(2026, 0, 1),
    });
    await local.update({
      messageKey: 'y',
      tokens: [6],
      from: null,
      to: 'ham',
      atMs: Date.UTC(2026, 0, 2),
    });
    assert.equal((await importBayesSnapshotIfEmpty(t.db, local.snapshot())).imported, false);
    await t.db.execute('TRUNCATE bayes_tokens, bayes_learned');
    await t.db.execute('UPDATE bayes_totals SET nspam = 0, nham = 0');
    const imported = await importBayesSnapshotIfEmpty(t.db, local.snapshot());
    assert.deepEqual(imported, { imported: true, tokens: 2, learned: 2 });
    assert.deepEqual(await store.totals(), { spam: 1, ham: 1 });
    assert.deepEqual((await store.counts([6])).get(6), { spam: 1, ham: 1 });
    assert.equal(await store.learnedAs('y'), 'ham');
    // Round trip: the export of the imported store parses back to the same counts.
    await exportBayesSnapshot(t.db, path);
    const back = parseTokenSnapshot(await readFile(path, 'utf8'), path).snapshot();
    assert.deepEqual([...back.tokens], [...local.snapshot().tokens]);
    // A local file (no origin) is told apart from an export.
    await writeFile(path, serializeTokenSnapshot(local));
    assert.deepEqual(await readSnapshotOrigin(path), { kind: 'local' });
    assert.equal(await readSnapshotOrigin(join(dir, 'absent.json')), null);
  },
);

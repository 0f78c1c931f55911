// The policy service's Bayes cache: the compact snapshot against the reference store, reloads
// when the file changes (and not when it does not, or when it is broken), and the touch spool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  MemoryTokenStore,
  ParapetError,
  serializeTokenSnapshot,
  type TokenStoreSnapshot,
} from '../../filter/index.js';
import { CachedTokenStore, parseCompactSnapshot, type BayesCacheEvent } from './bayes-cache.js';
import { applyTouchSpool, parseTouchFile, writeTouchFile } from './bayes-touch-spool.js';

const DAY = 86_400_000;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'parapet-bayes-cache-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Replaces the file as the exporter does (a new inode), so a reload sees a change. */
async function replace(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

async function storeWith(rows: [number, number, number, number][]): Promise<MemoryTokenStore> {
  const tokens = new Map(
    rows.map(([id, spam, ham, lastSeenSec]) => [id, { spam, ham, lastSeenSec }]),
  );
  const snapshot: TokenStoreSnapshot = {
    totals: { spam: 250, ham: 300 },
    tokens,
    learned: new Map(),
  };
  return Promise.resolve(new MemoryTokenStore(snapshot));
}

test('parseCompactSnapshot answers as the reference store, for sorted and unsorted files', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.tuple(
          fc.nat({ max: 2 ** 53 - 1 }),
          fc.nat({ max: 1000 }),
          fc.nat({ max: 1000 }),
          fc.nat({ max: 2 ** 32 }),
        ),
        { maxLength: 60 },
      ),
      fc.array(fc.nat({ max: 2 ** 53 - 1 }), { maxLength: 20 }),
      async (rows, extra) => {
        const memory = await storeWith(rows);
        const sorted = serializeTokenSnapshot(memory);
        // A file from before rows were sorted: the same rows in insertion order.
        const unsorted = JSON.stringify({
          format: 'parapet-bayes',
          version: 1,
          totals: { spam: 250, ham: 300 },
          tokens: rows.flat(),
          learned: {},
        });
        const ids = [...rows.map((r) => r[0]), ...extra];
        const want = await memory.counts(ids);
        for (const text of [sorted, unsorted]) {
          const compact = parseCompactSnapshot(text, 'f');
          assert.equal(compact.size, memory.size);
          const got = compact.counts(ids);
          assert.equal(got.size, want.size);
          for (const [id, c] of want) {
            assert.deepEqual(got.get(id), { spam: c.spam, ham: c.ham });
            assert.equal(compact.lastSeenSec(id), memory.snapshot().tokens.get(id)?.lastSeenSec);
          }
        }
      },
    ),
    { numRuns: 150 },
  );
});

test('parseCompactSnapshot refuses what is not a snapshot with ERR_BAYES_STORE_INVALID', () => {
  for (const text of [
    '',
    'null',
    '{"format":"parapet-bayes","version":2}',
    '{"format":"parapet-bayes","version":1,"totals":{"spam":1,"ham":-1},"tokens":[]}',
    '{"format":"parapet-bayes","version":1,"totals":{"spam":1,"ham":1},"tokens":[1,2,3]}',
    '{"format":"parapet-bayes","version":1,"totals":{"spam":1,"ham":1},"tokens":[1,2,3,"x"]}',
  ]) {
    assert.throws(() => parseCompactSnapshot(text, 'f'), { code: 'ERR_BAYES_STORE_INVALID' });
  }
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
      try {
        parseCompactSnapshot(text, 'f');
      } catch (err) {
        assert.ok(err instanceof ParapetError && err.code === 'ERR_BAYES_STORE_INVALID');
      }
    }),
    { numRuns: 300 },
  );
});

test('the cache reloads a changed file, keeps its copy when the file is broken, refuses training', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'tokens.json');
    const events: BayesCacheEvent[] = [];
    const cache = await CachedTokenStore.open({
      path,
      touchDir: join(dir, 'touched'),
      onEvent: (e) => events.push(e),
    });
    try {
      assert.equal(cache.size, 0, 'no file yet: an empty store');
      await replace(path, 'not json');
      const broken = await CachedTokenStore.open({ path, touchDir: join(dir, 'touched') });
      assert.equal(broken.size, 0, 'a broken file at start: an empty store, no throw');
      await broken.close();
      assert.deepEqual(await cache.totals(), { spam: 0, ham: 0 });
      await replace(path, serializeTokenSnapshot(await storeWith([[5, 3, 1, 100]])));
      assert.equal(await cache.reload(), true);
      assert.deepEqual((await cache.counts([5, 6])).get(5), { spam: 3, ham: 1 });
      assert.deepEqual(await cache.totals(), { spam: 250, ham: 300 });
      assert.equal(await cache.reload(), false, 'unchanged file: no reload');
      await replace(path, '{"format":"parapet-bayes"');
      assert.equal(await cache.reload(), false);
      assert.equal(events.at(-1)?.type, 'reload-failed');
      assert.equal((await cache.counts([5])).size, 1, 'the old copy stays in use');
      await replace(path, serializeTokenSnapshot(await storeWith([[6, 0, 2, 100]])));
      assert.equal(await cache.reload(), true);
      assert.deepEqual([...(await cache.counts([5, 6])).keys()], [6]);
      await assert.rejects(
        cache.update({ messageKey: 'k', tokens: [1], from: null, to: 'spam', atMs: 0 }),
        { code: 'ERR_BAYES_STORE_IO' },
      );
    } finally {
      await cache.close();
    }
  });
});

test('touches are spooled once a day for known tokens the snapshot saw before that day', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'tokens.json');
    const touchDir = join(dir, 'touched');
    const today = Date.UTC(2026, 10, 22, 15);
    const daySec = Date.UTC(2026, 10, 22) / 1000;
    // 1 seen long ago, 2 seen today already, 3 unknown to the snapshot.
    await replace(
      path,
      serializeTokenSnapshot(
        await storeWith([
          [1, 1, 0, daySec - 90 * 86_400],
          [2, 0, 1, daySec + 60],
        ]),
      ),
    );
    const cache = await CachedTokenStore.open({ path, touchDir });
    try {
      await cache.touch([1, 2, 3], today);
      await cache.touch([1], today + 1000);
      await cache.flush();
      await cache.flush(); // nothing new: no file
      await cache.touch([1], today + DAY); // the next day it goes out again
      await cache.close();
      const files = (await readdir(touchDir)).sort();
      assert.equal(files.length, 2);
      const seen: [number, number[]][] = [];
      const result = await applyTouchSpool(touchDir, (dayMs, tokens) => {
        seen.push([dayMs, [...tokens]]);
        return Promise.resolve();
      });
      assert.deepEqual(seen, [
        [Date.UTC(2026, 10, 22), [1]],
        [Date.UTC(2026, 10, 23), [1]],
      ]);
      assert.deepEqual(result, { files: 2, tokens: 2, bad: 0 });
      assert.deepEqual(await readdir(touchDir), [], 'applied files are removed');
    } finally {
      await cache.close();
    }
  });
});

test('the touch spool drops files that are not spool files and keeps one whose apply failed', async () => {
  await withDir(async (dir) => {
    await writeTouchFile(dir, 0, [1, 2]);
    await writeFile(join(dir, '!bad.json'), '{"day":5,"tokens":[1]}');
    await writeFile(join(dir, 'x.json.tmp'), 'half');
    await assert.rejects(
      applyTouchSpool(dir, () => Promise.reject(new Error('database away'))),
      /database away/,
    );
    assert.equal((await readdir(dir)).length, 2, 'the bad file went, the good one stays');
    assert.deepEqual(await applyTouchSpool(dir, () => Promise.resolve()), {
      files: 1,
      tokens: 2,
      bad: 0,
    });
    for (const text of ['', '[]', '{"day":-86400000,"tokens":[]}', '{"day":0,"tokens":[1.5]}']) {
      assert.equal(parseTouchFile(text), null, text);
    }
    assert.deepEqual(parseTouchFile('{"day":86400000,"tokens":[3]}'), { dayMs: DAY, tokens: [3] });
  });
});

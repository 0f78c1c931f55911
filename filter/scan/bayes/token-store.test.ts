import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withTempDir } from '../../test-support.js';
import { ParapetError } from '../../errors.js';
import { openJsonFileTokenStore } from './json-file-store.js';
import { MemoryTokenStore } from './token-store.js';
import { tokenId } from './token-hash.js';

const DAY = 86_400_000;

test('tokenId: stable 53-bit integers, distinct for distinct tokens', () => {
  assert.equal(tokenId('viagra'), tokenId('viagra'));
  const seen = new Set<number>();
  for (let i = 0; i < 50_000; i++) {
    const id = tokenId(`token-${String(i)}`);
    assert.ok(Number.isSafeInteger(id) && id >= 0);
    seen.add(id);
  }
  assert.equal(seen.size, 50_000);
  assert.notEqual(tokenId('S:free'), tokenId('free'));
});

test('MemoryTokenStore: learn, relearn as the other class, unlearn; counts and totals follow', async () => {
  const store = new MemoryTokenStore();
  await store.update({ messageKey: 'm1', tokens: [1, 2], from: null, to: 'spam', atMs: 0 });
  await store.update({ messageKey: 'm2', tokens: [2, 3], from: null, to: 'ham', atMs: 0 });
  assert.deepEqual(await store.totals(), { spam: 1, ham: 1 });
  const counts = await store.counts([1, 2, 3, 4]);
  assert.equal(counts.get(1)?.spam, 1);
  assert.deepEqual([counts.get(2)?.spam, counts.get(2)?.ham], [1, 1]);
  assert.equal(counts.has(4), false);
  assert.equal(await store.learnedAs('m1'), 'spam');

  await store.update({ messageKey: 'm1', tokens: [1, 2], from: 'spam', to: 'ham', atMs: 0 });
  assert.deepEqual(await store.totals(), { spam: 0, ham: 2 });
  assert.deepEqual(
    [(await store.counts([1])).get(1)?.spam, (await store.counts([1])).get(1)?.ham],
    [0, 1],
  );
  assert.equal(await store.learnedAs('m1'), 'ham');

  await store.update({ messageKey: 'm1', tokens: [1, 2], from: 'ham', to: null, atMs: 0 });
  assert.equal(await store.learnedAs('m1'), null);
  assert.equal((await store.counts([1])).has(1), false, 'a token with no counts left is removed');
  assert.deepEqual(await store.totals(), { spam: 0, ham: 1 });
});

test('MemoryTokenStore: expiry removes tokens not seen since the cutoff; touch keeps used ones', async () => {
  const store = new MemoryTokenStore();
  await store.update({ messageKey: 'old', tokens: [1, 2, 3], from: null, to: 'spam', atMs: 0 });
  await store.touch([2], 100 * DAY);
  await store.update({ messageKey: 'new', tokens: [3], from: null, to: 'spam', atMs: 100 * DAY });
  assert.equal(await store.expire(50 * DAY), 1);
  const left = await store.counts([1, 2, 3]);
  assert.deepEqual([...left.keys()].sort(), [2, 3]);
});

test('JsonFileTokenStore: starts empty, round-trips through its file, rejects files that are not snapshots', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'bayes', 'tokens.json');
    const store = await openJsonFileTokenStore(path);
    assert.deepEqual(await store.totals(), { spam: 0, ham: 0 });
    await store.flush(); // nothing changed: no file
    await assert.rejects(readFile(path));
    await store.update({
      messageKey: 'k',
      tokens: [tokenId('a'), 2 ** 52 + 7],
      from: null,
      to: 'spam',
      atMs: 5 * DAY,
    });
    await store.update({
      messageKey: 'h',
      tokens: [tokenId('a')],
      from: null,
      to: 'ham',
      atMs: 6 * DAY,
    });
    await store.flush();

    const again = await openJsonFileTokenStore(path);
    assert.deepEqual(await again.totals(), { spam: 1, ham: 1 });
    assert.deepEqual(
      await again.counts([2 ** 52 + 7]),
      new Map([[2 ** 52 + 7, { spam: 1, ham: 0, lastSeenSec: 5 * 86_400 }]]),
    );
    assert.equal((await again.counts([tokenId('a')])).get(tokenId('a'))?.ham, 1);
    assert.equal(await again.learnedAs('k'), 'spam');
    assert.equal(await again.learnedAs('h'), 'ham');

    for (const bad of [
      'not json',
      '[]',
      '{"format":"parapet-bayes","version":2}',
      '{"format":"parapet-bayes","version":1,"totals":{"spam":1,"ham":-1},"tokens":[],"learned":{}}',
      '{"format":"parapet-bayes","version":1,"totals":{"spam":1,"ham":1},"tokens":[1,2,3],"learned":{}}',
      '{"format":"parapet-bayes","version":1,"totals":{"spam":1,"ham":1},"tokens":[],"learned":{"k":"x"}}',
    ]) {
      await writeFile(path, bad);
      await assert.rejects(openJsonFileTokenStore(path), (err: unknown) => {
        assert.ok(err instanceof ParapetError);
        assert.equal(err.code, 'ERR_BAYES_STORE_INVALID');
        return true;
      });
    }
    await assert.rejects(
      openJsonFileTokenStore(dir),
      (err: unknown) => err instanceof ParapetError && err.code === 'ERR_BAYES_STORE_IO',
    );
  });
});

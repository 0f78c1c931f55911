import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsyncDirectory, replaceFileSynced, writeFileSynced } from './durable-file.js';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'parapet-durable-'));
}

test('writeFileSynced creates with the mode, truncates an existing file', async () => {
  const dir = scratch();
  try {
    const path = join(dir, 'a.json');
    await writeFileSynced(path, Buffer.from('first, longer content\n'));
    assert.equal(statSync(path).mode & 0o777, 0o640);
    await writeFileSynced(path, 'second\n');
    assert.equal(readFileSync(path, 'utf8'), 'second\n');
    const other = join(dir, 'b');
    await writeFileSynced(other, new Uint8Array([1, 2, 3]), 0o600);
    assert.equal(statSync(other).mode & 0o777, 0o600);
    assert.deepEqual([...readFileSync(other)], [1, 2, 3]);
    await assert.rejects(writeFileSynced(join(dir, 'missing', 'c'), 'x'), { code: 'ENOENT' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('replaceFileSynced: the old file stays until the new one is complete', async () => {
  const dir = scratch();
  try {
    const path = join(dir, 'm.eml');
    writeFileSync(path, 'old');
    const result = await replaceFileSynced(path, async (tmp) => {
      assert.equal(tmp, `${path}.tmp`);
      await writeFile(tmp, 'new content');
      // Until the rename, readers still see the whole old file.
      assert.equal(readFileSync(path, 'utf8'), 'old');
      return 11;
    });
    assert.equal(result, 11);
    assert.equal(readFileSync(path, 'utf8'), 'new content');
    assert.equal(existsSync(`${path}.tmp`), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('replaceFileSynced: a failing fill leaves the target untouched', async () => {
  const dir = scratch();
  try {
    const path = join(dir, 'm.json');
    writeFileSync(path, 'old');
    await assert.rejects(
      replaceFileSynced(path, async (tmp) => {
        await writeFile(tmp, 'half');
        throw new Error('disk full');
      }),
      /disk full/,
    );
    assert.equal(readFileSync(path, 'utf8'), 'old');
    // A fill that writes nothing cannot be synced: the target is untouched too.
    await assert.rejects(
      replaceFileSynced(join(dir, 'n.json'), () => Promise.resolve(0)),
      { code: 'ENOENT' },
    );
    assert.equal(existsSync(join(dir, 'n.json')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fsyncDirectory syncs a directory; a missing one is an error', async () => {
  const dir = scratch();
  try {
    await fsyncDirectory(dir);
    await assert.rejects(fsyncDirectory(join(dir, 'nope')), { code: 'ENOENT' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

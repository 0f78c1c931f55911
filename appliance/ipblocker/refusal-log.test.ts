import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RefusalLog, refusalLogFiles } from './refusal-log.js';

test('the refusal log rotates by size, keeps `keep` generations, and lists them oldest first', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'parapet-refusal-log-'));
  try {
    const path = join(dir, 'ipblock.jsonl');
    const log = new RefusalLog(path, { maxBytes: 25, keep: 2 });
    // Each line is 11 bytes with its newline: two fit in 25, the third rotates.
    const lines = Array.from({ length: 9 }, (_, i) => `refusal-${String(i)}`);
    await Promise.all(lines.map((l) => log.append(l)));
    await log.flush();
    assert.deepEqual((await readdir(dir)).sort(), [
      'ipblock.jsonl',
      'ipblock.jsonl.1',
      'ipblock.jsonl.2',
    ]);
    const files = refusalLogFiles(path, 2);
    assert.deepEqual(files, [`${path}.2`, `${path}.1`, path]);
    const kept = (await Promise.all(files.map((f) => readFile(f, 'utf8')))).join('');
    // The oldest generations beyond `keep` are gone; what is kept is in order, none twice.
    assert.equal(kept, `${lines.slice(4).join('\n')}\n`);
    assert.deepEqual(refusalLogFiles(join(dir, 'none')), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a failed append is reported to its caller and does not stop the next ones', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'parapet-refusal-log-'));
  try {
    const sub = join(dir, 'log');
    const log = new RefusalLog(join(sub, 'ipblock.jsonl'));
    await assert.rejects(log.append('lost'), { code: 'ENOENT' });
    await mkdir(sub);
    await log.append('kept');
    assert.equal(await readFile(join(sub, 'ipblock.jsonl'), 'utf8'), 'kept\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

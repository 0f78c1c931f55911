import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exposeRunDirToMta, handHomeTo, mtaGroupId } from './home-ownership.js';

// A user that need not exist: chown takes numeric ids.
const USER = { name: 'parapet-test', uid: 4242, gid: 4243 };
const asRoot = process.getuid?.() === 0;

function owner(path: string): string {
  const st = lstatSync(path);
  return `${String(st.uid)}:${String(st.gid)}`;
}

const ROOT = '0:0';
const THEIRS = `${String(USER.uid)}:${String(USER.gid)}`;

test(
  'handHomeTo hands over foreign folders whole and skips the database and owned folders',
  {
    skip: asRoot ? false : 'needs root to change owners',
  },
  async () => {
    const base = mkdtempSync(join(tmpdir(), 'parapet-home-'));
    try {
      const home = join(base, 'home');
      const p = (...parts: string[]): string => join(home, ...parts);
      for (const dir of [
        'db/base',
        'db.initdb',
        'spool/a/b',
        'queue',
        'quarantine/2026-11-20',
        'quarantine/2026-11-21',
        'config/lists',
        'log',
      ]) {
        mkdirSync(p(dir), { recursive: true });
      }
      const files = [
        'db/PG_VERSION',
        'db/base/1',
        'spool/a/b/part',
        'queue/old.eml',
        'quarantine/2026-11-20/m1.eml',
        'quarantine/2026-11-21/m2.eml',
        'config/node.json',
        'config/lists/block.json',
        'log/policy.out.log',
        'top.txt',
      ];
      for (const f of files) writeFileSync(p(f), 'x');
      const outside = join(base, 'outside.txt');
      writeFileSync(outside, 'x');
      symlinkSync(outside, p('link'));
      // Already the user's: a queue folder and a quarantine day (with a foreign file inside that
      // shows they are not descended into), the quarantine and config folders, the log folder.
      for (const owned of [
        'queue',
        'quarantine',
        'quarantine/2026-11-21',
        'config',
        'config/lists',
      ]) {
        chownSync(p(owned), USER.uid, USER.gid);
      }
      chownSync(p('log'), USER.uid, USER.gid);
      chownSync(p('log/policy.out.log'), USER.uid, USER.gid);

      const changed = await handHomeTo(USER, home);
      assert.deepEqual(changed.map((c) => c.slice(home.length)).sort(), [
        '',
        '/config/lists/block.json',
        '/config/node.json',
        '/link',
        '/quarantine/2026-11-20',
        '/spool',
        '/top.txt',
      ]);
      assert.equal(owner(home), THEIRS);
      for (const f of ['spool', 'spool/a/b', 'spool/a/b/part', 'quarantine/2026-11-20/m1.eml']) {
        assert.equal(owner(p(f)), THEIRS, f);
      }
      for (const f of ['config/node.json', 'config/lists/block.json', 'top.txt', 'link']) {
        assert.equal(owner(p(f)), THEIRS, f);
      }
      // Left alone: the database folders, files inside owned folders, a link's target.
      for (const f of ['db', 'db/PG_VERSION', 'db/base/1', 'db.initdb']) {
        assert.equal(owner(p(f)), ROOT, f);
      }
      assert.equal(owner(p('queue/old.eml')), ROOT);
      assert.equal(owner(p('quarantine/2026-11-21/m2.eml')), ROOT);
      assert.equal(owner(outside), ROOT);

      // Nothing left to do: a second start changes nothing.
      assert.deepEqual(await handHomeTo(USER, home), []);
      // A missing home is not an error (nothing to hand over).
      assert.deepEqual(await handHomeTo(USER, join(base, 'missing')), []);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  },
);

test(
  'handHomeTo names the path it could not change',
  {
    skip: asRoot ? false : 'needs root to change owners',
  },
  async () => {
    const base = mkdtempSync(join(tmpdir(), 'parapet-home-'));
    try {
      writeFileSync(join(base, 'f'), 'x');
      // An impossible id makes chown -R fail.
      const bad = { name: 'nobody-here', uid: -5, gid: -5 };
      await assert.rejects(handHomeTo(bad, base), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_SERVICE_USER');
        assert.match(err.message, /cannot give/);
        return true;
      });
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  },
);

test(
  'exposeRunDirToMta: run/ goes to group postfix with setgid, the home only gains o+x',
  { skip: asRoot ? false : 'needs root to change owners' },
  async () => {
    const base = mkdtempSync(join(tmpdir(), 'parapet-home-'));
    try {
      const home = join(base, 'home');
      mkdirSync(join(home, 'run'), { recursive: true, mode: 0o750 });
      chownSync(home, USER.uid, USER.gid);
      chmodSync(home, 0o750);
      const gid = 4244;
      const changed = await exposeRunDirToMta(USER, home, gid);
      assert.deepEqual(changed, [home, join(home, 'run')]);
      assert.equal(lstatSync(home).mode & 0o7777, 0o751);
      const run = lstatSync(join(home, 'run'));
      assert.equal(run.mode & 0o7777, 0o2750);
      assert.equal(`${String(run.uid)}:${String(run.gid)}`, `${String(USER.uid)}:${String(gid)}`);
      // Idempotent; and nothing at all without an MTA group.
      assert.deepEqual(await exposeRunDirToMta(USER, home, gid), []);
      assert.deepEqual(await exposeRunDirToMta(USER, join(base, 'other'), null), []);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  },
);

test('mtaGroupId finds an existing group and answers null for a missing one', async () => {
  assert.equal(await mtaGroupId('root'), 0);
  assert.equal(await mtaGroupId('parapet-no-such-group'), null);
});

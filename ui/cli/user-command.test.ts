// `parapet user add|passwd|list|remove` through the real program (bin/main.ts) in a child
// process on a scratch $PARAPET_HOME; the accounts file is then used for a real sign-in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AccountStore } from '../api/auth/account-store.js';
import { verifyPassword } from '../api/auth/passwords.js';

const main = fileURLToPath(new URL('../../bin/main.ts', import.meta.url));

test('parapet user manages accounts with passwords from stdin, audited, never echoed', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'parapet-user-cli-'));
  t.after(() => {
    rmSync(home, { recursive: true, force: true });
  });
  const cli = (input: string | null, ...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', main, 'user', ...args], {
      encoding: 'utf8',
      timeout: 60_000,
      input: input ?? '',
      env: { ...process.env, PARAPET_HOME: home },
    });

  const added = cli(
    'first admin password\n',
    'add',
    'Admin',
    '--role',
    'admin',
    '--password-stdin',
  );
  assert.equal(added.status, 0, added.stderr);
  assert.equal(added.stdout, 'added admin (admin)\n');
  const path = join(home, 'config', 'users.json');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.ok(!readFileSync(path, 'utf8').includes('first admin password'));

  const noStdin = cli(null, 'add', 'bob@example.com');
  assert.equal(noStdin.status, 1);
  assert.match(noStdin.stderr, /--password-stdin/);
  const short = cli('short\n', 'add', 'bob@example.com', '--password-stdin');
  assert.equal(short.status, 1);
  assert.match(short.stderr, /at least 10 characters \(ERR_UI_ACCOUNT_INVALID\)/);
  const badRole = cli('long enough pw\n', 'add', 'x', '--role', 'root', '--password-stdin');
  assert.equal(badRole.status, 2);
  assert.equal(cli('end user password\n', 'add', 'bob@example.com', '--password-stdin').status, 0);
  assert.equal(cli('new admin password\n', 'passwd', 'admin', '--password-stdin').status, 0);

  const listed = cli(null, 'list', '--json');
  assert.equal(listed.status, 0, listed.stderr);
  const users = JSON.parse(listed.stdout) as {
    username: string;
    role: string;
    addresses: string[];
  }[];
  assert.deepEqual(
    users.map((u) => [u.username, u.role, u.addresses]),
    [
      ['admin', 'admin', []],
      ['bob@example.com', 'user', ['bob@example.com']],
    ],
  );
  assert.ok(!listed.stdout.includes('scrypt'), 'no hashes in the listing');
  const store = new AccountStore(path);
  const admin = await store.get('admin');
  assert.ok(
    admin !== undefined && (await verifyPassword('new admin password', admin.passwordHash)),
  );

  assert.equal(cli(null, 'remove', 'bob@example.com').status, 0);
  const again = cli(null, 'remove', 'bob@example.com');
  assert.equal(again.status, 1);
  assert.match(again.stderr, /ERR_UI_NOT_FOUND/);
  const audit = readFileSync(join(home, 'log', 'audit.jsonl'), 'utf8');
  assert.match(audit, /"action":"user.add","object":"admin"/);
  assert.match(audit, /"action":"user.passwd"/);
  assert.match(audit, /"action":"user.remove","object":"bob@example.com"/);
  assert.ok(!audit.includes('password"'), 'no password in the audit log');
});

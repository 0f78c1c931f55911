// `parapet mta configure postfix` in a child process (testdata/run-mta-cli.ts): output and the
// exit codes of CONTRACTS.md (0 success, 1 handled error, 2 usage error).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatWiringChange } from './mta-command.js';

const driver = fileURLToPath(new URL('./testdata/run-mta-cli.ts', import.meta.url));
const skip = existsSync('/usr/sbin/postconf') ? false : 'postconf not installed (package postfix)';

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', driver, 'mta', 'configure', 'postfix', ...args],
    { encoding: 'utf8', timeout: 60_000 },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('parapet mta configure postfix', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'parapet-mta-cli-'));
  copyFileSync('/etc/postfix/main.cf', join(dir, 'main.cf'));
  copyFileSync('/etc/postfix/master.cf', join(dir, 'master.cf'));
  const original = readFileSync(join(dir, 'main.cf'), 'utf8');
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('configures, then reports nothing to change, then undoes (exit 0)', () => {
    const first = cli('--config-dir', dir, '--mode', 'content-filter');
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /content_filter: \(unset\) -> 'parapet:\[127\.0\.0\.1\]:10025'/);
    assert.match(first.stdout, /added service parapet\/unix/);
    const second = cli('--config-dir', dir, '--json');
    assert.equal(second.status, 0, second.stderr);
    assert.deepEqual((JSON.parse(second.stdout) as { changes: unknown[] }).changes, []);
    const undo = cli('--config-dir', dir, '--undo');
    assert.equal(undo.status, 0, undo.stderr);
    assert.equal(readFileSync(join(dir, 'main.cf'), 'utf8'), original);
  });

  test('a usage error exits 2', () => {
    const r = cli('--config-dir', dir, '--mode', 'before-queue');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /before-queue/);
  });

  test('an invalid address exits 2 with one line', () => {
    const r = cli('--config-dir', dir, '--filter-address', 'nowhere');
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  test('a missing config dir exits 1 with one line', () => {
    const r = cli('--config-dir', join(dir, 'missing'));
    assert.equal(r.status, 1);
    assert.match(r.stderr.trim(), /^parapet mta configure postfix: .*main\.cf does not exist$/);
  });
});

test('formatWiringChange prints one line per change', () => {
  assert.equal(
    formatWiringChange({ file: 'main.cf', key: 'k', before: undefined, after: 'v' }),
    "main.cf: k: (unset) -> 'v'",
  );
  assert.equal(
    formatWiringChange({ file: 'master.cf', key: 'parapet/unix', before: 'x', after: undefined }),
    'master.cf: removed service parapet/unix',
  );
});

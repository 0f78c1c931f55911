// `parapet policy check|eval|replay` in a child process (testdata/run-policy-cli.ts): output and
// the exit codes of CONTRACTS.md (0 success, 1 handled error, 2 usage error).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const driver = fileURLToPath(new URL('./testdata/run-policy-cli.ts', import.meta.url));
const MESSAGE = fileURLToPath(new URL('./testdata/message.eml', import.meta.url));

describe('parapet policy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parapet-policy-cli-'));
  const home = join(dir, 'home');
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, ['--import', 'tsx', driver, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, PARAPET_HOME: home },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  test('check: a valid script exits 0; an invalid one prints FILE:LINE:COLUMN and exits 1', () => {
    const good = file('good.sieve', 'require "vnd.parapet.scan";\nif spam { discard; }\n');
    const ok = cli('policy', 'check', good);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stderr, '');
    const bad = file('bad.sieve', 'require "fileinto";\nfileinto "a" "b";\n');
    const r = cli('policy', 'check', bad);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`^${bad.replace(/[.]/g, '\\.')}:2:\\d+: .+\\n$`));
  });

  test('eval --json prints exactly the CONTRACTS.md object', () => {
    const script = file(
      'spam.sieve',
      'require ["spamtest", "relational", "comparator-i;ascii-numeric", "fileinto"];\n' +
        'if spamtest :value "ge" :comparator "i;ascii-numeric" "5" { fileinto "Junk"; }\n',
    );
    const args = ['--script', script, '--from', 'a@example.org', '--to', 'b@example.net'];
    const r = cli(
      'policy',
      'eval',
      ...args,
      '--spam-score',
      '8',
      '--spam-max',
      '10',
      '--json',
      MESSAGE,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      '{"valid":true,"runtime_error":false,"actions":[{"type":"fileinto","mailbox":"Junk","copy":false,"flags":[]}]}\n',
    );
    const low = cli('policy', 'eval', ...args, '--spam-score', '1', '--json', MESSAGE);
    assert.deepEqual(JSON.parse(low.stdout), {
      valid: true,
      runtime_error: false,
      actions: [{ type: 'keep', flags: [] }],
    });
  });

  test('eval shows gateway actions; lists come from $PARAPET_HOME', () => {
    mkdirSync(join(home, 'config', 'lists'), { recursive: true });
    writeFileSync(
      join(home, 'config', 'lists', 'bad-ips.json'),
      JSON.stringify({ name: 'bad-ips', entries: ['198.51.100.0/24'] }),
    );
    const script = file(
      'gw.sieve',
      'require ["vnd.parapet.scan", "vnd.parapet.actions", "vnd.parapet.lists"];\n' +
        'if virus { quarantine "virus"; }\nif listed :ip "bad-ips" { tempfail "later"; }\n',
    );
    const base = ['policy', 'eval', '--script', script, '--from', 'a@x.test', '--to', 'b@y.test'];
    const v = cli(...base, '--virus-level', '5', '--json', MESSAGE);
    assert.equal(v.status, 0, v.stderr);
    assert.deepEqual(JSON.parse(v.stdout), {
      valid: true,
      runtime_error: false,
      actions: [{ type: 'quarantine', reason: 'virus' }],
    });
    const ip = cli(...base, '--client-ip', '198.51.100.9', MESSAGE);
    assert.equal(ip.stdout, 'tempfail reason="later"\n');
  });

  test('eval: invalid script exits 1 with the errors object; bad usage exits 2', () => {
    const bad = file('bad2.sieve', 'if true { stop }');
    const base = ['policy', 'eval', '--script', bad, '--from', 'a@x.test', '--to', 'b@y.test'];
    const r = cli(...base, '--json', MESSAGE);
    assert.equal(r.status, 1);
    assert.equal((JSON.parse(r.stdout) as { valid: boolean }).valid, false);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal(cli(...base, '--virus-level', '9', MESSAGE).status, 2);
    assert.equal(cli('policy', 'eval', '--script', bad, MESSAGE).status, 2);
    const missing = cli(
      'policy',
      'eval',
      '--script',
      join(dir, 'nope.sieve'),
      '--from',
      'a@x.test',
      '--to',
      'b@y.test',
      MESSAGE,
    );
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
  });

  test('replay prints the messages whose verdict changes and a summary', () => {
    const msgs = join(dir, 'msgs');
    mkdirSync(msgs);
    const msg = (score: number) =>
      `From x@example.org Mon Jan  1 00:00:00 2024\nFrom: x@example.org\nTo: u@example.net\n` +
      `Subject: s\nX-Parapet-Spam: score=${score}; threshold=5; symbols=A\n` +
      `X-Parapet-Virus: clean\n\nbody\n`;
    writeFileSync(join(msgs, '1.eml'), msg(1));
    writeFileSync(join(msgs, '2.eml'), msg(6));
    writeFileSync(join(msgs, '3.eml'), msg(20));
    const candidate = file(
      'strict.sieve',
      'require ["reject", "vnd.parapet.scan"];\nif spam { reject "no spam"; }\n',
    );
    const r = cli('policy', 'replay', '--script', candidate, msgs);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines, [
      '2.eml: accept (2 changes) -> reject (550 no spam) [strict.sieve:2]',
      '3.eml: quarantine (high spam score) -> reject (550 no spam) [strict.sieve:2]',
      '3 messages, 2 changed; active: accept 2, quarantine 1; candidate: accept 1, reject 2',
    ]);
    const j = cli('policy', 'replay', '--json', '--script', candidate, '--active', candidate, msgs);
    assert.deepEqual(JSON.parse(j.stdout), {
      messages: 3,
      changed: 0,
      active: { accept: 1, reject: 2 },
      candidate: { accept: 1, reject: 2 },
      changes: [],
    });
  });
});

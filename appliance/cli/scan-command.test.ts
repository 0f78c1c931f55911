// `parapet scan --json` as a child process: the CONTRACTS.md line per message, mbox "From "
// lines and LF line ends accepted, GTUBE spam, a clean message ham, a missing file exit 1.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parapetBinPath } from '../supervisor/node-supervisor.js';

const dir = mkdtempSync(join(tmpdir(), 'parapet-scan-cli-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});
const built = existsSync(parapetBinPath().replace(/bin\/parapet\.js$/, 'dist/bin/main.js'));

test('parapet scan --json', { skip: built ? false : 'not built (npm run build)' }, () => {
  const gtube = join(dir, 'gtube.eml');
  writeFileSync(
    gtube,
    'From sender@example.net Mon Nov  2 10:00:00 2026\nFrom: a@example.net\nTo: b@example.com\nSubject: test\n\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n',
  );
  const clean = join(dir, 'clean.eml');
  writeFileSync(
    clean,
    'From: Ann <ann@example.org>\r\nTo: bob@example.com\r\nSubject: Lunch\r\nMessage-ID: <l1@example.org>\r\n\r\nNoon on Friday?\r\n',
  );
  const r = spawnSync(process.execPath, [parapetBinPath(), 'scan', '--json', gtube, clean], {
    env: { ...process.env, PARAPET_HOME: join(dir, 'home') },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 2);
  const [spam, ham] = lines;
  assert.deepEqual(Object.keys(spam ?? {}), [
    'file',
    'score',
    'threshold',
    'spam',
    'symbols',
    'virus',
  ]);
  assert.equal(spam?.['file'], gtube);
  assert.equal(spam['spam'], true);
  assert.ok((spam['score'] as number) >= 1000);
  assert.ok((spam['symbols'] as { name: string }[]).some((s) => s.name === 'GTUBE'));
  assert.deepEqual(spam['virus'], { status: 'unscanned', names: [] });
  assert.equal(ham?.['spam'], false);
  assert.equal(ham['threshold'], 5);

  const missing = spawnSync(process.execPath, [parapetBinPath(), 'scan', join(dir, 'nope.eml')], {
    env: { ...process.env, PARAPET_HOME: join(dir, 'home') },
    encoding: 'utf8',
  });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /nope\.eml/);
  const usage = spawnSync(process.execPath, [parapetBinPath(), 'scan'], { encoding: 'utf8' });
  assert.equal(usage.status, 2);
});

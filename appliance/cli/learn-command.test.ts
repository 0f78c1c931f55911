import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const harness = fileURLToPath(new URL('./testdata/learn-cli.ts', import.meta.url));

function learn(
  home: string,
  args: readonly string[],
): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', harness, 'learn', ...args], {
    env: { ...process.env, PARAPET_HOME: home },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** A small message file as the corpus ships them: mbox From line, LF line ends. */
function messageFile(n: number, subject: string, body: string): string {
  return [
    `From sender${String(n)}@example.net  Tue Aug  6 11:01:33 2002`,
    `From: sender${String(n)}@example.net`,
    'To: someone@example.org',
    `Subject: ${subject}`,
    `Message-ID: <${String(n)}.${subject.length}@example.net>`,
    '',
    body,
    '',
  ].join('\n');
}

test('parapet learn trains the JSON store, counts each message once, moves relearned mail and exits per CONTRACTS.md', async () => {
  const home = await mkdtemp(join(tmpdir(), 'parapet-learn-'));
  try {
    const spamDir = join(home, 'in', 'spam');
    await mkdir(join(spamDir, 'nested'), { recursive: true });
    for (let i = 0; i < 3; i++) {
      await writeFile(
        join(spamDir, `${String(i)}.eml`),
        messageFile(i, 'cheap pills now', 'buy cheap pills today'),
      );
    }
    await writeFile(join(spamDir, 'nested', 'x.eml'), messageFile(9, 'winner', 'claim your prize'));
    await writeFile(join(spamDir, 'notes.json'), '{"not": "a message"}');
    const hamFile = join(home, 'in', 'ham.eml');
    await writeFile(hamFile, messageFile(20, 'meeting notes', 'the agenda for monday'));

    const first = learn(home, ['--spam', '--json', spamDir]);
    assert.equal(first.status, 0, first.stderr);
    const summary = JSON.parse(first.stdout) as Record<string, unknown>;
    assert.equal(summary['learned'], 4);
    assert.equal(summary['skipped'], 1);
    assert.deepEqual(summary['totals'], { spam: 4, ham: 0 });
    const storeText = await readFile(join(home, 'bayes', 'tokens.json'), 'utf8');
    assert.equal((JSON.parse(storeText) as Record<string, unknown>)['format'], 'parapet-bayes');

    const again = learn(home, ['--spam', spamDir, hamFile]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /learned 1 of 6 files as spam \(4 already learned, 1 skipped/);
    assert.match(again.stdout, /store: 5 spam, 0 ham/);

    const moved = learn(home, ['--ham', hamFile]);
    assert.equal(moved.status, 0, moved.stderr);
    assert.match(moved.stdout, /1 moved from the other class/);
    assert.match(moved.stdout, /store: 4 spam, 1 ham/);

    const usage = learn(home, [hamFile]);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /exactly one of --spam and --ham/);
    assert.equal(learn(home, ['--spam', '--ham', hamFile]).status, 2);

    const missing = learn(home, ['--spam', join(home, 'nope.eml')]);
    assert.equal(missing.status, 1);
    assert.match(
      missing.stderr,
      /^parapet: .*nope\.eml: no such file or directory \(ERR_NOT_FOUND\)\n$/,
    );

    await writeFile(join(home, 'bayes', 'tokens.json'), '{"format":"other"}');
    const broken = learn(home, ['--spam', hamFile]);
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /ERR_BAYES_STORE_INVALID/);
    // A store that is not ours is never overwritten.
    assert.equal(await readFile(join(home, 'bayes', 'tokens.json'), 'utf8'), '{"format":"other"}');
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

// `parapet list show|add|remove|import` in a child process (testdata/run-policy-cli.ts), on a
// scratch $PARAPET_HOME.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicyData, parseImportLines } from './list-command.js';

const driver = fileURLToPath(new URL('./testdata/run-policy-cli.ts', import.meta.url));

describe('parapet list', () => {
  const home = mkdtempSync(join(tmpdir(), 'parapet-list-cli-'));
  const lists = join(home, 'config', 'lists');
  after(() => {
    rmSync(home, { recursive: true, force: true });
  });
  function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, ['--import', 'tsx', driver, 'list', ...args], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, PARAPET_HOME: home },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  test('add creates the list atomically; show prints it; invalid entries exit 1', async () => {
    const r = cli('add', 'block-senders', 'a@bad.test', '*.evil.test', '10.0.0.0/8', 'a@BAD.test');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'block-senders: added 3, 3 entries\n');
    assert.deepEqual(JSON.parse(readFileSync(join(lists, 'block-senders.json'), 'utf8')), {
      name: 'block-senders',
      entries: ['a@bad.test', '*.evil.test', '10.0.0.0/8'],
    });
    assert.deepEqual(readdirSync(lists), ['block-senders.json'], 'no temp files left');
    assert.equal(cli('show', 'block-senders').stdout, 'a@bad.test\n*.evil.test\n10.0.0.0/8\n');
    const bad = cli('add', 'block-senders', 'not valid');
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.equal(cli('add', '../escape', 'a.test').status, 1);
    const data = await loadPolicyData(lists);
    assert.equal(data.lists.get('block-senders')?.has('x@mail.evil.test'), true);
  });

  test('remove, import (merge and --replace), maps and show of everything', () => {
    assert.equal(
      cli('remove', 'block-senders', '*.EVIL.test').stdout,
      'block-senders: removed 1, 2 entries\n',
    );
    assert.equal(cli('remove', 'missing', 'x').status, 1);
    const src = join(home, 'import.txt');
    writeFileSync(src, '# comment\nnew.test\n192.0.2.0/24  # trailing comment\n\na@bad.test\n');
    assert.equal(cli('import', 'block-senders', src).stdout, 'block-senders: 4 entries\n');
    assert.equal(
      cli('import', '--replace', 'block-senders', src).stdout,
      'block-senders: 3 entries\n',
    );
    writeFileSync(src, 'example.net internal\n*.lab.test lab one\n');
    assert.equal(cli('import', '--map', 'routes', src).status, 0);
    assert.equal(cli('add', '--map', 'routes', 'ceo@example.net', 'vip').status, 0);
    assert.equal(
      cli('show', 'routes').stdout,
      'example.net\tinternal\n*.lab.test\tlab one\nceo@example.net\tvip\n',
    );
    assert.deepEqual(JSON.parse(cli('show', '--json').stdout), [
      { name: 'block-senders', kind: 'list', entries: 3 },
      { name: 'routes', kind: 'map', entries: 3 },
    ]);
    assert.equal(cli('show', 'nothing').status, 1);
    assert.equal(cli('frobnicate').status, 2);
    assert.equal(cli('add').status, 2);
  });

  test('parseImportLines drops comments and blank lines', () => {
    assert.deepEqual(parseImportLines('a\n # c\n\nb # x\r\nc#d\n'), ['a', 'b', 'c#d']);
  });
});

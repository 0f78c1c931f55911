// Configuration versions against a real PostgreSQL: a snapshot of the configuration files
// without secrets, recorded once per change with the author from the audit log, numbered
// monotonically; the recorder notices a change of a file; `parapet config versions|show`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerConfigCommands } from '../cli/config-command.js';
import { pgUnavailableReason, startTestPostgres, type TestPostgres } from '../db/test-support.js';
import {
  ConfigVersionRecorder,
  listConfigVersions,
  readConfigVersion,
  recordConfigVersion,
  snapshotConfig,
  withoutSecrets,
} from './config-versions.js';

const skip = pgUnavailableReason();
let t: TestPostgres;
let home: string;
let configDir: string;
let auditPath: string;
let url: string;

const audit = (actor: string, action: string, outcome = 'ok'): string =>
  `${JSON.stringify({ at: new Date().toISOString(), actor, surface: 'manager', ip: null, action, object: null, outcome, details: {} })}\n`;

before(async () => {
  if (skip !== undefined) return;
  t = await startTestPostgres();
  const c = await t.pg.connection();
  url = `postgres://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${c.host}:${String(c.port)}/${c.database}`;
  home = await mkdtemp(join(tmpdir(), 'parapet-cfgv-'));
  configDir = join(home, 'config');
  auditPath = join(home, 'log', 'audit.jsonl');
  await mkdir(join(configDir, 'lists'), { recursive: true });
  await mkdir(join(home, 'log'), { recursive: true });
  await writeFile(
    join(configDir, 'node.json'),
    JSON.stringify({ nodeId: 'n1', database: { url } }),
  );
  await writeFile(join(configDir, 'policy.sieve'), 'require "fileinto";\nkeep;\n');
  await writeFile(
    join(configDir, 'lists', 'allow.json'),
    '{"name":"allow","entries":["a@b.example"]}',
  );
  await writeFile(
    join(configDir, 'users.json'),
    JSON.stringify({
      version: 1,
      accounts: [
        {
          username: 'alice',
          role: 'admin',
          passwordHash: 'scrypt$SECRET-HASH',
          addresses: [],
          totp: { secret: 'TOTPSECRETBASE32', enabled: true },
          disabled: false,
        },
      ],
      tokens: [{ id: 't1', name: 'ci', owner: 'alice', scope: 'read', hash: 'TOKEN-HASH' }],
    }),
  );
  await writeFile(join(configDir, 'link.key'), 'LINK-KEY-NOT-VERSIONED\n');
});
after(async () => {
  if (skip !== undefined) return;
  await t.cleanup();
  await rm(home, { recursive: true, force: true });
});

test('secrets are left out of a snapshot', () => {
  assert.deepEqual(
    withoutSecrets({
      passwordHash: 'x',
      totp: { secret: 's', enabled: true },
      totpEnabled: true,
      url: 'postgres://u:pw@h/db',
      nested: [{ hash: 'h', keep: 1 }],
    }),
    {
      totp: { enabled: true },
      totpEnabled: true,
      url: 'postgres://u:[redacted]@h/db',
      nested: [{ keep: 1 }],
    },
  );
});

test('a change is recorded once, numbered, with its author', { skip }, async () => {
  const snapshot = await snapshotConfig(configDir);
  assert.deepEqual(Object.keys(snapshot).sort(), [
    'lists/allow.json',
    'node.json',
    'policy.sieve',
    'users.json',
  ]);
  const text = JSON.stringify(snapshot);
  for (const secret of [
    'SECRET-HASH',
    'TOTPSECRETBASE32',
    'TOKEN-HASH',
    'LINK-KEY',
    c_password(),
  ]) {
    assert.ok(!text.includes(secret), secret);
  }
  await appendFile(auditPath, audit('alice', 'user.add'));
  const first = await recordConfigVersion(t.db, { nodeId: 'n1', configDir, auditPath });
  assert.equal(first.recorded?.version, 1);
  assert.equal(first.recorded.author, 'alice');
  // Nothing changed: nothing recorded.
  assert.equal(
    (await recordConfigVersion(t.db, { nodeId: 'n1', configDir, auditPath })).recorded,
    null,
  );
  // A change without a configuration audit entry since (a quarantine approval is not one).
  await appendFile(auditPath, audit('bob', 'quarantine.approve'));
  await writeFile(join(configDir, 'policy.sieve'), 'discard;\n');
  const second = await recordConfigVersion(t.db, { nodeId: 'n1', configDir, auditPath });
  assert.deepEqual([second.recorded?.version, second.recorded?.author], [2, 'node:n1']);
  const v2 = await readConfigVersion(t.db, 2);
  assert.equal(v2.content['policy.sieve'], 'discard;\n');
  assert.deepEqual(
    (v2.content['users.json'] as { accounts: { totp: unknown }[] }).accounts[0]?.totp,
    {
      enabled: true,
    },
  );
  assert.deepEqual(
    (await listConfigVersions(t.db)).map((v) => v.version),
    [2, 1],
  );
});

function c_password(): string {
  return decodeURIComponent(new URL(url).password);
}

test('the recorder notices a changed file', { skip }, async () => {
  const events: unknown[] = [];
  const recorder = new ConfigVersionRecorder({
    db: t.db,
    nodeId: 'n1',
    configDir,
    auditPath,
    intervalMs: 50,
    onEvent: (e) => events.push(e),
  });
  recorder.start();
  try {
    await appendFile(auditPath, audit('carol', 'policy.save'));
    await writeFile(join(configDir, 'lists', 'block.json'), '{"name":"block","entries":[]}');
    const deadline = Date.now() + 30_000;
    while ((await listConfigVersions(t.db))[0]?.version !== 3) {
      assert.ok(Date.now() < deadline, `no version 3: ${JSON.stringify(events)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await recorder.stop();
  }
  const v3 = await readConfigVersion(t.db, 3);
  assert.equal(v3.author, 'carol');
  assert.ok('lists/block.json' in v3.content);
  assert.equal((await listConfigVersions(t.db)).length, 3);
});

test('parapet config versions --json and show', { skip }, async () => {
  const run = async (...args: string[]): Promise<string> => {
    const program = new Command('parapet').exitOverride();
    let out = '';
    registerConfigCommands(program, (text) => {
      out += text;
    });
    const saved = process.env['PARAPET_HOME'];
    process.env['PARAPET_HOME'] = home;
    try {
      await program.parseAsync(args, { from: 'user' });
    } finally {
      if (saved === undefined) delete process.env['PARAPET_HOME'];
      else process.env['PARAPET_HOME'] = saved;
    }
    return out;
  };
  const list = JSON.parse(await run('config', 'versions', '--json')) as {
    version: number;
    author: string;
  }[];
  assert.deepEqual(
    list.map((v) => [v.version, v.author]),
    [
      [3, 'carol'],
      [2, 'node:n1'],
      [1, 'alice'],
    ],
  );
  const shown = await run('config', 'show', '2');
  assert.match(shown, /^ {5}2 {2}\S+ {2}node:n1/);
  assert.match(shown, /== policy\.sieve\ndiscard;\n/);
  await assert.rejects(run('config', 'show', '99'), /no configuration version 99/);
});

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { policy, QuarantineWriter } from '../../filter/index.js';
import { buildMessage } from '../cli/policy-command.js';
import { loadNodeConfig, type NodeConfig } from './node-config.js';
import {
  listPolicyVersions,
  policyVersionsDir,
  readActivePolicyText,
  readPolicyVersion,
  recentHeldMessages,
  savePolicyVersion,
} from './policy-versions.js';

const homes: string[] = [];
after(async () => {
  for (const h of homes) await rm(h, { recursive: true, force: true });
});

async function node(): Promise<NodeConfig> {
  const home = await mkdtemp(join(tmpdir(), 'parapet-pv-'));
  homes.push(home);
  return loadNodeConfig({ PARAPET_HOME: home });
}

const script = (n: number): string => `require "reject";\n# ${String(n)}\nkeep;\n`;

test('an invalid script is refused with its position and nothing is written', async () => {
  const config = await node();
  await assert.rejects(
    savePolicyVersion(config, { script: 'keep;\nfoo;\n', author: 'a', comment: '' }),
    (err: Error & { code?: string }) =>
      err.code === 'ERR_POLICY_INVALID' && err.message.startsWith('2:1:'),
  );
  assert.deepEqual(await listPolicyVersions(config), []);
  assert.equal((await readActivePolicyText(config)).source, 'default.sieve');
});

test('concurrent saves get distinct numbers; the default is recorded first as a baseline', async () => {
  const config = await node();
  const first = await savePolicyVersion(config, { script: script(0), author: 'a', comment: 'c' });
  assert.equal(first.baseline?.version, 1);
  assert.equal(first.previous, policy.DEFAULT_POLICY_TEXT);
  const saved = await Promise.all(
    [1, 2, 3, 4, 5].map((n) =>
      savePolicyVersion(config, { script: script(n), author: 'b', comment: String(n) }),
    ),
  );
  const numbers = saved.map((s) => s.meta.version).sort((x, y) => x - y);
  assert.deepEqual(numbers, [3, 4, 5, 6, 7]);
  const listed = await listPolicyVersions(config);
  assert.deepEqual(
    listed.map((v) => v.version),
    [7, 6, 5, 4, 3, 2, 1],
  );
  for (const s of saved) {
    const back = await readPolicyVersion(config, s.meta.version);
    assert.equal(back?.script, script(Number(s.meta.comment)));
  }
  const active = await readActivePolicyText(config);
  assert.equal(active.source, 'policy.sieve');
  assert.equal(active.latest, 7);
  assert.equal(active.script, await readFile(join(config.paths.config, 'policy.sieve'), 'utf8'));
  assert.ok(active.version !== null);
});

test('a hand edit is kept as a version before the next save; a half-written version is not listed', async () => {
  const config = await node();
  await savePolicyVersion(config, { script: script(1), author: 'a', comment: '' });
  await writeFile(join(config.paths.config, 'policy.sieve'), script(99));
  assert.equal((await readActivePolicyText(config)).version, null);
  // A crash after claiming a number but before the metadata: the number is skipped.
  await writeFile(join(policyVersionsDir(config), '0003.sieve'), 'partial');
  const r = await savePolicyVersion(config, { script: script(2), author: 'a', comment: '' });
  assert.equal(r.baseline?.version, 4);
  assert.equal(r.baseline.author, 'system');
  assert.equal((await readPolicyVersion(config, 4))?.script, script(99));
  assert.equal(r.meta.version, 5);
  assert.equal(await readPolicyVersion(config, 3), null);
  assert.deepEqual(
    (await listPolicyVersions(config)).map((v) => v.version),
    [5, 4, 2, 1],
  );
});

test('recentHeldMessages: the quarantine newest first, at most limit', async () => {
  const config = await node();
  const writer = new QuarantineWriter({ dir: config.paths.quarantine });
  for (const n of [1, 2, 3]) {
    const m = await buildMessage(Buffer.from(`Subject: m${String(n)}\r\n\r\nbody\r\n`), {
      from: 'a@example.com',
      to: ['b@example.org'],
      clientIp: null,
    });
    await writer.write(m, {
      reason: 'r',
      from: 'a@example.com',
      to: ['b@example.org'],
      subject: `m${String(n)}`,
      score: n,
      symbols: [],
      rule: null,
      client: null,
    });
    await m.dispose();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const seen: string[] = [];
  for await (const held of recentHeldMessages(config, 2)) {
    seen.push(held.meta.subject ?? '');
    assert.match(held.raw.toString('latin1'), /^Subject: m\d/);
  }
  assert.deepEqual(seen, ['m3', 'm2']);
});

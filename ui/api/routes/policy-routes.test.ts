/**
 * /api/v1/policy through the real Manager (HTTPS, sessions, CSRF) on a temp home: compile errors
 * with their positions, test and replay of drafts, save → versions → diff → rollback, and who
 * may do what.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildMessage } from '../../../appliance/index.js';
import { policy, QuarantineWriter } from '../../../filter/index.js';
import { startWebNode, WebClient, type WebNode } from '../../test/web-node.js';

let node: WebNode;
let admin: WebClient;
let viewer: WebClient;
let anonymous: WebClient;

const PASSWORD = 'correct horse battery staple 1';

/** A valid script; line 7 is `  reject "no thanks";`. */
const GOOD = [
  'require ["reject", "vnd.parapet.actions"];', // 1
  '# A small policy for the tests.', // 2
  '', // 3
  'if header :contains "subject" "buy now" {', // 4
  '  # refuse the obvious ones', // 5
  '', // 6
  '  reject "no thanks";', // 7
  '  stop;', // 8
  '}', // 9
  'keep;', // 10
  '',
].join('\n');
/** The same with a misspelled command on line 7, column 3. */
const BAD = GOOD.replace('  reject "no thanks";', '  rejekt "no thanks";');

const MESSAGE = [
  'From: Seller <seller@shop.example>',
  'To: alice@example.com',
  'Subject: Buy now, cheap',
  'Message-ID: <t1@shop.example>',
  '',
  'Offer inside.',
  '',
].join('\n');

before(async () => {
  node = await startWebNode();
  await node.addUser('root', 'admin', PASSWORD);
  await node.addUser('watcher', 'viewer', PASSWORD);
  const url = node.manager.url;
  admin = new WebClient(url);
  viewer = new WebClient(url);
  anonymous = new WebClient(url);
  assert.equal((await admin.signIn('root', PASSWORD)).status, 200);
  assert.equal((await viewer.signIn('watcher', PASSWORD)).status, 200);
});

after(async () => {
  await node.close();
});

test('GET /api/v1/policy: the shipped default before any save; 401 without a session', async () => {
  const r = await viewer.request('GET', '/api/v1/policy');
  assert.equal(r.status, 200);
  const body = r.json();
  assert.equal(body.script, policy.DEFAULT_POLICY_TEXT);
  assert.equal(body.source, 'default.sieve');
  assert.equal(body.version, null);
  assert.equal((await anonymous.request('GET', '/api/v1/policy')).status, 401);
});

test('check: a bad command is reported at its line and column; a good script is valid', async () => {
  const bad = await viewer.send('POST', '/api/v1/policy/check', { script: BAD });
  assert.equal(bad.status, 200);
  const b = bad.json();
  assert.equal(b.valid, false);
  assert.equal(b.errors.length, 1);
  assert.equal(b.errors[0].line, 7);
  assert.equal(b.errors[0].column, 3);
  assert.equal(b.errors[0].code, 'ERR_SIEVE_UNKNOWN_COMMAND');
  assert.match(String(b.errors[0].message), /rejekt/);
  const good = (await viewer.send('POST', '/api/v1/policy/check', { script: GOOD })).json();
  assert.deepEqual([good.valid, good.errors], [true, []]);
  // An unterminated string: the position of its start, not a crash.
  const open = (
    await viewer.send('POST', '/api/v1/policy/check', { script: 'keep;\n"abc' })
  ).json();
  assert.equal(open.valid, false);
  assert.equal(open.errors[0].line, 2);
});

test('test: a draft against one message gives the verdict, the actions and the scan', async () => {
  const r = await viewer.send('POST', '/api/v1/policy/test', { script: GOOD, message: MESSAGE });
  assert.equal(r.status, 200);
  const body = r.json();
  assert.equal(body.valid, true);
  assert.equal(body.verdict.kind, 'reject');
  assert.match(String(body.verdict.rule), /draft\.sieve:7/);
  assert.deepEqual(body.actions, [{ type: 'reject', reason: 'no thanks' }]);
  assert.equal(body.envelope.from, 'seller@shop.example');
  assert.deepEqual(body.envelope.to, ['alice@example.com']);
  assert.equal(typeof body.scan.score, 'number');
  // The default policy with a virus found (scan override) quarantines.
  const v = (
    await viewer.send('POST', '/api/v1/policy/test', {
      script: policy.DEFAULT_POLICY_TEXT,
      message: MESSAGE,
      scan: { virus: 'infected' },
    })
  ).json();
  assert.deepEqual([v.verdict.kind, v.verdict.detail], ['quarantine', 'virus found']);
  assert.ok((v.log as string[]).some((l) => l.includes('logmark: virus')));
  // An invalid draft answers its errors instead of a verdict.
  const e = (
    await viewer.send('POST', '/api/v1/policy/test', { script: BAD, message: MESSAGE })
  ).json();
  assert.equal(e.valid, false);
  assert.equal(e.errors[0].line, 7);
});

test('replay: held messages whose verdict changes under the draft are listed old → new', async () => {
  const writer = new QuarantineWriter({ dir: node.config.paths.quarantine });
  const held = await buildMessage(Buffer.from(MESSAGE.replace(/\n/g, '\r\n')), {
    from: 'seller@shop.example',
    to: ['alice@example.com'],
    clientIp: '192.0.2.7',
  });
  try {
    await writer.write(held, {
      reason: 'virus found',
      from: 'seller@shop.example',
      to: ['alice@example.com'],
      subject: 'Buy now, cheap',
      score: 1,
      symbols: ['VIRUS_FOUND'],
      rule: 'default.sieve:24',
      client: '192.0.2.7',
    });
  } finally {
    await held.dispose();
  }
  // Unchanged: the active (default) policy against itself.
  const same = (
    await viewer.send('POST', '/api/v1/policy/replay', { script: policy.DEFAULT_POLICY_TEXT })
  ).json();
  assert.deepEqual([same.valid, same.messages, same.changed], [true, 1, 0]);
  // The draft rejects on the subject: quarantine (virus) → reject.
  const r = await viewer.send('POST', '/api/v1/policy/replay', { script: GOOD, limit: 10 });
  assert.equal(r.status, 200);
  const body = r.json();
  assert.equal(body.messages, 1);
  assert.equal(body.changed, 1);
  assert.equal(body.changes[0].old.kind, 'quarantine');
  assert.equal(body.changes[0].new.kind, 'reject');
  assert.equal(body.changes[0].subject, 'Buy now, cheap');
  assert.equal(
    (await viewer.send('POST', '/api/v1/policy/replay', { script: GOOD, limit: 0 })).status,
    400,
  );
});

test('save → versions → diff → rollback, audited; viewers may not save', async () => {
  const denied = await viewer.send('PUT', '/api/v1/policy', { script: GOOD, comment: 'x' });
  assert.equal(denied.status, 403);
  const noCsrf = await admin.request('PUT', '/api/v1/policy', { script: GOOD });
  assert.equal(noCsrf.status, 403);
  const invalid = await admin.send('PUT', '/api/v1/policy', { script: BAD, comment: 'typo' });
  assert.equal(invalid.status, 400);
  assert.equal(invalid.json().errors[0].line, 7);
  assert.equal(existsSync(join(node.config.paths.config, 'policy.sieve')), false);

  const saved = await admin.send('PUT', '/api/v1/policy', {
    script: GOOD,
    comment: 'refuse buy-now',
    baseVersion: null,
  });
  assert.equal(saved.status, 200);
  const s = saved.json();
  // The shipped default is recorded first (version 1), so it can be rolled back to.
  assert.equal(s.baseline.version, 1);
  assert.equal(s.version.version, 2);
  assert.equal(s.version.author, 'root');
  assert.equal(await readFile(join(node.config.paths.config, 'policy.sieve'), 'utf8'), GOOD);
  const active = (await viewer.request('GET', '/api/v1/policy')).json();
  assert.deepEqual([active.version, active.source, active.script], [2, 'policy.sieve', GOOD]);

  // A save from an editor opened at version 1 conflicts.
  const stale = await admin.send('PUT', '/api/v1/policy', { script: GOOD, baseVersion: 1 });
  assert.equal(stale.status, 409);

  const versions = (await viewer.request('GET', '/api/v1/policy/versions')).json();
  assert.equal(versions.active, 2);
  assert.deepEqual(
    (versions.versions as { version: number }[]).map((v) => v.version),
    [2, 1],
  );
  const v1 = (await viewer.request('GET', '/api/v1/policy/versions/1')).json();
  assert.equal(v1.script, policy.DEFAULT_POLICY_TEXT);
  assert.equal((await viewer.request('GET', '/api/v1/policy/versions/99')).status, 404);
  assert.equal((await viewer.request('GET', '/api/v1/policy/versions/abc')).status, 400);

  const diff = (await viewer.request('GET', '/api/v1/policy/diff?from=1&to=2')).json();
  assert.ok(diff.added > 0 && diff.removed > 0);
  const addedLine = (diff.lines as { kind: string; text: string; newLine: number }[]).find(
    (l) => l.kind === 'added' && l.text.includes('no thanks'),
  );
  assert.equal(addedLine?.newLine, 7);
  const toActive = (await viewer.request('GET', '/api/v1/policy/diff?from=2')).json();
  assert.deepEqual([toActive.to, toActive.added, toActive.removed], ['active', 0, 0]);

  assert.equal((await viewer.send('POST', '/api/v1/policy/versions/1/rollback', {})).status, 403);
  const rb = await admin.send('POST', '/api/v1/policy/versions/1/rollback', {});
  assert.equal(rb.status, 200);
  assert.equal(rb.json().version.version, 3);
  assert.equal(rb.json().version.rollbackOf, 1);
  const now = (await viewer.request('GET', '/api/v1/policy')).json();
  assert.deepEqual([now.version, now.script], [3, policy.DEFAULT_POLICY_TEXT]);

  const audit = (await admin.request('GET', '/api/v1/audit?limit=50')).json().entries as {
    action: string;
    object: string | null;
    outcome: string;
    details: { linesAdded?: unknown };
  }[];
  const save = audit.find((e) => e.action === 'policy.save' && e.outcome === 'ok');
  assert.equal(save?.object, '2');
  assert.equal(typeof save.details.linesAdded, 'number');
  assert.ok(audit.some((e) => e.action === 'policy.rollback' && e.object === '3'));
  assert.ok(audit.some((e) => e.action === 'policy.save' && e.outcome === 'failed'));
});

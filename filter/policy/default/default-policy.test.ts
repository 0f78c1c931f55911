// The shipped default policy, end to end: compiled once, evaluated through the policy host
// (createSievePolicyEvaluator) over real Messages with crafted scan results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { messageFromRaw } from '../../test-support.js';
import { emptyScanResult, type ScanResult } from '../../scan/scanner.js';
import { createSievePolicyEvaluator, type SievePolicyDecision } from '../host.js';
import { compilePolicyData } from '../lists/index.js';
import { compilePolicy, DEFAULT_POLICY_TEXT } from './default-policy.js';

const RAW =
  'From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Hello there\r\n' +
  'Message-ID: <m1@example.org>\r\n\r\nHi Bob.\r\n';

const compiled = compilePolicy();
if (!compiled.ok) throw new Error(compiled.errors.map((e) => e.toPositionedString()).join('\n'));
const script = compiled.script;
const lineOf = (needle: string): number =>
  DEFAULT_POLICY_TEXT.split('\n').findIndex((l) => l.includes(needle)) + 1;

const evaluate = createSievePolicyEvaluator({
  script,
  scriptName: 'default.sieve',
  data: compilePolicyData([
    { name: 'block-senders', entries: ['spammer@bad.test', '*.junk.test'] },
    { name: 'block-ips', entries: ['203.0.113.0/24'] },
    { name: 'allow-senders', entries: ['partner.test'] },
  ]),
});

function scan(over: Partial<ScanResult> = {}): ScanResult {
  const base = emptyScanResult(5);
  const score = over.score ?? 0;
  return {
    ...base,
    virus: { status: 'clean', names: [] },
    ...over,
    spam: score >= (over.threshold ?? 5),
  };
}

async function decide(
  s: ScanResult,
  env: { from?: string; ip?: string; raw?: string } = {},
): Promise<SievePolicyDecision> {
  const message = await messageFromRaw(env.raw ?? RAW, {
    client: { address: env.ip ?? '192.0.2.10', port: 25, name: null },
    mailFrom: { address: env.from ?? 'alice@example.org', args: {} },
    recipients: [{ address: 'bob@example.net', args: {} }],
  });
  return evaluate({ message, scan: s, signal: new AbortController().signal });
}

test('default.sieve and the built-in text are the same', () => {
  const file = readFileSync(new URL('./default.sieve', import.meta.url), 'utf8');
  assert.equal(file, DEFAULT_POLICY_TEXT);
});

test('clean mail is delivered unchanged by the implicit keep', async () => {
  const d = await decide(scan({ score: 1 }));
  assert.equal(d.kind, 'accept');
  assert.deepEqual(d.modifications, []);
  assert.equal(d.rule, 'default.sieve:0');
  assert.deepEqual(d.result, {
    valid: true,
    runtime_error: false,
    actions: [{ type: 'keep', flags: [] }],
  });
});

test('GTUBE-level score is quarantined', async () => {
  const d = await decide(scan({ score: 1000, findings: [{ symbol: 'GTUBE', score: 1000 }] }));
  assert.equal(d.kind, 'quarantine');
  assert.equal(d.reason, 'high spam score');
  assert.equal(d.rule, `default.sieve:${lineOf('quarantine "high spam score"')}`);
  assert.deepEqual(d.marks, ['spam-high']);
});

test('probable spam is delivered with a marked subject and a header', async () => {
  const d = await decide(scan({ score: 6 }));
  assert.equal(d.kind, 'accept');
  assert.deepEqual(d.modifications, [
    { kind: 'changeHeader', name: 'Subject', occurrence: 1, value: '[SPAM] Hello there' },
    { kind: 'addHeader', name: 'X-Parapet-Spam-Flag', value: 'YES' },
  ]);
  assert.deepEqual(d.marks, ['spam']);
  assert.deepEqual(d.result.valid && d.result.actions, [
    { type: 'logmark', name: 'spam' },
    { type: 'marksubject', prefix: '[SPAM]' },
    { type: 'setheader', name: 'X-Parapet-Spam-Flag', value: 'YES' },
    { type: 'keep', flags: [] },
  ]);
});

test('a virus is quarantined whatever the score', async () => {
  const d = await decide(
    scan({ score: 0, virus: { status: 'infected', names: ['Eicar-Test-Signature'] } }),
  );
  assert.equal(d.kind, 'quarantine');
  assert.equal(d.rule, `default.sieve:${lineOf('quarantine "virus found"')}`);
});

test('unscanned mail is tempfailed with 451 4.7.1', async () => {
  const d = await decide(scan({ virus: { status: 'unscanned', names: [], reason: 'clamd down' } }));
  assert.equal(d.kind, 'tempfail');
  assert.equal(d.reply.code, 451);
  assert.equal(d.reply.enhanced, '4.7.1');
});

test('encrypted attachments are held in the quarantine', async () => {
  const d = await decide(
    scan({
      attachments: [
        {
          filename: 'secret.zip',
          declaredType: 'application/zip',
          detectedType: 'application/zip',
          sizeBytes: 1000,
          depth: 0,
          encrypted: true,
        },
      ],
    }),
  );
  assert.equal(d.kind, 'quarantine');
  assert.equal(d.reason, 'unscannable content');
});

test('an allowed sender skips the spam checks (accept)', async () => {
  const d = await decide(scan({ score: 1000 }), { from: 'news+x@partner.test' });
  assert.equal(d.kind, 'accept');
  assert.deepEqual(d.modifications, []);
  assert.equal(d.rule, `default.sieve:${lineOf('accept;')}`);
  assert.deepEqual(d.marks, ['allowed']);
});

test('an allowed sender with a virus is still quarantined', async () => {
  const d = await decide(scan({ virus: { status: 'infected', names: ['X'] } }), {
    from: 'a@partner.test',
  });
  assert.equal(d.kind, 'quarantine');
});

test('blocked senders, From headers and client IPs are rejected with 550 5.7.1', async () => {
  for (const env of [
    { from: 'spammer@bad.test' },
    { from: 'x@mail.junk.test' },
    { ip: '203.0.113.77' },
    { raw: RAW.replace('alice@example.org>', 'spammer@bad.test>') },
  ]) {
    const d = await decide(scan(), env);
    assert.equal(d.kind, 'reject', JSON.stringify(env));
    assert.equal(d.reply.code, 550);
    assert.equal(d.rule, `default.sieve:${lineOf('reject "')}`);
  }
});

test('a message with no virus scanner configured is not tempfailed', async () => {
  const d = await decide({ ...emptyScanResult(5), score: 0.5 });
  assert.equal(d.kind, 'accept');
});

test('end users’ own lists: blocked by every recipient is held, approved by every one skips spam checks', async () => {
  const withUserLists = createSievePolicyEvaluator({
    script,
    scriptName: 'default.sieve',
    data: compilePolicyData(
      [],
      [
        {
          name: 'user-block-senders',
          entries: { 'bob@example.net': 'nagger@ads.test *.junk-mail.test' },
        },
        {
          name: 'user-allow-senders',
          entries: {
            'bob@example.net': 'friend@club.test',
            'carol@example.net': 'friend@club.test',
          },
        },
      ],
    ),
  });
  const run = async (
    from: string,
    rcpts: string[],
    score: number,
  ): Promise<SievePolicyDecision> => {
    const message = await messageFromRaw(RAW.replace('alice@example.org', from), {
      client: { address: '192.0.2.10', port: 25, name: null },
      mailFrom: { address: from, args: {} },
      recipients: rcpts.map((address) => ({ address, args: {} })),
    });
    return withUserLists({ message, scan: scan({ score }), signal: new AbortController().signal });
  };
  const blocked = await run('nagger@ads.test', ['bob@example.net'], 0);
  assert.equal(blocked.kind, 'quarantine');
  assert.equal(blocked.reason, 'sender blocked by the recipient');
  assert.equal(
    (await run('x@mail.junk-mail.test', ['Bob+lists@example.net'], 0)).kind,
    'quarantine',
  );
  // Carol did not block the sender: one verdict for both, so it is not held.
  assert.equal(
    (await run('nagger@ads.test', ['bob@example.net', 'carol@example.net'], 0)).kind,
    'accept',
  );
  const allowed = await run('friend@club.test', ['bob@example.net', 'carol@example.net'], 12);
  assert.equal(allowed.kind, 'accept');
  assert.deepEqual(allowed.marks, ['user-allowed']);
  // Dave never approved the friend: spam checks apply to the message.
  const notEveryone = await run('friend@club.test', ['bob@example.net', 'dave@example.net'], 12);
  assert.equal(notEveryone.kind, 'quarantine');
  assert.equal(notEveryone.reason, 'high spam score');
});

// The policy host: outcome → PolicyDecision, Modifications applied to real Messages, outbound
// messages, requests (include, duplicate) and the fallbacks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyModifications } from '../actions/apply.js';
import { messageFromRaw } from '../test-support.js';
import { emptyScanResult, type ScanResult } from '../scan/scanner.js';
import { GATEWAY_EXTENSIONS } from './gateway/index.js';
import {
  createSievePolicy,
  createSievePolicyEvaluator,
  encodeHeaderText,
  fillTemplate,
  MemoryDuplicateStore,
  SwappablePolicy,
  type SievePolicyOptions,
  type SievePolicyReport,
} from './host.js';
import { compile } from './sieve/index.js';

const RAW =
  'From: Ann <ann@example.org>\r\nTo: Bob <bob@example.net>\r\nSubject: Report\r\n' +
  'Message-ID: <id1@example.org>\r\nX-Old: 1\r\nX-Old: 2\r\nX-Keep: k\r\n\r\nHello.\r\n';

const ALL =
  'require ["fileinto", "reject", "editheader", "vacation", "include", "duplicate", ' +
  '"variables", "copy", "vnd.parapet.actions", "vnd.parapet.headers", "vnd.parapet.envelope", ' +
  '"vnd.parapet.notify", "vnd.parapet.log", "vnd.parapet.scan"];\n';

function policy(body: string, options: Partial<SievePolicyOptions> = {}) {
  const c = compile(ALL + body, { extraExtensions: GATEWAY_EXTENSIONS });
  if (!c.ok) throw new Error(c.errors.map((e) => e.toPositionedString()).join('\n'));
  return createSievePolicyEvaluator({ script: c.script, ...options });
}

async function message(raw = RAW, from = 'ann@example.org') {
  return messageFromRaw(raw, {
    mailFrom: { address: from, args: { SIZE: '100' } },
    recipients: [
      { address: 'bob@example.net', args: {} },
      { address: 'carl@example.net', args: {} },
    ],
  });
}

const SCAN: ScanResult = { ...emptyScanResult(5), score: 3, findings: [{ symbol: 'X', score: 3 }] };

async function decide(body: string, options: Partial<SievePolicyOptions> = {}, raw = RAW) {
  const evaluate = policy(body, options);
  const msg = await message(raw);
  const d = await evaluate({ message: msg, scan: SCAN, signal: new AbortController().signal });
  return { d, msg };
}

test('editheader and gateway header actions become Modifications that apply cleanly', async () => {
  const { d, msg } = await decide(
    'addheader "X-Top" "t"; addheader :last "X-End" "e"; deleteheader :index 1 "X-Old";\n' +
      'setheader "X-Keep" "new"; appendheader "X-App" "a"; removeheader "X-End";\n' +
      'marksubject "[Ü]"; marksubject "[Ü]";',
  );
  assert.equal(d.kind, 'accept');
  const out = await applyModifications(msg, d.modifications);
  assert.deepEqual(
    out.headers.all().map((f) => `${f.name}: ${f.value}`),
    [
      'X-Top: t',
      'From: Ann <ann@example.org>',
      'To: Bob <bob@example.net>',
      `Subject: ${encodeHeaderText('[Ü]')} Report`,
      'Message-ID: <id1@example.org>',
      'X-Old: 2',
      'X-Keep: new',
      'X-App: a',
    ],
  );
});

test('envelope actions change recipients and sender (keeping ESMTP args)', async () => {
  const { d, msg } = await decide(
    'addrecipient "audit@example.net"; removerecipient "carl@example.net"; setsender "bounce@example.org";',
  );
  assert.equal(d.kind, 'accept');
  await applyModifications(msg, d.modifications);
  assert.deepEqual(
    msg.envelope.recipients.map((r) => r.address),
    ['bob@example.net', 'audit@example.net'],
  );
  assert.deepEqual(msg.envelope.mailFrom, { address: 'bounce@example.org', args: { SIZE: '100' } });
});

test('precedence: tempfail > reject > quarantine > keep', async () => {
  assert.equal((await decide('quarantine; reject "no"; tempfail "later";')).d.kind, 'tempfail');
  const r = (await decide('quarantine "q"; reject "go away";')).d;
  assert.equal(r.kind, 'reject');

  assert.deepEqual(r.reply, { code: 550, enhanced: '5.7.1', text: 'go away' });
  assert.equal(r.rule, 'policy.sieve:2');
  const q = (await decide('keep;\nquarantine "held";')).d;
  assert.equal(q.kind, 'quarantine');
  assert.equal(q.rule, 'policy.sieve:3');
});

test('fileinto routes by the configured map; unknown mailboxes are delivered', async () => {
  const routes: SievePolicyOptions['mailboxRoutes'] = {
    Junk: { action: 'quarantine', reason: 'junk folder' },
    Trash: { action: 'discard' },
    Legal: { action: 'redirect', address: 'legal@example.net' },
  };
  const junk = (await decide('fileinto "Junk";', { mailboxRoutes: routes })).d;
  assert.equal(junk.kind === 'quarantine' ? junk.reason : junk.kind, 'junk folder');
  assert.equal((await decide('fileinto "Trash";', { mailboxRoutes: routes })).d.kind, 'discard');
  const legal = (await decide('fileinto "Legal";', { mailboxRoutes: routes })).d;
  assert.equal(legal.kind, 'discard');
  assert.deepEqual(legal.outbound?.[0]?.recipients, ['legal@example.net']);
  assert.equal(legal.outbound[0].content.kind, 'original');
  assert.equal((await decide('fileinto "Other";', { mailboxRoutes: routes })).d.kind, 'accept');
});

test('redirect becomes outbound; with :copy the message is also delivered', async () => {
  const r = (await decide('redirect "x@example.com";')).d;
  assert.equal(r.kind, 'discard');
  assert.deepEqual(
    r.outbound?.map((o) => [o.kind, o.sender, o.recipients]),
    [['redirect', 'ann@example.org', ['x@example.com']]],
  );
  const c = (await decide('redirect :copy "x@example.com";')).d;
  assert.equal(c.kind, 'accept');
  assert.equal(c.outbound?.length, 1);
});

test('copies and notices go out even for quarantined mail, filled from a template', async () => {
  const { d, msg } = await decide(
    'quarantine "virus"; copyto "archive@example.net";\n' +
      'sendnotice :template "alert" ["admin@example.net"] "extra";',
    {
      templates: {
        alert: { subject: 'Held: {{subject}}', text: '{{id}} from {{sender}} {{text}}' },
      },
      noticeFrom: 'parapet@example.net',
    },
  );
  assert.equal(d.kind, 'quarantine');
  const notice = d.outbound?.find((o) => o.kind === 'notice');
  assert.equal(d.outbound?.find((o) => o.kind === 'copy')?.recipients[0], 'archive@example.net');
  assert.ok(notice);
  assert.equal(notice.sender, '');
  assert.equal(notice.rule, 'policy.sieve:3');
  if (notice.content.kind !== 'composed') return assert.fail('composed notice expected');
  assert.equal(notice.content.text, `${msg.id} from ann@example.org extra`);
  const h = new Map(notice.content.headers.map((x) => [x.name, x.value]));
  assert.equal(h.get('Subject'), 'Held: Report');
  assert.equal(h.get('From'), 'parapet@example.net');
  assert.equal(h.get('Auto-Submitted'), 'auto-generated');
});

test('vacation replies once per sender and period, and never to lists or automatic mail', async () => {
  const duplicates = new MemoryDuplicateStore();
  let now = 1_000_000;
  const options = { duplicates, now: () => now };
  const body = 'vacation :days 1 :subject "Away" "I am away.";';
  const first = (await decide(body, options)).d;
  const reply = first.outbound?.find((o) => o.kind === 'vacation');
  assert.equal(first.kind, 'accept');
  assert.ok(reply);
  assert.deepEqual(reply.recipients, ['ann@example.org']);
  assert.equal(reply.sender, '');
  if (reply.content.kind === 'composed') {
    const h = new Map(reply.content.headers.map((x) => [x.name, x.value]));
    assert.equal(h.get('In-Reply-To'), '<id1@example.org>');
    assert.equal(h.get('From'), 'bob@example.net');
    assert.equal(reply.content.text, 'I am away.');
  }
  assert.equal((await decide(body, options)).d.outbound, undefined, 'second within a day');
  now += 86_401_000;
  const held = (await decide(`quarantine; ${body}`, options)).d;
  assert.equal(held.outbound, undefined, 'quarantined: no reply');
  assert.equal((await decide(body, options)).d.outbound?.length, 1, 'the slot was not used');
  now += 86_401_000;
  assert.equal((await decide(body, options)).d.outbound?.length, 1, 'after the period');
  now += 86_401_000;
  const list = (
    await decide(body, options, RAW.replace('X-Keep', 'List-Id: <l.example.org>\r\nX-K'))
  ).d;
  assert.equal(list.outbound, undefined, 'list mail');
  const auto = (
    await decide(body, options, RAW.replace('X-Keep', 'Auto-Submitted: auto-replied\r\nX-K'))
  ).d;
  assert.equal(auto.outbound, undefined, 'automatic mail');
  const notMine = (
    await decide(body, options, RAW.replace('To: Bob <bob@example.net>', 'To: x@y.test'))
  ).d;
  assert.equal(notMine.outbound, undefined, 'not addressed to the recipient');
});

test('includes come from the policy store; duplicate uses the bounded store', async () => {
  const scripts: Record<string, string> = {
    extra: 'require ["vnd.parapet.log"]; logmark "included";',
  };
  const options = {
    includeScript: (name: string) => scripts[name] ?? null,
    duplicates: new MemoryDuplicateStore({ maxEntries: 10 }),
  };
  const inc = (await decide('include "extra";', options)).d;
  assert.deepEqual(inc.marks, ['included']);
  const missing = (await decide('include "nope";', options)).d;
  assert.equal(missing.kind, 'accept');
  assert.equal(missing.result.valid && missing.result.runtime_error, true);
  const body = 'if duplicate { discard; }';
  assert.equal((await decide(body, options)).d.kind, 'accept');
  assert.equal((await decide(body, options)).d.kind, 'discard');
});

test('MemoryDuplicateStore expires entries and keeps at most maxEntries', () => {
  const store = new MemoryDuplicateStore({ maxEntries: 3 });
  for (let i = 0; i < 10; i++) store.mark(`k${i}`, 100);
  assert.equal(store.size, 3);
  assert.equal(store.has('k9', 50), true);
  assert.equal(store.has('k0', 50), false);
  assert.equal(store.has('k9', 100), false, 'expired');
});

test('run-time errors keep (logged); the CPU limit tempfails', async () => {
  const reports: SievePolicyReport[] = [];
  const { d } = await decide('quarantine; set "a" "bad"; addrecipient "${a}";', {
    onEvaluation: (r) => reports.push(r),
  });
  assert.equal(d.kind, 'accept');
  assert.deepEqual(d.modifications, []);
  assert.equal(d.rule, 'policy.sieve:2');
  assert.equal(reports[0]?.runtimeError?.code, 'ERR_SIEVE_RUNTIME');
  const c = compile('require "variables"; set "a" "x"; ' + 'set "a" "${a}${a}"; '.repeat(40), {
    limits: { maxSteps: 20 },
  });
  assert.ok(c.ok);
  const hook = createSievePolicy({ script: c.script });
  const t = await hook({
    message: await message(),
    scan: SCAN,
    signal: new AbortController().signal,
  });
  assert.equal(t.kind, 'tempfail');
});

test('an aborted signal throws (the pipeline tempfails)', async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(
    policy('keep;')({ message: await message(), scan: SCAN, signal: ac.signal }),
  );
});

test('fillTemplate and encodeHeaderText', () => {
  assert.equal(fillTemplate('{{a}}-{{ b }}-{{zz}}', { a: '1', b: '2' }), '1-2-');
  assert.equal(encodeHeaderText('plain'), 'plain');
  const long = encodeHeaderText('é'.repeat(40));
  for (const w of long.split(' ')) {
    const b64 = /^=\?UTF-8\?B\?(.*)\?=$/.exec(w)?.[1] ?? '';
    assert.doesNotMatch(Buffer.from(b64, 'base64').toString('utf8'), /\uFFFD/);
  }
});

test('SwappablePolicy: in-flight messages keep their hook, old versions are refused', async () => {
  let release: () => void = () => undefined;
  const slow = policy('keep;');
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const swappable = new SwappablePolicy(async (input) => {
    await gate;
    return slow(input);
  }, 1);
  const inFlight = swappable.hook({
    message: await message(),
    scan: SCAN,
    signal: new AbortController().signal,
  });
  assert.equal(swappable.swap(policy('discard;'), 2), true);
  assert.equal(swappable.swap(policy('keep;'), 2), false);
  assert.equal(swappable.version, 2);
  release();
  assert.equal((await inFlight).kind, 'accept');
  const next = await swappable.hook({
    message: await message(),
    scan: SCAN,
    signal: new AbortController().signal,
  });
  assert.equal(next.kind, 'discard');
});

// The gateway extensions through the real compiler and interpreter (runGatewayPolicy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, evaluateSync } from '../sieve/index.js';
import { compilePolicyData } from '../lists/index.js';
import { emptyScanResult, type ScanResult } from '../../scan/scanner.js';
import {
  GATEWAY_CAPABILITIES,
  GATEWAY_EXTENSIONS,
  gatewayContractJson,
  runGatewayPolicy,
  type GatewayContractResult,
  type GatewayFacts,
} from './index.js';

const MESSAGE =
  'From: "Ann" <ann@example.org>, carl@other.test\r\nTo: bob@example.net\r\n' +
  'Subject: Quarterly report\r\nX-Old: 1\r\nX-Old: 2\r\n\r\nBody text.\r\n';

const SCAN: ScanResult = {
  ...emptyScanResult(5),
  score: 7.5,
  spam: true,
  findings: [
    { symbol: 'BAYES_99', score: 5 },
    { symbol: 'DKIM_INVALID', score: 2.5 },
  ],
  virus: { status: 'infected', names: ['Win.Trojan.Agent-1', 'Eicar-Test-Signature'] },
  attachments: [
    {
      filename: 'invoice.exe',
      declaredType: 'application/octet-stream',
      detectedType: 'application/x-dosexec',
      sizeBytes: 2_000_000,
      depth: 0,
      encrypted: false,
    },
    {
      filename: 'a.zip',
      declaredType: 'application/zip',
      detectedType: 'application/zip',
      sizeBytes: 500,
      depth: 0,
      encrypted: true,
    },
  ],
  auth: { spf: 'softfail', dkim: 'fail', dmarc: 'fail', arc: 'none', dmarcPolicy: 'reject' },
};

const DATA = compilePolicyData(
  [
    { name: 'vips', entries: ['bob@example.net'] },
    { name: 'partners', entries: ['other.test'] },
    { name: 'nets', entries: ['10.0.0.0/8', '2001:db8::/32'] },
  ],
  [{ name: 'routes', entries: { 'example.net': 'internal', '*.lab.test': 'lab' } }],
);

const REQUIRE =
  'require ["variables", "relational", "comparator-i;ascii-numeric", "editheader", "fileinto", ' +
  `"reject", "spamtest", "regex", "copy", ${GATEWAY_CAPABILITIES.map((c) => `"${c}"`).join(', ')}];\n`;

async function run(
  body: string,
  facts: Partial<GatewayFacts> = {},
): Promise<GatewayContractResult & { valid: true }> {
  const c = compile(REQUIRE + body, { extraExtensions: GATEWAY_EXTENSIONS });
  if (!c.ok) throw new Error(c.errors.map((e) => e.toPositionedString()).join('\n'));
  const outcome = await runGatewayPolicy(c.script, {
    message: MESSAGE,
    envelopeFrom: 'ann+news@example.org',
    envelopeTo: 'bob@example.net',
    facts: {
      scan: SCAN,
      clientAddress: '10.1.2.3',
      recipients: ['bob@example.net', 'eve@lab.test'],
      data: DATA,
      ...facts,
    },
  });
  const json = gatewayContractJson(outcome);
  assert.equal(json.valid, true);
  return json;
}

/** Runs `if TEST { logmark "yes"; }` and says whether the test held. */
async function holds(testText: string, facts: Partial<GatewayFacts> = {}): Promise<boolean> {
  const r = await run(`if ${testText} { logmark "yes"; }`, facts);
  return r.actions.some((a) => a.type === 'logmark');
}

function compileError(body: string): string {
  const c = compile(REQUIRE + body, { extraExtensions: GATEWAY_EXTENSIONS });
  assert.equal(c.ok, false, body);
  return c.errors[0]?.code ?? '';
}

test('scan tests: spam, spamscore, spamsymbol', async () => {
  assert.equal(await holds('spam'), true);
  assert.equal(await holds('spamscore "7.5"'), true);
  assert.equal(await holds('spamscore :gt "7.5"'), false);
  assert.equal(await holds('spamscore :ge :threshold "1.5"'), true);
  assert.equal(await holds('spamscore :ge :threshold "2"'), false);
  assert.equal(await holds('spamscore :lt "0"'), false);
  assert.equal(await holds('spamsymbol "bayes_99"'), true);
  assert.equal(await holds('spamsymbol :matches "DKIM_*"'), true);
  assert.equal(await holds('spamsymbol :count "eq" :comparator "i;ascii-numeric" "2"'), true);
  assert.equal(await holds('spam', { scan: null }), false);
  assert.equal(await holds('spamscore :ge "0"', { scan: null }), false);
});

test('scan tests: virus, unscanned, unscannable', async () => {
  assert.equal(await holds('virus'), true);
  assert.equal(await holds('virus :matches "Eicar*"'), true);
  assert.equal(await holds('virus "Other"'), false);
  assert.equal(await holds('unscanned'), false);
  assert.equal(
    await holds('unscanned', { scan: { ...SCAN, virus: { status: 'unscanned', names: [] } } }),
    true,
  );
  assert.equal(await holds('unscannable "encrypted"'), true);
  assert.equal(await holds('unscannable', { scan: { ...SCAN, attachments: [] } }), false);
  assert.equal(
    await holds('unscannable :contains "mime"', {
      scan: { ...SCAN, attachments: [], unscannable: 'broken MIME structure' },
    }),
    true,
  );
});

test('scan tests: attachments by name, type, encryption and size', async () => {
  assert.equal(await holds('attachment'), true);
  assert.equal(await holds('attachment :matches "*.exe"'), true);
  assert.equal(await holds('attachment :name :matches "*.scr"'), false);
  assert.equal(await holds('attachment :type "application/x-dosexec"'), true);
  assert.equal(await holds('attachment :declaredtype "application/x-dosexec"'), false);
  assert.equal(await holds('attachment :encrypted :name "a.zip"'), true);
  assert.equal(await holds('attachment :encrypted :name "invoice.exe"'), false);
  assert.equal(await holds('attachmentsize :over 1M'), true);
  assert.equal(await holds('attachmentsize :over 2M'), false);
  assert.equal(await holds('attachmentsize :under 1K'), true);
});

test('scan tests: authentication results and client IP', async () => {
  assert.equal(await holds('auth "dmarc" "fail"'), true);
  assert.equal(await holds('auth "spf" ["fail", "softfail"]'), true);
  assert.equal(await holds('auth "dkim" "pass"'), false);
  assert.equal(await holds('auth "dmarc-policy" "reject"'), true);
  assert.equal(await holds('auth "dmarc" "fail"', { scan: { ...SCAN, auth: null } }), false);
  assert.equal(await holds('clientip :cidr ["192.0.2.0/24", "10.0.0.0/8"]'), true);
  assert.equal(await holds('clientip :cidr "10.1.2.4/32"'), false);
  assert.equal(await holds('clientip :matches "10.1.*"'), true);
  assert.equal(await holds('clientip :cidr "::/0"', { clientAddress: '2001:db8::5' }), true);
  assert.equal(await holds('clientip :cidr "10.0.0.0/8"', { clientAddress: null }), false);
});

test('match variables from gateway tests', async () => {
  const r = await run(
    'if spamsymbol :matches "DKIM_*" { set "s" "${1}"; }\n' +
      'if virus :regex "^(Win)\\\\.(.*)$" { set "v" "${2}"; }\n' +
      'appendheader "X-Seen" "${s}/${v}";',
  );
  assert.deepEqual(r.actions.slice(0, 1), [
    { type: 'appendheader', name: 'X-Seen', value: 'INVALID/Trojan.Agent-1' },
  ]);
});

test('lists: sender, recipient, From header, IP and values', async () => {
  assert.equal(await holds('listed "vips"'), false);
  assert.equal(await holds('listed :recipient "vips"'), true);
  assert.equal(await holds('listed :from "partners"'), true);
  assert.equal(await holds('listed :sender "partners"'), false);
  assert.equal(await holds('listed :ip "nets"'), true);
  assert.equal(await holds('listed :value ["x@y.test", "bob@example.net"] "vips"'), true);
  assert.equal(await holds('listed :recipient ["missing", "vips"]'), true);
  const r = await run('if listed "nope" { keep; }');
  assert.equal(r.actions.length, 1);
});

test('maps: match variables and :set', async () => {
  const r = await run(
    'if maplookup :set "route" "routes" "${x}bob@example.net" { set "m" "${0}|${1}|${2}"; }\n' +
      'if maplookup "routes" ["nobody@nowhere.test", "eve@a.lab.test"] { set "n" "${1}"; }\n' +
      'appendheader "X-Route" "${route};${m};${n}";',
  );
  assert.deepEqual(r.actions[0], {
    type: 'appendheader',
    name: 'X-Route',
    value: 'internal;bob@example.net|internal|example.net;lab',
  });
  assert.equal(await holds('maplookup "routes" "x@nowhere.test"'), false);
  assert.equal(await holds('maplookup "missing" "x@example.net"'), false);
});

test('actions: quarantine and tempfail cancel the implicit keep; accept stops', async () => {
  assert.deepEqual((await run('quarantine "held";')).actions, [
    { type: 'quarantine', reason: 'held' },
  ]);
  assert.deepEqual((await run('tempfail; tempfail "again";')).actions, [
    { type: 'tempfail', reason: 'message deferred by policy' },
  ]);
  assert.deepEqual((await run('accept; quarantine "never";')).actions, [
    { type: 'keep', flags: [] },
  ]);
  assert.deepEqual((await run('logmark "a"; accept; logmark "b";')).actions, [
    { type: 'keep', flags: [] },
    { type: 'logmark', name: 'a' },
  ]);
});

test('contract order: header edits, other core actions, gateway actions, implicit keep', async () => {
  const r = await run(
    'logmark "first"; fileinto :copy "Junk"; addheader "X-A" "1"; marksubject "[S]"; ' +
      'marksubject "[S]"; copyto "archive@example.net"; copyto "archive@example.net";',
  );
  assert.deepEqual(r.actions, [
    { type: 'addheader', name: 'X-A', value: '1' },
    { type: 'fileinto', mailbox: 'Junk', copy: true, flags: [] },
    { type: 'logmark', name: 'first' },
    { type: 'marksubject', prefix: '[S]' },
    { type: 'copyto', address: 'archive@example.net' },
    { type: 'keep', flags: [] },
  ]);
});

test('envelope and notify actions keep their documented shapes', async () => {
  const r = await run(
    'addrecipient "audit@example.net"; removerecipient "<eve@lab.test>"; setsender ""; ' +
      'sendnotice :template "virus" :subject "Alert" ["admin@example.net"] "found ${x}";' +
      'removeheader "X-Old"; setheader "X-Flag" "on";',
  );
  assert.deepEqual(r.actions, [
    { type: 'addrecipient', address: 'audit@example.net' },
    { type: 'removerecipient', address: 'eve@lab.test' },
    { type: 'setsender', address: '' },
    {
      type: 'notice',
      to: ['admin@example.net'],
      template: 'virus',
      subject: 'Alert',
      from: null,
      text: 'found ',
    },
    { type: 'removeheader', name: 'X-Old' },
    { type: 'setheader', name: 'X-Flag', value: 'on' },
    { type: 'keep', flags: [] },
  ]);
});

test('commands built from one factory keep their own checks and actions', async () => {
  // Only setsender takes the null address.
  assert.equal(compileError('addrecipient "";'), 'ERR_SIEVE_INVALID_VALUE');
  assert.equal(compileError('removerecipient "<>";'), 'ERR_SIEVE_INVALID_VALUE');
  assert.equal(compileError('setsender "not an address";'), 'ERR_SIEVE_INVALID_VALUE');
  assert.equal(compileError('appendheader "Return-Path" "x";'), 'ERR_SIEVE_INVALID_VALUE');
  assert.equal(compileError('appendheader "X-A";'), 'ERR_SIEVE_ARGUMENT');
  const r = await run(
    'setsender "<ann@example.org>"; removerecipient "bob@example.net"; ' +
      'addrecipient "bob@example.net"; appendheader "X-A" "1"; setheader "X-A" "2";',
  );
  assert.deepEqual(r.actions, [
    { type: 'setsender', address: 'ann@example.org' },
    { type: 'removerecipient', address: 'bob@example.net' },
    { type: 'addrecipient', address: 'bob@example.net' },
    { type: 'appendheader', name: 'X-A', value: '1' },
    { type: 'setheader', name: 'X-A', value: '2' },
    { type: 'keep', flags: [] },
  ]);
  const empty = await run('set "e" ""; addrecipient "${e}";');
  assert.equal(empty.runtime_error, true);
});

test('run-time errors drop gateway actions and fall back to keep', async () => {
  const r = await run('quarantine "x"; set "a" "b@"; addrecipient "${a}";');
  assert.equal(r.runtime_error, true);
  assert.deepEqual(r.actions, [{ type: 'keep', flags: [] }]);
  const s = await run('logmark "x"; setheader "${y}Bad Name" "v";');
  assert.equal(s.runtime_error, true);
});

test('compile errors are positioned and name the problem', () => {
  assert.equal(compileError('spamscore "lots";'), 'ERR_SIEVE_UNKNOWN_COMMAND');
  assert.equal(compileError('if spamscore "lots" { keep; }'), 'ERR_SIEVE_INVALID_VALUE');
  assert.equal(compileError('if auth "bimi" "pass" { keep; }'), 'ERR_SIEVE_INVALID_VALUE');
  assert.equal(
    compileError('if clientip :cidr "10.0.0.0/40" { keep; }'),
    'ERR_SIEVE_INVALID_VALUE',
  );
  assert.equal(
    compileError('if clientip :cidr :is "1.2.3.4" { keep; }'),
    'ERR_SIEVE_DUPLICATE_TAG',
  );
  assert.equal(compileError('if attachmentsize 10 { keep; }'), 'ERR_SIEVE_ARGUMENT');
  assert.equal(compileError('setheader "Received" "x";'), 'ERR_SIEVE_INVALID_VALUE');
  assert.equal(compileError('setheader "Bad Name" "x";'), 'ERR_SIEVE_INVALID_VALUE');
  assert.equal(compileError('addrecipient "not an address";'), 'ERR_SIEVE_INVALID_VALUE');
  assert.equal(compileError('sendnotice "a@b.test";'), 'ERR_SIEVE_ARGUMENT');
  assert.equal(compileError('logmark "has space";'), 'ERR_SIEVE_INVALID_VALUE');
  assert.equal(compileError('quarantine "a" "b";'), 'ERR_SIEVE_ARGUMENT');
  const noReq = compile('if spam { keep; }', { extraExtensions: GATEWAY_EXTENSIONS });
  assert.equal(noReq.ok ? '' : noReq.errors[0]?.code, 'ERR_SIEVE_UNKNOWN_TEST');
  const noVars = compile('require "vnd.parapet.maps"; if maplookup :set "v" "m" "k" { keep; }', {
    extraExtensions: GATEWAY_EXTENSIONS,
  });
  assert.equal(noVars.ok, false);
});

test('outside the policy host a gateway command is a run-time error (keep)', () => {
  const c = compile('require "vnd.parapet.actions"; quarantine;', {
    extraExtensions: GATEWAY_EXTENSIONS,
  });
  assert.ok(c.ok);
  const outcome = evaluateSync(c.script, { message: MESSAGE });
  assert.notEqual(outcome.runtimeError, null);
});

test('editheader changes are reported against the original header block', async () => {
  const c = compile(
    'require "editheader"; addheader "X-Top" "t"; addheader :last "X-End" "e"; ' +
      'deleteheader :index 2 "X-Old"; addheader "X-Top2" "t2";',
    { extraExtensions: GATEWAY_EXTENSIONS },
  );
  assert.ok(c.ok);
  const o = await runGatewayPolicy(c.script, {
    message: MESSAGE,
    envelopeFrom: '',
    envelopeTo: '',
    facts: { scan: null, clientAddress: null, recipients: [], data: DATA },
  });
  assert.deepEqual(o.headers.deleted, [4]);
  const plain = (l: readonly { name: string; value: string }[]) =>
    l.map(({ name, value }) => ({ name, value }));
  assert.deepEqual(plain(o.headers.addedTop), [
    { name: 'X-Top2', value: 't2' },
    { name: 'X-Top', value: 't' },
  ]);
  assert.deepEqual(plain(o.headers.addedBottom), [{ name: 'X-End', value: 'e' }]);
});

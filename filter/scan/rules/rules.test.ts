import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { messageFromRaw } from '../../test-support.js';
import { ParapetError } from '../../errors.js';
import type { Finding } from '../scanner.js';
import { createRuleScanner, RULE_CATALOGUE, type RuleSpec } from './index.js';

const TESTDATA = join(import.meta.dirname, 'testdata');
const NOW = new Date('2025-06-03T12:00:00Z');
const signal = new AbortController().signal;

async function scanRaw(
  raw: string | Buffer,
  options: Parameters<typeof createRuleScanner>[0] = { now: () => NOW },
): Promise<readonly Finding[]> {
  const message = await messageFromRaw(raw);
  return (await createRuleScanner(options).scan(message, signal)).findings;
}

function total(findings: readonly Finding[]): number {
  return findings.reduce((sum, f) => sum + f.score, 0);
}

function symbols(findings: readonly Finding[]): string[] {
  return findings.map((f) => f.symbol);
}

function simple(headers: string, body: string): string {
  return `${headers.trim().split('\n').join('\r\n')}\r\n\r\n${body.split('\n').join('\r\n')}`;
}

test('testdata: every spam/phish message scores >= 5 and every legitimate one < 5', async () => {
  const files = (await readdir(TESTDATA)).filter((f) => f.endsWith('.eml')).sort();
  const ham = files.filter((f) => f.startsWith('ham-'));
  const spam = files.filter((f) => !f.startsWith('ham-'));
  assert.ok(spam.length >= 20, `only ${spam.length} spam fixtures`);
  assert.ok(ham.length >= 10, `only ${ham.length} ham fixtures`);
  const scanner = createRuleScanner({ now: () => NOW });
  const wrong: string[] = [];
  for (const file of files) {
    const message = await messageFromRaw(await readFile(join(TESTDATA, file)));
    const findings = (await scanner.scan(message, signal)).findings;
    const score = total(findings);
    const isSpam = !file.startsWith('ham-');
    if (isSpam ? score < 5 : score >= 5) {
      wrong.push(`${file} ${score.toFixed(1)} ${symbols(findings).join(' ')}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('testdata: the modern threat families fire their own symbols', async () => {
  const expect: Record<string, string> = {
    'phish-paypal-lookalike.eml': 'FROM_DOMAIN_LOOKALIKE',
    'phish-apple-homoglyph.eml': 'URI_HOMOGLYPH',
    'url-tricks.eml': 'URI_USERINFO',
    'phish-onedrive-ipfs.eml': 'URI_IPFS',
    'bec-gift-cards.eml': 'BEC_GIFT_CARDS',
    'bec-wire-transfer.eml': 'REPLYTO_FREEMAIL_DIFF',
    'extortion-bitcoin.eml': 'EXTORTION_BTC',
    'callback-norton-renewal.eml': 'CALLBACK_LURE',
    'phish-qr-code-mfa.eml': 'QR_CODE_LURE',
    'malware-double-extension.eml': 'ATTACH_DOUBLE_EXT',
    'phish-html-attachment.eml': 'ATTACH_HTML',
    'obfuscation-hidden-zero-width.eml': 'ZERO_WIDTH_OBFUSCATION',
    'crypto-seed-phrase.eml': 'SEED_PHRASE_REQUEST',
    'phish-docusign-lure.eml': 'PHISH_SHARED_DOCUMENT',
  };
  for (const [file, symbol] of Object.entries(expect)) {
    const findings = await scanRaw(await readFile(join(TESTDATA, file)));
    assert.ok(symbols(findings).includes(symbol), `${file}: ${symbols(findings).join(' ')}`);
  }
});

test('GTUBE scores 1000', async () => {
  const findings = await scanRaw(
    simple(
      'From: a@example.com\nTo: b@example.com\nSubject: t',
      'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n',
    ),
  );
  const gtube = findings.find((f) => f.symbol === 'GTUBE');
  assert.equal(gtube?.score, 1000);
});

test('scores come from configuration; 0 disables a rule', async () => {
  const raw = simple(
    'From: a@example.com\nTo: b@example.com\nSubject: t',
    'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n',
  );
  const changed = await scanRaw(raw, { now: () => NOW, scores: { GTUBE: 7.5 } });
  assert.equal(changed.find((f) => f.symbol === 'GTUBE')?.score, 7.5);
  const disabled = await scanRaw(raw, { now: () => NOW, scores: { GTUBE: 0 } });
  assert.equal(symbols(disabled).includes('GTUBE'), false);
});

test('date rules use the Received time, else the configured now', async () => {
  const old = simple(
    'From: a@example.com\nTo: b@example.com\nSubject: hi\nMessage-ID: <x@example.com>\nDate: Mon, 2 Sep 2002 10:00:00 +0000',
    'hello\n',
  );
  const in2002 = await scanRaw(old, { now: () => new Date('2002-09-03T00:00:00Z') });
  assert.equal(symbols(in2002).includes('DATE_IN_PAST_96'), false);
  const today = await scanRaw(old, { now: () => NOW });
  assert.ok(symbols(today).includes('DATE_IN_PAST_96'));
  const future = await scanRaw(old, { now: () => new Date('2002-08-01T00:00:00Z') });
  assert.ok(symbols(future).includes('DATE_IN_FUTURE'));
  const received = simple(
    'Received: from x by y; Tue, 3 Sep 2002 10:00:00 +0000\nFrom: a@example.com\nTo: b@example.com\nSubject: hi\nMessage-ID: <x@example.com>\nDate: Mon, 2 Sep 2002 10:00:00 +0000',
    'hello\n',
  );
  assert.equal(symbols(await scanRaw(received)).includes('DATE_IN_PAST_96'), false);
});

test('administrator rules: header, body, rawbody, uri, full, exists, not and meta', async () => {
  const extraRules: RuleSpec[] = [
    {
      symbol: 'LOCAL_SUBJ',
      type: 'header',
      header: 'Subject',
      pattern: '/quarterly\\s+report/i',
      score: 1,
    },
    {
      symbol: 'LOCAL_FROM_ADDR',
      type: 'header',
      header: 'From:addr',
      contains: '@partner.example',
      score: -2,
    },
    { symbol: 'LOCAL_HAS_XTAG', type: 'header', header: 'X-Tag', exists: true, score: 0.5 },
    {
      symbol: 'LOCAL_NO_ORG',
      type: 'header',
      header: 'Organization',
      pattern: '/./',
      not: true,
      score: 0.25,
    },
    { symbol: 'LOCAL_BODY', type: 'body', pattern: '/project\\s+tangerine/i', score: 1.5 },
    { symbol: 'LOCAL_RAW', type: 'rawbody', contains: '<b>', score: 0.1 },
    { symbol: 'LOCAL_URI', type: 'uri', pattern: '/files\\.partner\\.example\\/share/', score: 1 },
    { symbol: 'LOCAL_FULL', type: 'full', contains: 'X-Tag: blue', score: 0.1 },
    { symbol: '__LOCAL_A', type: 'body', contains: 'tangerine', ignoreCase: true, score: 0 },
    {
      symbol: 'LOCAL_META',
      type: 'meta',
      expression: '__LOCAL_A && (LOCAL_SUBJ || !LOCAL_BODY) && (LOCAL_URI + LOCAL_RAW) >= 2',
      score: 3,
    },
  ];
  const raw = simple(
    'From: "Partner" <news@partner.example>\nTo: b@example.com\nSubject: Quarterly  Report\nX-Tag: blue\nContent-Type: text/html; charset=utf-8',
    '<p>About <b>Project Tangerine</b>: <a href="https://files.partner.example/share/1">files</a></p>\n',
  );
  const findings = await scanRaw(raw, { now: () => NOW, extraRules });
  const got = new Map(findings.map((f) => [f.symbol, f.score]));
  for (const s of [
    'LOCAL_SUBJ',
    'LOCAL_FROM_ADDR',
    'LOCAL_HAS_XTAG',
    'LOCAL_NO_ORG',
    'LOCAL_BODY',
    'LOCAL_RAW',
    'LOCAL_URI',
    'LOCAL_FULL',
    'LOCAL_META',
  ]) {
    assert.ok(got.has(s), `${s} missing: ${[...got.keys()].join(' ')}`);
  }
  assert.equal(got.get('LOCAL_FROM_ADDR'), -2);
  assert.equal(got.has('__LOCAL_A'), false, 'sub-rules are never reported');
});

test('administrator rules: a bad rule is refused with ERR_SCAN_RULE_INVALID', () => {
  const bad: RuleSpec[] = [
    { symbol: 'lower_case', type: 'body', contains: 'x' },
    { symbol: 'NO_TEST', type: 'body' },
    { symbol: 'BAD_RE', type: 'body', pattern: '/(unclosed/' },
    { symbol: 'NOT_SLASHED', type: 'body', pattern: 'abc' },
    { symbol: 'BACKREF', type: 'body', pattern: '/(a)\\1/' },
    { symbol: 'BAD_META', type: 'meta', expression: 'A && (B' },
    { symbol: 'NO_HEADER', type: 'header', pattern: '/x/' },
    { symbol: 'BAD_TYPE', type: 'nonsense' as 'body', contains: 'x' },
  ];
  for (const rule of bad) {
    assert.throws(
      () => createRuleScanner({ extraRules: [rule] }),
      (err: unknown) => err instanceof ParapetError && err.code === 'ERR_SCAN_RULE_INVALID',
      rule.symbol,
    );
  }
});

test('administrator regexes run in linear time (re2js): a ReDoS pattern on a long input', async () => {
  const extraRules: RuleSpec[] = [
    { symbol: 'LOCAL_REDOS', type: 'body', pattern: '/(a+)+$/', score: 1 },
  ];
  const raw = simple(
    'From: a@example.com\nTo: b@example.com\nSubject: x',
    `${'a'.repeat(30000)}!\n`,
  );
  const findings = await scanRaw(raw, { now: () => NOW, extraRules });
  assert.equal(symbols(findings).includes('LOCAL_REDOS'), false);
});

test('RULE_CATALOGUE: named UPPER_SNAKE, described, no sub-rules, documented in README.md', async () => {
  const readme = await readFile(join(import.meta.dirname, 'README.md'), 'utf8');
  assert.ok(RULE_CATALOGUE.size >= 100, `only ${RULE_CATALOGUE.size} symbols`);
  for (const [symbol, info] of RULE_CATALOGUE) {
    assert.match(symbol, /^[A-Z][A-Z0-9_]*$/);
    assert.ok(info.description.length > 5, symbol);
    assert.ok(Number.isFinite(info.score), symbol);
    assert.ok(readme.includes(`\`${symbol}\``), `${symbol} not documented in README.md`);
  }
});

test('a message with no body and no headers scans without findings that throw', async () => {
  const findings = await scanRaw('\r\n');
  assert.ok(symbols(findings).includes('MISSING_FROM'));
});

test('2002-era header forgeries: each fires on its forgery and not on the genuine form', async () => {
  const base = 'From: Ann <ann@example.com>\nTo: bob@example.org\nMessage-ID: <1@example.com>';
  const cases: { symbol: string; spam: string; ham: string; body?: string }[] = [
    {
      symbol: 'FORGED_MUA_OUTLOOK',
      spam: 'X-Mailer: Microsoft Outlook Express 6.00.2600.0000\nSubject: hi',
      ham: 'X-Mailer: Microsoft Outlook Express 6.00.2600.0000\nX-MimeOLE: Produced By Microsoft MimeOLE V6.00.2600.0000\nSubject: hi',
    },
    {
      symbol: 'RCVD_FORGED_DATE',
      spam: 'Received: from unknown (1.2.3.4) by relay.example with SMTP; Aug, 26 2002 1:35:40 PM -0000\nSubject: hi',
      ham: 'Received: from a.example by b.example with ESMTP; Mon, 26 Aug 2002 13:35:40 -0000\nSubject: hi',
    },
    {
      symbol: 'DATE_MISSING_ZONE',
      spam: 'Date: Mon, 26 Aug 2002 13:35:40\nSubject: hi',
      ham: 'Date: Mon, 26 Aug 2002 13:35:40 +0100\nSubject: hi',
    },
    {
      symbol: 'DATE_WEEKDAY_WRONG',
      spam: 'Date: Tue, 26 Aug 2002 13:35:40 +0000\nSubject: hi',
      ham: 'Date: Mon, 26 Aug 2002 13:35:40 +0000\nSubject: hi',
    },
    {
      symbol: 'SUBJ_PADDED',
      spam: 'Subject: Great news for you            about your loan today',
      ham: 'Subject: Great news for you about your loan today',
    },
    {
      symbol: 'FORGED_MSMAIL_PRIORITY',
      spam: 'X-Mailer: QuickSend 2.0\nX-MSMail-Priority: High\nSubject: hi',
      ham: 'X-Mailer: Microsoft Outlook Express 6.00.2600.0000\nX-MimeOLE: Produced By Microsoft MimeOLE V6\nX-MSMail-Priority: High\nSubject: hi',
    },
    {
      symbol: 'MISSING_MUA_HTML',
      spam: 'Content-Type: text/html\nSubject: hi',
      ham: 'Content-Type: text/html\nUser-Agent: Mutt/1.4\nSubject: hi',
      body: '<html><body><p>Hello there</p></body></html>\n',
    },
  ];
  for (const c of cases) {
    const body = c.body ?? 'Hello there.\n';
    const spam = symbols(await scanRaw(simple(`${base}\n${c.spam}`, body)));
    const ham = symbols(await scanRaw(simple(`${base}\n${c.ham}`, body)));
    assert.ok(spam.includes(c.symbol), `${c.symbol} missed: ${spam.join(' ')}`);
    assert.ok(!ham.includes(c.symbol), `${c.symbol} fired on the genuine form: ${ham.join(' ')}`);
  }
});

test('forms: a form posting to an IP and a name/e-mail/phone questionnaire fire; a plain form does not', async () => {
  const headers = 'From: a@example.com\nTo: b@example.org\nSubject: info\nContent-Type: text/html';
  const spam = symbols(
    await scanRaw(
      simple(
        headers,
        '<html><body><p>Please fill out the form below</p><form action="http://65.1.2.3/r.asp">' +
          '<p>Name:</p><p>E-mail:</p><p>Phone:</p></form></body></html>\n',
      ),
    ),
  );
  assert.ok(spam.includes('HTML_FORM_TO_IP'), spam.join(' '));
  assert.ok(spam.includes('FORM_CONTACT_FIELDS'), spam.join(' '));
  const ham = symbols(
    await scanRaw(
      simple(
        headers,
        '<html><body><form action="https://survey.example.com/r"><p>Rate us</p></form></body></html>\n',
      ),
    ),
  );
  assert.ok(
    !ham.includes('HTML_FORM_TO_IP') && !ham.includes('FORM_CONTACT_FIELDS'),
    ham.join(' '),
  );
});

test('removal wording: "does not wish to receive" is bulk-mail removal language', async () => {
  const h = 'From: a@example.com\nTo: b@example.org\nSubject: offer';
  const spam = symbols(
    await scanRaw(
      simple(
        h,
        "We don't want anyone to receive our mailings who does not wish to receive them.\n",
      ),
    ),
  );
  assert.ok(spam.includes('BODY_REMOVE_LIST'), spam.join(' '));
  const ham = symbols(await scanRaw(simple(h, 'If she does not wish to come, that is fine.\n')));
  assert.ok(!ham.includes('BODY_REMOVE_LIST'), ham.join(' '));
});

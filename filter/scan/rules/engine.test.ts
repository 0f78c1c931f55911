import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { messageFromRaw } from '../../test-support.js';
import { evaluateMeta, parseMetaExpression, compileRuleSpec, type RuleSpec } from './engine.js';
import { deriveKeys, deriveLeadingKeys, indexWordKeys, WordIndex } from './prefilter.js';
import { PHRASE_REGEXES } from './catalogue.js';
import { createMessageView } from './message-view.js';
import { parseUri, registrableDomain } from './uri.js';
import { analyzeHtml } from './html.js';
import { createRuleScanner } from './index.js';

test('meta expressions: precedence, negation, sums and comparisons', () => {
  const fired = new Set(['A', 'C']);
  const cases: [string, number][] = [
    ['A && C', 1],
    ['A && B', 0],
    ['A && B || C', 1],
    ['A && (B || C)', 1],
    ['!B && A', 1],
    ['!(A || B)', 0],
    ['(A + B + C) >= 2', 1],
    ['A + B + C == 3', 0],
    ['A + C > 1 && !B', 1],
    ['UNKNOWN_SYMBOL || B', 0],
  ];
  for (const [expr, want] of cases) {
    assert.equal(evaluateMeta(parseMetaExpression('T', expr), fired), want, expr);
  }
  for (const bad of ['A &&', '(A', 'A B', '&& A', 'A ) B', '']) {
    assert.throws(() => parseMetaExpression('T', bad), /ERR_SCAN_RULE_INVALID|rule T/, bad);
  }
  assert.throws(() => parseMetaExpression('T', `${'('.repeat(100)}A${')'.repeat(100)}`));
});

test('prefilter: keys are word starts every match must contain', () => {
  assert.deepEqual(deriveKeys(/\bwire transfer/), ['wire']);
  assert.deepEqual([...(deriveKeys(/\b(?:gift cards?|itunes)/) ?? [])].sort(), ['gift', 'itune']);
  assert.equal(deriveKeys(/\b(?:mlm|x)/), null, 'short words at the end are not known to be whole');
  assert.equal(deriveKeys(/[a-z]+ million/i), null, 'case-insensitive regexes always run');
  assert.deepEqual(deriveKeys(/\b\d+ million dollars/), ['milli']);
  assert.deepEqual(
    deriveLeadingKeys(/\b(?:buy|purchase) (?:gift|itunes) cards/)
      ?.slice()
      .sort(),
    ['buy', 'purch'],
  );
  assert.equal(deriveLeadingKeys(/\s(?:buy|purchase)/), null, 'a match starting on a space');
  assert.deepEqual([...new WordIndex('a gift, a gift').positions('gift')], [2, 10]);
  const keys = indexWordKeys('send the gift-cards now, wire it');
  for (const k of ['send', 'the', 'gift', 'cards', 'now', 'wire', 'it']) assert.ok(keys.has(k), k);
});

test('prefilter: sound on every fixture (a regex that matches is never skipped)', async () => {
  const dir = join(import.meta.dirname, 'testdata');
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.eml'))) {
    const view = await createMessageView(await messageFromRaw(await readFile(join(dir, file))));
    const text = view.lowerBodyText();
    const present = view.bodyWordKeys();
    for (const { re, keys, run } of PHRASE_REGEXES) {
      if (re.exec(text) === null) continue;
      const where = `${file}: /${re.source.slice(0, 60)}/`;
      assert.ok(keys === null || keys.some((k) => present.has(k)), `${where} matched without keys`);
      assert.ok(run(text, present) !== null, `${where} missed by its runner`);
    }
  }
});

test('uri: IP literals in every spelling, user-info, punycode, registrable domain', () => {
  assert.equal(parseUri('http://192.0.2.7/x', 'href')?.ip, 'dotted');
  assert.equal(parseUri('http://3232235777/', 'href')?.ip, 'decimal');
  assert.equal(parseUri('http://0xC0A80101/', 'href')?.ip, 'hex');
  assert.equal(parseUri('http://0300.0250.01.01/', 'href')?.ip, 'octal');
  assert.equal(parseUri('http://[2001:db8::1]:8080/', 'href')?.ip, 'ipv6');
  const trick = parseUri('https://www.bank.example@evil.example:8443/login', 'href');
  assert.ok(trick !== null);
  assert.equal(trick.userinfo, true);
  assert.equal(trick.host, 'evil.example');
  assert.equal(trick.port, '8443');
  assert.equal(parseUri('https://xn--pple-43d.com/', 'href')?.unicodeHost, 'аpple.com');
  assert.equal(parseUri('www.example.org/path', 'text')?.host, 'www.example.org');
  assert.equal(parseUri('mailto:a@b.example', 'href')?.scheme, 'mailto');
  assert.equal(registrableDomain('a.b.example.co.uk'), 'example.co.uk');
  assert.equal(registrableDomain('login.secure.example.com'), 'example.com');
});

test('html: visible and hidden text, links with text, entities, obfuscation counts', () => {
  const info = analyzeHtml(
    '<style>p{color:red}</style><p>Hel<!-- x -->lo &amp; w&#111;rld</p>' +
      '<div style="display: none">secret words</div><a href="https://t.example/x">Sign in</a>' +
      '<img src="https://i.example/a.png"><form action="https://f.example/post"><input type="password"></form>' +
      '<xq>z</xq>',
  );
  assert.match(info.visibleText, /Hello & world/);
  assert.doesNotMatch(info.visibleText, /secret/);
  assert.equal(info.hiddenText, 'secret words');
  assert.deepEqual(info.links, [{ href: 'https://t.example/x', text: 'Sign in' }]);
  assert.deepEqual(info.images, ['https://i.example/a.png']);
  assert.deepEqual(info.forms, ['https://f.example/post']);
  assert.equal(info.hasPasswordInput, true);
  assert.equal(info.wordSplitComments, 1);
  assert.equal(info.unknownTags, 2);
});

test('compileRuleSpec: a header rule on the display name and on the raw value', async () => {
  const specs: RuleSpec[] = [
    { symbol: 'LOCAL_NAME', type: 'header', header: 'From:name', pattern: '/^Billing$/', score: 1 },
    { symbol: 'LOCAL_RAW', type: 'header', header: 'Subject:raw', contains: '=?utf-8?', score: 1 },
  ];
  for (const s of specs) assert.equal(compileRuleSpec(s).symbol, s.symbol);
  const message = await messageFromRaw(
    'From: "Billing" <b@x.example>\r\nSubject: =?utf-8?q?hi?=\r\n\r\nbody\r\n',
  );
  const out = await createRuleScanner({ extraRules: specs }).scan(
    message,
    new AbortController().signal,
  );
  const names = out.findings.map((f) => f.symbol);
  assert.ok(names.includes('LOCAL_NAME') && names.includes('LOCAL_RAW'), names.join(' '));
});

test('README.md: the rule examples compile', async () => {
  const readme = await readFile(join(import.meta.dirname, 'README.md'), 'utf8');
  const block = /```json\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block !== undefined);
  const rules = JSON.parse(block) as RuleSpec[];
  assert.ok(rules.length >= 5);
  createRuleScanner({ extraRules: rules });
});

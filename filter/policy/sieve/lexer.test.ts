import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenizeSieve } from './lexer.js';
import { SieveError } from './errors.js';

const kinds = (text: string): string[] => tokenizeSieve(text).map((t) => t.kind);

test('tokens of a simple command with positions', () => {
  const t = tokenizeSieve('if header :is "Subject" ["a", "b"] {\n  keep;\n}');
  assert.deepEqual(
    t.map((x) => [x.kind, x.text, x.line, x.column]),
    [
      ['identifier', 'if', 1, 1],
      ['identifier', 'header', 1, 4],
      ['tag', 'is', 1, 11],
      ['string', 'Subject', 1, 15],
      ['[', '[', 1, 25],
      ['string', 'a', 1, 26],
      [',', ',', 1, 29],
      ['string', 'b', 1, 31],
      [']', ']', 1, 34],
      ['{', '{', 1, 36],
      ['identifier', 'keep', 2, 3],
      [';', ';', 2, 7],
      ['}', '}', 3, 1],
      ['eof', '', 3, 2],
    ],
  );
});

test('numbers with quantifiers', () => {
  const t = tokenizeSieve('1 2K 3m 4G');
  assert.deepEqual(
    t.filter((x) => x.kind === 'number').map((x) => x.number),
    [1, 2048, 3 * 1024 * 1024, 4 * 1024 * 1024 * 1024],
  );
});

test('quoted string escapes and line ends', () => {
  const [s] = tokenizeSieve('"a\\"b\\\\c\\d\ne"');
  assert.equal(s?.text, 'a"b\\cd\r\ne');
});

test('multi-line text: with dot-stuffing and a hash comment', () => {
  const [s] = tokenizeSieve('text: # note\r\nline\r\n..dot\r\n.\r\n');
  assert.equal(s?.text, 'line\r\n.dot\r\n');
  assert.equal(s.multiline, true);
});

test('comments are skipped', () => {
  assert.deepEqual(kinds('# x\n/* y\n z */ keep;'), ['identifier', ';', 'eof']);
});

test('lexical errors are positioned', () => {
  const cases: [string, string, number, number][] = [
    ['keep; @', 'ERR_SIEVE_LEXICAL', 1, 7],
    ['"abc', 'ERR_SIEVE_UNTERMINATED', 1, 1],
    ['\n/* x', 'ERR_SIEVE_UNTERMINATED', 2, 1],
    ['text:\nabc\n', 'ERR_SIEVE_UNTERMINATED', 1, 1],
    ['12X', 'ERR_SIEVE_LEXICAL', 1, 3],
    ['99999999999999999999', 'ERR_SIEVE_NUMBER_TOO_LARGE', 1, 1],
    [': x', 'ERR_SIEVE_LEXICAL', 1, 1],
  ];
  for (const [text, code, line, column] of cases) {
    assert.throws(
      () => tokenizeSieve(text),
      (e: unknown) =>
        e instanceof SieveError && e.code === code && e.line === line && e.column === column,
      text,
    );
  }
});

test('string length limit', () => {
  assert.throws(
    () => tokenizeSieve('"abcdef"', 3),
    (e: unknown) => e instanceof SieveError && e.code === 'ERR_SIEVE_LIMIT',
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  comparatorCompare,
  comparatorEquals,
  translatePosixRegex,
  wildcardMatch,
  compileSieveRegex,
  SieveRegexError,
  regexMatch,
} from './match.js';

test('wildcards: shortest-first captures, escapes, octet ?', () => {
  const b = { steps: 0 };
  assert.deepEqual(wildcardMatch('i;octet', 'abcabc', '*b*', b), ['a', 'cabc']);
  assert.deepEqual(wildcardMatch('i;octet', 'abcabc', '*?c*', b), ['a', 'b', 'abc']);
  assert.deepEqual(wildcardMatch('i;octet', 'a*b', 'a\\*b', b), []);
  assert.equal(wildcardMatch('i;octet', 'axb', 'a\\*b', b), null);
  assert.deepEqual(wildcardMatch('i;ascii-casemap', 'HELLO', 'h*o', b), ['ELL']);
  assert.equal(wildcardMatch('i;octet', 'häx', 'h?x', b), null);
  assert.notEqual(wildcardMatch('i;octet', 'häx', 'h??x', b), null);
});

test('wildcard matching stays polynomial on hostile patterns', () => {
  const b = { steps: 0 };
  const started = Date.now();
  assert.equal(wildcardMatch('i;octet', 'a'.repeat(5000), '*a*a*a*a*a*a*a*a*b', b), null);
  assert.ok(Date.now() - started < 2000);
});

test('comparators', () => {
  assert.equal(comparatorEquals('i;ascii-numeric', '007', '7'), true);
  assert.equal(comparatorEquals('i;ascii-numeric', 'abc', 'xyz'), true);
  assert.ok(comparatorCompare('i;ascii-numeric', 'abc', '99999999999999999999999') > 0);
  assert.ok(comparatorCompare('i;ascii-casemap', 'a', 'B') < 0);
  assert.ok(comparatorCompare('i;octet', 'a', 'B') > 0);
  assert.ok(comparatorCompare('i;octet', 'é', 'z') > 0);
});

test('POSIX ERE translation', () => {
  assert.equal(translatePosixRegex('[\\]'), '[\\\\]');
  assert.equal(translatePosixRegex('a{b'), 'a\\{b');
  assert.equal(translatePosixRegex('\\d'), 'd');
  assert.equal(translatePosixRegex('[[:digit:]]{2,3}'), '[[:digit:]]{2,3}');
  assert.throws(() => translatePosixRegex('a(b'), SieveRegexError);
  assert.throws(() => translatePosixRegex('[abc'), SieveRegexError);
  assert.throws(() => translatePosixRegex('(a)\\1'), SieveRegexError);
  const re = compileSieveRegex('(a|ab)(c|bcd)?(.*)', false);
  assert.ok(!(re instanceof SieveRegexError));
  if (!(re instanceof SieveRegexError))
    assert.deepEqual(regexMatch(re, 'xabcabcy'), ['abcabcy', 'a', '', 'bcabcy']);
});

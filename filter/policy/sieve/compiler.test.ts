import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from './index.js';

function errorOf(script: string): { code: string; line: number; column: number } {
  const r = compile(script);
  if (r.ok) throw new Error(`expected a compile error: ${script}`);
  const e = r.errors[0];
  if (e === undefined) throw new Error('no error');
  return { code: e.code, line: e.line, column: e.column };
}

test('valid scripts compile', () => {
  for (const s of [
    '',
    'keep;',
    'require ["fileinto", "copy"]; fileinto :copy "a";',
    'require "relational"; if header :count "ge" "to" "2" { discard; }',
    'require ["variables"]; set :upper :length "a" "b";',
    'require ["ihave"]; if ihave "x-unknown" { frobnicate; }',
  ]) {
    const r = compile(s);
    assert.equal(r.ok, true, s);
  }
});

test('positioned compile errors with catalog codes', () => {
  const cases: [string, string, number, number][] = [
    ['require "x-nope";', 'ERR_SIEVE_UNKNOWN_CAPABILITY', 1, 9],
    ['keep;\nrequire "fileinto";', 'ERR_SIEVE_REQUIRE_PLACEMENT', 2, 1],
    ['fileinto "x";', 'ERR_SIEVE_UNKNOWN_COMMAND', 1, 1],
    ['if frob { keep; }', 'ERR_SIEVE_UNKNOWN_TEST', 1, 4],
    ['if header :foo "a" "b" {}', 'ERR_SIEVE_UNKNOWN_TAG', 1, 11],
    ['if header :is :contains "a" "b" {}', 'ERR_SIEVE_DUPLICATE_TAG', 1, 15],
    ['redirect;', 'ERR_SIEVE_ARGUMENT', 1, 1],
    ['if not (true, false) {}', 'ERR_SIEVE_TEST_EXPECTED', 1, 4],
    ['keep { }', 'ERR_SIEVE_BLOCK', 1, 1],
    ['else { }', 'ERR_SIEVE_ELSE_WITHOUT_IF', 1, 1],
    ['if header :comparator "i;nope" "a" "b" {}', 'ERR_SIEVE_COMPARATOR', 1, 23],
    ['require "regex";\nif header :regex "a" "(" {}', 'ERR_SIEVE_MATCH_TYPE', 2, 22],
    ['require "relational";\nif header :value "xx" "a" "b" {}', 'ERR_SIEVE_MATCH_TYPE', 2, 18],
    ['redirect "not an address";', 'ERR_SIEVE_INVALID_VALUE', 1, 10],
    ['require "variables"; set :lower :upper "a" "b";', 'ERR_SIEVE_TAG_CONFLICT', 1, 22],
    ['keep', 'ERR_SIEVE_SYNTAX', 1, 5],
  ];
  for (const [script, code, line, column] of cases) {
    assert.deepEqual(errorOf(script), { code, line, column }, script);
  }
});

test('ereject is off by default (as in Pigeonhole 2.3) and can be enabled', () => {
  assert.equal(compile('require "ereject"; ereject "x";').ok, false);
  assert.equal(compile('require "ereject"; ereject "x";', { disabledCapabilities: [] }).ok, true);
});

test('warnings are kept', () => {
  const r = compile('require "vacation"; vacation :days 0 "x";');
  if (!r.ok) throw new Error('expected a valid script');
  assert.match(r.warnings[0]?.message ?? '', /under the minimum/);
});

test('includes resolved at compile time', () => {
  const ok = compile('require "include"; include "a";', { resolveInclude: () => 'keep;' });
  assert.equal(ok.ok, true);
  const missing = compile('require "include"; include "a";', { resolveInclude: () => null });
  assert.equal(missing.ok, false);
  const cyc = compile('require "include"; include "a";', {
    resolveInclude: () => 'require "include"; include "a";',
  });
  assert.equal(cyc.ok, false);
});

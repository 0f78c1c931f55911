/**
 * Fuzzing the compiler and interpreter with fast-check: random text over the Sieve alphabet
 * and mutations of valid scripts must never crash the compiler (only positioned SieveErrors)
 * and must never run past the limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { compile, evaluateSync, SieveError } from './index.js';
import { DEFAULT_SIEVE_LIMITS } from './limits.js';

const HERE = new URL('.', import.meta.url).pathname;
const MESSAGE = readFileSync(join(HERE, 'testdata', 'messages', 'default.eml'), 'utf8');
const MIME = readFileSync(join(HERE, 'testdata', 'messages', 'mime.eml'), 'utf8');

const WORDS = [
  'require',
  'if',
  'elsif',
  'else',
  'keep',
  'discard',
  'stop',
  'redirect',
  'fileinto',
  'reject',
  'header',
  'address',
  'envelope',
  'exists',
  'size',
  'allof',
  'anyof',
  'not',
  'true',
  'false',
  'set',
  'string',
  'body',
  'addflag',
  'setflag',
  'removeflag',
  'hasflag',
  'addheader',
  'deleteheader',
  'vacation',
  'spamtest',
  'virustest',
  'date',
  'currentdate',
  'ihave',
  'error',
  'include',
  'return',
  'global',
  'duplicate',
  'text:\n',
  '\n.\n',
  ':is',
  ':contains',
  ':matches',
  ':regex',
  ':count',
  ':value',
  ':comparator',
  ':over',
  ':under',
  ':all',
  ':localpart',
  ':domain',
  ':user',
  ':detail',
  ':copy',
  ':flags',
  ':days',
  ':seconds',
  ':index',
  ':last',
  ':raw',
  ':content',
  ':text',
  ':zone',
  ':originalzone',
  ':percent',
  ':lower',
  ':upper',
  ':length',
  ':quotewildcard',
  ':once',
  ':optional',
  ':mime',
  ':handle',
  ':subject',
  '"fileinto"',
  '"variables"',
  '"regex"',
  '"relational"',
  '"comparator-i;ascii-numeric"',
  '"editheader"',
  '"imap4flags"',
  '"body"',
  '"envelope"',
  '"subaddress"',
  '"copy"',
  '"reject"',
  '"vacation"',
  '"date"',
  '"index"',
  '"spamtest"',
  '"virustest"',
  '"encoded-character"',
  '"include"',
  '"duplicate"',
  '"ihave"',
  '"Subject"',
  '"From"',
  '"To"',
  '"*"',
  '"a*b?"',
  '"${1}"',
  '"${x}"',
  '"${hex:41}"',
  '"${unicode:263a}"',
  '"(a+)+$"',
  '"[[:alpha:]]"',
  '"ge"',
  '"eq"',
  '"i;octet"',
  '"i;ascii-casemap"',
  '"i;ascii-numeric"',
  '"date"',
  '"year"',
  '10',
  '1K',
  '0',
  '99999999999999999999',
  '[',
  ']',
  '(',
  ')',
  '{',
  '}',
  ',',
  ';',
  ' ',
  '\n',
  '#',
  '/*',
  '*/',
  '"',
  '\\',
  '$',
  ':',
];

const tokenScript = fc
  .array(fc.constantFrom(...WORDS), { maxLength: 60 })
  .map((ws) => ws.join(' '));
const alphabetScript = fc
  .array(
    fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz:;,"[](){}#/*\\ \n\t0123456789KMG$.-+'.split('')),
    { maxLength: 200 },
  )
  .map((cs) => cs.join(''));
const bytesScript = fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1'));

function checkNoCrash(script: string): void {
  const r = compile(script);
  if (!r.ok) {
    for (const e of r.errors) {
      assert.ok(e instanceof SieveError);
      assert.ok(e.code.startsWith('ERR_SIEVE_'));
      assert.ok(e.line >= 1 && e.column >= 1, `unpositioned error ${e.code} ${e.message}`);
    }
    return;
  }
  for (const message of [MESSAGE, MIME]) {
    const out = evaluateSync(
      r.script,
      { message, spamScore: 5, spamMax: 10, virusLevel: 2, nowMs: 0, localZoneMinutes: 0 },
      (req) =>
        req.kind === 'include'
          ? { kind: 'include', script: 'keep;' }
          : { kind: 'duplicate', duplicate: false },
    );
    assert.ok(out.steps <= DEFAULT_SIEVE_LIMITS.maxSteps + 1_000_000);
    assert.ok(
      out.actions.length <=
        DEFAULT_SIEVE_LIMITS.maxActions + DEFAULT_SIEVE_LIMITS.maxHeaderEdits + 1,
    );
    if (out.runtimeError !== null) assert.ok(out.runtimeError instanceof SieveError);
  }
}

test('random token sequences never crash the compiler', () => {
  fc.assert(fc.property(tokenScript, checkNoCrash), { numRuns: 3000 });
});

test('random text over the Sieve alphabet never crashes the compiler', () => {
  fc.assert(fc.property(alphabetScript, checkNoCrash), { numRuns: 3000 });
});

test('random bytes never crash the compiler', () => {
  fc.assert(fc.property(bytesScript, checkNoCrash), { numRuns: 1000 });
});

function corpus(): string[] {
  const dir = join(HERE, 'testdata', 'cases');
  const scripts: string[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cases'))) {
    for (const chunk of readFileSync(join(dir, f), 'utf8').split(/^=== /m).slice(1)) {
      const at = chunk.search(/^script:\s*$/m);
      if (at >= 0)
        scripts.push(
          chunk
            .slice(at)
            .replace(/^script:\s*\n/, '')
            .split(/^--- include/m)[0] ?? '',
        );
    }
  }
  return scripts.filter((s) => compile(s).ok);
}

test('mutated valid scripts never crash and stay within limits', () => {
  const valid = corpus();
  assert.ok(valid.length > 100);
  const mutation = fc.record({
    index: fc.nat(valid.length - 1),
    edits: fc.array(
      fc.record({
        kind: fc.constantFrom('delete', 'insert', 'duplicate', 'swap'),
        at: fc.nat(),
        len: fc.integer({ min: 1, max: 12 }),
        text: fc.constantFrom(...WORDS),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  });
  fc.assert(
    fc.property(mutation, ({ index, edits }) => {
      let s = valid[index] ?? '';
      for (const e of edits) {
        const at = s.length === 0 ? 0 : e.at % s.length;
        if (e.kind === 'delete') s = s.slice(0, at) + s.slice(at + e.len);
        else if (e.kind === 'insert') s = s.slice(0, at) + e.text + s.slice(at);
        else if (e.kind === 'duplicate')
          s = s.slice(0, at) + s.slice(at, at + e.len).repeat(3) + s.slice(at);
        else s = s.slice(at) + s.slice(0, at);
      }
      checkNoCrash(s);
    }),
    { numRuns: 4000 },
  );
});

test('a catastrophic-backtracking regex on a long string finishes quickly', () => {
  const r = compile(
    'require ["regex","variables","fileinto"]; set "s" "${x}"; if header :regex "X-Long" "(a+)+$" { fileinto "m"; } if header :regex "X-Long" "^(a|a?)+b" { fileinto "n"; }',
  );
  if (!r.ok) throw new Error('expected a valid script');
  const long = 'a'.repeat(100_000) + '!';
  const started = Date.now();
  const out = evaluateSync(r.script, { message: `X-Long: ${long}\r\n\r\nbody\r\n` });
  const ms = Date.now() - started;
  assert.ok(ms < 3000, `took ${String(ms)} ms`);
  assert.equal(out.runtimeError, null);
});

test('wildcard patterns with many stars on long values stay within the step limit', () => {
  const r = compile(
    'require ["variables"]; if header :matches "X-Long" "*a*a*a*a*a*a*a*a*a*a*b" { discard; }',
  );
  if (!r.ok) throw new Error('expected a valid script');
  const started = Date.now();
  const out = evaluateSync(r.script, { message: `X-Long: ${'a'.repeat(20_000)}\r\n\r\n` });
  assert.ok(Date.now() - started < 3000);
  assert.ok(out.runtimeError === null || out.runtimeError.code === 'ERR_SIEVE_CPU_LIMIT');
});

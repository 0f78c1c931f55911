import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SieveError, SieveErrorCode } from './errors.js';
import { ParapetError } from '../../errors.js';

const HERE = new URL('.', import.meta.url).pathname;

test('every error code is documented in README.md and vice versa', () => {
  const readme = readFileSync(join(HERE, 'README.md'), 'utf8');
  const documented = new Set(readme.match(/ERR_SIEVE_[A-Z_]+/g) ?? []);
  for (const code of Object.keys(SieveErrorCode)) assert.ok(documented.has(code), code);
  for (const code of documented) assert.ok(code in SieveErrorCode, code);
});

test('SieveError is a positioned ParapetError', () => {
  const e = new SieveError('ERR_SIEVE_SYNTAX', 'bad', 3, 7);
  assert.ok(e instanceof ParapetError);
  assert.equal(e.code, 'ERR_SIEVE_SYNTAX');
  assert.equal(e.toPositionedString(), '3:7: bad');
});

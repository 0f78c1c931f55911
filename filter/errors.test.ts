import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { errorCatalogDrift, FilterErrorCode, ParapetError, toParapetError } from './errors.js';

test('every error code is documented in ERRORS.md and every documented code exists', async () => {
  const doc = await readFile(new URL('./ERRORS.md', import.meta.url), 'utf8');
  assert.deepEqual(errorCatalogDrift(FilterErrorCode, doc), { undocumented: [], stale: [] });
});

test('the drift check notices both directions', () => {
  const drift = errorCatalogDrift({ ERR_A: 'a', ERR_B: 'b' }, '`ERR_A` `ERR_C`');
  assert.deepEqual(drift, { undocumented: ['ERR_B'], stale: ['ERR_C'] });
});

test('foreign errors are wrapped with a code and keep their cause', () => {
  const cause = new Error('EIO');
  const wrapped = toParapetError('ERR_SPOOL_IO', cause);
  assert.equal(wrapped.code, 'ERR_SPOOL_IO');
  assert.equal(wrapped.cause, cause);
  const own = new ParapetError('ERR_MILTER_PROTOCOL', 'x');
  assert.equal(toParapetError('ERR_SPOOL_IO', own), own);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { errorCatalogDrift } from '../filter/index.js';
import { ApplianceErrorCode } from './errors.js';

test('appliance error codes and ERRORS.md agree', async () => {
  const doc = await readFile(new URL('./ERRORS.md', import.meta.url), 'utf8');
  assert.deepEqual(errorCatalogDrift(ApplianceErrorCode, doc), { undocumented: [], stale: [] });
});

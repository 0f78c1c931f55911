import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { errorCatalogDrift } from '../filter/index.js';
import { UI_ERROR_STATUS, UiErrorCode } from './errors.js';

test('ui error codes and ERRORS.md agree, statuses included', async () => {
  const doc = await readFile(new URL('./ERRORS.md', import.meta.url), 'utf8');
  assert.deepEqual(errorCatalogDrift(UiErrorCode, doc), { undocumented: [], stale: [] });
  for (const [code, status] of Object.entries(UI_ERROR_STATUS)) {
    assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${status} \\|`), code);
  }
});

// The pages name only modules that exist: every /app/X.js a page loads or preloads is compiled
// from ui/web/X.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const webDir = fileURLToPath(new URL('../web/', import.meta.url));

test('every module a page loads or preloads has its source', () => {
  const pages = readdirSync(`${webDir}static`).filter((f) => f.endsWith('.html'));
  assert.deepEqual(pages.sort(), ['manager.html', 'portal.html']);
  for (const page of pages) {
    const html = readFileSync(`${webDir}static/${page}`, 'utf8');
    const refs = [...html.matchAll(/(?:src|href)="\/app\/([^"]+)\.js"/g)].map((m) => m[1] ?? '');
    assert.ok(refs.length > 3, page);
    for (const ref of refs) assert.ok(existsSync(`${webDir}${ref}.ts`), `${page}: /app/${ref}.js`);
  }
});

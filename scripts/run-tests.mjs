// Runs the test files with node's built-in runner (TypeScript through tsx): unit, fuzz and
// transcript tests in parallel, then the end-to-end tests (real Postfix) one file at a time.
// Usage: node scripts/run-tests.mjs [--unit|--e2e] [FILTER...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const folders = ['filter', 'appliance', 'cluster', 'ui', 'provisioning', 'bin'];
const args = process.argv.slice(2);
const only = args.find((a) => a === '--unit' || a === '--e2e');
const filters = args.filter((a) => !a.startsWith('--'));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'testdata' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const all = folders.flatMap((f) => walk(join(root, f), [])).sort();
const selected = all.filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
const isE2e = (f) => f.includes('/e2e/') || f.endsWith('.e2e.test.ts');
const groups = [
  // A per-test timeout, so that a hung test fails instead of eating the CI budget.
  { name: 'unit', files: selected.filter((f) => !isE2e(f)), concurrency: 2, timeoutMs: 180_000 },
  { name: 'e2e', files: selected.filter(isE2e), concurrency: 1, timeoutMs: 600_000 },
].filter((g) => g.files.length > 0 && (only === undefined || only === `--${g.name}`));

let failed = false;
for (const group of groups) {
  console.log(`\n== ${group.name} tests: ${group.files.length} files ==`);
  const run = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${group.concurrency}`,
      `--test-timeout=${group.timeoutMs}`,
      ...group.files,
    ],
    { cwd: root, stdio: 'inherit' },
  );
  if (run.status !== 0) failed = true;
}
if (groups.length === 0) {
  console.error('run-tests: no test files selected');
  process.exit(1);
}
process.exit(failed ? 1 : 0);

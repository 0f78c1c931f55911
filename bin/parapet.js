#!/usr/bin/env node
// The `parapet` command. Runs the compiled tree (npm run build); see bin/main.ts.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/bin/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('parapet: not built yet: run `npm run build` in the checkout\n');
  process.exit(1);
}
await import(main);

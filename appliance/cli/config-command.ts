/**
 * `parapet config versions [--json]` and `parapet config show VERSION [--json]`: the
 * configuration versions the database service records from the node's configuration files
 * (config/config-versions.ts). Reads the node's database; never starts it.
 */
import type { Command } from 'commander';
import { ParapetError } from '../../filter/index.js';
import {
  listConfigVersions,
  readConfigVersion,
  type ConfigVersionMeta,
} from '../config/config-versions.js';
import { loadNodeConfig } from '../config/node-config.js';
import { openDatabase, type Db } from '../db/index.js';

async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const config = await loadNodeConfig();
  const { db } = await openDatabase(config.home, config.database, {
    applicationName: 'parapet-config',
    start: false,
  });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

const line = (v: ConfigVersionMeta): string =>
  `${String(v.version).padStart(6)}  ${v.createdAt.toISOString()}  ${v.author}` +
  `${v.nodeId === null ? '' : `  (${v.nodeId})`}${v.comment === null ? '' : `  ${v.comment}`}`;

export function registerConfigCommands(
  program: Command,
  /** Where output goes (tests capture it). */
  write: (text: string) => void = (text) => {
    process.stdout.write(text);
  },
): void {
  const config = program.command('config').description('versions of the node configuration');

  config
    .command('versions')
    .description('list the recorded configuration versions, newest first')
    .option('--json', 'one JSON array')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (opts: { json?: boolean; limit: string }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) {
        throw new ParapetError('ERR_CONFIG_INVALID', `--limit: not a positive whole number`);
      }
      const versions = await withDb((db) => listConfigVersions(db, limit));
      if (opts.json === true) write(`${JSON.stringify(versions)}\n`);
      else if (versions.length === 0) write('no configuration versions yet\n');
      else write(`${versions.map(line).join('\n')}\n`);
    });

  config
    .command('show')
    .description('print one version: its files (secrets left out) as JSON')
    .argument('<version>', 'version number (parapet config versions)')
    .option('--json', 'the version with its metadata as one JSON object')
    .action(async (version: string, opts: { json?: boolean }) => {
      if (!/^\d{1,15}$/.test(version)) {
        throw new ParapetError('ERR_NOT_FOUND', `no configuration version ${version.slice(0, 40)}`);
      }
      const v = await withDb((db) => readConfigVersion(db, Number(version)));
      if (opts.json === true) {
        write(`${JSON.stringify(v)}\n`);
        return;
      }
      write(`${line(v)}\n`);
      for (const [file, content] of Object.entries(v.content)) {
        const text = typeof content === 'string' ? content : JSON.stringify(content, null, 2);
        write(`\n== ${file}\n${text.endsWith('\n') ? text : `${text}\n`}`);
      }
    });
}

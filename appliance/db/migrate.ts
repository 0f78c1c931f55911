/**
 * Versioned, forward-only schema migrations: `migrations/NNNN_name.sql`, applied in order, each
 * in its own transaction together with its row in `schema_migrations`. A session-level advisory
 * lock serialises migrators, so two nodes (or two services) migrating the same database at
 * once is safe: the second waits, then finds nothing left to do. An applied file that was
 * edited afterwards is refused (its checksum no longer matches): migrations are never changed
 * after release (STYLE.md B8); add a new one.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ParapetError } from '../../filter/index.js';
import type { Db, Queryable } from './db.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export interface MigrateResult {
  /** Versions applied by this call, in order. */
  readonly applied: readonly number[];
  /** The schema version after the call. */
  readonly version: number;
}

/** Arbitrary but fixed: the advisory-lock key every Parapet migrator takes ("PRPT" + 1). */
export const MIGRATION_LOCK_KEY = 0x50525054_01;

/**
 * The migrations folder. Next to this module in a checkout; when running from dist/ (which
 * `tsc` does not copy .sql files to) the sources' folder is used.
 */
export function defaultMigrationsDir(): string {
  const here = fileURLToPath(new URL('./migrations/', import.meta.url));
  if (existsSync(here)) return here;
  return fileURLToPath(new URL('../../../appliance/db/migrations/', import.meta.url));
}

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** Reads and orders the migration files; throws on a duplicate version or a stray name. */
export async function loadMigrations(dir = defaultMigrationsDir()): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const fileName of names) {
    const match = FILE_NAME.exec(fileName);
    if (match === null) {
      throw new ParapetError('ERR_DB_MIGRATION_FAILED', `${fileName}: expected NNNN_name.sql`);
    }
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) {
      throw new ParapetError('ERR_DB_MIGRATION_FAILED', `${fileName}: duplicate version`);
    }
    const sql = await readFile(join(dir, fileName), 'utf8');
    const checksum = createHash('sha256').update(sql).digest('hex');
    migrations.push({ version, name: match[2] ?? '', sql, checksum });
  }
  return migrations;
}

/**
 * Brings the schema up to date. Safe to call at every start of every service. Throws
 * ERR_DB_MIGRATION_FAILED (nothing of the failed migration stays applied) or ERR_DB_UNAVAILABLE.
 */
export async function migrate(
  db: Db,
  options: { dir?: string; migrations?: readonly Migration[] } = {},
): Promise<MigrateResult> {
  const migrations = options.migrations ?? (await loadMigrations(options.dir));
  return db.withClient(async (client) => {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      return await migrateLocked(client, migrations);
    } finally {
      await client
        .query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
        .catch(() => undefined);
    }
  });
}

/** The file name without .sql, as the operator sees it. */
function label(m: Migration): string {
  return `${String(m.version).padStart(4, '0')}_${m.name}`;
}

async function migrateLocked(
  client: Queryable,
  migrations: readonly Migration[],
): Promise<MigrateResult> {
  await client.execute(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const rows = await client.query<{ version: number; name: string; checksum: string }>(
    'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
  );
  const done = new Map(rows.map((r) => [r.version, r]));
  for (const m of migrations) {
    const row = done.get(m.version);
    if (row !== undefined && row.checksum !== m.checksum) {
      throw new ParapetError(
        'ERR_DB_MIGRATION_FAILED',
        `migration ${label(m)} was changed after it was applied; add a new migration instead`,
      );
    }
  }
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    await client.execute('BEGIN');
    try {
      await client.execute(m.sql);
      await client.execute(
        'INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
        [m.version, m.name, m.checksum],
      );
      await client.execute('COMMIT');
    } catch (err) {
      await client.execute('ROLLBACK').catch(() => undefined);
      if (err instanceof ParapetError && err.code === 'ERR_DB_UNAVAILABLE') throw err;
      throw new ParapetError(
        'ERR_DB_MIGRATION_FAILED',
        `migration ${label(m)}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    applied.push(m.version);
  }
  const version = Math.max(0, ...migrations.map((m) => m.version), ...done.keys());
  return { applied, version };
}

/**
 * Test support: a throw-away, migrated PostgreSQL for the ui tests that need the database (the
 * node's own embedded cluster in a temp home on a free port, as `parapet start` would run it).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DATABASE_CONFIG, migrate, openDatabase, type Db } from '../../appliance/index.js';
import { freePort } from './free-port.js';

/** Why the database tests are skipped here, or false when they can run. */
export const PG_SKIP: string | false = !existsSync('/usr/lib/postgresql')
  ? 'no PostgreSQL server binaries'
  : process.env['PARAPET_SKIP_DB_TESTS'] === '1'
    ? 'PARAPET_SKIP_DB_TESTS=1'
    : false;

export interface TestDatabase {
  readonly db: Db;
  /** Closes the pool, stops the cluster and removes its home (idempotent). */
  stop(): Promise<void>;
}

export async function startTestDatabase(prefix = 'parapet-ui-pg-'): Promise<TestDatabase> {
  const home = await mkdtemp(join(tmpdir(), prefix));
  try {
    const opened = await openDatabase(home, {
      ...DEFAULT_DATABASE_CONFIG,
      port: await freePort(),
      poolMax: 4,
    });
    await migrate(opened.db);
    let stopped = false;
    return {
      db: opened.db,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await opened.db.close();
        await opened.embedded?.stop();
        await rm(home, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(home, { recursive: true, force: true });
    throw err;
  }
}

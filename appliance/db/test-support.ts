/**
 * For tests and benchmarks: a throw-away embedded PostgreSQL in a temp `$PARAPET_HOME` on a
 * free port, migrated, and stopped by PID when done (also when the test process dies early).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../test/e2e/support/free-port.js';
import { onProcessEnd } from '../test/e2e/support/process-util.js';
import { Db } from './db.js';
import { EmbeddedPostgres } from './embedded-postgres.js';
import { migrate } from './migrate.js';
import { listDebianPgBinaries } from './pg-binaries.js';

export interface TestPostgres {
  readonly home: string;
  readonly pg: EmbeddedPostgres;
  readonly db: Db;
  /** Closes the pool, stops the server and removes the home. */
  readonly cleanup: () => Promise<void>;
}

/** Why the database tests cannot run here, or undefined when they can. */
export function pgUnavailableReason(): string | undefined {
  if (process.env['PARAPET_SKIP_DB_TESTS'] === '1') return 'PARAPET_SKIP_DB_TESTS=1';
  return listDebianPgBinaries().length === 0
    ? 'no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (Debian package postgresql)'
    : undefined;
}

export async function startTestPostgres(
  options: { migrate?: boolean; poolMax?: number; statementTimeoutMs?: number } = {},
): Promise<TestPostgres> {
  const home = await mkdtemp(join(tmpdir(), 'parapet-db-'));
  const pg = new EmbeddedPostgres({ home, port: await findFreePort() });
  let stopped = false;
  onProcessEnd(() => {
    // The PID in the cluster's own lock file: tests restart the server, so it changes.
    if (stopped) return;
    try {
      const pid = Number(readFileSync(join(pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGQUIT');
    } catch {
      // Not running.
    }
  });
  await pg.start();
  const db = new Db(await pg.connection(), {
    poolMax: options.poolMax ?? 4,
    statementTimeoutMs: options.statementTimeoutMs ?? 60_000,
  });
  if (options.migrate !== false) await migrate(db);
  return {
    home,
    pg,
    db,
    cleanup: async () => {
      await db.close();
      await pg.stop();
      stopped = true;
      await rm(home, { recursive: true, force: true });
    },
  };
}

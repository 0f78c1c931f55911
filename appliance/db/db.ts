/**
 * PostgreSQL access through `pg`: one pool per process, typed queries, and transactions. Every
 * error leaving this module is a ParapetError: ERR_DB_UNAVAILABLE when the server could not be
 * reached or the connection broke (worth retrying later), ERR_DB_QUERY_FAILED when a statement
 * failed (its SQLSTATE is kept; see {@link sqlState}).
 */
import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
import { ParapetError } from '../../filter/index.js';
import type { DatabaseConfig } from './config.js';
import { EmbeddedPostgres, type EmbeddedConnection } from './embedded-postgres.js';

/** Where to connect: a URL, or explicit fields (the embedded cluster's). */
export type DbTarget = { readonly url: string } | EmbeddedConnection;

export interface DbOptions {
  readonly poolMax?: number;
  readonly connectTimeoutMs?: number;
  /** Server-side limit per statement; 0 = none. */
  readonly statementTimeoutMs?: number;
  /** `application_name` seen in pg_stat_activity (e.g. the service name). */
  readonly applicationName?: string;
}

/** What both the pool and a transaction's client can run. */
export interface Queryable {
  /** Runs one statement and returns its rows. */
  query<R extends QueryResultRow = QueryResultRow>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<R[]>;
  /** Runs one statement and returns how many rows it affected. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
}

/** The type OID of int8 (bigint) in pg_type. */
const INT8_OID = 20;

/**
 * int8 columns come back as JS numbers instead of strings: our bigints (sequences, counts, byte
 * sizes, 53-bit token ids) stay below 2^53.
 */
const builtinParser = pg.types.getTypeParser as (
  oid: number,
  format: 'text' | 'binary',
) => (value: string) => unknown;

const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === INT8_OID) return (v: string) => Number(v);
    return builtinParser(oid, format ?? 'text');
  },
};

export class Db implements Queryable {
  readonly #pool: pg.Pool;
  #closed = false;

  constructor(target: DbTarget, options: DbOptions = {}) {
    const statementTimeout = options.statementTimeoutMs ?? 60_000;
    this.#pool = new pg.Pool({
      ...('url' in target
        ? { connectionString: target.url }
        : {
            host: target.host,
            port: target.port,
            user: target.user,
            password: target.password,
            database: target.database,
          }),
      max: options.poolMax ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
      application_name: options.applicationName ?? 'parapet',
      ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
      types: typeParsers,
    });
    // An idle client whose server went away (restart, outage) emits here; without a listener
    // the process would die. The next query gets a fresh connection or a clear error.
    this.#pool.on('error', () => undefined);
  }

  async query<R extends QueryResultRow = QueryResultRow>(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<R[]> {
    try {
      const result = await this.#pool.query<R>(sql, params as unknown[]);
      return result.rows;
    } catch (err) {
      throw wrapPgError(err);
    }
  }

  async execute(sql: string, params: readonly unknown[] = []): Promise<number> {
    try {
      const result = await this.#pool.query(sql, params as unknown[]);
      return result.rowCount ?? 0;
    } catch (err) {
      throw wrapPgError(err);
    }
  }

  /**
   * Runs `fn` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when it
   * throws (and the error is rethrown). A connection that broke is not returned to the pool.
   */
  async transaction<T>(
    fn: (tx: Queryable) => Promise<T>,
    options: { isolation?: 'read committed' | 'repeatable read' | 'serializable' } = {},
  ): Promise<T> {
    return this.withClient(async (client) => {
      await client.query(
        options.isolation === undefined
          ? 'BEGIN'
          : `BEGIN ISOLATION LEVEL ${options.isolation.toUpperCase()}`,
      );
      try {
        const value = await fn(client);
        await client.query('COMMIT');
        return value;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * Lends one pooled connection to `fn` (session state such as advisory locks stays on it).
   * The connection is discarded instead of reused when `fn` failed on a broken connection.
   */
  async withClient<T>(fn: (client: Queryable) => Promise<T>): Promise<T> {
    let raw: PoolClient;
    try {
      raw = await this.#pool.connect();
    } catch (err) {
      throw wrapPgError(err);
    }
    let broken: Error | undefined;
    // A lent connection that drops (server stopped, network) emits 'error' on the client, and
    // pg's pool listens only while it is idle: without this listener the process would die of
    // an uncaught error instead of the query failing with ERR_DB_UNAVAILABLE.
    const onError = (err: Error): void => {
      broken = err;
    };
    raw.on('error', onError);
    try {
      return await fn(clientQueryable(raw));
    } catch (err) {
      if (err instanceof ParapetError && err.code === 'ERR_DB_UNAVAILABLE') broken = err;
      throw err;
    } finally {
      raw.off('error', onError);
      raw.release(broken);
    }
  }

  /** Closes every pooled connection; later calls fail with ERR_DB_UNAVAILABLE. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}

function clientQueryable(client: PoolClient): Queryable {
  return {
    async query<R extends QueryResultRow = QueryResultRow>(
      sql: string,
      params: readonly unknown[] = [],
    ): Promise<R[]> {
      try {
        return (await client.query<R>(sql, params as unknown[])).rows;
      } catch (err) {
        throw wrapPgError(err);
      }
    },
    async execute(sql: string, params: readonly unknown[] = []): Promise<number> {
      try {
        return (await client.query(sql, params as unknown[])).rowCount ?? 0;
      } catch (err) {
        throw wrapPgError(err);
      }
    },
  };
}

/**
 * SQLSTATE classes that mean "the server is not there or not usable right now" rather than
 * "this statement is wrong": 08 connection exception, 57P01-57P03 shutdown / cannot connect
 * now, 53 insufficient resources.
 */
function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (/^(08|53)/.test(code) || /^57P0[1-3]$/.test(code)) return true;
    if (/^E[A-Z]+$/.test(code)) return true; // Node socket errors: ECONNREFUSED, ECONNRESET…
  }
  const message = err instanceof Error ? err.message : String(err);
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|not queryable/i.test(
    message,
  );
}

function wrapPgError(err: unknown): ParapetError {
  if (err instanceof ParapetError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return isUnavailable(err)
    ? new ParapetError('ERR_DB_UNAVAILABLE', message, { cause: err })
    : new ParapetError('ERR_DB_QUERY_FAILED', message, { cause: err });
}

/** The SQLSTATE of a failed statement (e.g. '23505' unique violation), if there is one. */
export function sqlState(err: unknown): string | undefined {
  const cause = err instanceof ParapetError ? err.cause : err;
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Opens the node's database: the external one at `config.url`, or else the embedded cluster
 * under `home`, started when it is not running unless `start` is false (a CLI command that
 * must not bring up a server then gets ERR_DB_UNAVAILABLE). The embedded handle is returned so
 * the caller (`parapet start`) can stop it; with an external URL it is null.
 */
export async function openDatabase(
  home: string,
  config: DatabaseConfig,
  options: { applicationName?: string; start?: boolean } = {},
): Promise<{ db: Db; embedded: EmbeddedPostgres | null }> {
  const dbOptions: DbOptions = {
    poolMax: config.poolMax,
    connectTimeoutMs: config.connectTimeoutMs,
    statementTimeoutMs: config.statementTimeoutMs,
    ...(options.applicationName === undefined ? {} : { applicationName: options.applicationName }),
  };
  if (config.url !== null) return { db: new Db({ url: config.url }, dbOptions), embedded: null };
  const embedded = new EmbeddedPostgres({
    home,
    port: config.port,
    binDir: config.binDir,
    systemUser: config.systemUser,
  });
  if (options.start === false) {
    if (!(await embedded.status()).running) {
      throw new ParapetError(
        'ERR_DB_UNAVAILABLE',
        `the node's database in ${embedded.dataDir} is not running (parapet start runs it)`,
      );
    }
  } else {
    await embedded.start();
  }
  return { db: new Db(await embedded.connection(), dbOptions), embedded };
}

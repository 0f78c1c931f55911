/**
 * The `database` section of the node's local settings (`$PARAPET_HOME/config/node.json`). With
 * no `url` the node runs its own (embedded) PostgreSQL under `$PARAPET_HOME/db`; with a `url`
 * it uses that external PostgreSQL and starts nothing.
 */
import { ParapetError } from '../../filter/index.js';

export interface DatabaseConfig {
  /** `postgres://…` of an external PostgreSQL; null = run the embedded one (default). */
  readonly url: string | null;
  /** TCP port of the embedded PostgreSQL on 127.0.0.1 (default 5432, the central node's). */
  readonly port: number;
  /** Folder holding initdb and postgres; null = the newest /usr/lib/postgresql/<ver>/bin, then PATH. */
  readonly binDir: string | null;
  /**
   * System user the embedded PostgreSQL runs as when the node runs as root; null = `parapet`
   * (created with `useradd --system` when missing), else `postgres`. Ignored when not root.
   */
  readonly systemUser: string | null;
  /** Most pooled connections per process (default 10). */
  readonly poolMax: number;
  /** How long opening a connection may take (default 10000). */
  readonly connectTimeoutMs: number;
  /** Server-side limit for one statement; 0 = none (default 60000). */
  readonly statementTimeoutMs: number;
}

export const DEFAULT_DATABASE_CONFIG: DatabaseConfig = Object.freeze({
  url: null,
  port: 5432,
  binDir: null,
  systemUser: null,
  poolMax: 10,
  connectTimeoutMs: 10_000,
  statementTimeoutMs: 60_000,
});

/**
 * Validates the `database` object of node.json (undefined = all defaults) and fills in the
 * defaults. Throws ERR_CONFIG_INVALID naming `file` and the key.
 */
export function parseDatabaseConfig(raw: unknown, file: string): DatabaseConfig {
  if (raw === undefined || raw === null) return DEFAULT_DATABASE_CONFIG;
  const bad = (what: string): never => {
    throw new ParapetError('ERR_CONFIG_INVALID', `${file}: database.${what}`);
  };
  if (typeof raw !== 'object' || Array.isArray(raw)) return bad('must be an object');
  const r = raw as Record<string, unknown>;
  const pick = (key: keyof DatabaseConfig): unknown =>
    key in r ? r[key] : DEFAULT_DATABASE_CONFIG[key];
  const url = pick('url');
  const port = pick('port');
  const binDir = pick('binDir');
  const systemUser = pick('systemUser');
  const poolMax = pick('poolMax');
  const connectTimeoutMs = pick('connectTimeoutMs');
  const statementTimeoutMs = pick('statementTimeoutMs');
  if (url !== null && (typeof url !== 'string' || !/^postgres(ql)?:\/\//.test(url))) {
    bad('url must be null or a postgres:// URL');
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    bad('port must be a port number');
  }
  if (binDir !== null && (typeof binDir !== 'string' || binDir === '')) bad('binDir');
  if (
    systemUser !== null &&
    (typeof systemUser !== 'string' || !/^[a-z_][a-z0-9_-]*$/.test(systemUser))
  ) {
    bad('systemUser must be a user name');
  }
  if (typeof poolMax !== 'number' || !Number.isInteger(poolMax) || poolMax < 1) {
    bad('poolMax must be a positive integer');
  }
  if (typeof connectTimeoutMs !== 'number' || !(connectTimeoutMs > 0)) {
    bad('connectTimeoutMs must be positive');
  }
  if (typeof statementTimeoutMs !== 'number' || !(statementTimeoutMs >= 0)) {
    bad('statementTimeoutMs must be 0 or positive');
  }
  return Object.freeze({
    url: url as string | null,
    port: port as number,
    binDir: binDir as string | null,
    systemUser: systemUser as string | null,
    poolMax: poolMax as number,
    connectTimeoutMs: connectTimeoutMs as number,
    statementTimeoutMs: statementTimeoutMs as number,
  });
}

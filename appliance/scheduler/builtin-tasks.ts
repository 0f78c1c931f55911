/**
 * Built-in jobs that run inside the Scheduler (or `parapet scheduler run`) instead of as a
 * `parapet` child process: the message-log roll-up, database maintenance, Bayes expiry and
 * the end-user quarantine digest (quarantine-digest.ts; the only one that runs without the
 * database, from the quarantine files).
 * Each opens the node's database (never starting the embedded server: the database service
 * owns it), does its work and returns a one-line summary for the run log; a failure throws.
 *
 * Retention comes from `$PARAPET_HOME/config/node.json`, key `maintenance`:
 * `messageLogDays` (90), `rollupDays` (730), `schedulerRunDays` (90), `bayesTokenDays` (180).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expireTokens, openJsonFileTokenStore, ParapetError } from '../../filter/index.js';
import type { NodeConfig } from '../config/node-config.js';
import { openDatabase, rollupMessageLog, type Db } from '../db/index.js';
import { describeDigestRun, runQuarantineDigest } from './quarantine-digest.js';
import { PgTokenStore } from '../db/bayes-token-store.js';
import {
  bayesPaths,
  nodeUsesDatabase,
  refreshSnapshot,
  shipLearnSpool,
  shipTouchSpool,
} from '../services/bayes-sync.js';
import { applyLearnSpool } from '../services/bayes-autolearn.js';
import { refusalLogFiles } from '../ipblocker/refusal-log.js';
import { applyTouchSpool } from '../services/bayes-touch-spool.js';
import {
  DEFAULT_RETENTION,
  rollupIpBlockLog,
  runDatabaseMaintenance,
  snapshotQuarantineSize,
  type RetentionDays,
} from '../db/report-rollup-repo.js';

export interface MaintenanceSettings extends RetentionDays {
  /** Bayes tokens not seen for this many days are expired. */
  readonly bayesTokenDays: number;
}

export const DEFAULT_MAINTENANCE: MaintenanceSettings = {
  ...DEFAULT_RETENTION,
  bayesTokenDays: 180,
};

/** Reads the `maintenance` key of node.json; throws ERR_CONFIG_INVALID on a bad value. */
export async function readMaintenanceSettings(configDir: string): Promise<MaintenanceSettings> {
  const file = join(configDir, 'node.json');
  if (!existsSync(file)) return DEFAULT_MAINTENANCE;
  let raw: unknown;
  try {
    raw = (JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>)['maintenance'];
  } catch (err) {
    throw new ParapetError('ERR_CONFIG_INVALID', `${file}: ${String(err)}`, { cause: err });
  }
  if (raw === undefined) return DEFAULT_MAINTENANCE;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ParapetError('ERR_CONFIG_INVALID', `${file}: maintenance must be an object`);
  }
  const given = raw as Record<string, unknown>;
  const out: Record<string, number> = { ...DEFAULT_MAINTENANCE };
  for (const key of Object.keys(DEFAULT_MAINTENANCE)) {
    const value = given[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 36_600) {
      throw new ParapetError(
        'ERR_CONFIG_INVALID',
        `${file}: maintenance.${key} must be a whole number of days (1 to 36600)`,
      );
    }
    out[key] = value;
  }
  if ((out['rollupDays'] ?? 0) < (out['messageLogDays'] ?? 0)) {
    throw new ParapetError(
      'ERR_CONFIG_INVALID',
      `${file}: maintenance.rollupDays must be at least messageLogDays`,
    );
  }
  return out as unknown as MaintenanceSettings;
}

/** What a built-in task gets: the node, its database, and the time it runs at. */
export interface TaskContext {
  readonly config: Pick<NodeConfig, 'home' | 'nodeId' | 'paths' | 'web'>;
  readonly db: Db;
  readonly settings: MaintenanceSettings;
  readonly now: Date;
}

const DAY_MS = 86_400_000;

/**
 * `message-log-rollup`: recomputes the roll-ups of yesterday and today (UTC), late records
 * included, the IP Blocker's daily counts from its log, and today's quarantine size.
 */
export async function runMessageLogRollupTask(ctx: TaskContext): Promise<string> {
  const today = Date.UTC(ctx.now.getUTCFullYear(), ctx.now.getUTCMonth(), ctx.now.getUTCDate());
  const from = new Date(today - DAY_MS);
  const to = new Date(today + DAY_MS);
  const hours = await rollupMessageLog(ctx.db, from, to);
  const blocked = await rollupIpBlockLog(ctx.db, {
    nodeId: ctx.config.nodeId,
    logFiles: refusalLogFiles(ctx.config.paths.ipblockLog),
    from,
    to,
  });
  const held = await snapshotQuarantineSize(ctx.db, ctx.now);
  return (
    `rolled up ${from.toISOString().slice(0, 10)}..${new Date(today).toISOString().slice(0, 10)}: ` +
    `${String(hours)} hourly rows, ${String(blocked.refusals)} refused connections, ` +
    `${String(held)} messages held`
  );
}

/** `db-maintenance`: retention deletes and ANALYZE. */
export async function runDbMaintenanceTask(ctx: TaskContext): Promise<string> {
  const r = await runDatabaseMaintenance(ctx.db, ctx.settings, ctx.now);
  return (
    `deleted ${String(r.messageLogDeleted)} message-log rows older than ` +
    `${String(ctx.settings.messageLogDays)} days, ${String(r.rollupRowsDeleted)} roll-up rows, ` +
    `${String(r.otherRowsDeleted)} other rows; analyzed`
  );
}

/**
 * `bayes-expiry` with the node's database: applies the policy service's touch spool to
 * bayes_tokens.last_seen (so tokens scans still use stay) and its auto-learn spool, then drops tokens not seen for
 * `bayesTokenDays` and message keys learned before then from the shared store, and refreshes
 * the node's snapshot. The snapshot file is a cache then and is not expired by itself.
 */
export async function runBayesExpiryTask(ctx: TaskContext): Promise<string> {
  const cutoff = new Date(ctx.now.getTime() - ctx.settings.bayesTokenDays * DAY_MS);
  const paths = bayesPaths(ctx.config.home);
  const touched = await shipTouchSpool(ctx.db, paths);
  await shipLearnSpool(ctx.db, paths);
  const removed = await new PgTokenStore(ctx.db).expire(cutoff.getTime());
  await refreshSnapshot(ctx.db, paths);
  return (
    `expired tokens not seen since ${cutoff.toISOString().slice(0, 10)}: ` +
    `${String(removed)} from the database (${String(touched.tokens)} last-seen updates applied)`
  );
}

/**
 * `bayes-expiry` on a node without a database: the same on the JSON-file store
 * (`$PARAPET_HOME/bayes/tokens.json`, when it exists), which is also when such a node learns
 * what the policy service queued for auto-learn. A node that has a database which is
 * down fails instead (ERR_DB_UNAVAILABLE): its file is the database's cache.
 */
export async function runBayesExpiryOnFile(
  config: TaskContext['config'] & Pick<NodeConfig, 'database'>,
  now: Date,
): Promise<string> {
  if (nodeUsesDatabase(config)) {
    throw new ParapetError('ERR_DB_UNAVAILABLE', "the node's database is not running");
  }
  const settings = await readMaintenanceSettings(config.paths.config);
  const cutoff = new Date(now.getTime() - settings.bayesTokenDays * DAY_MS);
  const paths = bayesPaths(config.home);
  const since = `expired tokens not seen since ${cutoff.toISOString().slice(0, 10)}`;
  if (!existsSync(paths.tokens)) return `${since}: no token store`;
  const store = await openJsonFileTokenStore(paths.tokens);
  const touched = await applyTouchSpool(paths.touched, (dayMs, tokens) =>
    store.touch(tokens, dayMs),
  );
  // The policy service's auto-learn spool: the file has no other writer on a running node.
  const learned = await applyLearnSpool(paths.autolearn, async (entry) => {
    if ((await store.learnedAs(entry.key)) !== null) return false;
    const change = { messageKey: entry.key, tokens: entry.tokens, from: null, to: entry.class };
    await store.update({ ...change, atMs: entry.atMs });
    return true;
  });
  const removed = await expireTokens(store, settings.bayesTokenDays, now);
  await store.flush();
  return (
    `${since}: ${String(removed)} from bayes/tokens.json ` +
    `(${String(touched.tokens)} last-seen updates applied, ` +
    `${String(learned.learned)} messages auto-learned)`
  );
}

/** The built-in tasks by job name. */
export const BUILTIN_TASKS: ReadonlyMap<string, (ctx: TaskContext) => Promise<string>> = new Map([
  ['message-log-rollup', runMessageLogRollupTask],
  ['db-maintenance', runDbMaintenanceTask],
  ['bayes-expiry', runBayesExpiryTask],
  [
    'quarantine-digest',
    async (ctx: TaskContext) =>
      describeDigestRun(await runQuarantineDigest(ctx.config, ctx.db, ctx.now)),
  ],
]);

/** Tasks that still run, without a database, when it cannot be reached. */
const WITHOUT_DATABASE: ReadonlyMap<
  string,
  (config: TaskContext['config'] & Pick<NodeConfig, 'database'>, now: Date) => Promise<string>
> = new Map([
  [
    'quarantine-digest',
    async (config: TaskContext['config'], now: Date) =>
      describeDigestRun(await runQuarantineDigest(config, null, now)),
  ],
  ['bayes-expiry', runBayesExpiryOnFile],
]);

/**
 * Runs a built-in task for the node at `config`: opens its database (ERR_DB_UNAVAILABLE when
 * the embedded server is not running), runs, closes. Statements get no time limit: a first
 * roll-up of a long backlog or a first prune may take minutes.
 */
export async function runBuiltinTask(
  name: string,
  config: Pick<NodeConfig, 'home' | 'nodeId' | 'paths' | 'database' | 'web'>,
  now = new Date(),
): Promise<string> {
  const task = BUILTIN_TASKS.get(name);
  if (task === undefined) throw new ParapetError('ERR_NOT_FOUND', `no built-in task '${name}'`);
  const settings = await readMaintenanceSettings(config.paths.config);
  const fallback = WITHOUT_DATABASE.get(name);
  let db: Db;
  try {
    ({ db } = await openDatabase(
      config.home,
      { ...config.database, statementTimeoutMs: 0, poolMax: 2 },
      { applicationName: `parapet-job-${name}`, start: false },
    ));
  } catch (err) {
    if (fallback === undefined || !isUnavailable(err)) throw err;
    return fallback(config, now);
  }
  if (fallback !== undefined) {
    // An external URL opens lazily: ask once, so a database that is away means the fallback
    // rather than a failed run.
    try {
      await db.query('SELECT 1');
    } catch (err) {
      await db.close();
      if (!isUnavailable(err)) throw err;
      return fallback(config, now);
    }
  }
  try {
    return await task({ config, db, settings, now });
  } finally {
    await db.close();
  }
}

const isUnavailable = (err: unknown): boolean =>
  err instanceof ParapetError && err.code === 'ERR_DB_UNAVAILABLE';

/**
 * The roll-ups that do not come from message_log: connections the IP Blocker refused (from
 * the node's `log/ipblock.jsonl`, one JSON line per refusal) and the quarantine's size. Both
 * recompute or overwrite what they cover, so the scheduler may run them any number of times.
 */
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Db, Queryable } from './db.js';
import { storableJson } from './sql-json.js';

/** Clients kept by address per node and day; the rest are summed under client ''. */
const TOP_CLIENTS_PER_DAY = 1000;
/** Longer lines are not IP Blocker records (a torn or foreign line): skipped. */
const MAX_LINE_CHARS = 8192;

export interface IpBlockRollupResult {
  /** Refusals counted in the range. */
  readonly refusals: number;
  /** ipblock_daily rows written. */
  readonly rows: number;
  /** Lines skipped as unreadable. */
  readonly skipped: number;
}

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Recomputes this node's ipblock_daily rows for every UTC day [from, to) touches from the IP
 * Blocker's log files (`logFiles`, the rotated generations and the current file). Lines are `{"time","client","source","action",…}` as the ipblocker service
 * writes them; lines of other nodes, outside the days, or not parseable are skipped. A missing
 * file means no refusals in it. The files are read as streams (append-only, up to 16 MiB each).
 */
export async function rollupIpBlockLog(
  db: Db,
  options: { nodeId: string; logFiles: readonly string[]; from: Date; to: Date },
): Promise<IpBlockRollupResult> {
  const first = dayOf(options.from.getTime());
  const last = dayOf(options.to.getTime() - 1);
  // day → "client\0source\0action" → count
  const counts = new Map<string, Map<string, number>>();
  let refusals = 0;
  let skipped = 0;
  // Every generation the IP Blocker keeps (ipblocker/refusal-log.ts, oldest first): a day's
  // lines may straddle a rotation.
  for (const file of options.logFiles.filter((f) => existsSync(f))) {
    const lines = createInterface({
      input: createReadStream(file, { encoding: 'utf8' }),
      crlfDelay: Infinity,
    });
    for await (const line of lines) {
      if (line === '') continue;
      const record = parseIpBlockLine(line);
      if (record === null) {
        skipped++;
        continue;
      }
      if (record.nodeId !== null && record.nodeId !== options.nodeId) continue;
      const day = dayOf(record.timeMs);
      if (day < first || day > last) continue;
      let perDay = counts.get(day);
      if (perDay === undefined) {
        perDay = new Map();
        counts.set(day, perDay);
      }
      const key = `${record.client}\0${record.source}\0${record.action}`;
      perDay.set(key, (perDay.get(key) ?? 0) + 1);
      refusals++;
    }
  }
  const rows: { bucket: string; client: string; source: string; action: string; n: number }[] = [];
  for (const [day, perDay] of counts) {
    // Busiest clients by address; the long tail summed per source and action.
    const byClient = new Map<string, number>();
    for (const [key, n] of perDay) {
      const client = key.slice(0, key.indexOf('\0'));
      byClient.set(client, (byClient.get(client) ?? 0) + n);
    }
    const kept = new Set(
      [...byClient.entries()]
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .slice(0, TOP_CLIENTS_PER_DAY)
        .map(([client]) => client),
    );
    const merged = new Map<string, number>();
    for (const [key, n] of perDay) {
      const [client = '', source = '', action = ''] = key.split('\0');
      const k = `${kept.has(client) ? client : ''}\0${source}\0${action}`;
      merged.set(k, (merged.get(k) ?? 0) + n);
    }
    for (const [key, n] of merged) {
      const [client = '', source = '', action = ''] = key.split('\0');
      rows.push({ bucket: day, client, source, action, n });
    }
  }
  const written = await db.transaction(async (tx) => {
    await tx.execute(
      'DELETE FROM ipblock_daily WHERE node_id = $1 AND bucket >= $2::date AND bucket <= $3::date',
      [options.nodeId, first, last],
    );
    if (rows.length === 0) return 0;
    return tx.execute(
      `INSERT INTO ipblock_daily (bucket, node_id, client, source, action, connections)
       SELECT r.bucket, $2, r.client, r.source, r.action, r.n
       FROM jsonb_to_recordset($1::jsonb) AS r(bucket date, client text, source text,
         action text, n bigint)`,
      [storableJson(rows), options.nodeId],
    );
  });
  return { refusals, rows: written, skipped };
}

interface IpBlockLine {
  readonly timeMs: number;
  readonly nodeId: string | null;
  readonly client: string;
  readonly source: string;
  readonly action: string;
}

/** One line of log/ipblock.jsonl, or null when it is not a refusal record. */
export function parseIpBlockLine(line: string): IpBlockLine | null {
  if (line.length > MAX_LINE_CHARS) return null;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  const time = typeof v['time'] === 'string' ? Date.parse(v['time']) : NaN;
  if (Number.isNaN(time)) return null;
  const text = (x: unknown, max: number): string | null =>
    typeof x === 'string' && x !== '' ? x.slice(0, max) : null;
  return {
    timeMs: time,
    nodeId: text(v['nodeId'], 200),
    client: text(v['client'], 64) ?? 'unknown',
    source: text(v['source'], 200) ?? 'unknown',
    action: text(v['action'], 32) ?? 'unknown',
  };
}

/**
 * Records the quarantine's current size (held messages and bytes, per node) as today's row of
 * quarantine_size_daily, replacing an earlier measurement of the same day. Returns the number
 * of messages held on all nodes.
 */
export async function snapshotQuarantineSize(db: Queryable, now = new Date()): Promise<number> {
  const rows = await db.query<{ held: number }>(
    `WITH sizes AS (
       SELECT node_id, count(*) AS held, coalesce(sum(size_bytes), 0) AS held_bytes
       FROM quarantine WHERE status = 'held' GROUP BY node_id),
     written AS (
       INSERT INTO quarantine_size_daily (bucket, node_id, held, held_bytes, measured_at)
       SELECT $1::date, node_id, held, held_bytes, $2 FROM sizes
       ON CONFLICT (bucket, node_id) DO UPDATE
         SET held = EXCLUDED.held, held_bytes = EXCLUDED.held_bytes,
             measured_at = EXCLUDED.measured_at)
     SELECT coalesce(sum(held), 0)::bigint AS held FROM sizes`,
    [dayOf(now.getTime()), now],
  );
  // Nodes whose quarantine emptied today get zero instead of keeping an earlier figure.
  await db.execute(
    `UPDATE quarantine_size_daily SET held = 0, held_bytes = 0, measured_at = $2
     WHERE bucket = $1::date AND measured_at < $2
       AND node_id NOT IN (SELECT DISTINCT node_id FROM quarantine WHERE status = 'held')`,
    [dayOf(now.getTime()), now],
  );
  return rows[0]?.held ?? 0;
}

/** How long each kind of data is kept (days). */
export interface RetentionDays {
  /** message_log rows and the hourly roll-ups (default 90). */
  readonly messageLogDays: number;
  /** Daily roll-ups, report tables, IP Blocker and quarantine-size rows (default 730). */
  readonly rollupDays: number;
  /** Scheduler run rows (default 90). */
  readonly schedulerRunDays: number;
}

export const DEFAULT_RETENTION: RetentionDays = {
  messageLogDays: 90,
  rollupDays: 730,
  schedulerRunDays: 90,
};

export interface MaintenanceResult {
  readonly messageLogDeleted: number;
  readonly rollupRowsDeleted: number;
  readonly otherRowsDeleted: number;
}

/** Rows deleted per statement, so a first prune of a big backlog never runs into the limit. */
const DELETE_BATCH = 50_000;
/** Batches per run (5,000,000 rows); the rest goes the next day. */
const MAX_BATCHES = 100;

/**
 * Database maintenance: deletes what is past its retention (message_log in batches, oldest
 * first), then refreshes the planner statistics (ANALYZE). Roll-ups outlive the raw log, so
 * reports over old ranges keep working after the rows they came from are gone.
 */
export async function runDatabaseMaintenance(
  db: Queryable,
  retention: RetentionDays = DEFAULT_RETENTION,
  now = new Date(),
): Promise<MaintenanceResult> {
  const cutoff = (days: number): Date => new Date(now.getTime() - days * 86_400_000);
  const logCutoff = cutoff(retention.messageLogDays);
  let messageLogDeleted = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const n = await db.execute(
      `DELETE FROM message_log WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM message_log WHERE ts < $1 LIMIT ${String(DELETE_BATCH)}))`,
      [logCutoff],
    );
    messageLogDeleted += n;
    if (n < DELETE_BATCH) break;
  }
  const rollupCutoff = cutoff(retention.rollupDays);
  const day = (d: Date): string => dayOf(d.getTime());
  let rollupRowsDeleted = 0;
  rollupRowsDeleted += await db.execute('DELETE FROM message_log_hourly WHERE bucket < $1', [
    logCutoff,
  ]);
  rollupRowsDeleted += await db.execute('DELETE FROM report_category_hourly WHERE bucket < $1', [
    logCutoff,
  ]);
  for (const table of [
    'message_log_daily',
    'report_category_daily',
    'report_top_daily',
    'ipblock_daily',
    'quarantine_size_daily',
  ]) {
    rollupRowsDeleted += await db.execute(`DELETE FROM ${table} WHERE bucket < $1::date`, [
      day(rollupCutoff),
    ]);
  }
  const otherRowsDeleted = await db.execute(`DELETE FROM scheduler_runs WHERE started_at < $1`, [
    cutoff(retention.schedulerRunDays),
  ]);
  await db.execute('ANALYZE');
  return { messageLogDeleted, rollupRowsDeleted, otherRowsDeleted };
}

/** Deletes shared Bayes tokens (bayes_tokens) not seen since `cutoff`; returns how many. */
export async function expireBayesTokensInDb(db: Queryable, cutoff: Date): Promise<number> {
  return db.execute('DELETE FROM bayes_tokens WHERE last_seen < $1', [cutoff]);
}

/**
 * The Reports tab's queries (issue 6, PureMessage's report catalogue): one function per
 * report, each reading only the roll-up tables of migrations 0002 and 0006 — never
 * message_log — so a report over tens of millions of messages reads a few thousand rows.
 * The scheduler's `message-log-rollup` job keeps the roll-ups current (last two days, hourly).
 *
 * Ranges are [from, to). Time series use hourly buckets when the range is 48 hours or less
 * (all-mail reports only) and otherwise whole UTC days: a day bucket covers every day the range
 * touches. Missing buckets come back as zeros, so graphs have no gaps.
 *
 * Scope (group administrators): a report with `scope` counts only mail addressed to the scope's
 * domains (exact domain, lower case) and addresses. Category and quarantine series honour both;
 * top lists honour domains, and for addresses only the recipient lists (the roll-ups keep no
 * per-address top lists). An empty scope sees nothing. A message addressed to two scoped
 * domains counts once for each.
 */
import { ParapetError } from '../../filter/index.js';
import type { Queryable } from './db.js';

/** Which mail a group administrator may see: recipient domains and addresses. */
export interface ReportScope {
  readonly domains: readonly string[];
  readonly addresses: readonly string[];
}

export interface ReportQuery {
  /** Inclusive start. */
  readonly from: Date;
  /** Exclusive end. */
  readonly to: Date;
  /** One node only; all nodes when absent. */
  readonly nodeId?: string;
  /** Rows of a top list (default 10, at most 500). */
  readonly limit?: number;
  /** Restrict to a group's mail; absent = all mail (global administrators). */
  readonly scope?: ReportScope;
}

export type Granularity = 'hour' | 'day';

/** Report categories, in display order. */
export const MESSAGE_CATEGORIES = ['clean', 'spam', 'virus', 'blocked', 'tempfail'] as const;
export type MessageCategory = (typeof MESSAGE_CATEGORIES)[number];

export interface CategoryBucket {
  /** Start of the bucket (UTC hour or UTC midnight). */
  readonly bucket: Date;
  readonly clean: number;
  readonly spam: number;
  readonly virus: number;
  readonly blocked: number;
  readonly tempfail: number;
  readonly total: number;
  readonly bytes: number;
}

export interface CategoryReport {
  readonly granularity: Granularity;
  readonly buckets: readonly CategoryBucket[];
  /** Sums over the whole range. */
  readonly totals: Omit<CategoryBucket, 'bucket'>;
}

export interface TopRow {
  readonly key: string;
  readonly messages: number;
}

/** Dimensions of the top-N roll-up (report_top_daily). */
export const TOP_DIMENSIONS = [
  'sender_spam',
  'sender_virus',
  'relay_spam',
  'relay_virus',
  'recipient',
  'recipient_spam',
  'virus',
  'rule',
  'mark',
  'attachment_type',
] as const;
export type TopDimension = (typeof TOP_DIMENSIONS)[number];

export interface IpBlockBucket {
  readonly bucket: Date;
  readonly connections: number;
  /** Refusals by what caused them: 'local', 'reputation', 'dnsbl:<zone>'. */
  readonly bySource: Readonly<Record<string, number>>;
}

export interface IpBlockReport {
  readonly granularity: 'day';
  readonly buckets: readonly IpBlockBucket[];
  /** Most refused client addresses ('' sums the clients past each day's busiest 1000). */
  readonly top: readonly TopRow[];
  readonly total: number;
}

export interface QuarantineSizeBucket {
  readonly bucket: Date;
  /** Messages quarantined that day, and their bytes. */
  readonly quarantined: number;
  readonly quarantinedBytes: number;
  /** Messages held at the day's last measurement (null: not measured, or a scoped report). */
  readonly held: number | null;
  readonly heldBytes: number | null;
}

export interface QuarantineSizeReport {
  readonly granularity: 'day';
  readonly buckets: readonly QuarantineSizeBucket[];
}

const DAY_MS = 86_400_000;
const HOURLY_MAX_MS = 48 * 3_600_000;
/** A range longer than this is refused (ten years of day buckets). */
const MAX_RANGE_MS = 3660 * DAY_MS;

interface Normalised {
  readonly from: Date;
  readonly to: Date;
  readonly nodeId: string | null;
  readonly limit: number;
  /** null = all mail. */
  readonly domains: string[] | null;
  readonly addresses: string[] | null;
  /** First and last UTC day (ISO date) the range touches. */
  readonly dayFrom: string;
  readonly dayTo: string;
}

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Checks and normalises a query; throws ERR_REPORT_INVALID on a bad range or limit. */
function normalise(q: ReportQuery): Normalised {
  const from = q.from.getTime();
  const to = q.to.getTime();
  if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) {
    throw new ParapetError('ERR_REPORT_INVALID', 'a report needs a range with from < to');
  }
  if (to - from > MAX_RANGE_MS) {
    throw new ParapetError('ERR_REPORT_INVALID', 'a report range is at most ten years');
  }
  const limit = q.limit ?? 10;
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw new ParapetError('ERR_REPORT_INVALID', 'a report limit is 1 to 500 rows');
  }
  const clean = (list: readonly string[], strip: boolean): string[] => [
    ...new Set(
      list
        .map((s) => s.trim().toLowerCase())
        .map((s) => (strip ? s.replace(/^@/, '') : s))
        .filter((s) => s !== ''),
    ),
  ];
  const domains = q.scope === undefined ? null : clean(q.scope.domains, true);
  // An address in a scoped domain is already counted by its domain.
  const addresses =
    q.scope === undefined || domains === null
      ? null
      : clean(q.scope.addresses, false).filter(
          (a) => a.includes('@') && !domains.includes(a.slice(a.lastIndexOf('@') + 1)),
        );
  return {
    from: q.from,
    to: q.to,
    nodeId: q.nodeId ?? null,
    limit,
    domains,
    addresses,
    dayFrom: isoDay(q.from),
    dayTo: isoDay(new Date(to - 1)),
  };
}

function granularityOf(n: Normalised): Granularity {
  return n.domains === null && n.to.getTime() - n.from.getTime() <= HOURLY_MAX_MS ? 'hour' : 'day';
}

/** The scope values a scoped query reads in report_category_daily ('' = all mail). */
function categoryScopes(n: Normalised): string[] {
  return n.domains === null ? [''] : [...n.domains, ...(n.addresses ?? [])];
}

interface CategoryRaw {
  bucket: Date;
  category: string | null;
  messages: number;
  bytes: number;
}

/** Messages per category over time (PureMessage "message categories"). */
export async function reportMessageCategories(
  db: Queryable,
  query: ReportQuery,
): Promise<CategoryReport> {
  const n = normalise(query);
  const granularity = granularityOf(n);
  const rows =
    granularity === 'hour'
      ? await db.query<CategoryRaw>(
          `SELECT g.bucket, c.category, coalesce(c.messages, 0) AS messages,
                  coalesce(c.bytes, 0) AS bytes
           FROM generate_series(date_trunc('hour', $1::timestamptz AT TIME ZONE 'UTC')
                                  AT TIME ZONE 'UTC',
                                $2::timestamptz - interval '1 microsecond',
                                interval '1 hour') AS g(bucket)
           LEFT JOIN (SELECT bucket, category, sum(messages)::bigint AS messages,
                             sum(bytes)::bigint AS bytes
                      FROM report_category_hourly
                      WHERE bucket >= date_trunc('hour', $1::timestamptz AT TIME ZONE 'UTC')
                                        AT TIME ZONE 'UTC'
                        AND bucket < $2 AND ($3::text IS NULL OR node_id = $3)
                      GROUP BY 1, 2) AS c ON c.bucket = g.bucket
           ORDER BY 1`,
          [n.from, n.to, n.nodeId],
        )
      : await db.query<CategoryRaw>(
          `SELECT (g.day AT TIME ZONE 'UTC') AS bucket, c.category,
                  coalesce(c.messages, 0) AS messages, coalesce(c.bytes, 0) AS bytes
           FROM generate_series($1::date, $2::date, interval '1 day') AS g(day)
           LEFT JOIN (SELECT bucket, category, sum(messages)::bigint AS messages,
                             sum(bytes)::bigint AS bytes
                      FROM report_category_daily
                      WHERE scope = ANY($3::text[]) AND bucket >= $1::date AND bucket <= $2::date
                        AND ($4::text IS NULL OR node_id = $4)
                      GROUP BY 1, 2) AS c ON c.bucket = g.day::date
           ORDER BY 1`,
          [n.dayFrom, n.dayTo, categoryScopes(n), n.nodeId],
        );
  const byBucket = new Map<number, { bucket: Date; counts: Record<string, number> }>();
  const totals: Record<string, number> = {};
  const add = (counts: Record<string, number>, key: string, value: number): void => {
    counts[key] = (counts[key] ?? 0) + value;
  };
  for (const r of rows) {
    const key = r.bucket.getTime();
    let b = byBucket.get(key);
    if (b === undefined) {
      b = { bucket: r.bucket, counts: {} };
      byBucket.set(key, b);
    }
    for (const counts of [b.counts, totals]) {
      if (r.category !== null) add(counts, r.category, r.messages);
      add(counts, 'total', r.messages);
      add(counts, 'bytes', r.bytes);
    }
  }
  const { bucket: _epoch, ...sums } = toCategoryBucket(new Date(0), totals);
  return {
    granularity,
    buckets: [...byBucket.values()].map((b) => toCategoryBucket(b.bucket, b.counts)),
    totals: sums,
  };
}

function toCategoryBucket(bucket: Date, c: Readonly<Record<string, number>>): CategoryBucket {
  return {
    bucket,
    clean: c['clean'] ?? 0,
    spam: c['spam'] ?? 0,
    virus: c['virus'] ?? 0,
    blocked: c['blocked'] ?? 0,
    tempfail: c['tempfail'] ?? 0,
    total: c['total'] ?? 0,
    bytes: c['bytes'] ?? 0,
  };
}

/**
 * One top-N list from report_top_daily: the keys with the most messages over the range.
 * Each day keeps its busiest keys only, so a key that never made a day's list is not counted
 * (the usual top-N roll-up approximation; exact for keys that are busy every day).
 */
export async function reportTop(
  db: Queryable,
  dimension: TopDimension,
  query: ReportQuery,
): Promise<TopRow[]> {
  if (!(TOP_DIMENSIONS as readonly string[]).includes(dimension)) {
    throw new ParapetError('ERR_REPORT_INVALID', `no top list '${dimension}'`);
  }
  const n = normalise(query);
  const scopes = n.domains === null ? [''] : n.domains;
  const rows =
    scopes.length === 0
      ? []
      : await db.query<TopRow>(
          `SELECT key, sum(messages)::bigint AS messages
           FROM report_top_daily
           WHERE dimension = $1 AND scope = ANY($2::text[]) AND bucket >= $3::date
             AND bucket <= $4::date AND ($5::text IS NULL OR node_id = $5)
           GROUP BY key
           ORDER BY 2 DESC, 1
           LIMIT $6`,
          [dimension, scopes, n.dayFrom, n.dayTo, n.nodeId, n.limit],
        );
  // Scoped addresses: their own recipient counts, from the per-address category roll-up.
  const addresses = n.addresses ?? [];
  if ((dimension === 'recipient' || dimension === 'recipient_spam') && addresses.length > 0) {
    const own = await db.query<TopRow>(
      `SELECT scope AS key, sum(messages)::bigint AS messages
       FROM report_category_daily
       WHERE scope = ANY($1::text[]) AND bucket >= $2::date AND bucket <= $3::date
         AND ($4::text IS NULL OR node_id = $4) AND ($5::text IS NULL OR category = $5)
       GROUP BY scope`,
      [addresses, n.dayFrom, n.dayTo, n.nodeId, dimension === 'recipient_spam' ? 'spam' : null],
    );
    return [...rows, ...own]
      .filter((r) => r.messages > 0)
      .sort((a, b) => b.messages - a.messages || a.key.localeCompare(b.key))
      .slice(0, n.limit);
  }
  return rows;
}

/** Top spam senders (envelope sender, '<>' for the null sender). */
export function reportTopSpamSenders(db: Queryable, q: ReportQuery): Promise<TopRow[]> {
  return reportTop(db, 'sender_spam', q);
}
/** Top virus senders. */
export function reportTopVirusSenders(db: Queryable, q: ReportQuery): Promise<TopRow[]> {
  return reportTop(db, 'sender_virus', q);
}
/** Top spam relays (connecting client addresses). */
export function reportTopSpamRelays(db: Queryable, q: ReportQuery): Promise<TopRow[]> {
  return reportTop(db, 'relay_spam', q);
}
/** Top virus relays. */
export function reportTopVirusRelays(db: Queryable, q: ReportQuery): Promise<TopRow[]> {
  return reportTop(db, 'relay_virus', q);
}
/** Top recipients of all mail. */
export function reportTopRecipients(db: Queryable, q: ReportQuery): Promise<TopRow[]> {
  return reportTop(db, 'recipient', q);
}
/** Top recipients of spam. */
export function reportTopSpamRecipients(db: Queryable, q: ReportQuery): Promise<TopRow[]> {
  return reportTop(db, 'recipient_spam', q);
}
/** Viruses found, by name ('unknown' when the record did not name it). */
export function reportTopViruses(db: Queryable, q: ReportQuery): Promise<TopRow[]> {
  return reportTop(db, 'virus', q);
}
/** Policy hits: the deciding rule ("policy.sieve:LINE") of each message. */
export function reportPolicyRules(db: Queryable, q: ReportQuery): Promise<TopRow[]> {
  return reportTop(db, 'rule', q);
}
/** Policy marks (Sieve `logmark` names), when the message log carries them. */
export function reportPolicyMarks(db: Queryable, q: ReportQuery): Promise<TopRow[]> {
  return reportTop(db, 'mark', q);
}
/** Attachment types (the record's types, else the attachment findings' symbols). */
export function reportAttachmentTypes(db: Queryable, q: ReportQuery): Promise<TopRow[]> {
  return reportTop(db, 'attachment_type', q);
}

/**
 * Connections the IP Blocker refused, per day and source, and the most refused clients. The
 * IP Blocker knows no recipients, so a scoped report is empty.
 */
export async function reportIpBlocked(db: Queryable, query: ReportQuery): Promise<IpBlockReport> {
  const n = normalise(query);
  const scoped = n.domains !== null;
  const rows = await db.query<{ bucket: Date; source: string | null; connections: number }>(
    `SELECT (g.day AT TIME ZONE 'UTC') AS bucket, c.source, coalesce(c.connections, 0) AS connections
     FROM generate_series($1::date, $2::date, interval '1 day') AS g(day)
     LEFT JOIN (SELECT bucket, source, sum(connections)::bigint AS connections
                FROM ipblock_daily
                WHERE bucket >= $1::date AND bucket <= $2::date AND NOT $4
                  AND ($3::text IS NULL OR node_id = $3)
                GROUP BY 1, 2) AS c ON c.bucket = g.day::date
     ORDER BY 1, 2`,
    [n.dayFrom, n.dayTo, n.nodeId, scoped],
  );
  const buckets = new Map<
    number,
    { bucket: Date; connections: number; bySource: Record<string, number> }
  >();
  let total = 0;
  for (const r of rows) {
    let b = buckets.get(r.bucket.getTime());
    if (b === undefined) {
      b = { bucket: r.bucket, connections: 0, bySource: {} };
      buckets.set(r.bucket.getTime(), b);
    }
    if (r.source !== null) {
      b.bySource[r.source] = (b.bySource[r.source] ?? 0) + r.connections;
      b.connections += r.connections;
      total += r.connections;
    }
  }
  const top = scoped
    ? []
    : await db.query<TopRow>(
        `SELECT client AS key, sum(connections)::bigint AS messages
         FROM ipblock_daily
         WHERE bucket >= $1::date AND bucket <= $2::date AND ($3::text IS NULL OR node_id = $3)
         GROUP BY client ORDER BY 2 DESC, 1 LIMIT $4`,
        [n.dayFrom, n.dayTo, n.nodeId, n.limit],
      );
  return { granularity: 'day', buckets: [...buckets.values()], top, total };
}

/**
 * The quarantine per day: messages quarantined that day (from the category roll-up) and the
 * number held at the day's last roll-up run (all-mail reports only).
 */
export async function reportQuarantineSize(
  db: Queryable,
  query: ReportQuery,
): Promise<QuarantineSizeReport> {
  const n = normalise(query);
  const scoped = n.domains !== null;
  const rows = await db.query<{
    bucket: Date;
    quarantined: number;
    quarantined_bytes: number;
    held: number | null;
    held_bytes: number | null;
  }>(
    `SELECT (g.day AT TIME ZONE 'UTC') AS bucket,
            coalesce(q.quarantined, 0) AS quarantined,
            coalesce(q.quarantined_bytes, 0) AS quarantined_bytes,
            s.held, s.held_bytes
     FROM generate_series($1::date, $2::date, interval '1 day') AS g(day)
     LEFT JOIN (SELECT bucket, sum(quarantined)::bigint AS quarantined,
                       sum(quarantined_bytes)::bigint AS quarantined_bytes
                FROM report_category_daily
                WHERE scope = ANY($3::text[]) AND bucket >= $1::date AND bucket <= $2::date
                  AND ($4::text IS NULL OR node_id = $4)
                GROUP BY 1) AS q ON q.bucket = g.day::date
     LEFT JOIN (SELECT bucket, sum(held)::bigint AS held, sum(held_bytes)::bigint AS held_bytes
                FROM quarantine_size_daily
                WHERE bucket >= $1::date AND bucket <= $2::date AND NOT $5
                  AND ($4::text IS NULL OR node_id = $4)
                GROUP BY 1) AS s ON s.bucket = g.day::date
     ORDER BY 1`,
    [n.dayFrom, n.dayTo, categoryScopes(n), n.nodeId, scoped],
  );
  return {
    granularity: 'day',
    buckets: rows.map((r) => ({
      bucket: r.bucket,
      quarantined: r.quarantined,
      quarantinedBytes: r.quarantined_bytes,
      held: r.held,
      heldBytes: r.held_bytes,
    })),
  };
}

/** Every report the Reports tab offers, by id (the API's `/api/v1/reports/{id}`). */
export const REPORT_IDS = [
  'message-categories',
  'top-spam-senders',
  'top-virus-senders',
  'top-spam-relays',
  'top-virus-relays',
  'top-recipients',
  'top-spam-recipients',
  'viruses',
  'policy-rules',
  'policy-marks',
  'attachment-types',
  'ip-blocked',
  'quarantine-size',
] as const;
export type ReportId = (typeof REPORT_IDS)[number];

const TOP_OF: Partial<Record<ReportId, TopDimension>> = {
  'top-spam-senders': 'sender_spam',
  'top-virus-senders': 'sender_virus',
  'top-spam-relays': 'relay_spam',
  'top-virus-relays': 'relay_virus',
  'top-recipients': 'recipient',
  'top-spam-recipients': 'recipient_spam',
  viruses: 'virus',
  'policy-rules': 'rule',
  'policy-marks': 'mark',
  'attachment-types': 'attachment_type',
};

/** A report as a plain table: what the UI's table view and CSV export show. */
export interface ReportTable {
  readonly id: ReportId;
  readonly kind: 'series' | 'top';
  readonly granularity: Granularity | null;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number | null)[])[];
}

/** Runs one report by id and returns it as a table (series: one row per bucket). */
export async function runReport(
  db: Queryable,
  id: ReportId,
  query: ReportQuery,
): Promise<ReportTable> {
  const dimension = TOP_OF[id];
  if (dimension !== undefined) {
    const rows = await reportTop(db, dimension, query);
    return {
      id,
      kind: 'top',
      granularity: null,
      columns: [dimension.startsWith('relay') ? 'client' : 'key', 'messages'],
      rows: rows.map((r) => [r.key, r.messages]),
    };
  }
  if (id === 'message-categories') {
    const r = await reportMessageCategories(db, query);
    return {
      id,
      kind: 'series',
      granularity: r.granularity,
      columns: ['bucket', ...MESSAGE_CATEGORIES, 'total', 'bytes'],
      rows: r.buckets.map((b) => [
        b.bucket.toISOString(),
        ...MESSAGE_CATEGORIES.map((c) => b[c]),
        b.total,
        b.bytes,
      ]),
    };
  }
  if (id === 'ip-blocked') {
    const r = await reportIpBlocked(db, query);
    const sources = [...new Set(r.buckets.flatMap((b) => Object.keys(b.bySource)))].sort();
    return {
      id,
      kind: 'series',
      granularity: 'day',
      columns: ['bucket', 'connections', ...sources],
      rows: r.buckets.map((b) => [
        b.bucket.toISOString(),
        b.connections,
        ...sources.map((s) => b.bySource[s] ?? 0),
      ]),
    };
  }
  if (id === 'quarantine-size') {
    const r = await reportQuarantineSize(db, query);
    return {
      id,
      kind: 'series',
      granularity: 'day',
      columns: ['bucket', 'quarantined', 'quarantined_bytes', 'held', 'held_bytes'],
      rows: r.buckets.map((b) => [
        b.bucket.toISOString(),
        b.quarantined,
        b.quarantinedBytes,
        b.held,
        b.heldBytes,
      ]),
    };
  }
  // Ids come from requests: an unknown one is refused, never guessed.
  throw new ParapetError('ERR_REPORT_INVALID', `no report '${id}'`);
}

/**
 * A report table as CSV (RFC 4180: CRLF lines, fields quoted when needed). Cells that a
 * spreadsheet would run as a formula (=, +, -, @ first) get a leading apostrophe: senders and
 * subjects are attacker-chosen text.
 */
export function reportToCsv(table: Pick<ReportTable, 'columns' | 'rows'>): string {
  const cell = (value: string | number | null): string => {
    if (value === null) return '';
    if (typeof value === 'number') return String(value);
    const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [table.columns, ...table.rows].map((row) => row.map(cell).join(',')).join('\r\n') + '\r\n';
}

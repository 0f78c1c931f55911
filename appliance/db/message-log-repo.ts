/**
 * The central message log: batched, idempotent inserts of the records each node's local log
 * holds (filter/log/message-log.ts), and the roll-ups reports read.
 */
import type { MessageLogRecord } from '../../filter/index.js';
import type { Queryable } from './db.js';
import { storableJson } from './sql-json.js';

/**
 * One statement per batch: the batch travels as a single jsonb parameter and is expanded by
 * jsonb_to_recordset (JSON arrays become text[] directly), so a batch of any size needs one
 * round trip and no parameter-count limit.
 * Rows already there (same node_id, seq) are skipped, which is what makes re-sending a batch
 * after a lost COMMIT acknowledgement or a restart harmless.
 */
const INSERT_BATCH = `
INSERT INTO message_log (node_id, seq, id, ts, queue_id, client_address, client_name, helo,
  sender, recipients, subject, size_bytes, verdict, disposition, reason, score, symbols, rule,
  error_code, timings_ms, marks, virus_names, attachment_types)
SELECT r.node_id, r.seq, r.id, r.ts, r.queue_id, r.client_address, r.client_name, r.helo,
  r.sender, r.recipients, r.subject, r.size_bytes,
  r.verdict, r.disposition, r.reason, r.score, r.symbols, r.rule, r.error_code, r.timings_ms,
  coalesce(r.marks, '{}'), coalesce(r.virus_names, '{}'), coalesce(r.attachment_types, '{}')
FROM jsonb_to_recordset($1::jsonb) AS r(node_id text, seq bigint, id text, ts timestamptz,
  queue_id text, client_address text, client_name text, helo text, sender text,
  recipients text[], subject text, size_bytes bigint, verdict text, disposition text,
  reason text, score double precision, symbols jsonb, rule text, error_code text,
  timings_ms jsonb, marks text[], virus_names text[], attachment_types text[])
ON CONFLICT (node_id, seq) DO NOTHING`;

/**
 * Fields a record may carry beyond {@link MessageLogRecord} (the data plane adds them as it
 * learns to: the policy's logmarks, the virus scanner's names, the attachment scanner's file
 * types). Reports count them when present; older records simply have none.
 */
export interface MessageLogExtras {
  readonly marks?: readonly string[];
  readonly virusNames?: readonly string[];
  readonly attachmentTypes?: readonly string[];
}

/** At most this many entries of each extra list are kept per record (untrusted input). */
const MAX_EXTRA_ITEMS = 32;

/** A string list from untrusted JSON: strings only, trimmed to 200 characters, capped. */
export function extraList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value
    .filter((v): v is string => typeof v === 'string' && v !== '')
    .slice(0, MAX_EXTRA_ITEMS)
    .map((v) => v.slice(0, 200));
}

function toRow(r: MessageLogRecord & MessageLogExtras): Record<string, unknown> {
  return {
    node_id: r.nodeId,
    seq: r.seq,
    id: r.id,
    ts: r.time,
    queue_id: r.queueId,
    client_address: r.client.address,
    client_name: r.client.name,
    helo: r.helo,
    sender: r.from,
    recipients: r.to,
    subject: r.subject,
    size_bytes: r.sizeBytes,
    verdict: r.verdict,
    disposition: r.disposition,
    reason: r.reason,
    score: r.score,
    symbols: r.symbols,
    rule: r.rule,
    error_code: r.errorCode,
    timings_ms: r.timingsMs,
    marks: extraList(r.marks) ?? [],
    virus_names: extraList(r.virusNames) ?? [],
    attachment_types: extraList(r.attachmentTypes) ?? [],
  };
}

/**
 * Inserts a batch of records, skipping those already present. Returns how many rows were new.
 * Runs as one statement, so it is atomic on its own; callers may also pass a transaction.
 */
export async function insertMessageLogBatch(
  db: Queryable,
  records: readonly (MessageLogRecord & MessageLogExtras)[],
): Promise<number> {
  if (records.length === 0) return 0;
  return db.execute(INSERT_BATCH, [storableJson(records.map(toRow))]);
}

/**
 * Recomputes the hourly and daily roll-ups, and the report roll-ups of migration 0006
 * (categories, top-N lists), of every UTC day touched by [from, to) (the scheduler's
 * message-log-rollup job calls it for the last two days). Returns the hourly rows written.
 */
export async function rollupMessageLog(db: Queryable, from: Date, to: Date): Promise<number> {
  const rows = await db.query<{ hours: number }>(
    'SELECT parapet_rollup_message_log($1, $2) AS hours',
    [from, to],
  );
  return rows[0]?.hours ?? 0;
}

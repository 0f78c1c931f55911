/**
 * Quarantine metadata rows come from the message log: a record whose disposition is
 * `quarantined` carries everything the row needs (the quarantine id is the message id), so
 * the shipper inserts both in one transaction and a row reaches the database exactly once,
 * surviving database outages and restarts exactly like the log itself.
 */
import { join } from 'node:path';
import type { MessageLogRecord } from '../../filter/index.js';
import type { Db } from './db.js';
import { insertMessageLogBatch } from './message-log-repo.js';
import { insertQuarantineRows, type NewQuarantineRow } from './quarantine-repo.js';

/** The row of a quarantined message's log record, or null for any other record. */
export function quarantineRowOf(
  record: MessageLogRecord,
  quarantineDir: string,
): NewQuarantineRow | null {
  if (record.disposition !== 'quarantined') return null;
  const day = record.time.slice(0, 10);
  return {
    id: record.id,
    nodeId: record.nodeId,
    time: new Date(record.time),
    queueId: record.queueId,
    clientAddress: record.client.address,
    helo: record.helo,
    from: record.from,
    to: record.to,
    subject: record.subject,
    sizeBytes: record.sizeBytes,
    reason: record.reason ?? '',
    score: record.score,
    symbols: record.symbols,
    rule: record.rule,
    virusNames: [],
    path: join(quarantineDir, day, `${record.id}.eml`),
  };
}

/** A shipper `insert` that writes log records and their quarantine rows in one transaction. */
export function insertLogAndQuarantine(
  db: Db,
  quarantineDir: string,
): (records: readonly MessageLogRecord[]) => Promise<number> {
  return (records) =>
    db.transaction(async (tx) => {
      const inserted = await insertMessageLogBatch(tx, records);
      const rows = records
        .map((r) => quarantineRowOf(r, quarantineDir))
        .filter((r): r is NewQuarantineRow => r !== null);
      await insertQuarantineRows(tx, rows);
      return inserted;
    });
}

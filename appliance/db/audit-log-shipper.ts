/**
 * Ships the node's local audit log (`$PARAPET_HOME/log/audit.jsonl`, written by the web
 * interfaces and the CLI: ui/api/audit-log.ts) to the `audit_log` table, exactly once.
 *
 * Like the message-log shipper: a durable cursor (byte offset, written with fsync + rename
 * after each committed batch) says where to continue, and the database skips lines it has
 * already (unique (node_id, source_key), the key being the line's offset and a hash of its
 * text), so a crash between COMMIT and the cursor write re-sends a batch harmlessly, and a
 * log that was replaced (new inode) or truncated is read again from its start without doubling.
 * While the database is away the batch is retried with backoff; the log keeps growing on disk.
 * A line that is not an audit entry is counted and skipped, never stalls the log.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ParapetError, replaceFileSynced, writeFileSynced } from '../../filter/index.js';
import type { Queryable } from './db.js';
import { storableJson } from './sql-json.js';

export interface AuditCursor {
  readonly dev: number;
  readonly ino: number;
  /** Bytes already shipped (at a line boundary). */
  readonly offset: number;
}

/**
 * One line of audit.jsonl as stored; ui/api/audit-log.ts writes them (its AuditEntry is this
 * with the outcomes it writes).
 */
export interface AuditLine {
  readonly at: string;
  /** The account (or `cli:<unix user>`) that made the change. */
  readonly actor: string;
  /** manager, rpcui or cli. */
  readonly surface: string;
  readonly ip: string | null;
  /** dotted verb, e.g. `user.add`, `quarantine.approve`, `policy.save`. */
  readonly action: string;
  readonly object: string | null;
  readonly outcome: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export type AuditShipperEvent =
  | { readonly type: 'shipped'; readonly lines: number; readonly inserted: number }
  | { readonly type: 'skipped'; readonly offset: number; readonly error: string }
  | { readonly type: 'retry'; readonly error: string; readonly delayMs: number };

export interface AuditLogShipperOptions {
  readonly db: Queryable;
  readonly nodeId: string;
  /** `$PARAPET_HOME/log/audit.jsonl`. */
  readonly logPath: string;
  /** Default `<logPath>.cursor`. */
  readonly cursorPath?: string;
  /** Lines per INSERT (default 500). */
  readonly batchLines?: number;
  /** Bytes read per batch at most (default 1 MiB). */
  readonly batchBytes?: number;
  /** Poll interval when nothing is new (default 1000). */
  readonly idleMs?: number;
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  readonly onEvent?: (event: AuditShipperEvent) => void;
}

/** Parses one line; a string says why it is not an audit entry. */
export function parseAuditLine(line: string): AuditLine | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  const r = v as Record<string, unknown> | null;
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return 'not an object';
  const str = (k: string): boolean => typeof r[k] === 'string' && r[k] !== '';
  const at = str('at') ? new Date(r['at'] as string) : null;
  // A time PostgreSQL would refuse would stall the batch: the range is checked here.
  if (
    at === null ||
    Number.isNaN(at.getTime()) ||
    at.getUTCFullYear() < 1970 ||
    at.getUTCFullYear() > 9999
  ) {
    return 'bad "at"';
  }
  if (!str('actor') || !str('action')) return 'missing actor or action';
  const opt = (k: string): string | null => (typeof r[k] === 'string' ? r[k] : null);
  const details = r['details'];
  return {
    at: at.toISOString(),
    actor: r['actor'] as string,
    surface: opt('surface') ?? 'unknown',
    ip: opt('ip'),
    action: r['action'] as string,
    object: opt('object'),
    outcome: opt('outcome') ?? 'ok',
    details:
      details !== null && typeof details === 'object' && !Array.isArray(details)
        ? (details as Record<string, unknown>)
        : {},
  };
}

/** The line's idempotency key: its offset in the file and a hash of its text. */
export const auditSourceKey = (offset: number, line: string): string =>
  `${String(offset)}:${createHash('sha256').update(line).digest('hex').slice(0, 32)}`;

interface Row {
  readonly key: string;
  readonly entry: AuditLine;
}

/** Inserts audit lines of `nodeId`, skipping keys already there; returns how many were new. */
export async function insertAuditLines(
  db: Queryable,
  nodeId: string,
  rows: readonly Row[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const json = storableJson(
    rows.map(({ key, entry }) => ({
      at: entry.at,
      actor: entry.actor,
      source: entry.surface,
      action: entry.action,
      // `object` is free text ("user:alice", a quarantine id…): its type is the action's noun.
      object_type: entry.action.split('.')[0] ?? null,
      object_id: entry.object,
      ip: entry.ip,
      outcome: entry.outcome,
      details: entry.details,
      source_key: key,
    })),
  );
  return db.execute(
    `INSERT INTO audit_log (at, actor, source, action, object_type, object_id, ip, outcome,
       details, node_id, source_key)
     SELECT r.at, r.actor, r.source, r.action, r.object_type, r.object_id, r.ip, r.outcome,
       r.details, $2, r.source_key
     FROM jsonb_to_recordset($1::jsonb) AS r(at timestamptz, actor text, source text,
       action text, object_type text, object_id text, ip text, outcome text, details jsonb,
       source_key text)
     ON CONFLICT (node_id, source_key) WHERE source_key IS NOT NULL DO NOTHING`,
    [json, nodeId],
  );
}

export class AuditLogShipper {
  readonly #o: Required<Omit<AuditLogShipperOptions, 'onEvent'>> & {
    onEvent: (event: AuditShipperEvent) => void;
  };
  #cursor: AuditCursor | null = null;
  #running: Promise<void> | null = null;
  #abort: AbortController | null = null;

  constructor(options: AuditLogShipperOptions) {
    this.#o = {
      cursorPath: `${options.logPath}.cursor`,
      batchLines: 500,
      batchBytes: 1024 * 1024,
      idleMs: 1000,
      retryInitialMs: 250,
      retryMaxMs: 30_000,
      onEvent: () => undefined,
      ...options,
    };
  }

  async cursor(): Promise<AuditCursor> {
    this.#cursor ??= await readCursor(this.#o.cursorPath);
    return this.#cursor;
  }

  /**
   * Ships the next batch and moves the cursor; `lines` 0 when nothing is new. Throws
   * ERR_DB_UNAVAILABLE (or another database error) with the cursor left where it was.
   */
  async shipOnce(): Promise<{ lines: number; inserted: number }> {
    let cursor = await this.cursor();
    let info;
    try {
      info = await stat(this.#o.logPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { lines: 0, inserted: 0 };
      throw err;
    }
    if (info.ino !== cursor.ino || info.dev !== cursor.dev || info.size < cursor.offset) {
      cursor = { dev: info.dev, ino: info.ino, offset: 0 };
    }
    if (info.size === cursor.offset) return { lines: 0, inserted: 0 };
    const length = Math.min(this.#o.batchBytes, info.size - cursor.offset);
    const chunk = await readChunk(this.#o.logPath, cursor.offset, length);
    const rows: Row[] = [];
    let start = 0;
    let lines = 0;
    while (lines < this.#o.batchLines) {
      const end = chunk.indexOf(0x0a, start);
      if (end < 0) break;
      const line = chunk.toString('utf8', start, end);
      const offset = cursor.offset + start;
      start = end + 1;
      lines++;
      if (line.trim() === '') continue;
      const parsed = parseAuditLine(line);
      if (typeof parsed === 'string') {
        this.#o.onEvent({ type: 'skipped', offset, error: parsed });
      } else {
        rows.push({ key: auditSourceKey(offset, line), entry: parsed });
      }
    }
    if (lines === 0) {
      // A line still being written, or one longer than a whole batch: the latter is skipped
      // (its rest then fails to parse and is skipped too), so it cannot stall the log.
      if (chunk.length < this.#o.batchBytes) return { lines: 0, inserted: 0 };
      this.#o.onEvent({ type: 'skipped', offset: cursor.offset, error: 'line too long' });
      start = chunk.length;
    }
    const inserted = await insertAuditLines(this.#o.db, this.#o.nodeId, rows);
    const next = { dev: cursor.dev, ino: cursor.ino, offset: cursor.offset + start };
    await writeCursor(this.#o.cursorPath, next);
    this.#cursor = next;
    this.#o.onEvent({ type: 'shipped', lines, inserted });
    return { lines, inserted };
  }

  /** Ships until nothing is new; database failures propagate (the caller retries). */
  async drain(): Promise<{ lines: number; inserted: number }> {
    const total = { lines: 0, inserted: 0 };
    for (;;) {
      const r = await this.shipOnce();
      if (r.lines === 0) return total;
      total.lines += r.lines;
      total.inserted += r.inserted;
    }
  }

  /** Ships in the background until stop(): polls, retries failures with backoff. */
  start(): void {
    if (this.#running !== null) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#running = this.#loop(abort.signal);
  }

  async stop(): Promise<void> {
    this.#abort?.abort();
    await this.#running;
    this.#running = null;
    this.#abort = null;
  }

  async #loop(signal: AbortSignal): Promise<void> {
    let delay = this.#o.retryInitialMs;
    while (!signal.aborted) {
      let wait = this.#o.idleMs;
      try {
        const r = await this.shipOnce();
        delay = this.#o.retryInitialMs;
        if (r.lines > 0) wait = 0;
      } catch (err) {
        wait = Math.round(delay * (0.5 + Math.random() / 2));
        this.#o.onEvent({
          type: 'retry',
          error: err instanceof Error ? err.message : String(err),
          delayMs: wait,
        });
        delay = Math.min(this.#o.retryMaxMs, delay * 2);
      }
      if (wait > 0) await sleep(wait, signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

async function readChunk(path: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function readCursor(path: string): Promise<AuditCursor> {
  try {
    const v = JSON.parse(await readFile(path, 'utf8')) as Partial<AuditCursor>;
    if (
      typeof v.dev === 'number' &&
      typeof v.ino === 'number' &&
      typeof v.offset === 'number' &&
      Number.isSafeInteger(v.offset) &&
      v.offset >= 0
    ) {
      return { dev: v.dev, ino: v.ino, offset: v.offset };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof SyntaxError)) {
      throw new ParapetError('ERR_INPUT_UNREADABLE', `cannot read ${path}`, { cause: err });
    }
  }
  // No (usable) cursor: from the start; the unique key keeps that from doubling anything.
  return { dev: -1, ino: -1, offset: 0 };
}

async function writeCursor(path: string, cursor: AuditCursor): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await replaceFileSynced(path, (tmp) =>
    writeFileSynced(tmp, `${JSON.stringify(cursor)}\n`, 0o600),
  );
}

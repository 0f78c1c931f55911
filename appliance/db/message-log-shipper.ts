/**
 * Ships the node's local message log (filter/log/message-log.ts: JSON lines, one per message,
 * numbered per node) to the `message_log` table in batches, exactly once per (node_id, seq).
 *
 * Exactly once comes from two halves: the database skips rows it already has (ON CONFLICT DO
 * NOTHING on the primary key), and a durable cursor (byte offset into the log, written with
 * fsync + rename after each committed batch) says where to continue. A crash between COMMIT
 * and the cursor write re-sends one batch, which the first half absorbs; nothing is skipped
 * because the cursor only moves after a COMMIT.
 *
 * Database outages: a failed batch is retried with exponential backoff (with jitter) until it
 * goes through; the data plane keeps appending locally meanwhile and never waits. A batch the
 * database refuses for its content (not for being unreachable) is split until the offending
 * record is isolated; that record is written to `<log>.rejected.jsonl` and skipped, so one bad
 * line can never stall the log.
 */
import { appendFile, mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  ParapetError,
  fsyncDirectory,
  replaceFileSynced,
  writeFileSynced,
  type MessageLogRecord,
} from '../../filter/index.js';
import type { Queryable } from './db.js';
import { extraList, insertMessageLogBatch, type MessageLogExtras } from './message-log-repo.js';

export interface ShipperCursor {
  /** Identity of the log file the offset belongs to (a new file starts again at 0). */
  readonly dev: number;
  readonly ino: number;
  /** Bytes of the log already shipped (always at a line boundary). */
  readonly offset: number;
  /** Sequence number of the last record shipped. */
  readonly lastSeq: number;
}

export type ShipperEvent =
  | { readonly type: 'shipped'; readonly records: number; readonly inserted: number }
  | { readonly type: 'retry'; readonly error: ParapetError; readonly delayMs: number }
  | { readonly type: 'rejected'; readonly line: string; readonly error: string };

export interface MessageLogShipperOptions {
  readonly db: Queryable;
  /** The local log, `$PARAPET_HOME/log/message-log.jsonl`. */
  readonly logPath: string;
  /** Default `<logPath>.cursor`. */
  readonly cursorPath?: string;
  /** Records per INSERT (default 2000). */
  readonly batchRecords?: number;
  /** Bytes of log read per batch at most (default 4 MiB; a longer line is rejected). */
  readonly batchBytes?: number;
  /** Wait between polls when there is nothing new (default 500). */
  readonly idleMs?: number;
  /** First retry delay after a failure (default 250), doubling up to `retryMaxMs` (30000). */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  readonly onEvent?: (event: ShipperEvent) => void;
  /**
   * Inserts one batch, idempotently; returns the rows that were new. Default
   * insertMessageLogBatch; the database service also derives quarantine rows in the same
   * transaction (quarantine-rows.ts).
   */
  readonly insert?: (records: readonly MessageLogRecord[]) => Promise<number>;
}

export interface ShipResult {
  /** Lines consumed (shipped or rejected). */
  readonly records: number;
  /** Rows that were new in the database (records minus duplicates and rejects). */
  readonly inserted: number;
  readonly rejected: number;
}

export class MessageLogShipper {
  readonly #db: Queryable;
  readonly #logPath: string;
  readonly #cursorPath: string;
  readonly #rejectPath: string;
  readonly #batchRecords: number;
  readonly #batchBytes: number;
  readonly #idleMs: number;
  readonly #retryInitialMs: number;
  readonly #retryMaxMs: number;
  readonly #onEvent: (event: ShipperEvent) => void;
  readonly #insertBatch: (records: readonly MessageLogRecord[]) => Promise<number>;
  #cursor: ShipperCursor | null = null;
  #running: Promise<void> | null = null;
  #abort: AbortController | null = null;

  constructor(options: MessageLogShipperOptions) {
    this.#db = options.db;
    this.#logPath = options.logPath;
    this.#cursorPath = options.cursorPath ?? `${options.logPath}.cursor`;
    this.#rejectPath = `${options.logPath.replace(/\.jsonl$/, '')}.rejected.jsonl`;
    this.#batchRecords = options.batchRecords ?? 2000;
    this.#batchBytes = options.batchBytes ?? 4 * 1024 * 1024;
    this.#idleMs = options.idleMs ?? 500;
    this.#retryInitialMs = options.retryInitialMs ?? 250;
    this.#retryMaxMs = options.retryMaxMs ?? 30_000;
    this.#onEvent = options.onEvent ?? (() => undefined);
    this.#insertBatch = options.insert ?? ((records) => insertMessageLogBatch(this.#db, records));
  }

  /** The durable cursor (read from disk on first use). */
  async cursor(): Promise<ShipperCursor> {
    this.#cursor ??= await readCursor(this.#cursorPath);
    return this.#cursor;
  }

  /**
   * Ships the next batch (up to `batchRecords` complete lines after the cursor) and advances
   * the cursor. Resolves with zero records when there is nothing new. Throws ERR_DB_UNAVAILABLE
   * (the cursor stays; calling again retries the same lines) or a file error.
   */
  async shipOnce(): Promise<ShipResult> {
    const batch = await this.#prepare(await this.cursor());
    return batch === null ? { records: 0, inserted: 0, rejected: 0 } : this.#commit(batch);
  }

  /**
   * Ships until the log holds nothing new, retrying failures with backoff; resolves with the
   * totals. Stops early (resolving) when `signal` aborts.
   */
  async drain(signal?: AbortSignal): Promise<ShipResult> {
    const total = { records: 0, inserted: 0, rejected: 0 };
    await this.#pumpWithRetry(total, signal);
    return total;
  }

  /**
   * Ships batch after batch until nothing is new. While one batch is in the database, the next
   * is read and parsed, so the two processes work at the same time. Only committed batches
   * move the cursor, in order; after a failure the read-ahead is dropped and the caller retries
   * from the durable cursor.
   */
  async #pump(total: { records: number; inserted: number; rejected: number }): Promise<void> {
    let batch = await this.#prepare(await this.cursor());
    while (batch !== null) {
      const next = batch.next;
      const readAhead = this.#prepare(next).then(
        (b) => ({ ok: true as const, b }),
        (err: unknown) => ({ ok: false as const, err }),
      );
      const result = await this.#commit(batch);
      total.records += result.records;
      total.inserted += result.inserted;
      total.rejected += result.rejected;
      const ahead = await readAhead;
      if (!ahead.ok) throw ahead.err;
      batch = ahead.b;
    }
  }

  /** Reads and parses the complete lines after `cursor`; null when there are none. */
  async #prepare(base: ShipperCursor): Promise<PreparedBatch | null> {
    let cursor = base;
    let info;
    try {
      info = await stat(this.#logPath);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return null;
      throw err;
    }
    if (info.ino !== cursor.ino || info.dev !== cursor.dev || info.size < cursor.offset) {
      // A new or truncated log: start at its beginning. Records already shipped from it are
      // skipped by the database, so this can duplicate nothing.
      cursor = { dev: info.dev, ino: info.ino, offset: 0, lastSeq: cursor.lastSeq };
    }
    if (info.size === cursor.offset) return null;
    const length = Math.min(this.#batchBytes, info.size - cursor.offset);
    const chunk = await readChunk(this.#logPath, cursor.offset, length);
    const lines: string[] = [];
    let consumed = 0;
    let start = 0;
    while (lines.length < this.#batchRecords) {
      const end = chunk.indexOf(0x0a, start);
      if (end < 0) break;
      lines.push(chunk.toString('utf8', start, end));
      consumed = end + 1;
      start = end + 1;
    }
    if (lines.length === 0) {
      // No complete line: a record still being written, or one longer than a whole batch.
      if (chunk.length < this.#batchBytes) return null;
      return this.#overlongLine(cursor, info.size);
    }
    const records: MessageLogRecord[] = [];
    const rejects: Reject[] = [];
    for (const line of lines) {
      if (line.trim() === '') continue;
      const parsed = parseRecord(line);
      if (typeof parsed === 'string') rejects.push({ line, error: parsed });
      else records.push(parsed);
    }
    const lastSeq = records.reduce((max, r) => Math.max(max, r.seq), cursor.lastSeq);
    return {
      lines: lines.length,
      records,
      rejects,
      next: { dev: cursor.dev, ino: cursor.ino, offset: cursor.offset + consumed, lastSeq },
    };
  }

  /** Inserts a prepared batch, sets its rejects aside, then makes the cursor durable. */
  async #commit(batch: PreparedBatch): Promise<ShipResult> {
    const rejects = [...batch.rejects];
    const inserted = await this.#insert(batch.records, rejects);
    await this.#reject(rejects);
    await writeCursor(this.#cursorPath, batch.next);
    this.#cursor = batch.next;
    const result = { records: batch.lines, inserted, rejected: rejects.length };
    this.#onEvent({ type: 'shipped', records: result.records, inserted });
    return result;
  }

  /** Starts shipping in the background until {@link stop}; a second call does nothing. */
  start(): void {
    if (this.#running !== null) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#running = (async () => {
      const total = { records: 0, inserted: 0, rejected: 0 };
      while (!abort.signal.aborted) {
        await this.#pumpWithRetry(total, abort.signal);
        await sleep(this.#idleMs, abort.signal);
      }
    })();
  }

  /** Stops after the batch in flight (its cursor is written first). */
  async stop(): Promise<void> {
    this.#abort?.abort();
    const running = this.#running;
    this.#running = null;
    this.#abort = null;
    await running;
  }

  /** Pumps until nothing is new, retrying with backoff after failures; returns when aborted. */
  async #pumpWithRetry(
    total: { records: number; inserted: number; rejected: number },
    signal?: AbortSignal,
  ): Promise<void> {
    let delay = this.#retryInitialMs;
    while (signal?.aborted !== true) {
      try {
        await this.#pump(total);
        return;
      } catch (err) {
        const error =
          err instanceof ParapetError
            ? err
            : new ParapetError('ERR_DB_UNAVAILABLE', String(err), { cause: err });
        const delayMs = Math.round(delay * (0.5 + Math.random() / 2));
        this.#onEvent({ type: 'retry', error, delayMs });
        if (!(await sleep(delayMs, signal))) return;
        delay = Math.min(delay * 2, this.#retryMaxMs);
      }
    }
  }

  /**
   * Inserts the batch; when the database refuses its content, splits it to find the records
   * at fault and moves them to `rejects`. An unreachable database is thrown as is (retry).
   */
  async #insert(records: readonly MessageLogRecord[], rejects: Reject[]): Promise<number> {
    if (records.length === 0) return 0;
    try {
      return await this.#insertBatch(records);
    } catch (err) {
      if (!(err instanceof ParapetError) || err.code !== 'ERR_DB_QUERY_FAILED') throw err;
      if (records.length === 1) {
        rejects.push({ line: JSON.stringify(records[0]), error: err.message });
        return 0;
      }
      const half = Math.ceil(records.length / 2);
      return (
        (await this.#insert(records.slice(0, half), rejects)) +
        (await this.#insert(records.slice(half), rejects))
      );
    }
  }

  async #reject(rejects: readonly Reject[]): Promise<void> {
    if (rejects.length === 0) return;
    await mkdir(dirname(this.#rejectPath), { recursive: true });
    const text = rejects
      .map((r) => `${JSON.stringify({ error: r.error, line: r.line })}\n`)
      .join('');
    await appendFile(this.#rejectPath, text, { mode: 0o640 });
    for (const r of rejects) this.#onEvent({ type: 'rejected', line: r.line, error: r.error });
  }

  /** A line longer than a whole batch can never be shipped: a batch that only rejects it. */
  async #overlongLine(cursor: ShipperCursor, size: number): Promise<PreparedBatch> {
    let offset = cursor.offset;
    for (;;) {
      const chunk = await readChunk(
        this.#logPath,
        offset,
        Math.min(this.#batchBytes, size - offset),
      );
      if (chunk.length === 0) break;
      const end = chunk.indexOf(0x0a);
      if (end >= 0) {
        offset += end + 1;
        break;
      }
      offset += chunk.length;
    }
    return {
      lines: 1,
      records: [],
      rejects: [{ line: '', error: `line at byte ${cursor.offset} is longer than batchBytes` }],
      next: { ...cursor, offset },
    };
  }
}

interface Reject {
  readonly line: string;
  readonly error: string;
}

interface PreparedBatch {
  /** Lines consumed, blank ones included. */
  readonly lines: number;
  readonly records: readonly MessageLogRecord[];
  readonly rejects: readonly Reject[];
  /** The cursor once this batch is committed. */
  readonly next: ShipperCursor;
}

/** Sleeps `ms`; resolves false early when `signal` aborts. */
async function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted === true) return false;
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function readChunk(path: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** A symbol name; never String() on parsed JSON, whose own `toString` key would make it throw. */
const symbolName = (v: unknown): string =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * Parses and checks one log line; returns the record, or why it cannot be stored. Fields a
 * record from an older writer lacks get neutral values (fields are only ever added).
 */
export function parseRecord(line: string): (MessageLogRecord & MessageLogExtras) | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const v = value as Record<string, unknown>;
  const nodeId = str(v['nodeId']);
  const seq = v['seq'];
  const time = str(v['time']);
  if (nodeId === null || nodeId === '') return 'no nodeId';
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return 'bad seq';
  if (time === null || Number.isNaN(Date.parse(time))) return 'bad time';
  const client =
    typeof v['client'] === 'object' && v['client'] !== null
      ? (v['client'] as Record<string, unknown>)
      : {};
  const to = Array.isArray(v['to'])
    ? v['to'].filter((t): t is string => typeof t === 'string')
    : [];
  const symbols = Array.isArray(v['symbols'])
    ? v['symbols']
        .filter((s): s is Record<string, unknown> => typeof s === 'object' && s !== null)
        .map((s) => ({ name: symbolName(s['name']), score: num(s['score']) ?? 0 }))
    : [];
  const timings: Record<string, number> = {};
  if (typeof v['timingsMs'] === 'object' && v['timingsMs'] !== null) {
    for (const [k, t] of Object.entries(v['timingsMs'] as Record<string, unknown>)) {
      const n = num(t);
      if (n !== null) timings[k] = n;
    }
  }
  return {
    nodeId,
    seq,
    id: str(v['id']) ?? '',
    time: new Date(time).toISOString(),
    queueId: str(v['queueId']),
    client: { address: str(client['address']), name: str(client['name']) },
    helo: str(v['helo']),
    from: str(v['from']),
    to,
    subject: str(v['subject']),
    sizeBytes: Math.max(0, Math.round(num(v['sizeBytes']) ?? 0)),
    verdict: str(v['verdict']),
    reason: str(v['reason']),
    disposition: str(v['disposition']) ?? '',
    score: num(v['score']),
    symbols,
    rule: str(v['rule']),
    errorCode: str(v['errorCode']),
    timingsMs: timings,
    // Optional report fields (message-log-repo.ts MessageLogExtras), kept when present.
    ...optionalList('marks', v['marks']),
    ...optionalList('virusNames', v['virusNames']),
    ...optionalList('attachmentTypes', v['attachmentTypes']),
  };
}

function optionalList<K extends keyof MessageLogExtras>(
  key: K,
  value: unknown,
): Partial<Record<K, string[]>> {
  const list = extraList(value);
  return list === undefined ? {} : ({ [key]: list } as Partial<Record<K, string[]>>);
}

async function readCursor(path: string): Promise<ShipperCursor> {
  const handle = await open(path, 'r').catch(() => null);
  if (handle === null) return { dev: 0, ino: 0, offset: 0, lastSeq: 0 };
  try {
    const parsed = JSON.parse(await handle.readFile('utf8')) as Partial<ShipperCursor>;
    return {
      dev: num(parsed.dev) ?? 0,
      ino: num(parsed.ino) ?? 0,
      offset: num(parsed.offset) ?? 0,
      lastSeq: num(parsed.lastSeq) ?? 0,
    };
  } catch {
    // An unreadable cursor restarts from the beginning: slower, never lossy or doubled.
    return { dev: 0, ino: 0, offset: 0, lastSeq: 0 };
  } finally {
    await handle.close();
  }
}

/** Writes the cursor durably: temp file, fsync, rename, fsync of the directory. */
async function writeCursor(path: string, cursor: ShipperCursor): Promise<void> {
  await replaceFileSynced(path, (tmp) =>
    writeFileSynced(tmp, `${JSON.stringify(cursor)}\n`, 0o640),
  );
  await fsyncDirectory(dirname(path));
}

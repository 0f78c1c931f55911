/**
 * The local message log: one JSON line per message, appended to a file under the node's home,
 * numbered by a per-node sequence that survives restarts. The data plane writes here and never
 * waits on the network; appliance/log-forwarder (issue 5) ships the lines to the central
 * database, idempotent on (nodeId, seq).
 *
 * Durability: records are written in order through one append-only stream and fsync'd in
 * batches every `syncIntervalMs`. The log explains verdicts; it is not what keeps mail safe
 * (that is re-injection, quarantine fsync or the MTA's queue), so a crash may lose at most the
 * last interval's records, never a message.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { toParapetError } from '../errors.js';

/** One message-log record (the JSON line). Fields are added, never renamed (CONTRACTS.md). */
export interface MessageLogRecord {
  readonly nodeId: string;
  readonly seq: number;
  /** Parapet id of the message (X-Parapet-Id). */
  readonly id: string;
  /** ISO time the record was written. */
  readonly time: string;
  readonly queueId: string | null;
  readonly client: { readonly address: string | null; readonly name: string | null };
  readonly helo: string | null;
  readonly from: string | null;
  readonly to: readonly string[];
  readonly subject: string | null;
  readonly sizeBytes: number;
  readonly verdict: string | null;
  readonly reason: string | null;
  readonly disposition: string;
  readonly score: number | null;
  readonly symbols: readonly { readonly name: string; readonly score: number }[];
  /** The policy rule that decided ("file:line"), when known. */
  readonly rule: string | null;
  readonly errorCode: string | null;
  /** Stage timings in milliseconds (receive, scan, policy, actions, total). */
  readonly timingsMs: Readonly<Record<string, number>>;
  /** Policy marks (`logmark`), in order; absent in records written before they existed. */
  readonly marks?: readonly string[];
  /** Names the virus scanner reported. */
  readonly virusNames?: readonly string[];
  /** Content types of the attachments (detected, else declared), each once. */
  readonly attachmentTypes?: readonly string[];
}

export type MessageLogEntry = Omit<MessageLogRecord, 'nodeId' | 'seq' | 'time'>;

export interface MessageLogOptions {
  readonly path: string;
  readonly nodeId: string;
  /** How often buffered records are fsync'd. Default 200 ms. */
  readonly syncIntervalMs?: number;
}

export class MessageLog {
  readonly #path: string;
  readonly #nodeId: string;
  readonly #syncIntervalMs: number;
  #stream: WriteStream | null = null;
  #seq = 0;
  #syncTimer: NodeJS.Timeout | null = null;
  #dirty = false;
  #failed: Error | null = null;
  /** JSON lines appended but not yet handed to the stream. */
  #buffered = '';

  private constructor(options: MessageLogOptions) {
    this.#path = options.path;
    this.#nodeId = options.nodeId;
    this.#syncIntervalMs = options.syncIntervalMs ?? 200;
  }

  /** Opens (creating) the log and recovers the last sequence number from its tail. */
  static async open(options: MessageLogOptions): Promise<MessageLog> {
    const log = new MessageLog(options);
    try {
      await mkdir(dirname(options.path), { recursive: true, mode: 0o750 });
      log.#seq = await readLastSequence(options.path);
      log.#stream = createWriteStream(options.path, { flags: 'a', mode: 0o640 });
      log.#stream.on('error', (err) => {
        log.#failed = err;
      });
    } catch (err) {
      throw toParapetError('ERR_MESSAGE_LOG_IO', err);
    }
    return log;
  }

  /** The sequence number of the last record appended. */
  get lastSequence(): number {
    return this.#seq;
  }

  /** Appends one record; returns it with its sequence number. Never blocks on the disk. */
  append(entry: MessageLogEntry): MessageLogRecord {
    if (this.#stream === null || this.#failed !== null) {
      throw toParapetError('ERR_MESSAGE_LOG_IO', this.#failed ?? new Error('message log closed'));
    }
    this.#seq += 1;
    const record: MessageLogRecord = {
      nodeId: this.#nodeId,
      seq: this.#seq,
      time: new Date().toISOString(),
      ...entry,
    };
    // Records are batched: one write (and one fsync) per interval instead of one per message.
    this.#buffered += `${JSON.stringify(record)}\n`;
    if (this.#buffered.length >= MAX_BUFFERED_CHARS) this.#writeBuffered();
    this.#scheduleSync();
    return record;
  }

  /** Flushes and fsyncs everything appended so far, then closes the file. */
  async close(): Promise<void> {
    if (this.#syncTimer !== null) clearTimeout(this.#syncTimer);
    this.#syncTimer = null;
    this.#writeBuffered();
    const stream = this.#stream;
    this.#stream = null;
    if (stream === null) return;
    await new Promise<void>((resolve) => stream.end(resolve));
    await fsyncPath(this.#path);
  }

  #writeBuffered(): void {
    if (this.#buffered === '' || this.#stream === null) return;
    this.#stream.write(this.#buffered);
    this.#buffered = '';
  }

  #scheduleSync(): void {
    this.#dirty = true;
    if (this.#syncTimer !== null) return;
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = null;
      if (!this.#dirty) return;
      this.#dirty = false;
      this.#writeBuffered();
      const stream = this.#stream;
      if (stream === null) return;
      // fsync after the stream has handed everything written so far to the kernel.
      stream.write('', () => {
        fsyncPath(this.#path).catch((err: unknown) => {
          this.#failed = err instanceof Error ? err : new Error(String(err));
        });
      });
    }, this.#syncIntervalMs);
    this.#syncTimer.unref();
  }
}

/** Above this many buffered characters, records go to the stream before the interval ends. */
const MAX_BUFFERED_CHARS = 256 * 1024;

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads the last complete line of the log and returns its seq (0 for a new log). */
async function readLastSequence(path: string): Promise<number> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    return 0;
  }
  if (size === 0) return 0;
  const handle = await open(path, 'r');
  try {
    const length = Math.min(size, 256 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const lines = buffer.toString('utf8').split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i];
      if (line === undefined || line.trim() === '') continue;
      try {
        const parsed = JSON.parse(line) as { seq?: unknown };
        if (typeof parsed.seq === 'number') return parsed.seq;
      } catch {
        // A torn last line after a crash: look at the one before it.
      }
    }
    return 0;
  } finally {
    await handle.close();
  }
}

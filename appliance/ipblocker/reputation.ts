/**
 * Recent-mail reputation per client IP, learned from the local message log: an address whose
 * mail in the last window was overwhelmingly spam or viruses is refused before its next
 * message is even received. Counts are kept in per-minute buckets so the window slides
 * without storing every message.
 */
import { open, stat } from 'node:fs/promises';
import type { MessageLogRecord } from '../../filter/index.js';

export interface ReputationSettings {
  /** Sliding window. Default one hour. */
  readonly windowMs: number;
  /** Fewer messages than this in the window never block. Default 10. */
  readonly minMessages: number;
  /** Share of bad messages at or above which the address is refused. Default 0.9. */
  readonly badRatio: number;
  /** Score at or above which a logged message counts as spam. Default 5. */
  readonly spamThreshold: number;
}

export const DEFAULT_REPUTATION: ReputationSettings = {
  windowMs: 3_600_000,
  minMessages: 10,
  badRatio: 0.9,
  spamThreshold: 5,
};

const BUCKET_MS = 60_000;

interface Counts {
  /** bucket start (ms) → [total, bad] */
  readonly buckets: Map<number, [number, number]>;
}

export interface ReputationVerdict {
  readonly total: number;
  readonly bad: number;
  readonly refuse: boolean;
}

/** True when a logged message counts against its client: spam score or a virus finding. */
export function isBadRecord(
  record: Pick<MessageLogRecord, 'score' | 'symbols'>,
  spamThreshold: number,
): boolean {
  if (record.score !== null && record.score >= spamThreshold) return true;
  return record.symbols.some((s) => s.name.includes('VIRUS') && !s.name.includes('UNSCANNED'));
}

export class ReputationTracker {
  readonly settings: ReputationSettings;
  readonly #byIp = new Map<string, Counts>();

  constructor(settings: Partial<ReputationSettings> = {}) {
    this.settings = { ...DEFAULT_REPUTATION, ...settings };
  }

  /** Counts one logged message (ignores records without a client address). */
  observe(record: MessageLogRecord): void {
    const ip = record.client.address;
    if (ip === null || ip === '') return;
    const at = Date.parse(record.time);
    if (!Number.isFinite(at)) return;
    const bucket = at - (at % BUCKET_MS);
    let counts = this.#byIp.get(ip);
    if (counts === undefined) {
      counts = { buckets: new Map() };
      this.#byIp.set(ip, counts);
    }
    let cell = counts.buckets.get(bucket);
    if (cell === undefined) {
      cell = [0, 0];
      counts.buckets.set(bucket, cell);
    }
    cell[0] += 1;
    if (isBadRecord(record, this.settings.spamThreshold)) cell[1] += 1;
  }

  /** The address's recent totals and whether they refuse it. */
  judge(ip: string, nowMs = Date.now()): ReputationVerdict {
    const counts = this.#byIp.get(ip);
    if (counts === undefined) return { total: 0, bad: 0, refuse: false };
    const since = nowMs - this.settings.windowMs;
    let total = 0;
    let bad = 0;
    for (const [bucket, [t, b]] of counts.buckets) {
      if (bucket + BUCKET_MS <= since) continue;
      total += t;
      bad += b;
    }
    const refuse = total >= this.settings.minMessages && bad / total >= this.settings.badRatio;
    return { total, bad, refuse };
  }

  /** Drops buckets older than the window; call now and then to bound memory. */
  prune(nowMs = Date.now()): void {
    const since = nowMs - this.settings.windowMs;
    for (const [ip, counts] of this.#byIp) {
      for (const bucket of counts.buckets.keys()) {
        if (bucket + BUCKET_MS <= since) counts.buckets.delete(bucket);
      }
      if (counts.buckets.size === 0) this.#byIp.delete(ip);
    }
  }

  get trackedAddresses(): number {
    return this.#byIp.size;
  }
}

/**
 * Follows the message-log file: each poll reads what was appended since the last one and
 * hands complete lines to `onRecord`. Starts `backfillBytes` before the end so a restart
 * relearns the recent window. A truncated or replaced file is read again from its start.
 */
export class MessageLogTail {
  readonly #path: string;
  readonly #onRecord: (record: MessageLogRecord) => void;
  #offset: number | null = null;
  #rest = '';
  readonly #backfillBytes: number;

  constructor(
    path: string,
    onRecord: (record: MessageLogRecord) => void,
    backfillBytes = 16 * 1024 * 1024,
  ) {
    this.#path = path;
    this.#onRecord = onRecord;
    this.#backfillBytes = backfillBytes;
  }

  /** Reads what is new. Never throws for a missing file or a bad line. */
  async poll(): Promise<number> {
    let size: number;
    try {
      size = (await stat(this.#path)).size;
    } catch {
      return 0;
    }
    if (this.#offset === null) {
      this.#offset = Math.max(0, size - this.#backfillBytes);
      // Starting mid-file: the first partial line is skipped.
      this.#rest = this.#offset > 0 ? '\0partial' : '';
    }
    if (size < this.#offset) {
      this.#offset = 0;
      this.#rest = '';
    }
    if (size === this.#offset) return 0;
    const handle = await open(this.#path, 'r');
    let seen = 0;
    try {
      const length = Math.min(size - this.#offset, 4 * 1024 * 1024);
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(buffer, 0, length, this.#offset);
      this.#offset += bytesRead;
      const text = this.#rest + buffer.toString('utf8', 0, bytesRead);
      const lines = text.split('\n');
      this.#rest = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '' || line.startsWith('\0')) continue;
        try {
          this.#onRecord(JSON.parse(line) as MessageLogRecord);
          seen++;
        } catch {
          // A torn or foreign line: skipped, the log is advisory here.
        }
      }
    } finally {
      await handle.close();
    }
    return seen;
  }
}

/**
 * The re-injection ledger: how the content filter keeps "exactly once" when it is killed
 * between re-injecting a message and telling upstream Postfix so (decision 0005).
 *
 * Postfix's 10026 smtpd commits a message as soon as it has read the final "." — whether or
 * not we live to read its 250 and pass a 250 upstream. If we die in that window, upstream
 * Postfix retries a message that was already delivered. So:
 *
 * - just before the "." leaves this process the ledger records the message's upstream
 *   fingerprint as *prepared* (P), and just after, as *committed* (C);
 * - a later attempt with the same fingerprint (Postfix retrying the same queue file) whose
 *   record is committed is answered 250 at once, without delivering it again;
 * - a prepared record without its commit means we died between the two writes — the "." may
 *   or may not have reached the MTA (a process preempted right after its write(2) can be
 *   killed before it runs again: seen under load). The re-injection witness (a separate
 *   process the 10026 smtpd consults as its milter, reinject-witness.ts) wrote a receipt
 *   for every copy that MTA accepted; the retry is answered from the ledger when the receipt
 *   of the prepared copy is there, and re-injected when it is not. Without a witness a
 *   prepared record counts as not delivered (a duplicate is possible, a loss is not).
 *
 * - Records are appended with a synchronous write(2): they survive SIGKILL (the kernel holds
 *   them) without an fsync per message. After a machine crash, records from the previous boot
 *   that were never settled are dropped, so the worst case there is a duplicate, never a loss.
 * - If the re-injection then fails (4xx, 5xx, timeout), the record is released and the retry
 *   is re-injected normally.
 * - Once upstream has clearly heard our 250 (its next command arrives), the record is settled
 *   and forgotten, so the ledger holds only messages in flight and crash leftovers.
 *
 * The fingerprint covers the envelope and the exact header block upstream sent, which carries
 * its Received header with its own queue id and time: a retry of the same queue file matches,
 * two different messages never do.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import type { Message } from '../message/message.js';
import { toParapetError } from '../errors.js';

/** What the ledger knows about one upstream message. */
export interface LedgerEntry {
  /** Parapet id of the re-injected copy (its X-Parapet-Id). */
  readonly id: string;
  /** When the "." went out (ms since the epoch). */
  readonly atMs: number;
  /** Upstream's queue id (XFORWARD IDENT), for people reading the ledger. */
  readonly label: string;
  /** `prepared`: the "." was about to leave; `committed`: it had left. */
  readonly state: 'prepared' | 'committed';
}

export interface ReinjectLedgerOptions {
  /** The append-only ledger file (under `$PARAPET_HOME/spool`). */
  readonly path: string;
  /** Unsettled records older than this are forgotten at open. Default 7 days (> Postfix's 5-day queue lifetime). */
  readonly retentionMs?: number;
  /** The current boot's id; default /proc/sys/kernel/random/boot_id. */
  readonly bootId?: string;
  /**
   * The re-injection witness's receipts file (reinject-witness.ts); it and its rotated `.1`
   * decide prepared records. Absent: no witness, a prepared record counts as not delivered.
   */
  readonly receiptsPath?: string;
}

/** The fingerprint of an upstream delivery attempt: envelope + exact header block + body size. */
export function reinjectFingerprint(message: Message): string {
  const hash = createHash('sha256');
  const env = message.envelope;
  hash.update(`${env.mailFrom?.address ?? ''}\n`);
  for (const r of env.recipients) hash.update(`${r.address}\n`);
  hash.update(`${message.body.size}\n`);
  hash.update(message.headers.toBuffer());
  return hash.digest('base64url');
}

function recordLine(fingerprint: string, entry: LedgerEntry, bootId: string): string {
  const kind = entry.state === 'committed' ? 'C' : 'P';
  return `${kind} ${fingerprint} ${entry.id} ${entry.atMs} ${bootId} ${entry.label}\n`;
}

/** Whether the witness left a receipt for `id` (current or rotated receipts file). */
function hasReceipt(receiptsPath: string, id: string): boolean {
  for (const path of [receiptsPath, `${receiptsPath}.1`]) {
    let text: string;
    try {
      text = readFileSync(path, 'latin1');
    } catch {
      continue;
    }
    if (text.startsWith(`${id}\n`) || text.includes(`\n${id}\n`)) return true;
  }
  return false;
}

function currentBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown-boot';
  }
}

export class ReinjectLedger {
  readonly #path: string;
  readonly #bootId: string;
  readonly #receiptsPath: string | null;
  readonly #entries = new Map<string, LedgerEntry>();
  /** Settle/release lines not yet written; they ride along with the next commit record. */
  #pending = '';
  #fd: number;
  #linesInFile = 0;

  private constructor(path: string, bootId: string, fd: number, receiptsPath: string | null) {
    this.#path = path;
    this.#bootId = bootId;
    this.#receiptsPath = receiptsPath;
    this.#fd = fd;
  }

  /** Reads the ledger, drops what is stale or uncertain, compacts the file and opens it. */
  static open(options: ReinjectLedgerOptions): ReinjectLedger {
    const bootId = options.bootId ?? currentBootId();
    const retentionMs = options.retentionMs ?? 7 * 24 * 3600 * 1000;
    try {
      const entries = new Map<string, LedgerEntry>();
      if (existsSync(options.path)) {
        for (const line of readFileSync(options.path, 'utf8').split('\n')) {
          const [kind, fp, id, at, boot, label] = line.split(' ');
          if (fp === undefined || fp === '') continue;
          if ((kind === 'C' || kind === 'P') && id !== undefined) {
            const atMs = Number(at);
            // A record from before a machine crash may describe a "." whose message the MTA
            // never synced: forget it (a duplicate is acceptable, a loss is not).
            if (boot !== bootId || !(Date.now() - atMs < retentionMs)) continue;
            // The last record of a fingerprint wins: P, then C once the "." had left.
            const state = kind === 'C' ? 'committed' : 'prepared';
            entries.set(fp, { id, atMs, label: label ?? '', state });
          } else if (kind === 'S' || kind === 'R') {
            entries.delete(fp);
          }
        }
      }
      const ledger = new ReinjectLedger(options.path, bootId, -1, options.receiptsPath ?? null);
      for (const [fp, e] of entries) ledger.#entries.set(fp, e);
      ledger.#compact();
      return ledger;
    } catch (err) {
      throw toParapetError('ERR_SPOOL_IO', err);
    }
  }

  /**
   * The committed re-injection of this fingerprint, if an earlier attempt left one. A prepared
   * record is decided here, once, by the witness's receipt: committed when it is there, else
   * released (re-inject). Synchronous; never throws (a decision that cannot be written holds
   * in memory and is taken again after a restart).
   */
  lookup(fingerprint: string): LedgerEntry | null {
    const entry = this.#entries.get(fingerprint);
    if (entry === undefined) return null;
    if (entry.state === 'committed') return entry;
    const receipts = this.#receiptsPath;
    const decided: LedgerEntry | null =
      receipts !== null && hasReceipt(receipts, entry.id) ? { ...entry, state: 'committed' } : null;
    if (decided === null) this.#entries.delete(fingerprint);
    else this.#entries.set(fingerprint, decided);
    try {
      this.#append(
        decided === null ? `R ${fingerprint}\n` : recordLine(fingerprint, decided, this.#bootId),
        true,
      );
    } catch {
      // Decided in memory; the file keeps the prepared record and a restart decides again.
    }
    return decided;
  }

  /** Unsettled records held (messages in flight plus crash leftovers), prepared or committed. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Records that the "." of `id` is about to leave this process. Must be called right before
   * that write. Synchronous; throws ERR_SPOOL_IO (sending the "." anyway without a record
   * risks a duplicate after a crash, never a loss).
   */
  prepare(fingerprint: string, id: string, upstreamQueueId: string | null = null): void {
    this.#record(fingerprint, id, upstreamQueueId, 'prepared');
  }

  /**
   * Records that the "." of `id` has left this process. Must be called in the same turn as
   * that write, after it reached the kernel. Synchronous; throws ERR_SPOOL_IO.
   */
  commit(fingerprint: string, id: string, upstreamQueueId: string | null = null): void {
    this.#record(fingerprint, id, upstreamQueueId, 'committed');
  }

  #record(
    fingerprint: string,
    id: string,
    upstreamQueueId: string | null,
    state: LedgerEntry['state'],
  ): void {
    const label = (upstreamQueueId ?? '').replace(/\s/g, '');
    const entry: LedgerEntry = { id, atMs: Date.now(), label, state };
    this.#append(recordLine(fingerprint, entry, this.#bootId), true);
    this.#entries.set(fingerprint, entry);
  }

  /** The re-injection did not succeed: a retry must re-inject again. Written at once. */
  release(fingerprint: string): void {
    if (!this.#entries.delete(fingerprint)) return;
    this.#append(`R ${fingerprint}\n`, true);
  }

  /** Upstream heard our 250: the record is no longer needed (written lazily). */
  settle(fingerprint: string): void {
    if (!this.#entries.delete(fingerprint)) return;
    this.#append(`S ${fingerprint}\n`, false);
  }

  /** Writes pending lines and closes the file. */
  close(): void {
    if (this.#fd < 0) return;
    if (this.#pending !== '') writeSync(this.#fd, this.#pending);
    this.#pending = '';
    closeSync(this.#fd);
    this.#fd = -1;
  }

  #append(line: string, now: boolean): void {
    if (this.#fd < 0) throw toParapetError('ERR_SPOOL_IO', new Error('ledger closed'));
    this.#pending += line;
    this.#linesInFile += 1;
    if (!now && this.#pending.length < 16 * 1024) return;
    try {
      writeSync(this.#fd, this.#pending);
    } catch (err) {
      throw toParapetError('ERR_SPOOL_IO', err);
    }
    this.#pending = '';
    if (this.#linesInFile > 100_000 && this.#linesInFile > 4 * this.#entries.size) this.#compact();
  }

  /**
   * Rewrites the file with the live records only (at open, and on a long-running node when
   * settled lines pile up), then reopens it for appending.
   */
  #compact(): void {
    const lines = [...this.#entries].map(([fp, e]) => recordLine(fp, e, this.#bootId));
    const tmp = `${this.#path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    writeSync(fd, lines.join(''));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.#path);
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = openSync(this.#path, 'a', 0o600);
    this.#linesInFile = lines.length;
  }
}

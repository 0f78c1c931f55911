/**
 * Where Bayes counts live. The interface is batch-shaped so a database store answers a scan
 * with one query (`counts` for all of a message's tokens) and a training step with one
 * transaction (`update`): the in-memory store here is the reference, the JSON-file store
 * persists it for a single node, and a PostgreSQL store shared by a server group implements
 * the same contract.
 */
import type { TokenId } from './token-hash.js';

/** The two classes a message can be learned as. */
export type BayesClass = 'spam' | 'ham';

/** How many learned spam and ham messages contained a token. */
export interface TokenCounts {
  readonly spam: number;
  readonly ham: number;
}

/** How many messages were learned as each class. */
export interface MessageTotals {
  readonly spam: number;
  readonly ham: number;
}

/**
 * One training step for one message, applied atomically: its tokens are removed from `from`
 * (when the message had been learned before) and added to `to` (null = forget it), the message
 * totals follow, and the store remembers `messageKey` as learned as `to`.
 */
export interface TrainingChange {
  /** Stable key of the message (see messageKey in trainer.ts). */
  readonly messageKey: string;
  /** The message's distinct token ids; each counts once per message. */
  readonly tokens: readonly TokenId[];
  readonly from: BayesClass | null;
  readonly to: BayesClass | null;
  /** The time of the change (ms since the epoch): the tokens' last-seen time. */
  readonly atMs: number;
}

/**
 * The Bayes token store. Every method may do I/O; none is called on a path that cannot wait.
 * A store never holds token text, only ids, counts and last-seen times.
 */
export interface TokenStore {
  /** Message totals; a scan reads them with the counts. */
  totals(signal?: AbortSignal): Promise<MessageTotals>;
  /** Counts of the given tokens; tokens never learned are absent from the map. */
  counts(
    tokens: readonly TokenId[],
    signal?: AbortSignal,
  ): Promise<ReadonlyMap<TokenId, TokenCounts>>;
  /** How `messageKey` was learned, or null if it was not (or was unlearned). */
  learnedAs(messageKey: string, signal?: AbortSignal): Promise<BayesClass | null>;
  /** Applies one training step (see {@link TrainingChange}) atomically. */
  update(change: TrainingChange, signal?: AbortSignal): Promise<void>;
  /**
   * Marks tokens as seen at `atMs` (a scan used them), so expiry keeps tokens still in use.
   * Stores may coarsen the time (a day is enough) and defer the write.
   */
  touch(tokens: readonly TokenId[], atMs: number, signal?: AbortSignal): Promise<void>;
  /** Removes tokens last seen before `cutoffMs`; returns how many were removed. */
  expire(cutoffMs: number, signal?: AbortSignal): Promise<number>;
  /** Makes every change so far durable (a no-op for stores that write through). */
  flush(signal?: AbortSignal): Promise<void>;
}

/** One token's row: counts and last-seen time in whole seconds. */
export interface TokenRow {
  spam: number;
  ham: number;
  lastSeenSec: number;
}

/** Everything a store holds, in plain data (the JSON-file store's snapshot). */
export interface TokenStoreSnapshot {
  readonly totals: MessageTotals;
  readonly tokens: ReadonlyMap<TokenId, Readonly<TokenRow>>;
  readonly learned: ReadonlyMap<string, BayesClass>;
}

/**
 * The reference store: everything in memory. Fast enough for a single node's scanning
 * (a Map lookup per token) and the cache under the JSON-file store.
 */
export class MemoryTokenStore implements TokenStore {
  readonly #tokens = new Map<TokenId, TokenRow>();
  readonly #learned = new Map<string, BayesClass>();
  #spam = 0;
  #ham = 0;
  /** Changes since the last {@link markClean}; the JSON-file store writes only when dirty. */
  #dirty = false;

  constructor(snapshot?: TokenStoreSnapshot) {
    if (snapshot === undefined) return;
    this.#spam = snapshot.totals.spam;
    this.#ham = snapshot.totals.ham;
    for (const [id, row] of snapshot.tokens) this.#tokens.set(id, { ...row });
    for (const [key, cls] of snapshot.learned) this.#learned.set(key, cls);
  }

  get dirty(): boolean {
    return this.#dirty;
  }

  markClean(): void {
    this.#dirty = false;
  }

  /** Distinct tokens held. */
  get size(): number {
    return this.#tokens.size;
  }

  totals(): Promise<MessageTotals> {
    return Promise.resolve({ spam: this.#spam, ham: this.#ham });
  }

  counts(tokens: readonly TokenId[]): Promise<ReadonlyMap<TokenId, TokenCounts>> {
    return Promise.resolve(this.countsNow(tokens));
  }

  /** {@link counts} without the promise, for hot loops over an in-memory store. */
  countsNow(tokens: readonly TokenId[]): Map<TokenId, TokenCounts> {
    const out = new Map<TokenId, TokenCounts>();
    for (const id of tokens) {
      const row = this.#tokens.get(id);
      if (row !== undefined) out.set(id, row);
    }
    return out;
  }

  learnedAs(messageKey: string): Promise<BayesClass | null> {
    return Promise.resolve(this.#learned.get(messageKey) ?? null);
  }

  update(change: TrainingChange): Promise<void> {
    const atSec = Math.floor(change.atMs / 1000);
    if (change.from !== null) {
      if (change.from === 'spam') this.#spam = Math.max(0, this.#spam - 1);
      else this.#ham = Math.max(0, this.#ham - 1);
      for (const id of change.tokens) {
        const row = this.#tokens.get(id);
        if (row === undefined) continue;
        if (change.from === 'spam') row.spam = Math.max(0, row.spam - 1);
        else row.ham = Math.max(0, row.ham - 1);
        if (row.spam === 0 && row.ham === 0) this.#tokens.delete(id);
      }
    }
    if (change.to !== null) {
      if (change.to === 'spam') this.#spam++;
      else this.#ham++;
      for (const id of change.tokens) {
        let row = this.#tokens.get(id);
        if (row === undefined) {
          row = { spam: 0, ham: 0, lastSeenSec: atSec };
          this.#tokens.set(id, row);
        }
        if (change.to === 'spam') row.spam++;
        else row.ham++;
        if (atSec > row.lastSeenSec) row.lastSeenSec = atSec;
      }
      this.#learned.set(change.messageKey, change.to);
    } else {
      this.#learned.delete(change.messageKey);
    }
    this.#dirty = true;
    return Promise.resolve();
  }

  touch(tokens: readonly TokenId[], atMs: number): Promise<void> {
    this.touchNow(tokens, atMs);
    return Promise.resolve();
  }

  /** {@link touch} without the promise. */
  touchNow(tokens: readonly TokenId[], atMs: number): void {
    // Day granularity: a scan rewrites a row at most once a day, so the snapshot stays clean.
    const atSec = Math.floor(atMs / 1000);
    for (const id of tokens) {
      const row = this.#tokens.get(id);
      if (row !== undefined && atSec - row.lastSeenSec >= 86_400) {
        row.lastSeenSec = atSec;
        this.#dirty = true;
      }
    }
  }

  expire(cutoffMs: number): Promise<number> {
    const cutoffSec = Math.floor(cutoffMs / 1000);
    let removed = 0;
    for (const [id, row] of this.#tokens) {
      if (row.lastSeenSec < cutoffSec) {
        this.#tokens.delete(id);
        removed++;
      }
    }
    if (removed > 0) this.#dirty = true;
    return Promise.resolve(removed);
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  /** A copy of everything held (for snapshots and tests). */
  snapshot(): TokenStoreSnapshot {
    const tokens = new Map<TokenId, TokenRow>();
    for (const [id, row] of this.#tokens) tokens.set(id, { ...row });
    return {
      totals: { spam: this.#spam, ham: this.#ham },
      tokens,
      learned: new Map(this.#learned),
    };
  }
}

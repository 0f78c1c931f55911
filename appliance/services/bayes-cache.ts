/**
 * The policy service's Bayes store: a read-only in-memory copy of the node's snapshot
 * (`$PARAPET_HOME/bayes/tokens.json`), so a scan never waits on a query or on the database
 * being up (ARCHITECTURE.md: filtering never waits on the network or the central DB).
 *
 * - Reload: every `reloadCheckMs` the file's identity (inode, size, mtime) is compared with the
 *   loaded one; a changed file is parsed off the scan path and swapped in whole. A file that
 *   does not parse keeps the old copy (reported through `onEvent`). The file is written by the
 *   database service's export (bayes-sync.ts) or, without a database, by `parapet learn`.
 * - Touches: the tokens a scan used are collected per UTC day (only those the snapshot last
 *   saw before that day, each once a day) and written every `touchFlushMs` to the touch spool
 *   (bayes-touch-spool.ts) for the database service or the expiry job to apply.
 * Training goes elsewhere (`parapet learn`, the database store): update() refuses.
 */
import { stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ParapetError,
  type BayesClass,
  type MessageTotals,
  type TokenCounts,
  type TokenId,
  type TokenStore,
  type TrainingChange,
} from '../../filter/index.js';
import { writeTouchFile } from './bayes-touch-spool.js';
import { ensureSpoolRoom } from './spool-files.js';

const DAY_MS = 86_400_000;

/** Where a node keeps its Bayes files. */
export interface BayesPaths {
  /** The snapshot the policy service scans from (and the store without a database). */
  readonly tokens: string;
  /** The touch spool directory. */
  readonly touched: string;
  /** A node's own trained store, set aside when the shared store took over. */
  readonly localBackup: string;
  /** The auto-learn spool directory (bayes-autolearn.ts). */
  readonly autolearn: string;
}

/**
 * The node's Bayes file layout. Kept here, free of database imports, so the policy service
 * does not load the database client to find its files.
 */
export function bayesPaths(home: string): BayesPaths {
  const dir = join(home, 'bayes');
  return {
    tokens: join(dir, 'tokens.json'),
    touched: join(dir, 'touched'),
    localBackup: join(dir, 'tokens.local.json'),
    autolearn: join(dir, 'autolearn'),
  };
}

/**
 * A snapshot held as parallel typed arrays sorted by token id: a lookup is a binary search, and
 * a million tokens take 24 MB and no per-token objects (a map of row objects took about ten
 * times as long to build, on the scan path's event loop).
 */
export class CompactSnapshot {
  readonly totals: MessageTotals;
  readonly #ids: Float64Array;
  readonly #spam: Uint32Array;
  readonly #ham: Uint32Array;
  readonly #seen: Float64Array;

  constructor(
    totals: MessageTotals,
    ids: Float64Array,
    spam: Uint32Array,
    ham: Uint32Array,
    seen: Float64Array,
  ) {
    this.totals = totals;
    this.#ids = ids;
    this.#spam = spam;
    this.#ham = ham;
    this.#seen = seen;
  }

  static empty(): CompactSnapshot {
    return new CompactSnapshot(
      { spam: 0, ham: 0 },
      new Float64Array(0),
      new Uint32Array(0),
      new Uint32Array(0),
      new Float64Array(0),
    );
  }

  get size(): number {
    return this.#ids.length;
  }

  /** The row of `id`, or -1. */
  indexOf(id: TokenId): number {
    const ids = this.#ids;
    let lo = 0;
    let hi = ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = ids[mid] ?? 0;
      if (v < id) lo = mid + 1;
      else if (v > id) hi = mid - 1;
      else return mid;
    }
    return -1;
  }

  counts(tokens: readonly TokenId[]): Map<TokenId, TokenCounts> {
    const out = new Map<TokenId, TokenCounts>();
    for (const id of tokens) {
      const i = this.indexOf(id);
      if (i >= 0) out.set(id, { spam: this.#spam[i] ?? 0, ham: this.#ham[i] ?? 0 });
    }
    return out;
  }

  /** Last-seen time (seconds) of `id`, or undefined when absent. */
  lastSeenSec(id: TokenId): number | undefined {
    const i = this.indexOf(id);
    return i < 0 ? undefined : this.#seen[i];
  }
}

const isCount = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Parses a snapshot file's text (the JSON-file store's format 1, learned keys ignored) into a
 * {@link CompactSnapshot}. Throws ERR_BAYES_STORE_INVALID with the reason.
 */
export function parseCompactSnapshot(text: string, path: string): CompactSnapshot {
  const invalid = (why: string): ParapetError =>
    new ParapetError('ERR_BAYES_STORE_INVALID', `${path}: ${why}`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ParapetError('ERR_BAYES_STORE_INVALID', `${path}: not JSON`, { cause: err });
  }
  if (typeof data !== 'object' || data === null) throw invalid('not an object');
  const record = data as Record<string, unknown>;
  if (record['format'] !== 'parapet-bayes') throw invalid('format is not "parapet-bayes"');
  if (record['version'] !== 1) throw invalid('unsupported version');
  const totals = record['totals'] as Record<string, unknown> | null | undefined;
  if (typeof totals !== 'object' || totals === null) throw invalid('no totals');
  const spamTotal = totals['spam'];
  const hamTotal = totals['ham'];
  if (!isCount(spamTotal) || !isCount(hamTotal)) throw invalid('bad totals');
  const flat = record['tokens'];
  if (!Array.isArray(flat) || flat.length % 4 !== 0) throw invalid('bad tokens array');
  const n = flat.length / 4;
  const ids = new Float64Array(n);
  const spam = new Uint32Array(n);
  const ham = new Uint32Array(n);
  const seen = new Float64Array(n);
  let sorted = true;
  for (let r = 0; r < n; r++) {
    const id: unknown = flat[r * 4];
    const s: unknown = flat[r * 4 + 1];
    const h: unknown = flat[r * 4 + 2];
    const t: unknown = flat[r * 4 + 3];
    if (!isCount(id) || !isCount(s) || !isCount(h) || !isCount(t)) {
      throw invalid(`bad token row ${String(r)}`);
    }
    ids[r] = id;
    spam[r] = Math.min(s, 0xffff_ffff);
    ham[r] = Math.min(h, 0xffff_ffff);
    seen[r] = t;
    if (r > 0 && (ids[r - 1] ?? 0) >= id) sorted = false;
  }
  const totalsOf = { spam: spamTotal, ham: hamTotal };
  return sorted
    ? new CompactSnapshot(totalsOf, ids, spam, ham, seen)
    : sortedSnapshot(totalsOf, ids, spam, ham, seen);
}

/** Files written before rows were sorted: reorder once at load (duplicates: the last wins). */
function sortedSnapshot(
  totals: MessageTotals,
  ids: Float64Array,
  spam: Uint32Array,
  ham: Uint32Array,
  seen: Float64Array,
): CompactSnapshot {
  const order = Array.from({ length: ids.length }, (_, i) => i).sort(
    (a, b) => (ids[a] ?? 0) - (ids[b] ?? 0) || a - b,
  );
  const keep = order.filter((i, k) => ids[i] !== ids[order[k + 1] ?? -1]);
  const pick = <A extends Float64Array | Uint32Array>(from: A, to: A): A => {
    keep.forEach((i, k) => {
      to[k] = from[i] ?? 0;
    });
    return to;
  };
  return new CompactSnapshot(
    totals,
    pick(ids, new Float64Array(keep.length)),
    pick(spam, new Uint32Array(keep.length)),
    pick(ham, new Uint32Array(keep.length)),
    pick(seen, new Float64Array(keep.length)),
  );
}

export type BayesCacheEvent =
  | { readonly type: 'reloaded'; readonly tokens: number; readonly ms: number }
  | { readonly type: 'reload-failed'; readonly error: string }
  | { readonly type: 'touch-spooled'; readonly tokens: number }
  | { readonly type: 'touch-failed'; readonly error: string };

export interface CachedTokenStoreOptions {
  /** The snapshot file. */
  readonly path: string;
  /** The touch spool directory. */
  readonly touchDir: string;
  /** How often the file is checked for a change. Default 30000. */
  readonly reloadCheckMs?: number;
  /** How often collected touches are written. Default 60000. */
  readonly touchFlushMs?: number;
  /** Spool files beyond which touches are dropped (nobody ships them). Default 5000. */
  readonly maxSpoolFiles?: number;
  readonly onEvent?: (event: BayesCacheEvent) => void;
}

interface FileIdentity {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

const sameFile = (a: FileIdentity | null, b: FileIdentity | null): boolean =>
  a === b ||
  (a !== null && b !== null && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs);

async function identityOf(path: string): Promise<FileIdentity | null> {
  try {
    const s = await stat(path);
    return { ino: s.ino, size: s.size, mtimeMs: s.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export class CachedTokenStore implements TokenStore {
  readonly #options: CachedTokenStoreOptions;
  #snapshot = CompactSnapshot.empty();
  #loaded: FileIdentity | null = null;
  /** Touches not yet spooled, by UTC day start. */
  readonly #pending = new Map<number, Set<TokenId>>();
  /** Tokens spooled (or pending) for the current day: each goes out once a day. */
  #sentDay = -1;
  #sent = new Set<TokenId>();
  #reloading: Promise<boolean> | null = null;
  #timers: NodeJS.Timeout[] = [];

  private constructor(options: CachedTokenStoreOptions) {
    this.#options = options;
  }

  /**
   * Loads the snapshot and starts the reload and touch timers (unref'd). Never throws: an
   * absent or broken file is an empty store (a broken one reported through `onEvent`) until a
   * good file appears, so a bad snapshot costs the Bayes score, never the mail flow.
   */
  static async open(options: CachedTokenStoreOptions): Promise<CachedTokenStore> {
    const store = new CachedTokenStore(options);
    await store.reload();
    const every = (ms: number, fn: () => Promise<unknown>): void => {
      const timer = setInterval(() => {
        fn().catch(() => undefined);
      }, ms);
      timer.unref();
      store.#timers.push(timer);
    };
    every(options.reloadCheckMs ?? 30_000, () => store.reload());
    every(options.touchFlushMs ?? 60_000, () => store.flush());
    return store;
  }

  /** Distinct tokens in the loaded snapshot. */
  get size(): number {
    return this.#snapshot.size;
  }

  async #load(): Promise<boolean> {
    const before = await identityOf(this.#options.path);
    if (sameFile(before, this.#loaded)) return false;
    const started = performance.now();
    let snapshot = CompactSnapshot.empty();
    if (before !== null) {
      let text: string;
      try {
        text = await readFile(this.#options.path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          throw new ParapetError('ERR_BAYES_STORE_IO', `cannot read ${this.#options.path}`, {
            cause: err,
          });
        }
        text = '';
      }
      if (text !== '') snapshot = parseCompactSnapshot(text, this.#options.path);
    }
    this.#snapshot = snapshot;
    this.#loaded = before;
    this.#options.onEvent?.({
      type: 'reloaded',
      tokens: snapshot.size,
      ms: performance.now() - started,
    });
    return true;
  }

  /**
   * Loads the file again if it changed since the last load; true when a new copy is in use.
   * Never throws: a bad file keeps the old copy.
   */
  reload(): Promise<boolean> {
    this.#reloading ??= this.#load()
      .catch((err: unknown) => {
        this.#options.onEvent?.({
          type: 'reload-failed',
          error: err instanceof Error ? err.message : String(err),
        });
        return false;
      })
      .finally(() => {
        this.#reloading = null;
      });
    return this.#reloading;
  }

  totals(): Promise<MessageTotals> {
    return Promise.resolve(this.#snapshot.totals);
  }

  counts(tokens: readonly TokenId[]): Promise<ReadonlyMap<TokenId, TokenCounts>> {
    return Promise.resolve(this.#snapshot.counts(tokens));
  }

  /** The cache holds no learned keys (the database does): always null. */
  learnedAs(): Promise<BayesClass | null> {
    return Promise.resolve(null);
  }

  update(_change: TrainingChange): Promise<void> {
    return Promise.reject(
      new ParapetError(
        'ERR_BAYES_STORE_IO',
        "the policy service's Bayes cache is read-only: train with parapet learn",
      ),
    );
  }

  /** Collects the tokens the snapshot knows and last saw before `atMs`'s day. */
  touch(tokens: readonly TokenId[], atMs: number): Promise<void> {
    const day = Math.floor(atMs / DAY_MS) * DAY_MS;
    if (day > this.#sentDay) {
      this.#sentDay = day;
      this.#sent = new Set();
    } else if (day < this.#sentDay) {
      return Promise.resolve(); // a clock step back: yesterday's touches are in already
    }
    const daySec = day / 1000;
    let pending = this.#pending.get(day);
    for (const id of tokens) {
      if (this.#sent.has(id)) continue;
      const seen = this.#snapshot.lastSeenSec(id);
      if (seen === undefined || seen >= daySec) continue;
      this.#sent.add(id);
      if (pending === undefined) {
        pending = new Set();
        this.#pending.set(day, pending);
      }
      pending.add(id);
    }
    return Promise.resolve();
  }

  /** Writes the collected touches to the spool (dropped when the spool is not being shipped). */
  async flush(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batches = [...this.#pending];
    this.#pending.clear();
    try {
      await ensureSpoolRoom(
        this.#options.touchDir,
        this.#options.maxSpoolFiles ?? 5000,
        'touch files not shipped',
      );
      let count = 0;
      for (const [day, ids] of batches) {
        await writeTouchFile(this.#options.touchDir, day, [...ids]);
        count += ids.size;
      }
      this.#options.onEvent?.({ type: 'touch-spooled', tokens: count });
    } catch (err) {
      // Touches only keep tokens from expiring early; losing a minute of them is harmless.
      this.#options.onEvent?.({
        type: 'touch-failed',
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** The cache never expires tokens: the database (or the expiry job on the file) does. */
  expire(): Promise<number> {
    return Promise.resolve(0);
  }

  /** Stops the timers and spools what was collected. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    await this.#reloading;
    await this.flush();
  }
}

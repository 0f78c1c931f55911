/**
 * The server group's Bayes store in PostgreSQL (bayes_tokens, bayes_totals, bayes_learned;
 * migrations 0004 and 0008), implementing filter's TokenStore contract: `counts` is one query
 * for all of a message's tokens, `update` one transaction, `touch` is coarse (a day) and
 * batched. Scans on a node read a cached snapshot instead (../services/bayes-cache.ts); this
 * store serves training (`parapet learn`, quarantine actions), the snapshot export and expiry.
 *
 * Concurrency: a training step takes a transaction-scoped advisory lock on its message key and
 * reads how the key is learned *inside* the transaction, so two nodes learning the same message
 * at once count it once (the second finds it learned and changes nothing). Token rows are
 * upserted in ascending id order and the one totals row is updated last, so two steps over
 * overlapping tokens queue rather than deadlock; expiry and last-seen updates lock in another
 * order, so every writer retries a deadlock (40P01) or serialization failure (40001).
 */
import type {
  BayesClass,
  MessageTotals,
  TokenCounts,
  TokenId,
  TokenStore,
  TrainingChange,
} from '../../filter/index.js';
import { sqlState, type Db, type Queryable } from './db.js';

const DAY_MS = 86_400_000;
/** First key of the two-int advisory lock space used for message keys ('BAYE'). */
const LEARN_LOCK_SPACE = 0x42415945;
/** Ids per statement for last-seen updates and bulk inserts. */
const CHUNK = 10_000;

/** Options of {@link PgTokenStore}. */
export interface PgTokenStoreOptions {
  /** Touched tokens held in memory before they are written without a flush. Default 20000. */
  readonly touchBatch?: number;
  /** Attempts of a write that hit a deadlock or serialization failure. Default 5. */
  readonly attempts?: number;
}

/** The start of the UTC day of `ms`, in ms. */
export function dayStartMs(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** Retries `fn` when PostgreSQL broke a deadlock or a serialization conflict by failing it. */
export async function retryOnConflict<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const state = sqlState(err);
      if (attempt >= attempts || (state !== '40P01' && state !== '40001')) throw err;
      // Jitter so the two losers of a deadlock do not collide again.
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * attempt));
    }
  }
}

/** Sorted distinct ids: the lock order every writer of token rows uses. */
function sortedIds(tokens: Iterable<TokenId>): TokenId[] {
  return [...new Set(tokens)].sort((a, b) => a - b);
}

function classDelta(cls: BayesClass | null, which: BayesClass): number {
  return cls === which ? 1 : 0;
}

/**
 * Applies one training step inside `tx` (which must be a transaction). The step's `from` is
 * not trusted: the key's current class is read under the key's lock, so the result is "the
 * message is learned as `to`" whatever raced. With `onlyIfUnlearned` (auto-learn) a message
 * learned already, as either class, is left alone. Returns false when nothing changed.
 */
export async function applyTrainingChange(
  tx: Queryable,
  change: TrainingChange,
  options: { onlyIfUnlearned?: boolean } = {},
): Promise<boolean> {
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
    LEARN_LOCK_SPACE,
    change.messageKey,
  ]);
  const rows = await tx.query<{ class: BayesClass }>(
    'SELECT class FROM bayes_learned WHERE message_key = $1',
    [change.messageKey],
  );
  const from = rows[0]?.class ?? null;
  const to = change.to;
  if (from === to || (options.onlyIfUnlearned === true && from !== null)) return false;
  const dSpam = classDelta(to, 'spam') - classDelta(from, 'spam');
  const dHam = classDelta(to, 'ham') - classDelta(from, 'ham');
  const at = new Date(change.atMs);
  const ids = sortedIds(change.tokens);
  if (ids.length > 0) {
    // One upsert in id order. Forgetting (to = null) may insert (0, 0) rows for tokens that had
    // gone (expired); the delete below removes them with the rows that reached zero.
    await tx.execute(
      `INSERT INTO bayes_tokens AS b (token, nspam, nham, last_seen)
       SELECT t, greatest($2::bigint, 0), greatest($3::bigint, 0), $4::timestamptz
         FROM unnest($1::bigint[]) AS t ORDER BY t
       ON CONFLICT (token) DO UPDATE SET
         nspam = greatest(b.nspam + $2::bigint, 0),
         nham = greatest(b.nham + $3::bigint, 0),
         last_seen = CASE WHEN $5::boolean THEN greatest(b.last_seen, EXCLUDED.last_seen) ELSE b.last_seen END`,
      [ids, dSpam, dHam, at, to !== null],
    );
    if (dSpam < 0 || dHam < 0) {
      await tx.execute(
        'DELETE FROM bayes_tokens WHERE token = ANY($1::bigint[]) AND nspam = 0 AND nham = 0',
        [ids],
      );
    }
  }
  if (to === null) {
    await tx.execute('DELETE FROM bayes_learned WHERE message_key = $1', [change.messageKey]);
  } else {
    await tx.execute(
      `INSERT INTO bayes_learned (message_key, class, learned_at) VALUES ($1, $2, $3)
       ON CONFLICT (message_key) DO UPDATE SET class = EXCLUDED.class, learned_at = EXCLUDED.learned_at`,
      [change.messageKey, to, at],
    );
  }
  // Last: the one row every step updates is held only until COMMIT.
  await tx.execute(
    `UPDATE bayes_totals SET nspam = greatest(nspam + $1::bigint, 0),
       nham = greatest(nham + $2::bigint, 0), version = version + 1, updated_at = now()`,
    [dSpam, dHam],
  );
  return true;
}

/** Sets last_seen to `dayMs` for those of `tokens` seen earlier (chunked, id order). */
export async function touchTokensInDb(
  db: Db,
  tokens: readonly TokenId[],
  dayMs: number,
  attempts = 5,
): Promise<number> {
  const ids = sortedIds(tokens);
  const day = new Date(dayMs);
  let touched = 0;
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    touched += await retryOnConflict(
      () =>
        db.execute(
          'UPDATE bayes_tokens SET last_seen = $2 WHERE token = ANY($1::bigint[]) AND last_seen < $2',
          [chunk, day],
        ),
      attempts,
    );
  }
  return touched;
}

/** The PostgreSQL token store. One per process; it shares the process's pool. */
export class PgTokenStore implements TokenStore {
  readonly #db: Db;
  readonly #touchBatch: number;
  readonly #attempts: number;
  /** Touched tokens not yet written, by UTC day start. */
  readonly #pending = new Map<number, Set<TokenId>>();
  #pendingCount = 0;

  constructor(db: Db, options: PgTokenStoreOptions = {}) {
    this.#db = db;
    this.#touchBatch = options.touchBatch ?? 20_000;
    this.#attempts = options.attempts ?? 5;
  }

  async totals(signal?: AbortSignal): Promise<MessageTotals> {
    signal?.throwIfAborted();
    const rows = await this.#db.query<{ nspam: number; nham: number }>(
      'SELECT nspam, nham FROM bayes_totals',
    );
    return { spam: rows[0]?.nspam ?? 0, ham: rows[0]?.nham ?? 0 };
  }

  /** The change counter: moves with every training step, import and expiry. */
  async version(): Promise<number> {
    const rows = await this.#db.query<{ version: number }>('SELECT version FROM bayes_totals');
    return rows[0]?.version ?? 0;
  }

  async counts(
    tokens: readonly TokenId[],
    signal?: AbortSignal,
  ): Promise<ReadonlyMap<TokenId, TokenCounts>> {
    signal?.throwIfAborted();
    const out = new Map<TokenId, TokenCounts>();
    if (tokens.length === 0) return out;
    const rows = await this.#db.query<{ token: number; nspam: number; nham: number }>(
      'SELECT token, nspam, nham FROM bayes_tokens WHERE token = ANY($1::bigint[])',
      [tokens],
    );
    for (const row of rows) out.set(row.token, { spam: row.nspam, ham: row.nham });
    return out;
  }

  async learnedAs(messageKey: string, signal?: AbortSignal): Promise<BayesClass | null> {
    signal?.throwIfAborted();
    const rows = await this.#db.query<{ class: BayesClass }>(
      'SELECT class FROM bayes_learned WHERE message_key = $1',
      [messageKey],
    );
    return rows[0]?.class ?? null;
  }

  /**
   * Applies the step in one transaction. `change.from` is advisory: the step makes the message
   * learned as `change.to` from whatever the database holds (see {@link applyTrainingChange}).
   */
  async update(change: TrainingChange, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    await retryOnConflict(
      () => this.#db.transaction((tx) => applyTrainingChange(tx, change)),
      this.#attempts,
    );
  }

  /**
   * Learns the message unless it was learned already (as either class): auto-learn never
   * overrides a decision. True when it was learned.
   */
  async learnIfNew(change: TrainingChange): Promise<boolean> {
    return retryOnConflict(
      () =>
        this.#db.transaction((tx) => applyTrainingChange(tx, change, { onlyIfUnlearned: true })),
      this.#attempts,
    );
  }

  /** Queues the tokens as seen on `atMs`'s day; written by {@link flush} or a full batch. */
  async touch(tokens: readonly TokenId[], atMs: number, signal?: AbortSignal): Promise<void> {
    const day = dayStartMs(atMs);
    let set = this.#pending.get(day);
    if (set === undefined) {
      set = new Set();
      this.#pending.set(day, set);
    }
    for (const id of tokens) {
      if (!set.has(id)) {
        set.add(id);
        this.#pendingCount++;
      }
    }
    if (this.#pendingCount >= this.#touchBatch) await this.flush(signal);
  }

  /** Writes the queued touches. A failed write keeps them queued. */
  async flush(signal?: AbortSignal): Promise<void> {
    for (const [day, set] of [...this.#pending]) {
      signal?.throwIfAborted();
      await touchTokensInDb(this.#db, [...set], day, this.#attempts);
      this.#pending.delete(day);
      this.#pendingCount -= set.size;
    }
  }

  /**
   * Removes tokens last seen before `cutoffMs` and forgets message keys learned before it (so
   * bayes_learned does not grow without end; such a message learned again counts again, as its
   * tokens are mostly gone). Moves the version when anything went. Returns the tokens removed.
   */
  async expire(cutoffMs: number, signal?: AbortSignal): Promise<number> {
    signal?.throwIfAborted();
    const cutoff = new Date(cutoffMs);
    return retryOnConflict(
      () =>
        this.#db.transaction(async (tx) => {
          const tokens = await tx.execute('DELETE FROM bayes_tokens WHERE last_seen < $1', [
            cutoff,
          ]);
          const keys = await tx.execute('DELETE FROM bayes_learned WHERE learned_at < $1', [
            cutoff,
          ]);
          if (tokens > 0 || keys > 0) {
            await tx.execute('UPDATE bayes_totals SET version = version + 1, updated_at = now()');
          }
          return tokens;
        }),
      this.#attempts,
    );
  }
}

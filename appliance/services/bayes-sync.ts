/**
 * Keeps a node's Bayes snapshot in step with the server group's store (decision record:
 * ../db/bayes-shared-store.decision.md). Run by the database service every
 * `intervalMs`:
 * 1. ships the touch spool (which tokens the policy service's scans used) to
 *    bayes_tokens.last_seen, and learns the auto-learn spool's messages (bayes-autolearn.ts);
 * 2. once, if the node's tokens.json is its own trained store (not an export): imports it when
 *    the database store is empty, and keeps it as `tokens.local.json` either way;
 * 3. exports the database store to tokens.json when the database's version differs from the
 *    file's (or there is no file); the policy service reloads the file (bayes-cache.ts).
 * Also the helpers `parapet learn` and the expiry job use to pick the store.
 */
import { existsSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { ParapetError, parseTokenSnapshot } from '../../filter/index.js';
import type { NodeConfig } from '../config/node-config.js';
import {
  exportBayesSnapshot,
  importBayesSnapshotIfEmpty,
  readSnapshotOrigin,
  type BayesExportResult,
  type BayesImportResult,
} from '../db/bayes-snapshot.js';
import { PgTokenStore, touchTokensInDb } from '../db/bayes-token-store.js';
import type { Db } from '../db/db.js';
import { applyLearnSpool, type LearnSpoolResult } from './bayes-autolearn.js';
import { applyTouchSpool, type TouchSpoolResult } from './bayes-touch-spool.js';
import { bayesPaths, type BayesPaths } from './bayes-cache.js';

// The file layout lives with the cache (no database imports); re-exported for the callers here.
export { bayesPaths, type BayesPaths } from './bayes-cache.js';

/**
 * Whether the node's Bayes store is the database: an external URL is configured, or the node
 * has an embedded cluster (`$PARAPET_HOME/db`, created by `parapet start`). Without either,
 * tokens.json is the store itself.
 */
export function nodeUsesDatabase(config: Pick<NodeConfig, 'home' | 'database'>): boolean {
  return config.database.url !== null || existsSync(join(config.home, 'db'));
}

/** One sync step's outcome. */
export interface BayesSyncResult extends BayesRefreshResult {
  readonly touched: TouchSpoolResult;
  readonly autoLearned: LearnSpoolResult;
}

/**
 * Imports a node-local tokens.json into an empty database store and moves it to
 * `tokens.local.json` (or `tokens.local.json.<ms>` when that exists): kept, never merged into a
 * store that has data, where merging could count a message twice. Null when tokens.json is
 * absent or an export.
 */
export async function adoptLocalSnapshot(
  db: Db,
  paths: BayesPaths,
): Promise<BayesImportResult | null> {
  const origin = await readSnapshotOrigin(paths.tokens);
  if (origin?.kind !== 'local') return null;
  let text: string;
  try {
    text = await readFile(paths.tokens, 'utf8');
  } catch (err) {
    // Another process (the database service, `parapet learn`) adopted it meanwhile.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let result: BayesImportResult = { imported: false, tokens: 0, learned: 0 };
  try {
    result = await importBayesSnapshotIfEmpty(
      db,
      parseTokenSnapshot(text, paths.tokens).snapshot(),
    );
  } catch (err) {
    // A file that is no snapshot is set aside too (for the operator), never imported.
    if (!(err instanceof ParapetError && err.code === 'ERR_BAYES_STORE_INVALID')) throw err;
  }
  const aside = existsSync(paths.localBackup)
    ? `${paths.localBackup}.${String(Date.now())}`
    : paths.localBackup;
  try {
    await rename(paths.tokens, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return result;
}

/** What {@link refreshSnapshot} did. */
export interface BayesRefreshResult {
  /** Set when tokens.json was a node-local store (see {@link adoptLocalSnapshot}). */
  readonly imported: BayesImportResult | null;
  /** Set when the snapshot was written. */
  readonly exported: (BayesExportResult & { readonly ms: number }) | null;
}

/**
 * Writes the snapshot when the database's version differs from the file's or there is no
 * file. A node-local tokens.json is adopted first (imported or set aside), never overwritten.
 */
export async function refreshSnapshot(db: Db, paths: BayesPaths): Promise<BayesRefreshResult> {
  let origin = await readSnapshotOrigin(paths.tokens);
  let imported: BayesImportResult | null = null;
  if (origin?.kind === 'local') {
    imported = await adoptLocalSnapshot(db, paths);
    origin = null;
  }
  if (origin?.kind === 'database') {
    if ((await new PgTokenStore(db).version()) === origin.dbVersion) {
      return { imported, exported: null };
    }
  }
  const started = performance.now();
  const result = await exportBayesSnapshot(db, paths.tokens);
  return { imported, exported: { ...result, ms: performance.now() - started } };
}

/** Learns the auto-learn spool's messages into the database (those not learned already). */
export function shipLearnSpool(db: Db, paths: BayesPaths): Promise<LearnSpoolResult> {
  const store = new PgTokenStore(db);
  return applyLearnSpool(paths.autolearn, (entry) =>
    store.learnIfNew({
      messageKey: entry.key,
      tokens: entry.tokens,
      from: null,
      to: entry.class,
      atMs: entry.atMs,
    }),
  );
}

/** Ships the touch spool to the database. */
export function shipTouchSpool(db: Db, paths: BayesPaths): Promise<TouchSpoolResult> {
  return applyTouchSpool(paths.touched, async (dayMs, tokens) => {
    await touchTokensInDb(db, tokens, dayMs);
  });
}

export type BayesSyncEvent =
  | { readonly type: 'synced'; readonly result: BayesSyncResult }
  | { readonly type: 'failed'; readonly error: string };

export interface BayesSyncOptions {
  readonly db: Db;
  readonly home: string;
  /** Between steps. Default 60000. */
  readonly intervalMs?: number;
  readonly onEvent?: (event: BayesSyncEvent) => void;
}

/** The database service's loop; see the module comment. */
export class BayesSync {
  readonly #db: Db;
  readonly #paths: BayesPaths;
  readonly #intervalMs: number;
  readonly #onEvent: ((event: BayesSyncEvent) => void) | undefined;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;
  #stopped = false;

  constructor(options: BayesSyncOptions) {
    this.#db = options.db;
    this.#paths = bayesPaths(options.home);
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#onEvent = options.onEvent;
  }

  /** One step (touches, import, export). Throws what failed; the loop retries next time. */
  async runOnce(): Promise<BayesSyncResult> {
    const touched = await shipTouchSpool(this.#db, this.#paths);
    const autoLearned = await shipLearnSpool(this.#db, this.#paths);
    return { touched, autoLearned, ...(await refreshSnapshot(this.#db, this.#paths)) };
  }

  /** Runs a step now and then every interval, until {@link stop}. */
  start(): void {
    const tick = (): void => {
      if (this.#stopped) return;
      this.#running = this.runOnce()
        .then((result) => {
          const moved =
            result.exported !== null ||
            result.imported !== null ||
            result.touched.files > 0 ||
            result.autoLearned.files > 0;
          if (moved) {
            this.#onEvent?.({ type: 'synced', result });
          }
        })
        .catch((err: unknown) => {
          this.#onEvent?.({
            type: 'failed',
            error: err instanceof Error ? err.message : String(err),
          });
        })
        .finally(() => {
          this.#running = null;
          if (!this.#stopped) {
            this.#timer = setTimeout(tick, this.#intervalMs);
            this.#timer.unref();
          }
        });
    };
    tick();
  }

  /** Stops the loop after the step in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.#running;
  }
}

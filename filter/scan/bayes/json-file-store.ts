/**
 * A single node's Bayes store: a {@link MemoryTokenStore} loaded from and flushed to one JSON
 * file (`$PARAPET_HOME/bayes/tokens.json` on a node). Writes go to a temp file that is synced
 * and renamed over the old one, so a crash leaves either the old or the new snapshot, never half
 * of one. Meant for one writer at a time (the CLI, or the policy service); the server group
 * shares tokens through the PostgreSQL store instead.
 *
 * Format (version 1): `{"format":"parapet-bayes","version":1,"totals":{"spam":N,"ham":N},
 * "tokens":[id,spam,ham,lastSeenSec, id,spam,ham,lastSeenSec, ...],"learned":{"key":"s"|"h"}}`
 * — a flat number array keeps a store of a million tokens to a few tens of megabytes. Rows are
 * written in ascending id order (files from older versions may not be; readers accept both).
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ParapetError, toParapetError } from '../../errors.js';
import type { TokenId } from './token-hash.js';
import {
  MemoryTokenStore,
  type BayesClass,
  type MessageTotals,
  type TokenCounts,
  type TokenRow,
  type TokenStore,
  type TrainingChange,
} from './token-store.js';

const FORMAT = 'parapet-bayes';
const VERSION = 1;

function invalid(path: string, why: string): ParapetError {
  return new ParapetError('ERR_BAYES_STORE_INVALID', `${path}: ${why}`);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Parses and checks a snapshot file's text; throws ERR_BAYES_STORE_INVALID with the reason. */
export function parseTokenSnapshot(text: string, path: string): MemoryTokenStore {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ParapetError('ERR_BAYES_STORE_INVALID', `${path}: not JSON`, { cause: err });
  }
  if (typeof data !== 'object' || data === null) throw invalid(path, 'not an object');
  const record = data as Record<string, unknown>;
  if (record['format'] !== FORMAT) throw invalid(path, `format is not "${FORMAT}"`);
  if (record['version'] !== VERSION) throw invalid(path, `unsupported version`);
  const totals = record['totals'] as Record<string, unknown> | null | undefined;
  if (typeof totals !== 'object' || totals === null) throw invalid(path, 'no totals');
  const spam = totals['spam'];
  const ham = totals['ham'];
  if (!isCount(spam) || !isCount(ham)) throw invalid(path, 'bad totals');
  const flat = record['tokens'];
  if (!Array.isArray(flat) || flat.length % 4 !== 0) throw invalid(path, 'bad tokens array');
  const tokens = new Map<TokenId, TokenRow>();
  for (let i = 0; i < flat.length; i += 4) {
    const id: unknown = flat[i];
    const s: unknown = flat[i + 1];
    const h: unknown = flat[i + 2];
    const t: unknown = flat[i + 3];
    if (!isCount(id) || !isCount(s) || !isCount(h) || !isCount(t)) {
      throw invalid(path, `bad token row ${String(i / 4)}`);
    }
    tokens.set(id, { spam: s, ham: h, lastSeenSec: t });
  }
  const learnedRaw = record['learned'];
  if (typeof learnedRaw !== 'object' || learnedRaw === null || Array.isArray(learnedRaw)) {
    throw invalid(path, 'bad learned map');
  }
  const learned = new Map<string, BayesClass>();
  for (const [key, value] of Object.entries(learnedRaw as Record<string, unknown>)) {
    if (value === 's') learned.set(key, 'spam');
    else if (value === 'h') learned.set(key, 'ham');
    else throw invalid(path, `bad learned entry ${key}`);
  }
  return new MemoryTokenStore({ totals: { spam, ham }, tokens, learned });
}

/** Serializes a store to the version-1 text. */
export function serializeTokenSnapshot(store: MemoryTokenStore): string {
  const snap = store.snapshot();
  // Ascending ids: a reader may then search the rows without building a map (the policy
  // service's cache does).
  const ids = Float64Array.from(snap.tokens.keys()).sort();
  const flat: number[] = [];
  for (const id of ids) {
    const row = snap.tokens.get(id);
    if (row !== undefined) flat.push(id, row.spam, row.ham, row.lastSeenSec);
  }
  const learned: Record<string, 's' | 'h'> = {};
  for (const [key, cls] of snap.learned) learned[key] = cls === 'spam' ? 's' : 'h';
  return JSON.stringify({
    format: FORMAT,
    version: VERSION,
    totals: snap.totals,
    tokens: flat,
    learned,
  });
}

/** The JSON-file store. Open it with {@link openJsonFileTokenStore}. */
export class JsonFileTokenStore implements TokenStore {
  readonly path: string;
  readonly #memory: MemoryTokenStore;

  constructor(path: string, memory: MemoryTokenStore) {
    this.path = path;
    this.#memory = memory;
  }

  /** The in-memory store underneath (read-only use: benchmarks, the scanner's fast path). */
  get memory(): MemoryTokenStore {
    return this.#memory;
  }

  totals(): Promise<MessageTotals> {
    return this.#memory.totals();
  }

  counts(tokens: readonly TokenId[]): Promise<ReadonlyMap<TokenId, TokenCounts>> {
    return this.#memory.counts(tokens);
  }

  learnedAs(messageKey: string): Promise<BayesClass | null> {
    return this.#memory.learnedAs(messageKey);
  }

  update(change: TrainingChange): Promise<void> {
    return this.#memory.update(change);
  }

  touch(tokens: readonly TokenId[], atMs: number): Promise<void> {
    return this.#memory.touch(tokens, atMs);
  }

  expire(cutoffMs: number): Promise<number> {
    return this.#memory.expire(cutoffMs);
  }

  /** Writes the snapshot when anything changed since the last flush. */
  async flush(): Promise<void> {
    if (!this.#memory.dirty) return;
    const text = serializeTokenSnapshot(this.#memory);
    const temp = `${this.path}.${String(process.pid)}.tmp`;
    try {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o750 });
      const file = await open(temp, 'w', 0o640);
      try {
        await file.writeFile(text, 'utf8');
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, this.path);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw new ParapetError('ERR_BAYES_STORE_IO', `cannot write ${this.path}`, { cause: err });
    }
    this.#memory.markClean();
  }
}

/**
 * Opens the store at `path`: loads the snapshot, or starts empty when the file does not exist.
 * Throws ERR_BAYES_STORE_IO when the file cannot be read and ERR_BAYES_STORE_INVALID when it is
 * not a valid snapshot (it is never overwritten then: the operator decides).
 */
export async function openJsonFileTokenStore(path: string): Promise<JsonFileTokenStore> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return new JsonFileTokenStore(path, new MemoryTokenStore());
    }
    throw toParapetError('ERR_BAYES_STORE_IO', err);
  }
  return new JsonFileTokenStore(path, parseTokenSnapshot(text, path));
}

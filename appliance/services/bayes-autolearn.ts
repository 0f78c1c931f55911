/**
 * Auto-learn in the policy service: a message whose scan score without the Bayes finding is
 * decisive (SpamAssassin's thresholds by default: ham below 0.1, spam at 12 or above) is
 * tokenized and queued for training. The data plane never trains itself (its store is a
 * read-only snapshot): entries go to the learn spool (`$PARAPET_HOME/bayes/autolearn/`,
 * complete files, temp + rename) that the database service applies to the shared store
 * (bayes-sync.ts), or on a node without a database the bayes-expiry job to the file.
 * A message already learned (by hand, say) is left alone when the entry is applied.
 *
 * Bounded: at most `perMinute` messages of each class are taken (ham is most of the mail; the
 * limit also caps the tokenizing this adds to the scan path), a message with a failed scanner,
 * a virus or that could not be inspected is never taken, and the spool stops growing at
 * `maxSpoolFiles` when nobody applies it.
 */
import { consumeSpoolFiles, ensureSpoolRoom, writeSpoolFile } from './spool-files.js';
import {
  BAYES_SYMBOLS,
  DEFAULT_AUTO_LEARN,
  autoLearnClass,
  messageKey,
  tokenIdsOf,
  tokenizeMessage,
  type AutoLearnThresholds,
  type BayesClass,
  type Message,
  type ScanResult,
  type TokenId,
  type TokenizeOptions,
} from '../../filter/index.js';

/** One message to learn. */
export interface AutoLearnEntry {
  readonly key: string;
  readonly class: BayesClass;
  readonly tokens: readonly TokenId[];
  readonly atMs: number;
}

export type AutoLearnEvent =
  | { readonly type: 'spooled'; readonly entries: number }
  | { readonly type: 'failed'; readonly error: string };

export interface BayesAutoLearnerOptions {
  /** The learn spool directory. */
  readonly dir: string;
  readonly thresholds?: AutoLearnThresholds;
  /** Messages taken per class and minute. Default 30. */
  readonly perMinute?: number;
  /** How often queued entries are written. Default 60000. */
  readonly flushMs?: number;
  /** Spool files beyond which entries are dropped. Default 1000. */
  readonly maxSpoolFiles?: number;
  readonly tokenize?: TokenizeOptions;
  readonly now?: () => number;
  readonly onEvent?: (event: AutoLearnEvent) => void;
}

/** The scan score without Bayes findings, so Bayes does not teach itself. */
export function scoreWithoutBayes(scan: Pick<ScanResult, 'score' | 'findings'>): number {
  let score = scan.score;
  for (const f of scan.findings) if (BAYES_SYMBOLS.has(f.symbol)) score -= f.score;
  return score;
}

/** The class `scan` auto-learns as, or null (not decisive, or not fully scanned). */
export function autoLearnClassOf(
  scan: ScanResult,
  thresholds: AutoLearnThresholds = DEFAULT_AUTO_LEARN,
): BayesClass | null {
  if (scan.skipped.length > 0 || scan.unscannable !== null) return null;
  if (scan.virus !== null && scan.virus.status !== 'clean') return null;
  return autoLearnClass(scoreWithoutBayes(scan), thresholds);
}

export class BayesAutoLearner {
  readonly #options: BayesAutoLearnerOptions;
  readonly #perMinute: number;
  readonly #now: () => number;
  #minute = -1;
  readonly #taken = { spam: 0, ham: 0 };
  #queue: AutoLearnEntry[] = [];
  #timer: NodeJS.Timeout | null = null;

  constructor(options: BayesAutoLearnerOptions) {
    this.#options = options;
    this.#perMinute = options.perMinute ?? 30;
    this.#now = options.now ?? Date.now;
    this.#timer = setInterval(() => {
      void this.flush();
    }, options.flushMs ?? 60_000);
    this.#timer.unref();
  }

  /**
   * Looks at one scanned message; queues it when decisive and within the rate. Returns the
   * class queued, or null. Never rejects: auto-learn must not fail a message.
   */
  async observe(input: { message: Message; scan: ScanResult }): Promise<BayesClass | null> {
    try {
      const cls = autoLearnClassOf(input.scan, this.#options.thresholds);
      if (cls === null) return null;
      const now = this.#now();
      const minute = Math.floor(now / 60_000);
      if (minute !== this.#minute) {
        this.#minute = minute;
        this.#taken.spam = 0;
        this.#taken.ham = 0;
      }
      if (this.#taken[cls] >= this.#perMinute) return null;
      this.#taken[cls]++;
      const tokens = await tokenizeMessage(input.message, this.#options.tokenize);
      const key = await messageKey(input.message);
      this.#queue.push({ key, class: cls, tokens: [...tokenIdsOf(tokens).keys()], atMs: now });
      return cls;
    } catch (err) {
      this.#options.onEvent?.({
        type: 'failed',
        error: err instanceof Error ? err.message : String(err),
      });
      return null;
    }
  }

  /** Writes the queued entries as one spool file. Never rejects. */
  async flush(): Promise<void> {
    if (this.#queue.length === 0) return;
    const entries = this.#queue;
    this.#queue = [];
    try {
      await ensureSpoolRoom(
        this.#options.dir,
        this.#options.maxSpoolFiles ?? 1000,
        'learn files not applied',
      );
      await writeLearnFile(this.#options.dir, entries);
      this.#options.onEvent?.({ type: 'spooled', entries: entries.length });
    } catch (err) {
      this.#options.onEvent?.({
        type: 'failed',
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.flush();
  }
}

/** Writes one learn spool file (complete before it gets its name). */
export function writeLearnFile(dir: string, entries: readonly AutoLearnEntry[]): Promise<string> {
  const data = entries.map((e) => ({ key: e.key, class: e.class, tokens: e.tokens, at: e.atMs }));
  return writeSpoolFile(dir, { entries: data });
}

const KEY = /^[A-Za-z0-9_-]{1,64}$/;

/** A learn spool file's entries, or null when it is not one. */
export function parseLearnFile(text: string): AutoLearnEntry[] | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  const raw = (data as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(raw)) return null;
  const out: AutoLearnEntry[] = [];
  for (const item of raw as unknown[]) {
    if (typeof item !== 'object' || item === null) return null;
    const e = item as Record<string, unknown>;
    const { key, class: cls, tokens, at } = e;
    if (typeof key !== 'string' || !KEY.test(key)) return null;
    if (cls !== 'spam' && cls !== 'ham') return null;
    if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) return null;
    if (!Array.isArray(tokens)) return null;
    const ids: TokenId[] = [];
    for (const id of tokens as unknown[]) {
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) return null;
      ids.push(id);
    }
    out.push({ key, class: cls, tokens: ids, atMs: at });
  }
  return out;
}

/** What {@link applyLearnSpool} did. */
export interface LearnSpoolResult {
  readonly files: number;
  /** Entries learned. */
  readonly learned: number;
  /** Entries whose message was learned already (left alone). */
  readonly skipped: number;
  /** Files that were not learn files (removed). */
  readonly bad: number;
}

/**
 * Applies up to `maxFiles` learn files through `learn` (true = learned, false = it was learned
 * already) and deletes each once applied. A failing `learn` stops the run and leaves that file
 * (re-applying it later is harmless: learned messages are skipped).
 */
export async function applyLearnSpool(
  dir: string,
  learn: (entry: AutoLearnEntry) => Promise<boolean>,
  maxFiles = 100,
): Promise<LearnSpoolResult> {
  let learned = 0;
  let skipped = 0;
  const { files, bad } = await consumeSpoolFiles(dir, maxFiles, parseLearnFile, async (entries) => {
    for (const entry of entries) {
      if (await learn(entry)) learned++;
      else skipped++;
    }
  });
  return { files, learned, skipped, bad };
}

/**
 * The Bayes scanner: tokenizes a message, asks the store for the counts of all its tokens in
 * one batch, combines them (classifier.ts) and reports the probability band as one finding
 * (BAYES_00 … BAYES_999) with the probability and the most telling tokens as evidence. Until
 * the store has learned enough of both classes it reports nothing: an untrained Bayes guesses.
 */
import type { Message } from '../../message/message.js';
import type { Finding, Scanner, ScannerOutput } from '../scanner.js';
import { combine, type BayesVerdict, type ClassifierOptions } from './classifier.js';
import { BAYES_BANDS, bandFor } from './bands.js';
import { tokenId, type TokenId } from './token-hash.js';
import { tokenizeMessage, type TokenizeOptions } from './tokenizer.js';
import type { MessageTotals, TokenCounts, TokenStore } from './token-store.js';

/** Options of {@link createBayesScanner} and {@link classifyMessage}. */
export interface BayesScannerOptions {
  /** Learned spam messages needed before the scanner scores. Default 200. */
  readonly minSpam?: number;
  /** Learned ham messages needed before the scanner scores. Default 200. */
  readonly minHam?: number;
  /** Score overrides by band symbol (BAYES_00 …). */
  readonly scores?: Readonly<Record<string, number>>;
  readonly classifier?: ClassifierOptions;
  readonly tokenize?: TokenizeOptions;
  /** Clock for last-seen times (benchmarks pin it). Default the system clock. */
  readonly now?: () => Date;
  /** Mark the tokens a scan used as seen, so expiry keeps them. Default true. */
  readonly touchOnScan?: boolean;
  /** Scanner budget. Default 2000 ms (a database store answers well within it). */
  readonly timeoutMs?: number;
  /** Tokens named in the evidence. Default 6. */
  readonly evidenceTokens?: number;
}

/** What {@link classifyMessage} found. */
export interface BayesClassification {
  /** False while the store has learned fewer than minSpam/minHam messages. */
  readonly trained: boolean;
  readonly totals: MessageTotals;
  /** Spam probability (0.5 when untrained). */
  readonly probability: number;
  /** The tokens combined, most telling first, as text. */
  readonly tokens: BayesVerdict<string>['tokens'];
  /** The message's token ids (for touch and training). */
  readonly tokenIds: readonly TokenId[];
}

/** Token texts and their ids, ids deduplicated (a hash collision inside one message merges). */
export function tokenIdsOf(tokens: Iterable<string>): Map<TokenId, string> {
  const ids = new Map<TokenId, string>();
  for (const token of tokens) ids.set(tokenId(token), token);
  return ids;
}

/** Tokenizes and classifies one message against the store (no findings, no side effects). */
export async function classifyMessage(
  store: TokenStore,
  message: Message,
  options: BayesScannerOptions = {},
  signal?: AbortSignal,
): Promise<BayesClassification> {
  const tokens = await tokenizeMessage(message, options.tokenize);
  const ids = tokenIdsOf(tokens);
  const tokenIds = [...ids.keys()];
  const [totals, counts] = await Promise.all([
    store.totals(signal),
    store.counts(tokenIds, signal),
  ]);
  const trained = totals.spam >= (options.minSpam ?? 200) && totals.ham >= (options.minHam ?? 200);
  if (!trained) return { trained, totals, probability: 0.5, tokens: [], tokenIds };
  const entries: [string, TokenCounts][] = [];
  for (const [id, count] of counts) entries.push([ids.get(id) ?? String(id), count]);
  const verdict = combine(entries, totals, options.classifier);
  return { trained, totals, probability: verdict.probability, tokens: verdict.tokens, tokenIds };
}

/** "p=0.9990; +viagra 0.99, −perl 0.02, …" */
function evidenceOf(result: BayesClassification, count: number): string {
  const parts = result.tokens.slice(0, count).map((t) => {
    const sign = t.probability >= 0.5 ? '+' : '-';
    return `${sign}${t.token.slice(0, 40)} ${t.probability.toFixed(2)}`;
  });
  const p = result.probability.toFixed(4);
  return parts.length > 0 ? `p=${p}; ${parts.join(', ')}` : `p=${p}`;
}

/**
 * The Bayes scanner (phase content, onError skip: a store that cannot answer costs the
 * message its Bayes score, not its delivery). Emits exactly one BAYES_* finding once trained.
 */
export function createBayesScanner(store: TokenStore, options: BayesScannerOptions = {}): Scanner {
  const scores = new Map(
    BAYES_BANDS.map((b) => [b.symbol, options.scores?.[b.symbol] ?? b.defaultScore]),
  );
  const now = options.now ?? ((): Date => new Date());
  const touchOnScan = options.touchOnScan ?? true;
  const evidenceTokens = options.evidenceTokens ?? 6;
  return {
    name: 'bayes',
    phase: 'content',
    timeoutMs: options.timeoutMs ?? 2000,
    onError: 'skip',
    async scan(message: Message, signal: AbortSignal): Promise<ScannerOutput> {
      // An untrained store costs no tokenizing (a node's store may still be empty).
      const totals = await store.totals(signal);
      if (totals.spam < (options.minSpam ?? 200) || totals.ham < (options.minHam ?? 200)) {
        return { findings: [] };
      }
      const result = await classifyMessage(store, message, options, signal);
      if (!result.trained) return { findings: [] };
      signal.throwIfAborted();
      if (touchOnScan) await store.touch(result.tokenIds, now().getTime(), signal);
      const band = bandFor(result.probability);
      const finding: Finding = {
        symbol: band.symbol,
        score: scores.get(band.symbol) ?? band.defaultScore,
        evidence: evidenceOf(result, evidenceTokens),
      };
      return { findings: [finding] };
    },
  };
}

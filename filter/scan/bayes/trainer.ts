/**
 * Training: learn a message as spam or ham, unlearn it, and auto-learn from a scan's score.
 * Each step is one atomic store update keyed by the message, so learning the same message
 * twice counts it once and re-learning it as the other class moves its tokens over (as
 * `sa-learn` does).
 */
import { createHash } from 'node:crypto';
import type { Message } from '../../message/message.js';
import { tokenIdsOf } from './bayes-scanner.js';
import { tokenizeMessage, type TokenizeOptions } from './tokenizer.js';
import type { BayesClass, TokenStore } from './token-store.js';

/**
 * When a scan's score (without the Bayes finding, so Bayes does not teach itself) is decisive
 * enough to learn from. SpamAssassin's defaults: ham below 0.1, spam at 12 or above.
 */
export interface AutoLearnThresholds {
  /** Learn as ham when the score is below this. Default 0.1. */
  readonly hamBelow: number;
  /** Learn as spam when the score is at or above this. Default 12. */
  readonly spamAtOrAbove: number;
}

export const DEFAULT_AUTO_LEARN: AutoLearnThresholds = { hamBelow: 0.1, spamAtOrAbove: 12 };

/** The class a score auto-learns as, or null when it is not decisive. */
export function autoLearnClass(
  scoreWithoutBayes: number,
  thresholds: AutoLearnThresholds = DEFAULT_AUTO_LEARN,
): BayesClass | null {
  if (scoreWithoutBayes >= thresholds.spamAtOrAbove) return 'spam';
  if (scoreWithoutBayes < thresholds.hamBelow) return 'ham';
  return null;
}

/** What a learn call did. */
export type LearnOutcome = 'learned' | 'relearned' | 'already-learned';

export interface BayesTrainerOptions {
  readonly tokenize?: TokenizeOptions;
  /** Clock for last-seen times. Default the system clock. */
  readonly now?: () => Date;
  readonly autoLearn?: AutoLearnThresholds;
}

export interface BayesTrainer {
  /** Learns the message as `cls` (moving it over if it was learned as the other class). */
  learn(message: Message, cls: BayesClass, signal?: AbortSignal): Promise<LearnOutcome>;
  /** Forgets the message; false when it had not been learned. */
  unlearn(message: Message, signal?: AbortSignal): Promise<boolean>;
  /**
   * Learns the message when `scoreWithoutBayes` passes an auto-learn threshold; returns the
   * class learned, or null. A message already learned (by hand, say) is left alone.
   */
  autoLearn(
    message: Message,
    scoreWithoutBayes: number,
    signal?: AbortSignal,
  ): Promise<BayesClass | null>;
}

/**
 * The key a message is learned under: a digest of its Message-ID, Date and the start of its
 * body, so the same message arriving again (a re-sent file, a quarantine release) is
 * recognised, while two messages sharing a Message-ID but not a body are not.
 */
export async function messageKey(message: Message): Promise<string> {
  const hash = createHash('sha256');
  hash.update(message.headers.getFirst('message-id') ?? '');
  hash.update('\0');
  hash.update(message.headers.getFirst('date') ?? '');
  hash.update('\0');
  hash.update(await message.body.head(64 * 1024));
  return hash.digest('base64url').slice(0, 32);
}

export function createBayesTrainer(
  store: TokenStore,
  options: BayesTrainerOptions = {},
): BayesTrainer {
  const now = options.now ?? ((): Date => new Date());
  const thresholds = options.autoLearn ?? DEFAULT_AUTO_LEARN;

  async function change(
    message: Message,
    from: BayesClass | null,
    to: BayesClass | null,
    key: string,
    signal?: AbortSignal,
  ): Promise<void> {
    const tokens = [...tokenIdsOf(await tokenizeMessage(message, options.tokenize)).keys()];
    await store.update({ messageKey: key, tokens, from, to, atMs: now().getTime() }, signal);
  }

  const trainer: BayesTrainer = {
    async learn(message, cls, signal) {
      const key = await messageKey(message);
      const before = await store.learnedAs(key, signal);
      if (before === cls) return 'already-learned';
      await change(message, before, cls, key, signal);
      return before === null ? 'learned' : 'relearned';
    },
    async unlearn(message, signal) {
      const key = await messageKey(message);
      const before = await store.learnedAs(key, signal);
      if (before === null) return false;
      await change(message, before, null, key, signal);
      return true;
    },
    async autoLearn(message, scoreWithoutBayes, signal) {
      const cls = autoLearnClass(scoreWithoutBayes, thresholds);
      if (cls === null) return null;
      const key = await messageKey(message);
      if ((await store.learnedAs(key, signal)) !== null) return null;
      await change(message, null, cls, key, signal);
      return cls;
    },
  };
  return trainer;
}

/** Removes tokens not seen for `maxAgeDays` (default 90); returns how many went. */
export function expireTokens(
  store: TokenStore,
  maxAgeDays = 90,
  now: Date = new Date(),
  signal?: AbortSignal,
): Promise<number> {
  return store.expire(now.getTime() - maxAgeDays * 86_400_000, signal);
}

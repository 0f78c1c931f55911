/**
 * The Queue Runner: delivers due outbound items by SMTP to the MTA's filter-free port
 * (127.0.0.1:10026, which `parapet mta configure` creates in both modes), a few at a time,
 * retrying with exponential backoff; a 5xx refusal or an item older than `maxAgeMs` fails
 * for good and stays listed for an administrator.
 */
import {
  messageFromBytes,
  ReinjectClient,
  ReinjectError,
  type MessageReinjector,
} from '../../filter/index.js';
import type { OutboundItem, OutboundQueue } from './outbound-queue.js';

export interface QueueRunnerOptions {
  readonly queue: OutboundQueue;
  /** Where mail goes: the MTA's filter-free smtpd. */
  readonly target: { readonly host: string; readonly port: number };
  /** Parallel deliveries. Default 4. */
  readonly concurrency?: number;
  /** First retry delay; doubles per attempt up to maxRetryDelayMs. Default 60 s. */
  readonly firstRetryDelayMs?: number;
  /** Default 1 h. */
  readonly maxRetryDelayMs?: number;
  /** Give up on items older than this. Default 5 days (Postfix's maximal_queue_lifetime). */
  readonly maxAgeMs?: number;
  /** Replaces the SMTP client (tests). */
  readonly reinjector?: MessageReinjector;
  readonly onDelivered?: (item: OutboundItem, queueId: string | null) => void;
  readonly onFailed?: (item: OutboundItem, error: string) => void;
  readonly now?: () => Date;
}

export interface QueueRunResult {
  readonly delivered: number;
  readonly deferred: number;
  readonly failed: number;
}

export class QueueRunner {
  readonly #o: QueueRunnerOptions;
  readonly #client: MessageReinjector;
  #running: Promise<QueueRunResult> | null = null;

  constructor(options: QueueRunnerOptions) {
    this.#o = options;
    this.#client =
      options.reinjector ??
      new ReinjectClient({
        host: options.target.host,
        port: options.target.port,
        heloName: 'parapet-queue',
        maxIdleConnections: options.concurrency ?? 4,
      });
  }

  /** Delivers every due item (or only `ids`) once; concurrent calls share one run. */
  runOnce(ids?: readonly string[]): Promise<QueueRunResult> {
    if (this.#running !== null && ids === undefined) return this.#running;
    const run = this.#run(ids).finally(() => {
      if (this.#running === run) this.#running = null;
    });
    if (ids === undefined) this.#running = run;
    return run;
  }

  async #run(ids?: readonly string[]): Promise<QueueRunResult> {
    const now = this.#o.now?.() ?? new Date();
    let due = await this.#o.queue.due(now);
    if (ids !== undefined) due = due.filter((i) => ids.includes(i.id));
    const result = { delivered: 0, deferred: 0, failed: 0 };
    const workers = Math.max(1, this.#o.concurrency ?? 4);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(workers, due.length) }, async () => {
        while (next < due.length) {
          const item = due[next++];
          if (item === undefined) break;
          const outcome = await this.#deliver(item);
          result[outcome] += 1;
        }
      }),
    );
    return result;
  }

  async #deliver(item: OutboundItem): Promise<'delivered' | 'deferred' | 'failed'> {
    const queue = this.#o.queue;
    if (!(await queue.claim(item.id))) return 'deferred';
    try {
      return await this.#attempt(item);
    } finally {
      await queue.release(item.id);
    }
  }

  async #attempt(item: OutboundItem): Promise<'delivered' | 'deferred' | 'failed'> {
    const queue = this.#o.queue;
    // Re-read under the claim: another process may have delivered it meanwhile.
    const current = await queue.get(item.id);
    if (current?.status !== 'queued') return 'deferred';
    try {
      const message = await messageFromBytes(await queue.message(item.id), {
        from: item.from,
        to: item.to,
        clientAddress: '127.0.0.1',
      });
      const sent = await this.#client.reinject(message, {
        onEndOfDataWritten: () => {
          queue.markSending(item.id);
        },
      });
      await queue.complete(item.id);
      this.#o.onDelivered?.(item, sent.queueId);
      return 'delivered';
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      const now = this.#o.now?.() ?? new Date();
      const permanent = err instanceof ReinjectError && err.reply !== null && err.reply.code >= 500;
      const expired =
        now.getTime() - Date.parse(item.createdAt) > (this.#o.maxAgeMs ?? 5 * 86_400_000);
      if (permanent || expired) {
        const failed = await queue.recordFailure(
          item,
          expired && !permanent ? `expired: ${text}` : text,
          { giveUp: true },
          now,
        );
        this.#o.onFailed?.(failed, text);
        return 'failed';
      }
      const delay = Math.min(
        (this.#o.firstRetryDelayMs ?? 60_000) * 2 ** item.attempts,
        this.#o.maxRetryDelayMs ?? 3_600_000,
      );
      await queue.recordFailure(item, text, { retryAt: new Date(now.getTime() + delay) }, now);
      return 'deferred';
    }
  }

  async close(): Promise<void> {
    await this.#running?.catch(() => undefined);
    await this.#client.close();
  }
}

/**
 * The default Pipeline: envelope checks, then for each sealed message scanners → policy →
 * durable actions, under a per-message deadline. It never throws to the adapter: a fault, a
 * failed required scanner or the deadline gives a tempfail verdict (STYLE.md B5.3), and the
 * error code lands in the message log.
 */
import type { Message } from '../message/message.js';
import type { Envelope } from '../message/envelope.js';
import type { Modification, Verdict } from '../actions/verdict.js';
import {
  combineScanOutputs,
  DEFAULT_SPAM_THRESHOLD,
  type ScannerOutput,
  type ScanResult,
  type Scanner,
  type ScannerPhase,
} from '../scan/scanner.js';
import { SmtpReplies } from '../smtp/reply.js';
import { scanHeaders } from './verdict-headers.js';
import { ParapetError, toParapetError } from '../errors.js';
import type { MessageLog } from '../log/message-log.js';
import type { QuarantineWriter } from '../quarantine/writer.js';
import { silentEvents, type EventSink } from '../log/events.js';
import type { Disposition, EnvelopeCheck, EnvelopeStage, Pipeline } from './types.js';
import {
  acceptAllPolicy,
  type EnvelopeChecker,
  type PolicyDecision,
  type PolicyHook,
} from './policy-hook.js';

/** The header every passing message carries (CONTRACTS.md). */
export const PARAPET_ID_HEADER = 'X-Parapet-Id';

export interface PipelineOptions {
  readonly scanners?: readonly Scanner[];
  readonly policy?: PolicyHook;
  readonly envelopeCheckers?: readonly EnvelopeChecker[];
  /** Where quarantine verdicts are stored; without it a quarantine decision tempfails. */
  readonly quarantine?: QuarantineWriter;
  /** Where message-log records go; without it outcomes are only reported as events. */
  readonly messageLog?: MessageLog;
  /** Budget for scan + policy + actions of one message. Default 60 000 ms. */
  readonly messageTimeoutMs?: number;
  readonly events?: EventSink;
  /** Spam threshold handed to policy with the score. Default 5. */
  readonly spamThreshold?: number;
}

interface RunInfo {
  readonly startedAtMs: number;
  readonly timingsMs: Record<string, number>;
  scan: ScanResult | null;
  rule: string | null;
  marks: readonly string[];
  reason: string | null;
  errorCode: string | null;
}

const PHASES: readonly ScannerPhase[] = ['connection', 'headers', 'content'];

export function createPipeline(options: PipelineOptions = {}): Pipeline {
  return new DefaultPipeline(options);
}

class DefaultPipeline implements Pipeline {
  readonly #scanners: readonly Scanner[];
  readonly #policy: PolicyHook;
  readonly #checkers: readonly EnvelopeChecker[];
  readonly #quarantine: QuarantineWriter | null;
  readonly #log: MessageLog | null;
  readonly #timeoutMs: number;
  readonly #events: EventSink;
  readonly #spamThreshold: number;
  readonly #runs = new WeakMap<Message, RunInfo>();
  /** Without envelope checkers nothing is decided before the message (policy runs at its end). */
  readonly envelopeStages: readonly EnvelopeStage[];

  constructor(options: PipelineOptions) {
    this.#scanners = options.scanners ?? [];
    this.#policy = options.policy ?? acceptAllPolicy;
    this.#checkers = options.envelopeCheckers ?? [];
    this.envelopeStages =
      this.#checkers.length === 0 ? [] : ['connect', 'helo', 'mailFrom', 'rcptTo'];
    this.#quarantine = options.quarantine ?? null;
    this.#log = options.messageLog ?? null;
    this.#timeoutMs = options.messageTimeoutMs ?? 60_000;
    this.#events = options.events ?? silentEvents;
    this.#spamThreshold = options.spamThreshold ?? DEFAULT_SPAM_THRESHOLD;
  }

  async checkEnvelope(stage: EnvelopeStage, envelope: Envelope): Promise<EnvelopeCheck> {
    try {
      for (const check of this.#checkers) {
        const answer = await check(stage, envelope);
        if (answer.kind !== 'continue') return answer;
      }
      return { kind: 'continue' };
    } catch (err) {
      this.#events('pipeline.envelope_check_failed', { stage, error: String(err) });
      return { kind: 'tempfail', reply: SmtpReplies.tempfailInternal };
    }
  }

  async run(message: Message, signal: AbortSignal): Promise<Verdict> {
    const info: RunInfo = {
      startedAtMs: performance.now(),
      timingsMs: {},
      scan: null,
      rule: null,
      marks: [],
      reason: null,
      errorCode: null,
    };
    this.#runs.set(message, info);
    const timer = timeoutSignal(this.#timeoutMs, signal);
    const deadline = timer.signal;
    try {
      return await raceDeadline(this.#decide(message, deadline, info), deadline);
    } catch (err) {
      const error = toParapetError('ERR_PIPELINE_FAILED', err);
      info.errorCode = error.code;
      info.reason = error.message;
      this.#events(
        error.code === 'ERR_PIPELINE_DEADLINE' ? 'pipeline.deadline' : 'pipeline.tempfail',
        {
          id: message.id,
          code: error.code,
          error: error.message,
        },
      );
      return { kind: 'tempfail', reply: SmtpReplies.tempfailInternal };
    } finally {
      timer.clear();
      info.timingsMs['total'] = round(performance.now() - info.startedAtMs);
    }
  }

  recordOutcome(
    message: Message,
    verdict: Verdict | null,
    disposition: Disposition,
    errorCode?: string,
  ): void {
    const info = this.#runs.get(message);
    const log = this.#log;
    if (log === null) return;
    const env = message.envelope;
    try {
      log.append({
        id: message.id,
        queueId: env.queueId,
        client: { address: env.client.address, name: env.client.name },
        helo: env.helo,
        from: env.mailFrom?.address ?? null,
        to: env.recipients.map((r) => r.address),
        subject: message.headers.getFirst('subject'),
        sizeBytes: message.size,
        verdict: verdict?.kind ?? null,
        reason: info?.reason ?? verdictReason(verdict),
        disposition,
        score: info?.scan?.score ?? null,
        symbols: (info?.scan?.findings ?? []).map((f) => ({ name: f.symbol, score: f.score })),
        rule: info?.rule ?? null,
        errorCode: errorCode ?? info?.errorCode ?? null,
        timingsMs: info?.timingsMs ?? {},
        marks: info?.marks ?? [],
        virusNames: info?.scan?.virus?.names ?? [],
        attachmentTypes: [
          ...new Set(
            (info?.scan?.attachments ?? []).map(
              (a) => a.detectedType ?? (a.declaredType || 'unknown'),
            ),
          ),
        ],
      });
    } catch (err) {
      this.#events('message_log.append_failed', { id: message.id, error: String(err) });
    }
  }

  async #decide(message: Message, signal: AbortSignal, info: RunInfo): Promise<Verdict> {
    let t = performance.now();
    const scan = await this.#scan(message, signal);
    info.scan = scan;
    info.timingsMs['scan'] = round(performance.now() - t);

    t = performance.now();
    const decision = await this.#policy({ message, scan, signal });
    info.timingsMs['policy'] = round(performance.now() - t);
    info.rule = decision.rule ?? null;
    info.marks = decision.marks ?? [];
    signal.throwIfAborted();

    t = performance.now();
    const verdict = await this.#act(message, decision, scan);
    info.timingsMs['actions'] = round(performance.now() - t);
    info.reason = verdictReason(verdict);
    return verdict;
  }

  async #scan(message: Message, signal: AbortSignal): Promise<ScanResult> {
    const outputs: ScannerOutput[] = [];
    const skipped: string[] = [];
    for (const phase of PHASES) {
      const scanners = this.#scanners.filter((s) => s.phase === phase);
      const results = await Promise.all(
        scanners.map(async (scanner): Promise<ScannerOutput> => {
          const timer = timeoutSignal(scanner.timeoutMs, signal);
          const own = timer.signal;
          try {
            return await raceDeadline(scanner.scan(message, own), own);
          } catch (err) {
            signal.throwIfAborted();
            if (scanner.onError === 'tempfail') {
              throw new ParapetError('ERR_PIPELINE_FAILED', `scanner ${scanner.name} failed`, {
                cause: err,
              });
            }
            this.#events('pipeline.scanner_failed', { scanner: scanner.name, error: String(err) });
            skipped.push(scanner.name);
            return { findings: [{ symbol: 'SCANNER_FAILED', score: 0, evidence: scanner.name }] };
          } finally {
            timer.clear();
          }
        }),
      );
      outputs.push(...results);
    }
    return combineScanOutputs(outputs, skipped, this.#spamThreshold);
  }

  async #act(message: Message, decision: PolicyDecision, scan: ScanResult): Promise<Verdict> {
    switch (decision.kind) {
      case 'accept':
        return {
          kind: 'accept',
          modifications: withParapetId(message, [
            ...scanHeaders(message, scan, this.#scanners.length > 0),
            ...decision.modifications,
          ]),
        };
      case 'discard':
        return { kind: 'discard', reason: decision.reason };
      case 'reject':
        return { kind: 'reject', reply: decision.reply };
      case 'tempfail':
        return { kind: 'tempfail', reply: decision.reply };
      case 'quarantine': {
        if (this.#quarantine === null) {
          throw new ParapetError('ERR_QUARANTINE_WRITE_FAILED', 'no quarantine configured');
        }
        const env = message.envelope;
        const meta = await this.#quarantine.write(message, {
          reason: decision.reason,
          from: env.mailFrom?.address ?? null,
          to: env.recipients.map((r) => r.address),
          subject: message.headers.getFirst('subject'),
          score: scan.score,
          symbols: scan.findings.map((f) => f.symbol),
          rule: decision.rule ?? null,
          client: env.client.address,
        });
        this.#events('quarantine.written', { id: meta.id, reason: meta.reason });
        return { kind: 'quarantine', reason: decision.reason, quarantineId: meta.id };
      }
    }
  }
}

// The scan header names and formatters moved to verdict-headers.ts; re-exported for callers.
export {
  SPAM_HEADER,
  VIRUS_RESULT_HEADER,
  formatSpamHeader,
  scanHeaders,
} from './verdict-headers.js';

/**
 * The modifications of an accepted message: any X-Parapet-Id the sender forged is removed
 * (last occurrence first, so earlier indexes stay valid), then ours is appended.
 */
export function withParapetId(
  message: Message,
  modifications: readonly Modification[],
): Modification[] {
  const forged = message.headers.getAll(PARAPET_ID_HEADER).length;
  const removals: Modification[] = [];
  for (let occurrence = forged; occurrence >= 1; occurrence--) {
    removals.push({ kind: 'changeHeader', name: PARAPET_ID_HEADER, occurrence, value: null });
  }
  return [
    ...removals,
    ...modifications,
    { kind: 'addHeader', name: PARAPET_ID_HEADER, value: message.id },
  ];
}

function verdictReason(verdict: Verdict | null): string | null {
  if (verdict === null) return null;
  switch (verdict.kind) {
    case 'accept':
      return null;
    case 'discard':
    case 'quarantine':
      return verdict.reason;
    case 'reject':
    case 'tempfail':
      return `${verdict.reply.code} ${verdict.reply.enhanced ?? ''} ${verdict.reply.text}`.trim();
  }
}

/** Resolves with `work`, or rejects with ERR_PIPELINE_DEADLINE as soon as `signal` aborts. */
function raceDeadline<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(deadlineError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(deadlineError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

function deadlineError(signal: AbortSignal): ParapetError {
  return new ParapetError('ERR_PIPELINE_DEADLINE', 'message deadline passed', {
    cause: signal.reason,
  });
}

/**
 * A signal that aborts after `ms`, or when `parent` aborts. Unlike AbortSignal.timeout() its
 * timer keeps the process alive, so a deadline fires even when nothing else is pending; and
 * unlike AbortSignal.any() (slow, and on Node 20 it keeps its dependents alive) the link to
 * the parent is removed by clear(). Always clear() it when done.
 */
function timeoutSignal(
  ms: number,
  parent: AbortSignal,
): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const onParentAbort = (): void => {
    controller.abort(parent.reason);
  };
  if (parent.aborted) onParentAbort();
  else parent.addEventListener('abort', onParentAbort, { once: true });
  const timer = setTimeout(() => {
    controller.abort(new ParapetError('ERR_PIPELINE_DEADLINE', `timed out after ${ms} ms`));
  }, ms);
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParentAbort);
    },
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/**
 * The filter module API — Parapet's counterpart of PureMessage's PerlMx. A module is a plain
 * object with one optional callback per SMTP stage; each callback answers with a ModuleDecision.
 * Modules run inside the policy service (before the Sieve policy), or standalone as their own
 * milter with runFilterModuleAsMilter(). A callback that throws tempfails the message — a module
 * can never make mail pass by failing (STYLE.md B5.3).
 *
 * @example
 * const tagger: FilterModule = {
 *   name: 'subject-tagger',
 *   onMessage: ({ message }) =>
 *     /invoice/i.test(message.headers.getFirst('subject') ?? '')
 *       ? ModuleDecisions.continueWith([{ kind: 'addHeader', name: 'X-Invoice', value: 'yes' }])
 *       : ModuleDecisions.continue(),
 * };
 */
import type { Envelope, EnvelopeAddress } from '../message/envelope.js';
import type { Message } from '../message/message.js';
import type { Modification } from '../actions/verdict.js';
import type { ScanResult } from '../scan/scanner.js';
import { smtpReply, type SmtpReply } from '../smtp/reply.js';
import type { EnvelopeCheck, EnvelopeStage } from '../pipeline/types.js';
import type { EnvelopeChecker, PolicyDecision, PolicyHook } from '../pipeline/policy-hook.js';

/** What a module callback answers. */
export type ModuleDecision =
  /** Go on to the next module (and finally the policy), adding these modifications. */
  | { readonly kind: 'continue'; readonly modifications: readonly Modification[] }
  /** Deliver now with these modifications; later modules and the policy are skipped. */
  | { readonly kind: 'accept'; readonly modifications: readonly Modification[] }
  | { readonly kind: 'reject'; readonly reply: SmtpReply }
  | { readonly kind: 'tempfail'; readonly reply: SmtpReply }
  | { readonly kind: 'discard'; readonly reason: string }
  | { readonly kind: 'quarantine'; readonly reason: string };

type Awaitable<T> = T | Promise<T>;

export interface EnvelopeContext {
  readonly envelope: Readonly<Envelope>;
}

export interface RecipientContext extends EnvelopeContext {
  /** The recipient being added (also the last entry of envelope.recipients). */
  readonly recipient: EnvelopeAddress;
}

export interface MessageContext extends EnvelopeContext {
  /** The sealed message; read only — change it through returned modifications. */
  readonly message: Message;
  readonly scan: ScanResult;
  readonly signal: AbortSignal;
}

export interface FilterModule {
  /** Shown in logs and the message log's rule field ("module:<name>"). */
  readonly name: string;
  /** Once per connection. Only continue, reject and tempfail are meaningful here. */
  onConnect?(ctx: EnvelopeContext): Awaitable<ModuleDecision>;
  onHelo?(ctx: EnvelopeContext): Awaitable<ModuleDecision>;
  onMailFrom?(ctx: EnvelopeContext): Awaitable<ModuleDecision>;
  /** Once per RCPT TO; reject refuses only this recipient. */
  onRcptTo?(ctx: RecipientContext): Awaitable<ModuleDecision>;
  /** Once per message, after the scanners, before the Sieve policy. */
  onMessage?(ctx: MessageContext): Awaitable<ModuleDecision>;
}

/** Constructors for module answers. */
export const ModuleDecisions = {
  continue: (): ModuleDecision => ({ kind: 'continue', modifications: [] }),
  continueWith: (modifications: readonly Modification[]): ModuleDecision => ({
    kind: 'continue',
    modifications,
  }),
  accept: (modifications: readonly Modification[] = []): ModuleDecision => ({
    kind: 'accept',
    modifications,
  }),
  reject: (text: string, code = 550, enhanced = '5.7.1'): ModuleDecision => ({
    kind: 'reject',
    reply: smtpReply(code, enhanced, text),
  }),
  tempfail: (text: string, code = 451, enhanced = '4.7.1'): ModuleDecision => ({
    kind: 'tempfail',
    reply: smtpReply(code, enhanced, text),
  }),
  discard: (reason: string): ModuleDecision => ({ kind: 'discard', reason }),
  quarantine: (reason: string): ModuleDecision => ({ kind: 'quarantine', reason }),
} as const;

/** Runs the modules' envelope callbacks in order as one pipeline EnvelopeChecker. */
export function moduleEnvelopeChecker(modules: readonly FilterModule[]): EnvelopeChecker {
  return async (stage: EnvelopeStage, envelope: Envelope): Promise<EnvelopeCheck> => {
    for (const module of modules) {
      const answer = await callStage(module, stage, envelope);
      if (answer === undefined) continue;
      if (answer.kind === 'reject' || answer.kind === 'tempfail') return answer;
    }
    return { kind: 'continue' };
  };
}

function callStage(
  module: FilterModule,
  stage: EnvelopeStage,
  envelope: Envelope,
): Awaitable<ModuleDecision> | undefined {
  switch (stage) {
    case 'connect':
      return module.onConnect?.({ envelope });
    case 'helo':
      return module.onHelo?.({ envelope });
    case 'mailFrom':
      return module.onMailFrom?.({ envelope });
    case 'rcptTo': {
      const recipient = envelope.recipients.at(-1);
      if (recipient === undefined) return undefined;
      return module.onRcptTo?.({ envelope, recipient });
    }
  }
}

/**
 * Runs the modules' onMessage callbacks in order, then `next` (the Sieve policy) unless a
 * module decided. Modifications from modules that continued come before the policy's.
 */
export function modulePolicy(modules: readonly FilterModule[], next: PolicyHook): PolicyHook {
  return async (input) => {
    const collected: Modification[] = [];
    for (const module of modules) {
      if (module.onMessage === undefined) continue;
      const answer = await module.onMessage({
        envelope: input.message.envelope,
        message: input.message,
        scan: input.scan,
        signal: input.signal,
      });
      const rule = `module:${module.name}`;
      if (answer.kind === 'continue') {
        collected.push(...answer.modifications);
        continue;
      }
      if (answer.kind === 'accept') {
        return { kind: 'accept', modifications: [...collected, ...answer.modifications], rule };
      }
      return { ...answer, rule } satisfies PolicyDecision;
    }
    const decision = await next(input);
    if (decision.kind !== 'accept' || collected.length === 0) return decision;
    return { ...decision, modifications: [...collected, ...decision.modifications] };
  };
}

/**
 * The policy seam: given the message and the scan result, decide. The Sieve engine (issue 3)
 * and filter modules plug in here; the default accepts everything. A policy hook must not do
 * network I/O (STYLE.md B1.4) and must honour the signal. Throwing tempfails the message.
 */
import type { Message } from '../message/message.js';
import type { Modification } from '../actions/verdict.js';
import type { ScanResult } from '../scan/scanner.js';
import type { SmtpReply } from '../smtp/reply.js';
import type { Envelope } from '../message/envelope.js';
import type { EnvelopeCheck, EnvelopeStage } from './types.js';

/** What policy decided, before the pipeline carries out the durable side effects. */
export type PolicyDecision = (
  | { readonly kind: 'accept'; readonly modifications: readonly Modification[] }
  | { readonly kind: 'discard'; readonly reason: string }
  | { readonly kind: 'quarantine'; readonly reason: string }
  | { readonly kind: 'reject'; readonly reply: SmtpReply }
  | { readonly kind: 'tempfail'; readonly reply: SmtpReply }
) & {
  /** The rule that decided ("policy.sieve:12"), for the message log. */
  readonly rule?: string;
};

export interface PolicyInput {
  readonly message: Message;
  readonly scan: ScanResult;
  readonly signal: AbortSignal;
}

export type PolicyHook = (input: PolicyInput) => Promise<PolicyDecision>;

/** An envelope-stage check (IP block list, unknown recipient, a filter module's onRcptTo). */
export type EnvelopeChecker = (stage: EnvelopeStage, envelope: Envelope) => Promise<EnvelopeCheck>;

/** The default policy of issue 2: deliver everything unchanged. */
export const acceptAllPolicy: PolicyHook = () =>
  Promise.resolve({ kind: 'accept', modifications: [] });

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
  /** Marks the policy set on the way (`logmark`), for the message log and reports. */
  readonly marks?: readonly string[];
  /**
   * Messages policy wants sent besides (or instead of) this one: redirects, copies, vacation
   * replies, notices. The caller hands them to the outbound queue after the verdict is durable.
   */
  readonly outbound?: readonly OutboundMessage[];
};

/** A message policy asks to send (filter/policy/host.ts builds them; appliance/queue sends). */
export interface OutboundMessage {
  /** redirect (Sieve), copy (copyto), vacation (RFC 5230 reply), notice (sendnotice). */
  readonly kind: 'redirect' | 'copy' | 'vacation' | 'notice';
  /** Envelope sender; "" is the null sender <> (vacation replies and notices use it). */
  readonly sender: string;
  readonly recipients: readonly string[];
  /** The original message as received, or a new message composed by policy. */
  readonly content:
    | { readonly kind: 'original' }
    | {
        readonly kind: 'composed';
        /** Header fields in order (values already RFC 2047-encoded where needed). */
        readonly headers: readonly { readonly name: string; readonly value: string }[];
        /** Plain-text body (UTF-8, LF or CRLF line ends). */
        readonly text: string;
      };
  /** The rule that asked for it ("policy.sieve:12"). */
  readonly rule: string;
}

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

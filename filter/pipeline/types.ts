/**
 * The seam between the protocol adapters (filter/milter, filter/smtp) and the rest of the data
 * plane. An adapter builds the Envelope and Message, asks the Pipeline, translates the Verdict
 * for its MTA, then reports what became of the message.
 */
import type { Envelope } from '../message/envelope.js';
import type { Message } from '../message/message.js';
import type { Verdict } from '../actions/verdict.js';
import type { SmtpReply } from '../smtp/reply.js';

/** The envelope stages at which cheap checks may answer before the message arrives. */
export type EnvelopeStage = 'connect' | 'helo' | 'mailFrom' | 'rcptTo';

export type EnvelopeCheck =
  | { readonly kind: 'continue' }
  | { readonly kind: 'reject'; readonly reply: SmtpReply }
  | { readonly kind: 'tempfail'; readonly reply: SmtpReply };

/**
 * What became of a message after the adapter answered the MTA:
 * - `reinjected`: the SMTP path's re-injection MTA answered 250 and upstream heard 250;
 * - `released`: the milter path told the MTA to continue delivery (accept/modify);
 * - `discarded`, `quarantined`, `rejected`: as decided;
 * - `tempfailed`: the MTA keeps the message (fault, or policy tempfail);
 * - `aborted`: the MTA or client went away before an answer;
 * - `duplicate`: an MTA retry of a message already re-injected (decision 0005): answered
 *   success, delivered nothing.
 */
export type Disposition =
  | 'reinjected'
  | 'released'
  | 'discarded'
  | 'quarantined'
  | 'rejected'
  | 'tempfailed'
  | 'aborted'
  | 'duplicate';

export interface Pipeline {
  /**
   * The envelope stages at which checkEnvelope may answer anything but continue. Absent means
   * every stage. An adapter may stop asking the MTA to wait for its answer at the other stages
   * (the milter's no-reply flags): checkEnvelope is still called there, but a refusal can then
   * only reach the MTA at a later step, as a tempfail of the whole message.
   */
  readonly envelopeStages?: readonly EnvelopeStage[];

  /**
   * Called once per envelope stage (per RCPT for rcptTo); must answer quickly from local data.
   * Never throws: a fault answers tempfail.
   */
  checkEnvelope(stage: EnvelopeStage, envelope: Envelope): Promise<EnvelopeCheck>;

  /**
   * Decides one sealed message: scanners, policy, then the side effects that must be durable
   * before the MTA is answered (quarantine write). An accept verdict always carries the
   * X-Parapet-Id header among its modifications. Never throws: any fault, or the deadline
   * passing, gives a tempfail verdict.
   */
  run(message: Message, signal: AbortSignal): Promise<Verdict>;

  /**
   * Reports the final disposition (once per message that reached run(); also for messages
   * aborted before it, with verdict null). Writes the message-log record. Never throws.
   */
  recordOutcome(
    message: Message,
    verdict: Verdict | null,
    disposition: Disposition,
    errorCode?: string,
  ): void;
}

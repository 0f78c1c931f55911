/**
 * The verdict on one message: a closed union plus a list of Modifications, all plain data
 * (STYLE.md B1.5). The pipeline produces it; each protocol adapter translates it — the milter
 * adapter into SMFIR_* replies, the SMTP adapter into applyModifications + re-injection + reply.
 */
import type { EsmtpArgs } from '../message/envelope.js';
import type { SmtpReply } from '../smtp/reply.js';

/** One change to the message or its envelope, applied in list order. */
export type Modification =
  /** Append a header field at the end of the header block. */
  | { readonly kind: 'addHeader'; readonly name: string; readonly value: string }
  /** Insert a header field at `index` (0 = top of the header block). */
  | {
      readonly kind: 'insertHeader';
      readonly index: number;
      readonly name: string;
      readonly value: string;
    }
  /** Change the `occurrence`-th (1-based) field called `name`; value null deletes it. */
  | {
      readonly kind: 'changeHeader';
      readonly name: string;
      readonly occurrence: number;
      readonly value: string | null;
    }
  | { readonly kind: 'addRecipient'; readonly address: string; readonly args: EsmtpArgs }
  | { readonly kind: 'deleteRecipient'; readonly address: string }
  | { readonly kind: 'changeSender'; readonly address: string; readonly args: EsmtpArgs }
  /** Replace the body (everything after the header block) with these bytes (CRLF line ends). */
  | { readonly kind: 'replaceBody'; readonly body: Buffer };

export type Verdict =
  /** Deliver, after applying the modifications. */
  | { readonly kind: 'accept'; readonly modifications: readonly Modification[] }
  /** Deliberately dropped by policy: the MTA hears success, nothing is delivered. */
  | { readonly kind: 'discard'; readonly reason: string }
  /** Stored durably in the quarantine before this verdict exists; the MTA sees a discard. */
  | { readonly kind: 'quarantine'; readonly reason: string; readonly quarantineId: string }
  /** Refused permanently (5xx). */
  | { readonly kind: 'reject'; readonly reply: SmtpReply }
  /** Refused for now (4xx): the MTA keeps the message and retries. */
  | { readonly kind: 'tempfail'; readonly reply: SmtpReply };

export type VerdictKind = Verdict['kind'];

export function acceptVerdict(modifications: readonly Modification[] = []): Verdict {
  return { kind: 'accept', modifications };
}

/**
 * Milter option negotiation (SMFIC_OPTNEG), pure. The MTA offers a protocol version, the
 * actions it allows and the protocol steps/options it supports; we answer with the subset we
 * use. We speak version 6 and negotiate down to 2.
 *
 * Choices (see PROTOCOL.md for the reasons):
 * - Actions: every end-of-message modification a Verdict can carry (add/change/insert headers,
 *   replace body, add/delete recipients, add recipients with ESMTP args, change sender) plus
 *   quarantine; SETSYMLIST only when macro lists are configured. Always intersected with the
 *   MTA's offer (Postfix refuses a request mask that is not a subset of its own).
 * - Steps skipped: SMFIC_UNKNOWN (v3+) and SMFIC_DATA (v4+); we decide nothing there.
 * - No-reply flags (SMFIP_NR_*) only where the caller says it is safe: content steps
 *   (noReplyContent) and envelope steps nothing is decided at (noReplyEnvelope). Never for
 *   DATA: its reply is what makes Postfix's smtpd flush the envelope commands it held back
 *   (and hear a refusal decided at an earlier unanswered step). Over TCP, Postfix's small writes
 *   that get no answer can stall ~40 ms on Nagle plus delayed ACK (FIELD-NOTES.md), so the
 *   server picks the stages per transport (see server.ts).
 * - SMFIP_HDR_LEADSPC (v6) when offered: header values then arrive byte-exact after the colon,
 *   so the raw header block can be rebuilt; our header edits then carry their own leading space.
 */
import type { Modification } from '../actions/verdict.js';
import type { EnvelopeStage } from '../pipeline/types.js';
import { ParapetError } from '../errors.js';
import {
  MilterActionFlag as A,
  MilterProtocolFlag as P,
  type MilterReply,
  type MilterSymbolList,
} from './wire.js';

/** The highest protocol version we implement (sendmail 8.14+, Postfix 2.6+). */
export const MILTER_MAX_VERSION = 6;
/** The lowest version we accept (sendmail 8.12 / Postfix milter_protocol = 2). */
export const MILTER_MIN_VERSION = 2;

const V2_PROTOCOL =
  P.NoConnect | P.NoHelo | P.NoMail | P.NoRcpt | P.NoBody | P.NoHeaders | P.NoEndOfHeaders;
const V2_ACTIONS =
  A.AddHeaders | A.ChangeBody | A.AddRecipient | A.DeleteRecipient | A.ChangeHeaders | A.Quarantine;

/** Protocol flags defined for a version (Postfix milter8.c MILTER8_V*_PROTO_MASK). */
function protocolMaskFor(version: number): number {
  let mask = V2_PROTOCOL | P.NoReplyHeader;
  if (version >= 3) mask |= P.NoUnknown;
  if (version >= 4) mask |= P.NoData;
  if (version >= 6) {
    mask |=
      P.Skip |
      P.RcptRejected |
      P.NoReplyConnect |
      P.NoReplyHelo |
      P.NoReplyMail |
      P.NoReplyRcpt |
      P.NoReplyData |
      P.NoReplyUnknown |
      P.NoReplyEndOfHeaders |
      P.NoReplyBody |
      P.HeaderLeadingSpace;
  }
  return mask;
}

/** Action flags defined for a version. */
function actionMaskFor(version: number): number {
  return version >= 6
    ? V2_ACTIONS | A.ChangeFrom | A.AddRecipientWithArgs | A.SetSymbolList
    : V2_ACTIONS;
}

/** What the MTA offered in SMFIC_OPTNEG. */
export interface MilterOffer {
  readonly version: number;
  readonly actions: number;
  readonly protocol: number;
}

export interface MilterNegotiationOptions {
  /**
   * Ask for SMFIP_HDR_LEADSPC when the MTA offers it (v6). Default true: header values then
   * keep the exact bytes after the colon.
   */
  readonly headerLeadingSpace?: boolean;
  /**
   * Macro lists to request per stage with the v6 option reply (SMFIF_SETSYMLIST). Default none:
   * the MTA's own configuration (Postfix `milter_*_macros`) applies. Ignored below v6 or when
   * the MTA does not offer SETSYMLIST.
   */
  readonly symbolLists?: readonly MilterSymbolList[];
  /**
   * Ask the MTA not to wait for our replies to headers, end of headers and body chunks
   * (SMFIP_NR_HDR, SMFIP_NR_EOH, SMFIP_NR_BODY) when it offers that. Default false. Use it only
   * on unix sockets: over TCP the MTA's back-to-back small writes stall on Nagle plus our
   * delayed ACK (~40 ms per message, FIELD-NOTES.md); over a unix socket it saves one round
   * trip per header. Envelope steps always get replies, so envelope checks still answer.
   */
  readonly noReplyContent?: boolean;
  /**
   * Envelope steps whose replies the MTA need not wait for (SMFIP_NR_CONN, NR_HELO, NR_MAIL,
   * NR_RCPT), asked for when offered (v6). Default none. Only for stages at which the pipeline
   * never refuses (Pipeline.envelopeStages): a refusal there can only be told at the next step
   * that waits for a reply (DATA at the latest), and a refused recipient then tempfails the
   * whole message.
   */
  readonly noReplyEnvelope?: readonly EnvelopeStage[];
  /**
   * Ask the MTA not to send the body (SMFIP_NOBODY) when it offers that. Default false. For a
   * milter that needs the envelope and headers only (the re-injection witness).
   */
  readonly skipBody?: boolean;
  /**
   * Ask the MTA to leave out the DATA step (SMFIP_NODATA) when it offers that. Default false.
   * Saves one round trip per message. Only on unix sockets: over TCP the DATA macros that
   * Postfix still sends, as a frame that gets no reply, stall its next write (see
   * SKIPPED_STEPS).
   */
  readonly skipData?: boolean;
}

/** The SMFIP_NR_* flag of each envelope stage. */
const NO_REPLY_FLAG: Readonly<Record<EnvelopeStage, number>> = {
  connect: P.NoReplyConnect,
  helo: P.NoReplyHelo,
  mailFrom: P.NoReplyMail,
  rcptTo: P.NoReplyRcpt,
};

/** The outcome of negotiation, fixed for the rest of the connection. */
export interface MilterNegotiated {
  readonly version: number;
  /** Actions we may use at end of message (SMFIF_* bits, a subset of the MTA's offer). */
  readonly actions: number;
  /** Protocol flags we asked for (SMFIP_* bits). */
  readonly protocol: number;
  /** True when header values arrive with, and our header edits must carry, the leading space. */
  readonly headerLeadingSpace: boolean;
  /** The OPTNEG reply to send. */
  readonly reply: MilterReply & { readonly kind: 'optneg' };
}

const WANTED_ACTIONS =
  A.AddHeaders |
  A.ChangeHeaders |
  A.ChangeBody |
  A.AddRecipient |
  A.DeleteRecipient |
  A.AddRecipientWithArgs |
  A.ChangeFrom |
  A.Quarantine;

/**
 * Steps the MTA may leave out. Not DATA: Postfix still sends the DATA-stage macros (the queue
 * id) when told to skip the DATA command, as a frame of their own that gets no reply; over
 * TCP its next small write then waits for our delayed ACK under Nagle, ~40 ms per message
 * (seen with tcpdump). Taking the DATA command and answering it costs one round trip.
 */
const SKIPPED_STEPS = P.NoUnknown;

/**
 * Answers the MTA's SMFIC_OPTNEG. Called once per connection (again after SMFIC_QUIT_NC when
 * the MTA renegotiates). Throws ParapetError ERR_MILTER_PROTOCOL when the MTA's version is
 * below 2; the session then closes the connection.
 */
export function negotiateMilterOptions(
  offer: MilterOffer,
  options: MilterNegotiationOptions = {},
): MilterNegotiated {
  if (offer.version < MILTER_MIN_VERSION) {
    throw new ParapetError(
      'ERR_MILTER_PROTOCOL',
      `MTA offers milter protocol version ${offer.version}; we need ${MILTER_MIN_VERSION} or later`,
    );
  }
  // Postfix refuses a version above its own; libmilter answers its own version. min() is
  // right for both.
  const version = Math.min(offer.version, MILTER_MAX_VERSION);
  const offeredProtocol = offer.protocol & protocolMaskFor(version);
  const allowedActions = offer.actions & actionMaskFor(version);

  let protocol = SKIPPED_STEPS & offeredProtocol;
  const leadSpace =
    (options.headerLeadingSpace ?? true) && (offeredProtocol & P.HeaderLeadingSpace) !== 0;
  if (leadSpace) protocol |= P.HeaderLeadingSpace;
  if (options.noReplyContent === true) {
    protocol |= offeredProtocol & (P.NoReplyHeader | P.NoReplyEndOfHeaders | P.NoReplyBody);
  }
  if (options.skipBody === true) protocol |= offeredProtocol & P.NoBody;
  if (options.skipData === true) protocol |= offeredProtocol & P.NoData;
  for (const stage of options.noReplyEnvelope ?? []) {
    protocol |= offeredProtocol & NO_REPLY_FLAG[stage];
  }

  let actions = WANTED_ACTIONS & allowedActions;
  const lists = options.symbolLists ?? [];
  const sendLists = lists.length > 0 && (allowedActions & A.SetSymbolList) !== 0;
  if (sendLists) actions |= A.SetSymbolList;

  return {
    version,
    actions,
    protocol,
    headerLeadingSpace: leadSpace,
    reply: { kind: 'optneg', version, actions, protocol, symbolLists: sendLists ? lists : [] },
  };
}

/**
 * The SMFIF_* action a modification needs. addRecipient with ESMTP args needs ADDRCPT_PAR;
 * without args plain ADDRCPT.
 */
export function milterActionForModification(mod: Modification): number {
  switch (mod.kind) {
    case 'addHeader':
      return A.AddHeaders;
    case 'insertHeader':
    case 'changeHeader':
      return A.ChangeHeaders;
    case 'addRecipient':
      return Object.keys(mod.args).length > 0 ? A.AddRecipientWithArgs : A.AddRecipient;
    case 'deleteRecipient':
      return A.DeleteRecipient;
    case 'changeSender':
      return A.ChangeFrom;
    case 'replaceBody':
      return A.ChangeBody;
  }
}

/**
 * The modifications of a verdict the MTA did not allow. Called at end of message; a non-empty
 * result means the verdict cannot be carried out as decided and the message is tempfailed.
 */
export function unsupportedModifications(
  mods: readonly Modification[],
  negotiated: Pick<MilterNegotiated, 'actions'>,
): Modification[] {
  return mods.filter((m) => (negotiated.actions & milterActionForModification(m)) === 0);
}

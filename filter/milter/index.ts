/**
 * Public API of filter/milter: the sendmail milter protocol adapter (v6, down to v2).
 * The policy service calls createMilterServer with a Pipeline; the wire helpers are exported
 * for tools and tests that speak the protocol as an MTA would.
 */
export {
  createMilterServer,
  MILTER_SERVER_DEFAULTS,
  type MilterServer,
  type MilterServerOptions,
} from './server.js';
export {
  MilterSession,
  milterRepliesForModifications,
  parseMilterEsmtpArgs,
  type MilterEventSink,
  type MilterSessionOptions,
  type MilterTransport,
} from './session.js';
export {
  MILTER_MAX_VERSION,
  MILTER_MIN_VERSION,
  milterActionForModification,
  negotiateMilterOptions,
  unsupportedModifications,
  type MilterNegotiated,
  type MilterNegotiationOptions,
  type MilterOffer,
} from './negotiate.js';
export {
  MilterFrameDecoder,
  type MilterFrameDecoderOptions,
  type MilterFrameResult,
} from './frame-decoder.js';
export {
  MILTER_CHUNK_BYTES,
  MilterActionFlag,
  MilterAddressFamily,
  MilterCommandCode,
  MilterMacroStage,
  MilterProtocolFlag,
  MilterReplyCode,
  decodeMilterCommand,
  decodeMilterReply,
  encodeMilterCommand,
  encodeMilterFrame,
  encodeMilterReply,
  formatMilterReplyText,
  milterCommandName,
  milterReplyName,
  type MilterAddressFamilyName,
  type MilterCommand,
  type MilterCommandKind,
  type MilterFrame,
  type MilterMacroStageValue,
  type MilterReply,
  type MilterReplyKind,
  type MilterSymbolList,
} from './wire.js';

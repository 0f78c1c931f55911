/**
 * Public API of filter/smtp, the Postfix after-queue content filter (STYLE.md B3, SMTP path).
 * filter/index.ts re-exports this file; nothing outside filter/ imports the files below.
 *
 * - createSmtpFilterServer: the listener (127.0.0.1:10025 → re-injection 127.0.0.1:10026).
 * - ReinjectClient: the pooled SMTP client to the re-injection MTA, also usable by others
 *   that need to hand a Message back to the MTA (e.g. quarantine release).
 * - SmtpSession: the per-connection state machine, for drivers other than TCP and for tests.
 * - The pure parsers (command line, XFORWARD, xtext, DATA reader) for tools and tests.
 */
export {
  createSmtpFilterServer,
  type SmtpFilterServer,
  type SmtpFilterServerOptions,
} from './server.js';
export {
  ReinjectLedger,
  reinjectFingerprint,
  type LedgerEntry,
  type ReinjectLedgerOptions,
} from './reinject-ledger.js';
export {
  startReinjectWitness,
  type ReinjectWitness,
  type ReinjectWitnessOptions,
} from './reinject-witness.js';
export {
  SmtpSession,
  DEFAULT_SMTP_SESSION_OPTIONS,
  resolveSmtpSessionOptions,
  type SmtpSessionOptions,
  type ResolvedSmtpSessionOptions,
  type SmtpSessionDeps,
  type SmtpSessionTransport,
} from './session.js';
export {
  ReinjectClient,
  ReinjectError,
  buildXforwardCommands,
  type MessageReinjector,
  type ReinjectClientOptions,
  type ReinjectResult,
  type ReinjectSendOptions,
  type XforwardAttributes,
} from './reinject-client.js';
export {
  parseSmtpCommand,
  parseEsmtpParams,
  formatEsmtpParams,
  parseXforwardValue,
  decodeXtext,
  encodeXtext,
  validateMailParams,
  validateRcptParams,
  CommandLineReader,
  XFORWARD_ATTRIBUTES,
  type SmtpCommand,
  type CommandLine,
  type XforwardAttribute,
  type XforwardAttributeName,
  type XforwardValue,
  type AdvertisedExtensions,
} from './command-parser.js';
export {
  SmtpDataReader,
  type DataReaderOptions,
  type DataReaderEvent,
  type DataReaderStep,
  type DataReaderSummary,
  type DataProblem,
} from './data-reader.js';

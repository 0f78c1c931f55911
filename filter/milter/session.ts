/**
 * One milter connection as a state machine: decoded commands in, replies out through a small
 * `MilterTransport`, with the data plane behind the `Pipeline` seam. The socket driver
 * (server.ts) feeds frames one at a time and awaits each; this file never touches a socket.
 *
 * Stages (sendmail libmilter order): OPTNEG → CONNECT → HELO → (MAIL → RCPT… → [DATA] →
 * HEADER… → EOH → BODY… → EOM | ABORT)… → QUIT. SMFIC_MACRO may precede any command and needs
 * no reply; ABORT and QUIT need none either. Every other command gets exactly one final reply
 * (SMFIR_CONTINUE at intermediate steps), except the steps whose replies were negotiated away
 * (SMFIP_NR_*): those get none, and a refusal decided there is told at the next step that
 * waits for a reply.
 *
 * Failure policy (STYLE.md B1.6, B5.3): any fault answers tempfail for the current message.
 * A fault in the stream itself (bad frame, command out of order) also closes the connection,
 * since the MTA and we no longer agree on the state. Faults inside one message (spool I/O,
 * pipeline throwing or late, a verdict needing an action the MTA did not allow) tempfail the
 * message and keep the connection.
 */
import type { Modification, Verdict } from '../actions/verdict.js';
import { ParapetError } from '../errors.js';
import { BodySpool, type BodySpoolOptions } from '../message/body-spool.js';
import {
  createEnvelope,
  nextTransactionEnvelope,
  stripAngleBrackets,
  type ClientInfo,
  type Envelope,
  type EnvelopeAddress,
  type EsmtpArgs,
} from '../message/envelope.js';
import { HeaderList } from '../message/header-list.js';
import { newParapetId } from '../message/message-id.js';
import { Message } from '../message/message.js';
import type { Disposition, EnvelopeCheck, EnvelopeStage, Pipeline } from '../pipeline/types.js';
import { SmtpReplies, type SmtpReply } from '../smtp/reply.js';
import {
  negotiateMilterOptions,
  unsupportedModifications,
  type MilterNegotiated,
  type MilterNegotiationOptions,
} from './negotiate.js';
import type { MilterFrameResult } from './frame-decoder.js';
import {
  MILTER_CHUNK_BYTES,
  MilterCommandCode,
  MilterProtocolFlag,
  decodeMilterCommand,
  encodeMilterReply,
  formatMilterReplyText,
  milterCommandName,
  type MilterCommand,
  type MilterFrame,
  type MilterReply,
} from './wire.js';

/** Where the session writes. The server wraps a net.Socket; tests use an array. */
export interface MilterTransport {
  /**
   * Writes bytes in order. Returns nothing when the bytes were taken at once (or the
   * connection is already gone), else a promise that resolves once the socket drained. The
   * promise must not reject.
   */
  write(data: Buffer): Promise<void> | undefined;
  /** Ends the connection after pending writes. Safe to call more than once. */
  close(): void;
}

/** Receives session diagnostics; must not throw. Compatible with filter/log EventSink. */
export type MilterEventSink = (
  event: 'milter.session_error',
  fields: Readonly<Record<string, unknown>>,
) => void;

export interface MilterSessionOptions {
  /** Decides envelopes and messages. Any Pipeline implementation fits. */
  readonly pipeline: Pipeline;
  /** Body bytes held in memory before the spool moves to a temp file. Default 1 MiB. */
  readonly spoolMemoryBytes?: number;
  /** Directory for body temp files. Default the OS temp dir. */
  readonly spoolDir?: string;
  /** Budget for pipeline.run per message, in ms; past it the message is tempfailed. */
  readonly messageTimeoutMs: number;
  /** Interval of SMFIR_PROGRESS replies while pipeline.run is busy, in ms. */
  readonly progressIntervalMs: number;
  /** Largest message (header + body bytes as received); over it: 552 5.3.4. */
  readonly maxMessageBytes: number;
  /** Most recipients per message; each one past it is answered 452 4.5.3. */
  readonly maxRecipients: number;
  readonly negotiation?: MilterNegotiationOptions;
  /**
   * When set, the session only negotiates and answers the connect step with this reply (the
   * server uses it past maxSessions), then closes.
   */
  readonly refuseWith?: SmtpReply;
  /** Diagnostics sink. */
  readonly onEvent?: MilterEventSink;
  /** A label for diagnostics (the server passes a connection number). */
  readonly sessionId?: string;
}

type Phase =
  /** Waiting for SMFIC_OPTNEG. */
  | 'optneg'
  /** Negotiated; waiting for SMFIC_CONNECT. */
  | 'connect'
  /** Connected, no message open (after HELO, after a message, after ABORT). */
  | 'idle'
  /** MAIL accepted: RCPT, DATA, headers, body, EOM or ABORT may follow. */
  | 'envelope'
  /** pipeline.run is busy for this message. */
  | 'deciding'
  /** The message got its final answer early (limit, fault, MAIL rejected); awaiting ABORT. */
  | 'done'
  /** The connect step was refused; every further step gets the same reply. */
  | 'refused'
  | 'closed';

/** Macro stage order used to flatten per-stage macros into Envelope.macros. */
const MACRO_STAGE_ORDER: readonly number[] = [
  MilterCommandCode.Connect,
  MilterCommandCode.Helo,
  MilterCommandCode.Mail,
  MilterCommandCode.Rcpt,
  MilterCommandCode.Data,
  MilterCommandCode.Header,
  MilterCommandCode.EndOfHeaders,
  MilterCommandCode.Body,
  MilterCommandCode.EndOfMessage,
];
/** The SMFIP_NR_* flag that takes away the reply to a command. */
const NO_REPLY_FLAG_OF: Partial<Record<MilterCommand['kind'], number>> = {
  connect: MilterProtocolFlag.NoReplyConnect,
  helo: MilterProtocolFlag.NoReplyHelo,
  mail: MilterProtocolFlag.NoReplyMail,
  rcpt: MilterProtocolFlag.NoReplyRcpt,
  header: MilterProtocolFlag.NoReplyHeader,
  eoh: MilterProtocolFlag.NoReplyEndOfHeaders,
  body: MilterProtocolFlag.NoReplyBody,
};

/** Stages whose macros belong to one message and are dropped when it ends. */
const MESSAGE_MACRO_STAGES: readonly number[] = MACRO_STAGE_ORDER.slice(2);

/**
 * What a step returns: nothing when it finished synchronously (the common case for macros,
 * headers and in-memory body chunks: no promise, no microtask per frame), else a promise.
 */
type Step = Promise<void> | undefined;

const REPLY_CONTINUE = encodeMilterReply({ kind: 'continue' });
const REPLY_PROGRESS = encodeMilterReply({ kind: 'progress' });
const REPLY_TEMPFAIL_INTERNAL = encodeMilterReply({
  kind: 'replyCode',
  text: formatMilterReplyText(SmtpReplies.tempfailInternal),
});

/** A failure outcome for the current message, as data. */
interface MessageFault {
  readonly code: string;
  readonly detail: string;
}

function faultOf(err: unknown, fallbackCode: string): MessageFault {
  if (err instanceof ParapetError) return { code: err.code, detail: err.message };
  return { code: fallbackCode, detail: err instanceof Error ? err.message : String(err) };
}

/** "SIZE=10", "BODY=8BITMIME", "SMTPUTF8" → { SIZE: "10", BODY: "8BITMIME", SMTPUTF8: true }. */
export function parseMilterEsmtpArgs(args: readonly string[]): EsmtpArgs {
  const out: Record<string, string | true> = {};
  for (const arg of args) {
    if (arg === '') continue;
    const eq = arg.indexOf('=');
    if (eq < 0) out[arg] = true;
    else out[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  return out;
}

function formatEsmtpArgs(args: EsmtpArgs): string {
  return Object.entries(args)
    .map(([k, v]) => (v === true ? k : `${k}=${v}`))
    .join(' ');
}

function envelopeAddressOf(args: readonly string[]): EnvelopeAddress {
  return { address: stripAngleBrackets(args[0] ?? ''), args: parseMilterEsmtpArgs(args.slice(1)) };
}

/** Bare LF → CRLF (Postfix and sendmail separate folded header lines with LF only). */
function toCrlf(bytes: Buffer): Buffer {
  if (!bytes.includes(0x0a)) return bytes;
  return Buffer.from(bytes.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

/**
 * The raw field `name ":" [" "] value CRLF` in one allocation; `addSpace` puts back the space
 * the MTA removed after the colon (no SMFIP_HDR_LEADSPC).
 */
function rawHeaderField(name: string, value: Buffer, addSpace: boolean): Buffer {
  const nameBytes = Buffer.byteLength(name, 'utf8');
  const lead = addSpace ? 1 : 0;
  const out = Buffer.allocUnsafe(nameBytes + 1 + lead + value.length + 2);
  let at = out.write(name, 0, 'utf8');
  out[at++] = 0x3a;
  if (addSpace) out[at++] = 0x20;
  at += value.copy(out, at);
  out[at++] = 0x0d;
  out[at] = 0x0a;
  return out;
}

function isSmtpReply(value: unknown, firstDigit: '4' | '5'): value is SmtpReply {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Partial<SmtpReply>;
  return (
    typeof r.code === 'number' &&
    String(r.code).length === 3 &&
    String(r.code)[0] === firstDigit &&
    typeof r.text === 'string'
  );
}

/**
 * One MTA connection. Created by the server per accepted socket (tests drive it directly with
 * a MilterTransport). Feed it every decoded frame with `handleFrame` (awaited, in order),
 * frame-level failures with `handleFrameError`, and the end of the connection with
 * `connectionClosed`. It never throws; every message that reached MAIL is reported exactly
 * once through `pipeline.recordOutcome` and its spool is disposed.
 */
export class MilterSession {
  readonly #pipeline: Pipeline;
  readonly #transport: MilterTransport;
  readonly #options: MilterSessionOptions;
  readonly #spoolOptions: BodySpoolOptions;

  #phase: Phase = 'optneg';
  #negotiated: MilterNegotiated | null = null;
  /** The step still running (a reply waiting for drain, a pipeline call), or null. */
  #pending: Promise<void> | null = null;

  readonly #macros = new Map<number, ReadonlyMap<string, string>>();
  #envelope: Envelope = createEnvelope();
  #message: Message | null = null;
  #messageBytes = 0;
  #bodyStarted = false;
  /** The reply repeated to content commands in phase 'done' / 'refused'. */
  #finalReply: Buffer = REPLY_TEMPFAIL_INTERNAL;
  /** Whether the MTA waits for a reply to the command being handled (SMFIP_NR_* flags). */
  #replyDue = true;
  /** Macro frames arrived since Envelope.macros was last rebuilt. */
  #macrosDirty = false;
  /** Aborts the running pipeline call (deadline or lost connection), or null. */
  #inflight: ((reason: Error) => void) | null = null;
  /** True while #decide owns the open message (it records the outcome itself). */
  #deciding = false;
  #messageDone: (() => void)[] = [];

  constructor(transport: MilterTransport, options: MilterSessionOptions) {
    this.#transport = transport;
    this.#options = options;
    this.#pipeline = options.pipeline;
    this.#spoolOptions = {
      ...(options.spoolMemoryBytes === undefined
        ? {}
        : { spoolMemoryBytes: options.spoolMemoryBytes }),
      ...(options.spoolDir === undefined ? {} : { spoolDir: options.spoolDir }),
    };
  }

  /** True between MAIL and the final answer for that message (graceful shutdown waits). */
  get inMessage(): boolean {
    return this.#message !== null;
  }

  /** True once the session will not take more commands. */
  isClosed(): boolean {
    return this.#phase === 'closed';
  }

  /** Negotiated options, or null before SMFIC_OPTNEG. */
  get negotiated(): MilterNegotiated | null {
    return this.#negotiated;
  }

  /** Resolves when no message is open (immediately if none is). */
  whenIdle(): Promise<void> {
    if (this.#message === null) return Promise.resolve();
    return new Promise((resolve) => this.#messageDone.push(resolve));
  }

  /**
   * Handles one decoded frame. Called by the driver for each frame in order; when it returns a
   * promise, the driver waits for it before it reads on (that is the back-pressure). Returns
   * nothing when the frame was handled at once (most frames of a message). Frames handed in
   * while an earlier one is still running are queued behind it. Never rejects: faults become
   * replies and, where the stream cannot be trusted any more, a closed connection.
   */
  handleFrame(frame: MilterFrame): Promise<void> | undefined {
    if (this.#pending !== null) {
      return this.#track(this.#pending.then(() => this.#handleFrame(frame)));
    }
    const step = this.#handleFrame(frame);
    return step === undefined ? undefined : this.#track(step);
  }

  /** Remembers a running step so later frames queue behind it; the result never rejects. */
  #track(step: Promise<void>): Promise<void> {
    const tracked: Promise<void> = step
      .catch((err: unknown) => this.#streamFault(err))
      .then(() => {
        if (this.#pending === tracked) this.#pending = null;
      });
    this.#pending = tracked;
    return tracked;
  }

  /**
   * The frame decoder gave up (announced length over maxFrameBytes, or zero). Tempfails the
   * open message and closes: the stream cannot be resynchronised.
   */
  handleFrameError(
    result: Exclude<MilterFrameResult, { kind: 'frame' | 'incomplete' }>,
  ): Promise<void> {
    const err =
      result.kind === 'tooLarge'
        ? new ParapetError(
            'ERR_MILTER_FRAME_TOO_LARGE',
            `frame announces ${result.announcedBytes} bytes, limit ${result.maxFrameBytes}`,
          )
        : new ParapetError('ERR_MILTER_FRAME_INVALID', result.reason);
    return this.#track(
      this.#pending === null
        ? this.#streamFault(err)
        : this.#pending.then(() => this.#streamFault(err)),
    );
  }

  /**
   * The connection is gone (socket closed or timed out). Aborts a running pipeline, records an
   * open message as aborted and frees its spool. Idempotent.
   */
  async connectionClosed(): Promise<void> {
    this.#phase = 'closed';
    this.#inflight?.(new ParapetError('ERR_MILTER_PROTOCOL', 'MTA connection closed'));
    // A deciding message is recorded by #decide as soon as the abort ends its wait.
    if (!this.#deciding) await this.#finishMessage(null, 'aborted');
  }

  // -------------------------------------------------------------------------------------------

  #handleFrame(frame: MilterFrame): Step {
    if (this.#phase === 'closed') return undefined;
    let cmd: MilterCommand;
    try {
      cmd = decodeMilterCommand(frame);
    } catch (err) {
      return this.#streamFault(err);
    }
    try {
      // A rejected step is turned into a stream fault by #track.
      return this.#dispatch(cmd);
    } catch (err) {
      // Only a bug gets here (every step catches its own faults); still never accept.
      return this.#streamFault(err);
    }
  }

  #dispatch(cmd: MilterCommand): Step {
    this.#replyDue = this.#replyExpected(cmd.kind);
    if (cmd.kind === 'macro') {
      this.#onMacro(cmd.stage, cmd.macros);
      return undefined;
    }
    if (cmd.kind === 'quit') {
      if (this.#message === null) {
        this.#close();
        return undefined;
      }
      return this.#finishMessage(null, 'aborted').then(() => {
        this.#close();
      });
    }
    switch (this.#phase) {
      case 'optneg':
        if (cmd.kind !== 'optneg') return this.#protocolError(cmd, 'expected SMFIC_OPTNEG');
        return this.#onOptneg(cmd);
      case 'refused':
        if (cmd.kind === 'abort') return undefined;
        if (cmd.kind === 'quitNc') return this.#onQuitNc();
        return this.#replyDue ? this.#send(this.#finalReply) : undefined;
      case 'connect':
        if (cmd.kind === 'connect') return this.#onConnect(cmd);
        if (cmd.kind === 'abort') return undefined;
        return this.#protocolError(cmd, 'expected SMFIC_CONNECT');
      case 'idle':
        if (cmd.kind === 'helo') return this.#onHelo(cmd.name);
        if (cmd.kind === 'mail') return this.#onMail(cmd.args);
        if (cmd.kind === 'unknown') return this.#send(REPLY_CONTINUE);
        if (cmd.kind === 'quitNc') return this.#onQuitNc();
        if (cmd.kind === 'abort') {
          this.#clearMessageMacros();
          return undefined;
        }
        return this.#protocolError(cmd, 'no message is open');
      case 'envelope':
        return this.#onMessageCommand(cmd);
      case 'done':
        if (cmd.kind === 'abort' || cmd.kind === 'mail') {
          this.#setPhase('idle');
          this.#clearMessageMacros();
          // sendmail may start the next transaction without SMFIC_ABORT.
          if (cmd.kind === 'mail') return this.#onMail(cmd.args);
          return undefined;
        }
        if (cmd.kind === 'helo') return this.#onHelo(cmd.name);
        if (cmd.kind === 'quitNc') return this.#onQuitNc();
        if (cmd.kind === 'optneg' || cmd.kind === 'connect') {
          return this.#protocolError(cmd, 'unexpected in a finished message');
        }
        return this.#replyDue ? this.#send(this.#finalReply) : undefined;
      case 'deciding':
      case 'closed':
        // Unreachable: frames are handled one at a time and a closed session ignores them.
        return undefined;
    }
  }

  #onMessageCommand(cmd: MilterCommand): Step {
    const message = this.#message;
    if (message === null) return this.#protocolError(cmd, 'no message is open');
    switch (cmd.kind) {
      case 'rcpt':
        return this.#onRcpt(cmd.args);
      case 'data':
      case 'unknown':
        return this.#send(REPLY_CONTINUE);
      case 'helo':
        // Postfix reports HELO after MAIL and follows it with SMFIC_ABORT.
        return this.#onHelo(cmd.name);
      case 'header':
        if (this.#bodyStarted) return this.#protocolError(cmd, 'header after end of headers');
        return this.#onHeader(message, cmd.name, cmd.value);
      case 'eoh':
        this.#bodyStarted = true;
        return this.#continue();
      case 'body': {
        this.#bodyStarted = true;
        const appended = this.#appendBody(message, cmd.chunk);
        if (appended === true) return this.#continue();
        if (appended === false) return undefined;
        return appended.then((ok) => (ok ? this.#continue() : undefined));
      }
      case 'eom': {
        this.#bodyStarted = true;
        const appended = cmd.chunk.length === 0 ? true : this.#appendBody(message, cmd.chunk);
        if (appended === true) return this.#decide(message);
        if (appended === false) return undefined;
        return appended.then((ok) => (ok ? this.#decide(message) : undefined));
      }
      case 'abort':
        return this.#finishMessage(null, 'aborted').then(() => {
          this.#setPhase('idle');
          this.#clearMessageMacros();
        });
      case 'quitNc':
        return this.#onQuitNc();
      case 'optneg':
      case 'connect':
      case 'mail':
      case 'macro':
      case 'quit':
        return this.#protocolError(cmd, 'unexpected while a message is open');
    }
  }

  #onOptneg(cmd: MilterCommand & { kind: 'optneg' }): Step {
    let negotiated: MilterNegotiated;
    try {
      const wanted = this.#options.negotiation ?? {};
      // A session refused at connect must have its refusal read at once.
      negotiated = negotiateMilterOptions(
        cmd,
        this.#options.refuseWith === undefined
          ? wanted
          : { ...wanted, noReplyContent: false, noReplyEnvelope: [] },
      );
    } catch (err) {
      this.#emit(faultOf(err, 'ERR_MILTER_PROTOCOL'));
      this.#close();
      return undefined;
    }
    this.#negotiated = negotiated;
    this.#setPhase('connect');
    return this.#send(encodeMilterReply(negotiated.reply));
  }

  async #onConnect(cmd: MilterCommand & { kind: 'connect' }): Promise<void> {
    const client: ClientInfo = {
      address: cmd.family === 'inet' || cmd.family === 'inet6' ? cmd.address : null,
      port: cmd.family === 'inet' || cmd.family === 'inet6' ? cmd.port : null,
      name: cmd.hostname === '' ? null : cmd.hostname,
    };
    this.#envelope = createEnvelope(client);
    this.#macrosDirty = true;
    this.#refreshMacros();
    if (this.#options.refuseWith !== undefined) {
      this.#refuse(this.#options.refuseWith);
      await this.#send(this.#finalReply);
      this.#close();
      return;
    }
    const check = await this.#check('connect', this.#envelope);
    if (check === null) {
      this.#setPhase('idle');
      return this.#continue();
    }
    // Postfix treats a connect-stage reply as final for the whole SMTP session. Without a
    // reply due (SMFIP_NR_CONN) it hears the refusal at its next step that waits for one.
    this.#refuse(check.reply);
    return this.#replyDue ? this.#send(this.#finalReply) : undefined;
  }

  async #onHelo(name: string): Promise<void> {
    this.#envelope.helo = name;
    // libmilter drops the macros of later stages at HELO: they belong to an older transaction.
    for (const stage of MESSAGE_MACRO_STAGES) this.#macros.delete(stage);
    this.#refreshMacros();
    const check = await this.#check('helo', this.#envelope);
    if (check === null) return this.#continue();
    if (this.#replyDue) return this.#send(this.#replyCodeFrame(check.reply));
    // SMFIP_NR_HELO: a HELO refusal closes the SMTP session in Postfix; refuse every later step
    // that waits for a reply instead.
    await this.#finishMessage(null, 'aborted');
    this.#refuse(check.reply);
  }

  async #onMail(args: readonly string[]): Promise<void> {
    const envelope = nextTransactionEnvelope(this.#envelope);
    envelope.mailFrom = envelopeAddressOf(args);
    this.#envelope = envelope;
    this.#macrosDirty = true;
    this.#refreshMacros();
    this.#message = new Message({
      id: newParapetId(),
      envelope,
      headers: new HeaderList(),
      body: new BodySpool(this.#spoolOptions),
    });
    this.#messageBytes = 0;
    this.#bodyStarted = false;
    this.#setPhase('envelope');
    const check = await this.#check('mailFrom', envelope);
    if (check === null) return this.#continue();
    const verdict: Verdict = { kind: check.kind, reply: check.reply };
    return this.#endMessageEarly(
      verdict,
      check.kind === 'reject' ? 'rejected' : 'tempfailed',
      check.errorCode,
    );
  }

  async #onRcpt(args: readonly string[]): Promise<void> {
    const envelope = this.#envelope;
    if (envelope.recipients.length >= this.#options.maxRecipients) {
      if (this.#replyDue) return this.#send(this.#replyCodeFrame(SmtpReplies.tooManyRecipients));
      // SMFIP_NR_RCPT: one recipient cannot be refused any more, only the whole message (the
      // MTA keeps it). Keep maxRecipients at least Postfix's smtpd_recipient_limit.
      const verdict: Verdict = { kind: 'tempfail', reply: SmtpReplies.tooManyRecipients };
      return this.#endMessageEarly(verdict, 'tempfailed');
    }
    // The candidate is the last recipient while the pipeline looks at it.
    envelope.recipients.push(envelopeAddressOf(args));
    this.#refreshMacros();
    const check = await this.#check('rcptTo', envelope);
    if (check === null) return this.#continue();
    envelope.recipients.pop();
    if (this.#replyDue) return this.#send(this.#replyCodeFrame(check.reply));
    // SMFIP_NR_RCPT was negotiated because the pipeline said it never refuses here; it did.
    const fault = {
      code: 'ERR_PIPELINE_FAILED',
      detail: 'recipient refused at a stage the pipeline declared it does not decide at',
    };
    this.#emit(fault);
    return this.#endMessageEarly(this.#internalTempfail(), 'tempfailed', fault.code);
  }

  #onHeader(message: Message, name: string, value: Buffer): Step {
    const leadSpace = this.#negotiated?.headerLeadingSpace ?? false;
    // With SMFIP_HDR_LEADSPC the value is every byte after the colon. Without it the MTA ate one
    // space (never a tab) after the colon; we put one back when rebuilding the raw field.
    const addSpace = !leadSpace && value.length > 0;
    const crlfValue = toCrlf(value);
    const raw = rawHeaderField(name, crlfValue, addSpace);
    if (!this.#countBytes(raw.length)) return this.#tooLarge();
    // `value` (the HeaderList convention): without one leading space or tab.
    const first = addSpace ? 0x20 : crlfValue[0];
    const text =
      first === 0x20 || first === 0x09
        ? addSpace
          ? crlfValue.toString('utf8')
          : crlfValue.toString('utf8', 1)
        : crlfValue.toString('utf8');
    message.headers.append(name, text, raw);
    return this.#continue();
  }

  /** SMFIR_CONTINUE for the current step, unless the MTA asked for no reply to it. */
  #continue(): Step {
    return this.#replyDue ? this.#send(REPLY_CONTINUE) : undefined;
  }

  /** False for the steps whose replies we negotiated away (SMFIP_NR_*). */
  #replyExpected(kind: MilterCommand['kind']): boolean {
    const protocol = this.#negotiated?.protocol ?? 0;
    return (protocol & (NO_REPLY_FLAG_OF[kind] ?? 0)) === 0;
  }

  /**
   * Writes a body chunk; on failure answers for the message and yields false. Synchronous
   * (true) while the body stays in memory.
   */
  #appendBody(message: Message, chunk: Buffer): boolean | Promise<boolean> {
    if (!this.#countBytes(chunk.length)) return this.#tooLarge().then(() => false);
    if (message.body.appendInMemory(chunk)) return true;
    return this.#appendBodyToSpool(message, chunk);
  }

  async #appendBodyToSpool(message: Message, chunk: Buffer): Promise<boolean> {
    try {
      await message.body.write(chunk);
      return true;
    } catch (err) {
      const fault = faultOf(err, 'ERR_SPOOL_IO');
      this.#emit(fault);
      await this.#endMessageEarly(this.#internalTempfail(), 'tempfailed', fault.code);
      return false;
    }
  }

  #countBytes(n: number): boolean {
    this.#messageBytes += n;
    return this.#messageBytes <= this.#options.maxMessageBytes;
  }

  #tooLarge(): Promise<void> {
    const reply = SmtpReplies.messageTooLarge;
    return this.#endMessageEarly({ kind: 'reject', reply }, 'rejected', 'ERR_MESSAGE_LIMIT');
  }

  /** EOM: seal, run the pipeline under a deadline with progress replies, answer, record. */
  async #decide(message: Message): Promise<void> {
    this.#refreshMacros();
    this.#setPhase('deciding');
    this.#deciding = true;
    try {
      await this.#decideOwned(message);
    } finally {
      this.#deciding = false;
    }
  }

  async #decideOwned(message: Message): Promise<void> {
    let verdict: Verdict | null = null;
    let fault: MessageFault | null = null;
    try {
      await message.body.seal();
      verdict = await this.#runPipeline(message);
    } catch (err) {
      fault = faultOf(err, 'ERR_PIPELINE_FAILED');
    }
    if (this.isClosed()) {
      // The MTA went away while we decided: nobody heard the verdict.
      await this.#finishMessage(verdict, 'aborted', fault?.code);
      return;
    }
    let frames: Buffer[];
    let disposition: Disposition;
    if (verdict !== null && fault === null) {
      try {
        ({ frames, disposition } = this.#translateVerdict(verdict));
      } catch (err) {
        fault = faultOf(err, 'ERR_PIPELINE_FAILED');
        frames = [];
        disposition = 'tempfailed';
      }
    } else {
      frames = [];
      disposition = 'tempfailed';
    }
    if (fault !== null) {
      this.#emit(fault);
      verdict = this.#internalTempfail();
      frames = [REPLY_TEMPFAIL_INTERNAL];
      disposition = 'tempfailed';
    }
    // One write for all modification replies and the final action (no Nagle/delayed-ACK wait).
    await this.#send(
      frames.length === 1 ? (frames[0] ?? REPLY_TEMPFAIL_INTERNAL) : Buffer.concat(frames),
    );
    this.#setPhase('idle');
    this.#clearMessageMacros();
    await this.#finishMessage(verdict, disposition, fault?.code);
  }

  /** pipeline.run with an AbortSignal deadline and SMFIR_PROGRESS every progressIntervalMs. */
  async #runPipeline(message: Message): Promise<Verdict> {
    const controller = new AbortController();
    // The deadline or a lost connection ends the wait even if the pipeline ignores the signal.
    // (Rejected directly by whoever aborts: no 'abort' listener per message.)
    let endWait: (reason: Error) => void = () => undefined;
    const aborted = new Promise<never>((_resolve, reject) => {
      endWait = reject;
    });
    const abort = (reason: Error): void => {
      controller.abort(reason);
      endWait(reason);
    };
    this.#inflight = abort;
    // One timer per message for both duties: SMFIR_PROGRESS every progressIntervalMs, and the
    // messageTimeoutMs deadline.
    const started = Date.now();
    const { progressIntervalMs, messageTimeoutMs } = this.#options;
    const tick = (): void => {
      const left = messageTimeoutMs - (Date.now() - started);
      if (left <= 0) {
        abort(
          new ParapetError(
            'ERR_PIPELINE_DEADLINE',
            `no verdict within messageTimeoutMs=${messageTimeoutMs}`,
          ),
        );
        return;
      }
      if (this.#phase === 'deciding') void this.#transport.write(REPLY_PROGRESS);
      timer = setTimeout(tick, Math.min(progressIntervalMs, left));
    };
    let timer = setTimeout(tick, Math.min(progressIntervalMs, messageTimeoutMs));
    let run: Promise<Verdict>;
    try {
      run = this.#pipeline.run(message, controller.signal);
    } catch (err) {
      run = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    // A pipeline that rejects after the deadline won must not become an unhandled rejection.
    run.catch(() => undefined);
    aborted.catch(() => undefined);
    try {
      const verdict: unknown = await Promise.race([run, aborted]);
      return this.#checkVerdict(verdict);
    } finally {
      clearTimeout(timer);
      this.#inflight = null;
    }
  }

  /** Runtime check of what the pipeline returned: it crosses a module boundary. */
  #checkVerdict(value: unknown): Verdict {
    const bad = (what: string): ParapetError =>
      new ParapetError('ERR_PIPELINE_FAILED', `pipeline returned an invalid verdict: ${what}`);
    if (typeof value !== 'object' || value === null) throw bad('not an object');
    const v = value as Verdict;
    switch (v.kind) {
      case 'accept':
        if (!Array.isArray(v.modifications)) throw bad('accept without modifications');
        return v;
      case 'discard':
      case 'quarantine':
        return v;
      case 'reject':
        if (!isSmtpReply(v.reply, '5')) throw bad('reject needs a 5xx reply');
        return v;
      case 'tempfail':
        if (!isSmtpReply(v.reply, '4')) throw bad('tempfail needs a 4xx reply');
        return v;
      default:
        throw bad(`unknown kind ${String((v as { kind: unknown }).kind)}`);
    }
  }

  /** Verdict → reply frames (modifications first, then the final action) and disposition. */
  #translateVerdict(verdict: Verdict): { frames: Buffer[]; disposition: Disposition } {
    switch (verdict.kind) {
      case 'accept': {
        const negotiated = this.#negotiated;
        if (negotiated === null) throw new ParapetError('ERR_MILTER_PROTOCOL', 'not negotiated');
        const missing = unsupportedModifications(verdict.modifications, negotiated);
        if (missing.length > 0) {
          throw new ParapetError(
            'ERR_MILTER_ACTION_NOT_ALLOWED',
            `the MTA did not allow: ${[...new Set(missing.map((m) => m.kind))].join(', ')}`,
          );
        }
        const frames = milterRepliesForModifications(verdict.modifications, negotiated).map(
          encodeMilterReply,
        );
        frames.push(encodeMilterReply({ kind: 'accept' }));
        return { frames, disposition: 'released' };
      }
      case 'discard':
        return { frames: [encodeMilterReply({ kind: 'discard' })], disposition: 'discarded' };
      case 'quarantine':
        // Stored durably by us before the verdict existed; the MTA only has to drop it.
        return { frames: [encodeMilterReply({ kind: 'discard' })], disposition: 'quarantined' };
      case 'reject':
        return { frames: [this.#replyCodeFrame(verdict.reply)], disposition: 'rejected' };
      case 'tempfail':
        return { frames: [this.#replyCodeFrame(verdict.reply)], disposition: 'tempfailed' };
    }
  }

  /** Answers the open message before EOM and waits for ABORT; records the outcome. */
  async #endMessageEarly(
    verdict: Verdict,
    disposition: Disposition,
    errorCode?: string,
  ): Promise<void> {
    const frame =
      verdict.kind === 'reject' || verdict.kind === 'tempfail'
        ? this.#replyCodeFrame(verdict.reply)
        : REPLY_TEMPFAIL_INTERNAL;
    this.#finalReply = frame;
    this.#setPhase('done');
    // Without a reply due (SMFIP_NR_*), the MTA hears the answer at its next step that waits
    // for one (at the latest, end of message).
    if (this.#replyDue) await this.#send(frame);
    await this.#finishMessage(verdict, disposition, errorCode);
  }

  /** Records the outcome of the open message (if any) and frees its spool. */
  async #finishMessage(
    verdict: Verdict | null,
    disposition: Disposition,
    errorCode?: string,
  ): Promise<void> {
    const message = this.#message;
    if (message === null) return;
    this.#message = null;
    try {
      if (errorCode === undefined) this.#pipeline.recordOutcome(message, verdict, disposition);
      else this.#pipeline.recordOutcome(message, verdict, disposition, errorCode);
    } catch (err) {
      this.#emit(faultOf(err, 'ERR_MESSAGE_LOG_IO'));
    }
    try {
      await message.dispose();
    } catch (err) {
      this.#emit(faultOf(err, 'ERR_SPOOL_IO'));
    }
    const waiting = this.#messageDone;
    this.#messageDone = [];
    for (const resolve of waiting) resolve();
  }

  async #onQuitNc(): Promise<void> {
    // Quit, but a new connection follows on this socket: the MTA sends SMFIC_CONNECT next
    // (libmilter also allows a fresh SMFIC_OPTNEG). Negotiated options stay.
    await this.#finishMessage(null, 'aborted');
    this.#macros.clear();
    this.#envelope = createEnvelope();
    this.#setPhase('connect');
  }

  /** envelope / EnvelopeCheck with faults turned into tempfail; null means continue. */
  async #check(
    stage: EnvelopeStage,
    envelope: Envelope,
  ): Promise<{ kind: 'reject' | 'tempfail'; reply: SmtpReply; errorCode?: string } | null> {
    let result: EnvelopeCheck;
    try {
      result = await this.#pipeline.checkEnvelope(stage, envelope);
    } catch (err) {
      const fault = faultOf(err, 'ERR_PIPELINE_FAILED');
      this.#emit(fault);
      return { kind: 'tempfail', reply: SmtpReplies.tempfailInternal, errorCode: fault.code };
    }
    if (result.kind === 'continue') return null;
    if (result.kind === 'reject' && isSmtpReply(result.reply, '5')) return result;
    if (result.kind === 'tempfail' && isSmtpReply(result.reply, '4')) return result;
    this.#emit({ code: 'ERR_PIPELINE_FAILED', detail: `invalid envelope check at ${stage}` });
    return {
      kind: 'tempfail',
      reply: SmtpReplies.tempfailInternal,
      errorCode: 'ERR_PIPELINE_FAILED',
    };
  }

  #refuse(reply: SmtpReply): void {
    this.#finalReply = this.#replyCodeFrame(reply);
    this.#setPhase('refused');
  }

  #onMacro(stage: number, macros: readonly (readonly [string, string])[]): void {
    // Only the stages we know are kept, so a peer cannot make us hold 256 macro sets.
    if (!MACRO_STAGE_ORDER.includes(stage)) return;
    // Each SMFIC_MACRO replaces the macros of its stage (libmilter semantics).
    this.#macros.set(stage, new Map(macros));
    // Postfix sends a macro frame before most commands: rebuild lazily, when a step reads them.
    this.#macrosDirty = true;
  }

  /**
   * Ends the transaction: the finished message keeps its envelope as it was; the connection
   * continues with a fresh one (client and HELO kept) and without message-stage macros.
   */
  #clearMessageMacros(): void {
    this.#envelope = nextTransactionEnvelope(this.#envelope);
    for (const stage of MESSAGE_MACRO_STAGES) this.#macros.delete(stage);
    this.#macrosDirty = true;
  }

  /**
   * Rebuilds Envelope.macros and queueId from the per-stage macros (later stages win), if any
   * macro frame arrived since the last rebuild. Called by every step that reads the envelope.
   */
  #refreshMacros(): void {
    if (!this.#macrosDirty) return;
    this.#macrosDirty = false;
    const target = this.#envelope.macros;
    target.clear();
    for (const stage of MACRO_STAGE_ORDER) {
      const set = this.#macros.get(stage);
      if (set === undefined) continue;
      for (const [name, value] of set) target.set(name, value);
    }
    const queueId = target.get('i') ?? target.get('{i}');
    this.#envelope.queueId = queueId === undefined || queueId === '' ? null : queueId;
  }

  #internalTempfail(): Verdict {
    return { kind: 'tempfail', reply: SmtpReplies.tempfailInternal };
  }

  #replyCodeFrame(reply: SmtpReply): Buffer {
    return encodeMilterReply({ kind: 'replyCode', text: formatMilterReplyText(reply) });
  }

  /** Command out of order: tempfail the message, answer the command, close. */
  #protocolError(cmd: MilterCommand, what: string): Promise<void> {
    return this.#streamFault(
      new ParapetError('ERR_MILTER_PROTOCOL', `${milterCommandName(codeOfKind(cmd))}: ${what}`),
    );
  }

  /** The stream can no longer be trusted: tempfail what is open, then close. */
  async #streamFault(err: unknown): Promise<void> {
    const fault = faultOf(err, 'ERR_MILTER_PROTOCOL');
    this.#emit(fault);
    if (this.#phase === 'closed') return;
    const negotiated = this.#negotiated !== null;
    this.#phase = 'closed';
    // The MTA is probably waiting for a reply to the offending command; make it a tempfail.
    if (negotiated) await this.#transport.write(REPLY_TEMPFAIL_INTERNAL);
    await this.#finishMessage(
      this.#message === null ? null : this.#internalTempfail(),
      'tempfailed',
      fault.code,
    );
    this.#close();
  }

  /** Moves to `phase` unless the connection closed meanwhile (closed is final). */
  #setPhase(phase: Exclude<Phase, 'closed'>): void {
    if (this.#phase !== 'closed') this.#phase = phase;
  }

  #send(frame: Buffer): Step {
    if (this.#phase === 'closed' || frame.length === 0) return undefined;
    return this.#transport.write(frame);
  }

  #close(): void {
    this.#phase = 'closed';
    this.#transport.close();
  }

  #emit(fault: MessageFault): void {
    try {
      this.#options.onEvent?.('milter.session_error', {
        errorCode: fault.code,
        detail: fault.detail,
        ...(this.#options.sessionId === undefined ? {} : { sessionId: this.#options.sessionId }),
        ...(this.#message === null ? {} : { messageId: this.#message.id }),
        queueId: this.#envelope.queueId,
      });
    } catch {
      // A diagnostics sink must not break the mail flow.
    }
  }
}

function codeOfKind(cmd: MilterCommand): number {
  const C = MilterCommandCode;
  switch (cmd.kind) {
    case 'optneg':
      return C.OptionNegotiation;
    case 'macro':
      return C.Macro;
    case 'connect':
      return C.Connect;
    case 'helo':
      return C.Helo;
    case 'mail':
      return C.Mail;
    case 'rcpt':
      return C.Rcpt;
    case 'data':
      return C.Data;
    case 'header':
      return C.Header;
    case 'eoh':
      return C.EndOfHeaders;
    case 'body':
      return C.Body;
    case 'eom':
      return C.EndOfMessage;
    case 'abort':
      return C.Abort;
    case 'quit':
      return C.Quit;
    case 'quitNc':
      return C.QuitNewConnection;
    case 'unknown':
      return C.Unknown;
  }
}

/** A header value for SMFIR_ADDHEADER/INSHEADER/CHGHEADER (see PROTOCOL.md "Header values"). */
function headerValueForMta(value: string, leadSpace: boolean): string {
  // sendmail/Postfix expect folded lines separated by LF alone; the MTA adds the CR.
  const lf = value.replace(/\r\n/g, '\n');
  return leadSpace ? ` ${lf}` : lf;
}

/**
 * Modifications → SMFIR_* replies, in verdict order. Body replacement is split into
 * SMFIR_REPLBODY chunks of at most 65535 bytes, sent back to back (Postfix refuses body chunks
 * interleaved with other edits); when a verdict carries several, only the last one counts.
 * The caller has checked that every modification was negotiated.
 */
export function milterRepliesForModifications(
  mods: readonly Modification[],
  negotiated: Pick<MilterNegotiated, 'headerLeadingSpace'>,
): MilterReply[] {
  const out: MilterReply[] = [];
  const lastBody = mods.reduce((at, m, i) => (m.kind === 'replaceBody' ? i : at), -1);
  const lead = negotiated.headerLeadingSpace;
  mods.forEach((mod, i) => {
    switch (mod.kind) {
      case 'addHeader':
        out.push({ kind: 'addHeader', name: mod.name, value: headerValueForMta(mod.value, lead) });
        return;
      case 'insertHeader':
        out.push({
          kind: 'insertHeader',
          index: Math.max(0, Math.trunc(mod.index)),
          name: mod.name,
          value: headerValueForMta(mod.value, lead),
        });
        return;
      case 'changeHeader': {
        // An empty value deletes (SMFIR_CHGHEADER); a change to an empty value sends one space.
        const value =
          mod.value === null ? '' : mod.value === '' ? ' ' : headerValueForMta(mod.value, lead);
        out.push({
          kind: 'changeHeader',
          index: Math.max(1, Math.trunc(mod.occurrence)),
          name: mod.name,
          value,
        });
        return;
      }
      case 'addRecipient': {
        const args = formatEsmtpArgs(mod.args);
        out.push(
          args === ''
            ? { kind: 'addRecipient', address: `<${mod.address}>` }
            : { kind: 'addRecipientWithArgs', address: `<${mod.address}>`, args },
        );
        return;
      }
      case 'deleteRecipient':
        out.push({ kind: 'deleteRecipient', address: `<${mod.address}>` });
        return;
      case 'changeSender': {
        const args = formatEsmtpArgs(mod.args);
        out.push({
          kind: 'changeFrom',
          address: `<${mod.address}>`,
          args: args === '' ? null : args,
        });
        return;
      }
      case 'replaceBody': {
        if (i !== lastBody) return;
        const body = mod.body;
        if (body.length === 0) out.push({ kind: 'replaceBody', chunk: Buffer.alloc(0) });
        for (let at = 0; at < body.length; at += MILTER_CHUNK_BYTES) {
          out.push({ kind: 'replaceBody', chunk: body.subarray(at, at + MILTER_CHUNK_BYTES) });
        }
        return;
      }
    }
  });
  return out;
}

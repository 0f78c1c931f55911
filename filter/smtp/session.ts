/**
 * One connection of the after-queue SMTP content filter (Postfix FILTER_README): the SMTP
 * state machine greeting → EHLO/HELO/LHLO → (XFORWARD) → MAIL → RCPT… → DATA → "." → next
 * message or QUIT, and the end-of-data step that turns the pipeline's Verdict into re-injection
 * and a reply (STYLE.md B3, SMTP path).
 *
 * The session does no socket I/O: it is fed bytes (`feed`) and writes replies through a small
 * transport, so tests drive it directly; server.ts attaches it to a TCP socket. Input is
 * processed strictly in order and `feed` resolves only when the chunk is consumed, so a driver
 * that awaits it before reading more gives back-pressure for free. Replies to pipelined
 * commands (RFC 2920) are collected and written in order when the chunk is consumed, never
 * before a reply they follow.
 *
 * The one rule of the SMTP path: upstream hears 250 for a message only after the re-injection
 * MTA answered 250 to the end of DATA, after a durable quarantine, or after a deliberate
 * discard. Any fault (pipeline throws or overruns messageTimeoutMs, a modification is invalid,
 * the spool fails, re-injection refuses or times out) answers 451 4.3.0 so Postfix keeps the
 * message; 5xx is only sent for deliberate rejects and for protocol limits (size, bare LF).
 */
import { ParapetError, toParapetError } from '../errors.js';
import type { Verdict } from '../actions/verdict.js';
import { applyModifications } from '../actions/apply.js';
import {
  createEnvelope,
  type ClientInfo,
  type Envelope,
  type EsmtpArgs,
} from '../message/envelope.js';
import { HeaderList } from '../message/header-list.js';
import { BodySpool, type BodySpoolOptions } from '../message/body-spool.js';
import { Message } from '../message/message.js';
import { newParapetId } from '../message/message-id.js';
import type { Disposition, EnvelopeStage, Pipeline } from '../pipeline/types.js';
import { silentEvents, type EventSink } from '../log/events.js';
import {
  CommandLineReader,
  parseSmtpCommand,
  validateMailParams,
  validateRcptParams,
  XFORWARD_ATTRIBUTES,
  type AdvertisedExtensions,
  type SmtpCommand,
  type XforwardAttributeName,
  type XforwardValue,
} from './command-parser.js';
import { SmtpDataReader, type DataProblem, type DataReaderSummary } from './data-reader.js';
import { formatSmtpReply, smtpReply, SmtpReplies, type SmtpReply } from './reply.js';
import {
  ReinjectError,
  type MessageReinjector,
  type XforwardAttributes,
} from './reinject-client.js';
import type { ReinjectResult } from './reinject-client.js';
import { reinjectFingerprint, type ReinjectLedger } from './reinject-ledger.js';

/** Limits and identity of a session. Every size is in bytes, every duration in milliseconds. */
export interface SmtpSessionOptions {
  /** Our name in the greeting and EHLO reply. Default "localhost". */
  readonly hostname?: string;
  /** One command line including CRLF (RFC 5321 §4.5.3.1.4 minimum 512). Default 4096. */
  readonly maxLineBytes?: number;
  /** Whole message after unstuffing; advertised as SIZE (RFC 1870). Default 64 MiB. */
  readonly maxMessageBytes?: number;
  /** Header block of one message. Default 1 MiB. */
  readonly maxHeaderBytes?: number;
  /** One line of message data including CRLF. Default 1 MiB (Postfix folds at 998). */
  readonly maxDataLineBytes?: number;
  /** Recipients per message; the next RCPT gets 452 4.5.3 (RFC 5321 §4.5.3.1.8). Default 1000. */
  readonly maxRecipients?: number;
  /** Unknown or malformed commands before 421 and disconnect. Default 10. */
  readonly maxUnrecognizedCommands?: number;
  /** Budget for pipeline.run plus re-injection of one message. Default 300 000. */
  readonly messageTimeoutMs?: number;
  /** Advertise DSN and pass NOTIFY/ORCPT/RET/ENVID on to re-injection. Default true. */
  readonly advertiseDsn?: boolean;
  /** Where message bodies are spooled. */
  readonly spool?: BodySpoolOptions;
  /**
   * Receives `smtp.reinject_failed` and `smtp.session_error` (filter/log/events.ts) for every
   * message that was tempfailed by a fault. Must not throw or block. Default: dropped.
   */
  readonly onEvent?: EventSink;
}

/** The options with defaults applied. */
export type ResolvedSmtpSessionOptions = Required<Omit<SmtpSessionOptions, 'spool' | 'onEvent'>> & {
  readonly spool: BodySpoolOptions;
  readonly onEvent: EventSink;
};

export const DEFAULT_SMTP_SESSION_OPTIONS: ResolvedSmtpSessionOptions = Object.freeze({
  hostname: 'localhost',
  maxLineBytes: 4096,
  maxMessageBytes: 64 * 1024 * 1024,
  maxHeaderBytes: 1024 * 1024,
  maxDataLineBytes: 1024 * 1024,
  maxRecipients: 1000,
  maxUnrecognizedCommands: 10,
  messageTimeoutMs: 300_000,
  advertiseDsn: true,
  spool: {},
  onEvent: silentEvents,
});

/** Resolves options against DEFAULT_SMTP_SESSION_OPTIONS. */
export function resolveSmtpSessionOptions(
  options: SmtpSessionOptions = {},
): ResolvedSmtpSessionOptions {
  const out: Record<string, unknown> = { ...DEFAULT_SMTP_SESSION_OPTIONS };
  for (const [key, value] of Object.entries(options)) if (value !== undefined) out[key] = value;
  return Object.freeze(out) as ResolvedSmtpSessionOptions;
}

/** Where a session writes; server.ts maps it onto a socket. */
export interface SmtpSessionTransport {
  /** Queues reply bytes for the client. Must not throw after the peer left. */
  write(data: string): void;
  /** Ends the connection after the queued bytes. */
  close(): void;
}

export interface SmtpSessionDeps {
  readonly pipeline: Pipeline;
  readonly reinjector: MessageReinjector;
  readonly transport: SmtpSessionTransport;
  /** The TCP peer (Postfix's smtp client, usually 127.0.0.1). */
  readonly client: ClientInfo;
  /**
   * Exactly-once re-injection across crashes (decision 0005). Without it a policy service
   * killed between the re-injection's "." and our 250 makes upstream deliver twice.
   */
  readonly ledger?: ReinjectLedger;
}

type SessionState = 'greeting' | 'command' | 'data' | 'closed';

/** One SMTP connection. See the file header. */
export class SmtpSession {
  readonly #options: ResolvedSmtpSessionOptions;
  readonly #pipeline: Pipeline;
  readonly #reinjector: MessageReinjector;
  readonly #transport: SmtpSessionTransport;
  readonly #realClient: ClientInfo;
  readonly #lines: CommandLineReader;
  readonly #abort = new AbortController();
  readonly #ext: AdvertisedExtensions;
  #state: SessionState = 'greeting';
  #out: string[] = [];
  #errors = 0;
  #heloVerb: 'HELO' | 'EHLO' | 'LHLO' | null = null;
  #realHelo: string | null = null;
  /** XFORWARD attributes for the next transaction; null until the first XFORWARD. */
  #xforward: Map<XforwardAttributeName, XforwardValue> | null = null;
  #envelope: Envelope | null = null;
  #reader: SmtpDataReader | null = null;
  #spool: BodySpool | null = null;
  #headers: HeaderList | null = null;
  #spoolError: ParapetError | null = null;
  #dataStartedMs = 0;
  #processing = false;
  #feeding = false;
  #shutdownRequested = false;
  readonly #ledger: ReinjectLedger | null;
  /** Ledger record of the message we last answered 250; settled by the next command. */
  #unsettled: string | null = null;
  /** Aborts the message being decided (session ended), or null. */
  #abortMessage: ((reason: unknown) => void) | null = null;

  constructor(options: SmtpSessionOptions, deps: SmtpSessionDeps) {
    this.#options = resolveSmtpSessionOptions(options);
    this.#pipeline = deps.pipeline;
    this.#reinjector = deps.reinjector;
    this.#ledger = deps.ledger ?? null;
    this.#transport = deps.transport;
    this.#realClient = deps.client;
    this.#lines = new CommandLineReader(this.#options.maxLineBytes);
    this.#ext = { maxMessageBytes: this.#options.maxMessageBytes, dsn: this.#options.advertiseDsn };
  }

  /** True once the session has ended (QUIT, limit, timeout, shutdown or peer gone). */
  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** True while a message is being received or decided (graceful shutdown waits for it). */
  get busy(): boolean {
    return this.#state === 'data' || this.#processing;
  }

  /**
   * Called once when the connection is accepted: runs the `connect` envelope check and sends
   * the greeting (or the check's refusal, then closes). Never throws.
   */
  async start(): Promise<void> {
    const check = await this.#check('connect', createEnvelope(this.#realClient));
    if (check !== null) {
      // RFC 5321 §3.1: a server may refuse at connect; we close instead of waiting for QUIT.
      this.#reply(check.code >= 500 ? check : SmtpReplies.tempfailBusy);
      this.#close();
      return;
    }
    this.#state = 'command';
    this.#reply(smtpReply(220, null, `${this.#options.hostname} ESMTP Parapet content filter`));
    this.#flush();
  }

  /**
   * Feeds bytes from the client. Resolves when every complete command in them was answered
   * (and any message they completed was decided). Never throws: faults become replies.
   */
  async feed(chunk: Buffer): Promise<void> {
    this.#feeding = true;
    try {
      await this.#consume(chunk);
    } finally {
      this.#feeding = false;
    }
    // The session closed (abort, idle timeout, too many errors) in the middle of a DATA.
    if (this.#state === 'closed') await this.#recordAbortedData();
  }

  async #consume(chunk: Buffer): Promise<void> {
    let rest = chunk;
    while (rest.length > 0 && this.#state !== 'closed') {
      if (this.#shutdownRequested && this.#state === 'command') {
        // Between messages during a graceful shutdown: do not start another one.
        this.#shutdownNow();
        break;
      }
      if (this.#state === 'data') {
        rest = await this.#feedData(rest);
        continue;
      }
      if (this.#state === 'greeting') {
        // Early talker before our greeting; RFC 5321 §4.3.1 says wait. Not reachable from
        // server.ts (start() runs before the first read), kept for direct use.
        break;
      }
      const step = this.#lines.next(rest);
      if (step.kind === 'partial') break;
      rest = step.rest;
      if (step.kind === 'tooLong') {
        this.#countError(SmtpReplies.lineTooLong);
        continue;
      }
      await this.#onCommand(parseSmtpCommand(step.line));
    }
    this.#flush();
    if (this.#shutdownRequested && !this.busy && this.#state !== 'closed') this.#shutdownNow();
  }

  /** The client was idle for idleTimeoutMs (the driver keeps the timer): 421 and close. */
  idleTimeout(): void {
    if (this.#state === 'closed' || this.#processing) return;
    this.#reply(SmtpReplies.idleTimeout);
    this.#close();
  }

  /**
   * Graceful shutdown: an idle session answers 421 and closes now; a busy one finishes its
   * message first, then closes with 421.
   */
  requestShutdown(): void {
    this.#shutdownRequested = true;
    if (!this.busy && this.#state !== 'closed') this.#shutdownNow();
  }

  /**
   * The peer went away or the driver gave up: aborts the message being decided (its signal
   * fires) and records a message cut off mid-DATA as `aborted`. Safe to call more than once.
   */
  async abort(): Promise<void> {
    this.#abort.abort(new ParapetError('ERR_SMTP_PROTOCOL', 'client connection closed'));
    this.#abortMessage?.(this.#abort.signal.reason);
    this.#state = 'closed';
    // While feed() runs it owns the spool; it records the aborted message when it stops.
    if (!this.#feeding) await this.#recordAbortedData();
  }

  /** Records and releases a DATA transaction that will never complete (peer gone, timeout). */
  async #recordAbortedData(): Promise<void> {
    if (this.#reader === null) return;
    const message = new Message({
      id: newParapetId(),
      envelope: this.#envelope ?? createEnvelope(this.#realClient),
      headers: this.#headers ?? new HeaderList(),
      body: this.#spool ?? new BodySpool(this.#options.spool),
      receivedAtMs: this.#dataStartedMs,
    });
    this.#resetTransaction();
    this.#record(message, null, 'aborted', 'ERR_SMTP_PROTOCOL');
    await message.dispose().catch(() => undefined);
  }

  #shutdownNow(): void {
    this.#reply(SmtpReplies.shuttingDown);
    this.#close();
  }

  #reply(reply: SmtpReply): void {
    this.#out.push(formatSmtpReply(reply));
  }

  #flush(): void {
    if (this.#out.length === 0) return;
    const text = this.#out.join('');
    this.#out = [];
    this.#transport.write(text);
  }

  #close(): void {
    this.#flush();
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#transport.close();
  }

  #countError(reply: SmtpReply): void {
    this.#errors++;
    if (this.#errors > this.#options.maxUnrecognizedCommands) {
      this.#reply(SmtpReplies.tooManyErrors);
      this.#close();
      return;
    }
    this.#reply(reply);
  }

  async #onCommand(command: SmtpCommand): Promise<void> {
    // Upstream sent another command after our 250: it heard it, so a retry cannot follow.
    // (Settling early can only ever cost a duplicate, never a loss.)
    if (this.#unsettled !== null) {
      this.#ledger?.settle(this.#unsettled);
      this.#unsettled = null;
    }
    switch (command.kind) {
      case 'helo':
        return this.#onHelo(command.verb, command.domain);
      case 'xforward':
        this.#onXforward(command.attributes);
        return;
      case 'mail':
        return this.#onMailFrom(command.address, command.args);
      case 'rcpt':
        return this.#onRcptTo(command.address, command.args);
      case 'data':
        this.#onData();
        return;
      case 'rset':
        this.#resetTransaction();
        this.#xforward = null;
        this.#reply(SmtpReplies.ok);
        return;
      case 'noop':
        this.#reply(SmtpReplies.ok);
        return;
      case 'quit':
        this.#reply(SmtpReplies.bye);
        this.#close();
        return;
      case 'unknown':
        this.#countError(SmtpReplies.commandUnrecognized);
        return;
      case 'invalid':
        this.#countError(command.reply);
        return;
    }
  }

  async #onHelo(verb: 'HELO' | 'EHLO' | 'LHLO', domain: string): Promise<void> {
    // RFC 5321 §4.1.4: EHLO in the middle of a transaction resets it.
    this.#resetTransaction();
    this.#xforward = null;
    const envelope = createEnvelope(this.#realClient);
    envelope.helo = domain;
    const check = await this.#check('helo', envelope);
    if (check !== null) {
      this.#reply(check);
      return;
    }
    this.#heloVerb = verb;
    this.#realHelo = domain;
    if (verb === 'HELO') {
      this.#reply(smtpReply(250, null, this.#options.hostname));
      return;
    }
    // RFC 2034 §3: no enhanced code in the EHLO reply itself.
    const lines = [
      this.#options.hostname,
      'PIPELINING',
      `SIZE ${this.#options.maxMessageBytes}`,
      '8BITMIME',
      'SMTPUTF8',
      'ENHANCEDSTATUSCODES',
      ...(this.#options.advertiseDsn ? ['DSN'] : []),
      `XFORWARD ${XFORWARD_ATTRIBUTES.join(' ')}`,
    ];
    this.#reply(smtpReply(250, null, lines.join('\n')));
  }

  #onXforward(attributes: readonly { name: string; value: XforwardValue }[]): void {
    if (this.#envelope !== null) {
      // XFORWARD_README: not allowed between MAIL and RSET/DOT.
      this.#countError(SmtpReplies.badSequenceInTransaction);
      return;
    }
    // XFORWARD_README "server operation": the first XFORWARD sets every attribute to
    // [UNAVAILABLE]; later ones overwrite only what they name.
    const current = this.#xforward ?? new Map<XforwardAttributeName, XforwardValue>();
    for (const { name, value } of attributes) {
      current.set(name as XforwardAttributeName, value);
    }
    this.#xforward = current;
    this.#reply(SmtpReplies.ok);
  }

  async #onMailFrom(address: string, args: EsmtpArgs): Promise<void> {
    if (this.#heloVerb === null) {
      this.#reply(SmtpReplies.badSequenceNeedHelo);
      return;
    }
    if (this.#envelope !== null) {
      this.#reply(SmtpReplies.badSequenceNestedMail);
      return;
    }
    const bad = validateMailParams(address, args, this.#ext);
    if (bad !== null) {
      this.#reply(bad);
      return;
    }
    const envelope = this.#transactionEnvelope();
    if (this.#xforward !== null) {
      // Scanners and envelope checks must see the real client, not 127.0.0.1: re-run the
      // connection-level checks with the forwarded identity.
      const connect = await this.#check('connect', envelope);
      if (connect !== null) {
        this.#reply(connect);
        return;
      }
      if (envelope.helo !== null) {
        const helo = await this.#check('helo', envelope);
        if (helo !== null) {
          this.#reply(helo);
          return;
        }
      }
    }
    envelope.mailFrom = { address, args };
    const check = await this.#check('mailFrom', envelope);
    if (check !== null) {
      this.#reply(check);
      return;
    }
    this.#envelope = envelope;
    this.#reply(smtpReply(250, '2.1.0', 'Ok'));
  }

  async #onRcptTo(address: string, args: EsmtpArgs): Promise<void> {
    const envelope = this.#envelope;
    if (envelope === null) {
      this.#reply(SmtpReplies.badSequenceNeedMail);
      return;
    }
    if (envelope.recipients.length >= this.#options.maxRecipients) {
      this.#reply(SmtpReplies.tooManyRecipients);
      return;
    }
    const smtputf8 = envelope.mailFrom?.args['SMTPUTF8'] === true;
    const bad = validateRcptParams(address, args, this.#ext, smtputf8);
    if (bad !== null) {
      this.#reply(bad);
      return;
    }
    envelope.recipients.push({ address, args });
    const check = await this.#check('rcptTo', envelope);
    if (check !== null) {
      envelope.recipients.pop();
      this.#reply(check);
      return;
    }
    this.#reply(smtpReply(250, '2.1.5', 'Ok'));
  }

  #onData(): void {
    const envelope = this.#envelope;
    if (envelope === null) {
      this.#reply(SmtpReplies.badSequenceNeedMail);
      return;
    }
    if (envelope.recipients.length === 0) {
      // RFC 2920 §3.1: DATA after only refused RCPTs must fail so no data follows.
      this.#reply(smtpReply(554, '5.5.1', 'Error: no valid recipients'));
      return;
    }
    this.#reader = new SmtpDataReader({
      maxMessageBytes: this.#options.maxMessageBytes,
      maxHeaderBytes: this.#options.maxHeaderBytes,
      maxDataLineBytes: this.#options.maxDataLineBytes,
    });
    this.#spool = new BodySpool(this.#options.spool);
    this.#headers = null;
    this.#spoolError = null;
    this.#dataStartedMs = Date.now();
    this.#state = 'data';
    this.#reply(SmtpReplies.startData);
  }

  /** Consumes DATA bytes; returns what follows the end marker (pipelined commands). */
  async #feedData(chunk: Buffer): Promise<Buffer> {
    const reader = this.#reader;
    const spool = this.#spool;
    if (reader === null || spool === null) {
      this.#state = 'command';
      return chunk;
    }
    const step = reader.push(chunk);
    for (const event of step.events) {
      if (event.kind === 'headers') {
        this.#headers = event.headers;
        continue;
      }
      if (this.#spoolError !== null) continue;
      // In-memory bodies take the synchronous path (no promise per slice).
      if (spool.appendInMemory(event.bytes)) continue;
      try {
        await spool.write(event.bytes);
      } catch (err) {
        // Keep reading to the end of data so the conversation survives; answer 451 there.
        this.#spoolError = toParapetError('ERR_SPOOL_IO', err);
      }
    }
    if (!step.done || this.#state === 'closed') return Buffer.alloc(0);
    await this.#onDataEnd(reader.summary);
    return step.rest;
  }

  async #onDataEnd(summary: DataReaderSummary): Promise<void> {
    const envelope = this.#envelope ?? createEnvelope(this.#realClient);
    const spool = this.#spool ?? new BodySpool(this.#options.spool);
    const xforward = this.#xforwardToPass();
    const message = new Message({
      id: newParapetId(),
      envelope,
      headers: this.#headers ?? new HeaderList(),
      body: spool,
      receivedAtMs: this.#dataStartedMs,
    });
    const recipients = envelope.recipients.length;
    const spoolError = this.#spoolError;
    // XFORWARD_README: attributes reset at the end of the transaction (DOT).
    this.#resetTransaction();
    this.#xforward = null;
    this.#state = 'command';
    this.#processing = true;
    let extra: Message | null = null;
    try {
      const { reply, verdict, disposition, errorCode, delivered } = await this.#decide(
        message,
        summary,
        xforward,
        spoolError,
      );
      extra = delivered !== message ? delivered : null;
      if (!this.closed) {
        // RFC 2033 §4.2: LMTP answers once per accepted recipient after the data.
        const count = this.#heloVerb === 'LHLO' ? recipients : 1;
        for (let i = 0; i < count; i++) this.#reply(reply);
        // Answer at once: Postfix holds a delivery slot until it hears this reply.
        this.#flush();
      }
      this.#record(
        message,
        verdict,
        this.#abort.signal.aborted && disposition === 'tempfailed' ? 'aborted' : disposition,
        errorCode,
      );
    } finally {
      this.#processing = false;
      await message.dispose().catch(() => undefined);
      if (extra !== null) await extra.dispose().catch(() => undefined);
    }
  }

  /** Turns a completed DATA into a reply and a disposition. Never throws. */
  async #decide(
    message: Message,
    summary: DataReaderSummary,
    xforward: XforwardAttributes | null,
    spoolError: ParapetError | null,
  ): Promise<{
    reply: SmtpReply;
    verdict: Verdict | null;
    disposition: Disposition;
    errorCode?: string;
    delivered: Message;
  }> {
    if (summary.problem !== null) {
      const reply = replyForProblem(summary.problem);
      return {
        reply,
        verdict: { kind: 'reject', reply },
        disposition: 'rejected',
        errorCode: summary.problem === 'tooLarge' ? 'ERR_MESSAGE_LIMIT' : 'ERR_SMTP_PROTOCOL',
        delivered: message,
      };
    }
    let delivered = message;
    let verdict: Verdict | null = null;
    const ledger = this.#ledger;
    const fingerprint = ledger === null ? null : reinjectFingerprint(message);
    const earlier = fingerprint === null ? null : (ledger?.lookup(fingerprint) ?? null);
    if (fingerprint !== null && earlier !== null) {
      // Upstream retries a message whose re-injection we committed before we were cut off
      // from answering it: it was delivered; say so again, deliver nothing (decision 0005).
      this.#unsettled = fingerprint;
      return {
        reply: smtpReply(250, '2.0.0', `Ok: already queued (parapet ${earlier.id})`),
        verdict: null,
        disposition: 'duplicate',
        delivered,
      };
    }
    // One controller per message, fired by the deadline or by the session ending (abort()
    // calls #abortMessage directly: no listener on the long-lived session signal, and not
    // AbortSignal.any, which on Node 20 keeps dependents of that signal).
    const controller = new AbortController();
    const signal = controller.signal;
    let endWait: (err: ParapetError) => void = () => undefined;
    const aborted = new Promise<never>((_resolve, reject) => {
      endWait = reject;
    });
    aborted.catch(() => undefined);
    const abortMessage = (reason: unknown): void => {
      if (signal.aborted) return;
      controller.abort(reason);
      endWait(deadlineError(signal));
    };
    if (this.#abort.signal.aborted) abortMessage(this.#abort.signal.reason);
    else this.#abortMessage = abortMessage;
    const deadline = setTimeout(() => {
      abortMessage(
        new ParapetError(
          'ERR_PIPELINE_DEADLINE',
          `message not decided and re-injected within ${this.#options.messageTimeoutMs} ms`,
        ),
      );
    }, this.#options.messageTimeoutMs);
    try {
      if (spoolError !== null) throw spoolError;
      await message.body.seal();
      verdict = await settleBefore(this.#pipeline.run(message, signal), aborted);
      switch (verdict.kind) {
        case 'accept': {
          delivered = await applyModifications(message, verdict.modifications, {
            spool: this.#options.spool,
          });
          if (delivered.envelope.recipients.length === 0) {
            // Policy removed every recipient: a deliberate discard.
            return { reply: SmtpReplies.accepted, verdict, disposition: 'discarded', delivered };
          }
          // Prepared right before the "." leaves, committed right after (decision 0005).
          // Without a record a crash can only cause a duplicate, never a loss: a ledger that
          // cannot be written does not stop the re-injection.
          const ledgerState = { recorded: false, committed: false };
          const onBeforeEndOfData = (): void => {
            if (ledger === null || fingerprint === null) return;
            try {
              ledger.prepare(fingerprint, message.id, message.envelope.queueId);
              ledgerState.recorded = true;
            } catch {
              // See above.
            }
          };
          const onEndOfDataWritten = (): void => {
            if (ledger === null || fingerprint === null || !ledgerState.recorded) return;
            try {
              ledger.commit(fingerprint, message.id, message.envelope.queueId);
              ledgerState.committed = true;
            } catch {
              // See above.
            }
          };
          let result: ReinjectResult;
          try {
            result = await this.#reinjector.reinject(delivered, {
              signal,
              onBeforeEndOfData,
              onEndOfDataWritten,
              ...(xforward === null ? {} : { xforward }),
            });
          } catch (err) {
            // Not (or not surely) accepted downstream: a retry must be re-injected again.
            if (ledgerState.recorded && fingerprint !== null) ledger?.release(fingerprint);
            throw err;
          }
          if (ledgerState.committed) this.#unsettled = fingerprint;
          const queued = result.queueId === null ? '' : ` as ${result.queueId}`;
          return {
            reply: smtpReply(250, '2.0.0', `Ok: queued${queued} (parapet ${message.id})`),
            verdict,
            disposition: 'reinjected',
            delivered,
          };
        }
        case 'quarantine':
          // The pipeline stored the message durably before returning this verdict.
          return {
            reply: smtpReply(250, '2.0.0', `Ok: held (parapet ${message.id})`),
            verdict,
            disposition: 'quarantined',
            delivered,
          };
        case 'discard':
          return { reply: SmtpReplies.accepted, verdict, disposition: 'discarded', delivered };
        case 'reject':
          return {
            reply: verdict.reply.code >= 500 ? verdict.reply : SmtpReplies.rejectPolicy,
            verdict,
            disposition: 'rejected',
            delivered,
          };
        case 'tempfail':
          return {
            reply:
              verdict.reply.code >= 400 && verdict.reply.code < 500
                ? verdict.reply
                : SmtpReplies.tempfailInternal,
            verdict,
            disposition: 'tempfailed',
            delivered,
          };
      }
    } catch (err) {
      // STYLE.md B5.3: every fault for this message is a tempfail, never an accept.
      const fault = err instanceof ParapetError ? err : toParapetError('ERR_PIPELINE_FAILED', err);
      const code = fault.code;
      this.#emit(err instanceof ReinjectError ? 'smtp.reinject_failed' : 'smtp.session_error', {
        messageId: message.id,
        code,
        error: fault.message,
        ...(err instanceof ReinjectError
          ? {
              stage: err.stage,
              reply: err.reply === null ? null : formatSmtpReply(err.reply).trim(),
            }
          : {}),
      });
      return {
        reply: SmtpReplies.tempfailInternal,
        verdict,
        disposition: 'tempfailed',
        errorCode: code,
        delivered,
      };
    } finally {
      clearTimeout(deadline);
      this.#abortMessage = null;
    }
  }

  /** The envelope of a new transaction: the real client, or the XFORWARD identity. */
  #transactionEnvelope(): Envelope {
    const xf = this.#xforward;
    if (xf === null) {
      const envelope = createEnvelope(this.#realClient);
      envelope.helo = this.#realHelo;
      return envelope;
    }
    // XFORWARD_README note 4: never mix forwarded and current-session information.
    const text = (name: XforwardAttributeName): string | null => {
      const v = xf.get(name);
      return v?.kind === 'value' ? v.text : null;
    };
    const addrValue = xf.get('ADDR');
    // ADDR=[UNAVAILABLE] marks a forwarded local submission: other client attributes are
    // ignored (XFORWARD_README, Postfix 2.6).
    const local = addrValue?.kind === 'unavailable';
    const rawAddr = text('ADDR');
    const port = Number(text('PORT'));
    const envelope = createEnvelope({
      address: local || rawAddr === null ? null : rawAddr.replace(/^ipv6:/i, ''),
      name: local ? null : text('NAME'),
      port: local || !Number.isInteger(port) || port <= 0 || port > 65535 ? null : port,
    });
    envelope.helo = text('HELO');
    for (const [name, value] of xf) {
      if (value.kind === 'value') envelope.macros.set(name, value.text);
      else if (value.kind === 'tempUnavailable') envelope.macros.set(name, '[TEMPUNAVAIL]');
    }
    envelope.queueId = text('IDENT');
    return envelope;
  }

  /** The attributes to pass on to re-injection, or null when upstream sent no XFORWARD. */
  #xforwardToPass(): XforwardAttributes | null {
    const xf = this.#xforward;
    if (xf === null) return null;
    const out: Partial<Record<XforwardAttributeName, string | null>> = {};
    for (const [name, value] of xf) {
      out[name] =
        value.kind === 'value'
          ? value.text
          : value.kind === 'tempUnavailable'
            ? '[TEMPUNAVAIL]'
            : null;
    }
    return out;
  }

  #resetTransaction(): void {
    this.#envelope = null;
    this.#reader = null;
    this.#spool = null;
    this.#headers = null;
    this.#spoolError = null;
  }

  /** Runs one envelope check; returns the refusal to send, or null to continue. */
  async #check(stage: EnvelopeStage, envelope: Envelope): Promise<SmtpReply | null> {
    try {
      const result = await this.#pipeline.checkEnvelope(stage, envelope);
      switch (result.kind) {
        case 'continue':
          return null;
        case 'reject':
          return result.reply.code >= 500 ? result.reply : SmtpReplies.rejectPolicy;
        case 'tempfail':
          return result.reply.code >= 400 && result.reply.code < 500
            ? result.reply
            : SmtpReplies.tempfailInternal;
      }
    } catch {
      // The contract says checkEnvelope never throws; if it does, fail to tempfail.
      return stage === 'connect' ? SmtpReplies.tempfailBusy : SmtpReplies.tempfailInternal;
    }
  }

  #emit(
    event: 'smtp.reinject_failed' | 'smtp.session_error',
    fields: Record<string, unknown>,
  ): void {
    try {
      this.#options.onEvent(event, { client: this.#realClient.address, ...fields });
    } catch {
      // An event sink must not throw; if it does, the reply is already decided.
    }
  }

  #record(
    message: Message,
    verdict: Verdict | null,
    disposition: Disposition,
    errorCode?: string,
  ): void {
    try {
      if (errorCode === undefined) this.#pipeline.recordOutcome(message, verdict, disposition);
      else this.#pipeline.recordOutcome(message, verdict, disposition, errorCode);
    } catch {
      // recordOutcome must not throw (Pipeline contract); the reply is already decided.
    }
  }
}

function replyForProblem(problem: DataProblem): SmtpReply {
  switch (problem) {
    case 'bareLf':
      return SmtpReplies.bareLfInData;
    case 'tooLarge':
      return SmtpReplies.messageTooLarge;
    case 'headerTooLarge':
      return SmtpReplies.headerTooLarge;
    case 'lineTooLong':
      return SmtpReplies.dataLineTooLong;
  }
}

/**
 * Resolves with `promise`, or rejects with the message's abort reason (ERR_PIPELINE_DEADLINE,
 * or the client gone) as soon as `aborted` rejects, which it does when the message is aborted.
 */
function settleBefore<T>(promise: Promise<T>, aborted: Promise<never>): Promise<T> {
  return Promise.race([
    promise.catch((err: unknown) => {
      throw toParapetError('ERR_PIPELINE_FAILED', err);
    }),
    aborted,
  ]);
}

/** The abort reason as a ParapetError (deadline, or the client gone). */
function deadlineError(signal: AbortSignal): ParapetError {
  if (signal.reason instanceof ParapetError) return signal.reason;
  return new ParapetError('ERR_PIPELINE_DEADLINE', 'message not decided in time', {
    cause: signal.reason,
  });
}

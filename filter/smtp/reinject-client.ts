/**
 * SMTP client that hands an accepted message back to the MTA's filter-free smtpd
 * (127.0.0.1:10026 by default; Postfix FILTER_README "advanced content filter"). It is the one
 * place where the content filter commits a message, so it is all-or-nothing:
 *
 * - Success means the re-injection MTA answered 2xx to the end of DATA; only then may the
 *   session answer 250 upstream (STYLE.md B3, B5.8).
 * - If any RCPT is refused, the transaction is not sent: with PIPELINING the DATA command may
 *   already have been answered 354, in which case the connection is dropped (sending "." would
 *   deliver an empty message to the accepted recipients); otherwise RSET. The caller tempfails
 *   so Postfix keeps the message and retries every recipient; nothing is delivered twice.
 * - Every step has a deadline (connect, each command reply, each drain and the final reply)
 *   and honours the caller's AbortSignal; a connection that timed out is destroyed, never
 *   reused.
 *
 * Performance: connections are kept in a bounded idle pool and reused (a new transaction may
 * start after the final reply, RFC 5321 §4.1.4; XFORWARD attributes reset after DOT), commands
 * are pipelined when the server advertises PIPELINING (RFC 2920 §3.1: XFORWARD, MAIL, RCPT…,
 * DATA in one write), Nagle is off, and the body is streamed with back-pressure (drain).
 *
 * XFORWARD (Postfix XFORWARD_README): the original client's attributes are passed on,
 * xtext-encoded, split over several commands so that no line exceeds 512 octets (note 2).
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { ParapetError } from '../errors.js';
import type { Message } from '../message/message.js';
import type { EsmtpArgs } from '../message/envelope.js';
import { smtpReply, type SmtpReply } from './reply.js';
import { encodeXtext, formatEsmtpParams, type XforwardAttributeName } from './command-parser.js';

/** XFORWARD attributes to pass on; null means `[UNAVAILABLE]`. */
export type XforwardAttributes = Readonly<Partial<Record<XforwardAttributeName, string | null>>>;

export interface ReinjectClientOptions {
  /** Re-injection MTA host. Default 127.0.0.1. */
  readonly host?: string;
  /** Re-injection MTA port. Default 10026. */
  readonly port?: number;
  /** Name we send in EHLO. Default "localhost". */
  readonly heloName?: string;
  /** TCP connect plus greeting plus EHLO. Default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /** Each command reply (XFORWARD, MAIL, RCPT, DATA, RSET). Default 60 000 ms. */
  readonly commandTimeoutMs?: number;
  /** Each wait for the socket to drain while sending the body, and the final reply. Default 300 000 ms. */
  readonly dataTimeoutMs?: number;
  /** Idle connections kept for reuse. 0 disables reuse. Default 16. */
  readonly maxIdleConnections?: number;
  /** An idle pooled connection is closed (QUIT) after this long. Default 10 000 ms. */
  readonly idleConnectionTimeoutMs?: number;
  /** Transactions per connection before it is closed. Default 1000. */
  readonly maxMessagesPerConnection?: number;
}

/** What the re-injection MTA said when it took the message. */
export interface ReinjectResult {
  /** The final reply to the end of DATA (2xx). */
  readonly reply: SmtpReply;
  /** Queue id parsed from "queued as X", or null. */
  readonly queueId: string | null;
}

export interface ReinjectSendOptions {
  /** Aborts the transaction (the message is then not delivered) and destroys the connection. */
  readonly signal?: AbortSignal;
  /** Attributes for XFORWARD, sent only when the server advertises XFORWARD. */
  readonly xforward?: XforwardAttributes;
  /**
   * Called as soon as the final "." has been handed to the kernel (synchronously, inside the
   * write, when it went through at once), i.e. from the moment the re-injection MTA will
   * commit the message even if this process dies (exactly-once ledger, decision 0005). Must
   * not throw.
   */
  readonly onEndOfDataWritten?: () => void;
  /**
   * Called synchronously right before the write that carries the final "." (or the last BDAT
   * chunk): the ledger's prepared record (decision 0005). If it throws, nothing more is sent
   * and the re-injection fails.
   */
  readonly onBeforeEndOfData?: () => void;
}

/** The seam the session uses, so tests can replace re-injection. */
export interface MessageReinjector {
  /**
   * Delivers the message to every envelope recipient, or to none. Resolves only after the
   * MTA answered 2xx to the end of DATA. Rejects with a ReinjectError (code
   * ERR_REINJECT_FAILED) on any refusal, timeout, abort or connection failure.
   */
  reinject(message: Message, options: ReinjectSendOptions): Promise<ReinjectResult>;
  /** Closes pooled connections. */
  close(): Promise<void>;
}

/** Why re-injection failed, with the refusing reply when there was one. */
export class ReinjectError extends ParapetError {
  /** The reply that refused the step, or null (timeout, connection failure, abort). */
  readonly reply: SmtpReply | null;
  /** Which step failed: connect, xforward, mail, rcpt, data, body, dot. */
  readonly stage: string;
  constructor(stage: string, message: string, reply: SmtpReply | null, cause?: unknown) {
    super('ERR_REINJECT_FAILED', `re-injection failed at ${stage}: ${message}`, { cause });
    this.name = 'ReinjectError';
    this.reply = reply;
    this.stage = stage;
  }
}

interface ParsedReply {
  readonly code: number;
  readonly lines: readonly string[];
}

interface ReplyWaiter {
  readonly resolve: (reply: ParsedReply) => void;
  readonly reject: (err: Error) => void;
  readonly stage: string;
  readonly timeoutMs: number;
}

interface Capabilities {
  readonly pipelining: boolean;
  readonly chunking: boolean;
  readonly size: boolean;
  readonly eightBitMime: boolean;
  readonly smtputf8: boolean;
  readonly dsn: boolean;
  readonly xforward: ReadonlySet<string>;
}

/** RFC 5321 §4.5.3.1.5: reply lines are at most 512 octets; we allow generous slack. */
const MAX_REPLY_LINE_BYTES = 4096;
/** XFORWARD_README note 2: an XFORWARD command line must fit the 512-octet command limit. */
const MAX_COMMAND_LINE_BYTES = 512;
const DOT = Buffer.from('.');
/** Body bytes gathered before one socket write while streaming DATA. */
const WRITE_COALESCE_BYTES = 64 * 1024;
const LF = 0x0a;
const CR = 0x0d;

/** Pooled SMTP client to the re-injection MTA. Create one per process; call close() at shutdown. */
export class ReinjectClient implements MessageReinjector {
  readonly #host: string;
  readonly #port: number;
  readonly #heloName: string;
  readonly #connectTimeoutMs: number;
  readonly #commandTimeoutMs: number;
  readonly #dataTimeoutMs: number;
  readonly #maxIdle: number;
  readonly #idleTimeoutMs: number;
  readonly #maxMessagesPerConnection: number;
  readonly #idle: ReinjectConnection[] = [];
  #closed = false;

  constructor(options: ReinjectClientOptions = {}) {
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 10026;
    this.#heloName = options.heloName ?? 'localhost';
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 60_000;
    this.#dataTimeoutMs = options.dataTimeoutMs ?? 300_000;
    this.#maxIdle = options.maxIdleConnections ?? 16;
    this.#idleTimeoutMs = options.idleConnectionTimeoutMs ?? 10_000;
    this.#maxMessagesPerConnection = options.maxMessagesPerConnection ?? 1000;
  }

  /** Idle pooled connections (for tests and metrics). */
  get idleConnections(): number {
    return this.#idle.length;
  }

  /**
   * Sends one message (sealed body) to all its envelope recipients. See MessageReinjector.
   * A pooled connection that turns out to be closed by the server before answering is
   * replaced once by a fresh connection (nothing was sent on it, so this cannot duplicate).
   */
  async reinject(message: Message, options: ReinjectSendOptions = {}): Promise<ReinjectResult> {
    if (this.#closed) throw new ReinjectError('connect', 'client closed', null);
    const signal = options.signal;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const pooled = attempt === 0 ? this.#takeIdle() : null;
      const connection = pooled ?? (await this.#open(signal));
      const repliesBefore = connection.repliesReceived;
      try {
        const result = await this.#transact(connection, message, options);
        this.#release(connection);
        return result;
      } catch (err) {
        // Never retried once message bytes went out (BDAT sends them with the commands): the
        // MTA may have taken the message, and a retry could deliver it twice.
        const stale =
          pooled !== null &&
          connection.repliesReceived === repliesBefore &&
          connection.isClosed &&
          !connection.contentSent;
        if (connection.reusable && !connection.isClosed) this.#release(connection);
        else connection.destroy();
        if (stale && !(signal?.aborted ?? false)) continue;
        if (err instanceof ReinjectError) throw err;
        throw new ReinjectError('transaction', errorText(err), null, err);
      }
    }
  }

  /** Closes every idle connection (QUIT). In-flight transactions finish on their own. */
  async close(): Promise<void> {
    this.#closed = true;
    const idle = this.#idle.splice(0);
    await Promise.all(idle.map((c) => c.quit(this.#commandTimeoutMs)));
  }

  #takeIdle(): ReinjectConnection | null {
    while (this.#idle.length > 0) {
      const connection = this.#idle.pop();
      if (connection === undefined) break;
      connection.cancelIdleTimer();
      if (connection.isClosed || connection.hasUnsolicitedReplies) {
        connection.destroy();
        continue;
      }
      return connection;
    }
    return null;
  }

  #release(connection: ReinjectConnection): void {
    connection.unwatch();
    if (
      this.#closed ||
      connection.isClosed ||
      !connection.reusable ||
      connection.transactions >= this.#maxMessagesPerConnection ||
      this.#idle.length >= this.#maxIdle
    ) {
      void connection.quit(this.#commandTimeoutMs);
      return;
    }
    connection.startIdleTimer(this.#idleTimeoutMs, () => {
      const at = this.#idle.indexOf(connection);
      if (at >= 0) this.#idle.splice(at, 1);
      void connection.quit(this.#commandTimeoutMs);
    });
    this.#idle.push(connection);
  }

  async #open(signal: AbortSignal | undefined): Promise<ReinjectConnection> {
    const connection = new ReinjectConnection(this.#host, this.#port);
    try {
      await connection.open(this.#heloName, this.#connectTimeoutMs, signal);
      return connection;
    } catch (err) {
      connection.destroy();
      if (err instanceof ReinjectError) throw err;
      throw new ReinjectError('connect', errorText(err), null, err);
    }
  }

  async #transact(
    connection: ReinjectConnection,
    message: Message,
    options: ReinjectSendOptions,
  ): Promise<ReinjectResult> {
    const envelope = message.envelope;
    const mailFrom = envelope.mailFrom;
    if (mailFrom === null) throw new ReinjectError('mail', 'message has no sender', null);
    if (envelope.recipients.length === 0) {
      throw new ReinjectError('rcpt', 'message has no recipients', null);
    }
    const caps = connection.capabilities;
    const signal = options.signal;
    connection.reusable = false;
    connection.contentSent = false;
    connection.transactions++;

    const steps: { stage: string; line: string; expect: (code: number) => boolean }[] = [];
    if (options.xforward !== undefined && caps.xforward.size > 0) {
      for (const line of buildXforwardCommands(options.xforward, caps.xforward)) {
        steps.push({ stage: 'xforward', line, expect: is2xx });
      }
    }
    const mailArgs = buildMailArgs(mailFrom.args, caps, message.size);
    steps.push({
      stage: 'mail',
      line: `MAIL FROM:<${mailFrom.address}>${formatEsmtpParams(mailArgs)}`,
      expect: is2xx,
    });
    for (const rcpt of envelope.recipients) {
      steps.push({
        stage: 'rcpt',
        line: `RCPT TO:<${rcpt.address}>${formatEsmtpParams(buildRcptArgs(rcpt.args, caps))}`,
        expect: is2xx,
      });
    }

    // One round trip instead of two (RFC 3030 CHUNKING with RFC 2920 PIPELINING): commands and
    // the whole message as one `BDAT <size> LAST` in a single write. All-or-nothing still
    // holds because this path is taken only with exactly one recipient (a refused MAIL or RCPT
    // leaves no recipient, so the BDAT is refused too) and only once XFORWARD was accepted on
    // this connection (its authorization depends on our address, fixed per connection), and
    // the outcome is the BDAT reply: 2xx means delivered, anything else means not.
    const pieces = message.memoryPieces();
    if (
      caps.pipelining &&
      caps.chunking &&
      envelope.recipients.length === 1 &&
      pieces !== null &&
      (!steps.some((st) => st.stage === 'xforward') || connection.xforwardAccepted)
    ) {
      return this.#transactChunked(connection, steps, pieces, options);
    }

    steps.push({ stage: 'data', line: 'DATA', expect: (code) => code === 354 });

    let failure: { stage: string; reply: SmtpReply } | null = null;
    let dataAccepted = false;
    if (caps.pipelining) {
      // RFC 2920 §3.1: everything up to DATA may go in one group; replies come back in order.
      connection.write(steps.map((s) => `${s.line}\r\n`).join(''));
      for (const step of steps) {
        const reply = await connection.readReply(this.#commandTimeoutMs, signal, step.stage);
        if (step.stage === 'data') dataAccepted = reply.code === 354;
        if (step.stage === 'xforward' && is2xx(reply.code)) connection.xforwardAccepted = true;
        if (failure === null && !step.expect(reply.code)) {
          failure = { stage: step.stage, reply: toSmtpReply(reply) };
        }
      }
    } else {
      for (const step of steps) {
        connection.write(`${step.line}\r\n`);
        const reply = await connection.readReply(this.#commandTimeoutMs, signal, step.stage);
        if (!step.expect(reply.code)) {
          failure = { stage: step.stage, reply: toSmtpReply(reply) };
          break;
        }
        if (step.stage === 'data') dataAccepted = true;
      }
    }
    if (failure !== null) {
      if (dataAccepted) {
        // The server is now reading message data for the recipients it accepted. Dropping
        // the connection is the only way to end that transaction without delivering.
        connection.destroy();
      } else {
        const reset = await connection
          .command('RSET', this.#commandTimeoutMs, signal, 'rset')
          .catch(() => null);
        connection.reusable = reset !== null && reset.code === 250;
      }
      throw new ReinjectError(
        failure.stage,
        `${failure.reply.code} ${failure.reply.text}`,
        failure.reply,
      );
    }

    await sendDotStuffed(connection, message, this.#dataTimeoutMs, signal, options);
    const final = await connection.readReply(this.#dataTimeoutMs, signal, 'dot');
    connection.reusable = true;
    const reply = toSmtpReply(final);
    if (!is2xx(final.code)) {
      throw new ReinjectError('dot', `${reply.code} ${reply.text}`, reply);
    }
    const queued = /queued as ([A-Za-z0-9]+)/.exec(reply.text);
    return { reply, queueId: queued?.[1] ?? null };
  }

  /** The CHUNKING path of #transact (see there): one write, one round trip. */
  async #transactChunked(
    connection: ReinjectConnection,
    steps: readonly { stage: string; line: string; expect: (code: number) => boolean }[],
    pieces: readonly Buffer[],
    options: ReinjectSendOptions,
  ): Promise<ReinjectResult> {
    const signal = options.signal;
    let size = 0;
    for (const piece of pieces) size += piece.length;
    const commands = steps.map((st) => `${st.line}\r\n`).join('') + `BDAT ${size} LAST\r\n`;
    if (signal?.aborted === true) {
      throw new ReinjectError('body', 'aborted before the end of data', null, signal.reason);
    }
    // Earlier writes first, so this one usually goes through within write() itself and the
    // hook runs in that same turn (decision 0005), exactly as for the final "." of DATA.
    await connection.flushed();
    connection.contentSent = true;
    beforeEndOfData(connection, options);
    const drained = connection.write(
      Buffer.concat([Buffer.from(commands, 'utf8'), ...pieces]),
      options.onEndOfDataWritten,
    );
    if (!drained) await connection.drained(this.#dataTimeoutMs, signal);
    let failure: { stage: string; reply: SmtpReply } | null = null;
    for (const step of steps) {
      const reply = await connection.readReply(this.#commandTimeoutMs, signal, step.stage);
      if (step.stage === 'xforward' && is2xx(reply.code)) connection.xforwardAccepted = true;
      if (failure === null && !step.expect(reply.code)) {
        failure = { stage: step.stage, reply: toSmtpReply(reply) };
      }
    }
    const final = await connection.readReply(this.#dataTimeoutMs, signal, 'dot');
    const reply = toSmtpReply(final);
    if (!is2xx(final.code)) {
      // Not delivered. The transaction may still be open (MAIL accepted): reset it.
      const reset = await connection
        .command('RSET', this.#commandTimeoutMs, signal, 'rset')
        .catch(() => null);
      connection.reusable = reset !== null && reset.code === 250;
      const first = failure ?? { stage: 'dot', reply };
      throw new ReinjectError(first.stage, `${first.reply.code} ${first.reply.text}`, first.reply);
    }
    // Delivered: that is what counts, even if an earlier step (XFORWARD) was refused.
    connection.reusable = true;
    const queued = /queued as ([A-Za-z0-9]+)/.exec(reply.text);
    return { reply, queueId: queued?.[1] ?? null };
  }
}

function is2xx(code: number): boolean {
  return code >= 200 && code < 300;
}

/** MAIL parameters for re-injection: only what the server advertised (RFC 1870, 6152, 6531, 3461). */
function buildMailArgs(original: EsmtpArgs, caps: Capabilities, size: number): EsmtpArgs {
  const out: Record<string, string | true> = {};
  if (caps.size) out['SIZE'] = String(size);
  const body = original['BODY'];
  if (typeof body === 'string' && caps.eightBitMime) out['BODY'] = body.toUpperCase();
  if (original['SMTPUTF8'] === true && caps.smtputf8) out['SMTPUTF8'] = true;
  if (caps.dsn) {
    const ret = original['RET'];
    const envid = original['ENVID'];
    if (typeof ret === 'string') out['RET'] = ret.toUpperCase();
    if (typeof envid === 'string') out['ENVID'] = envid;
  }
  return out;
}

function buildRcptArgs(original: EsmtpArgs, caps: Capabilities): EsmtpArgs {
  const out: Record<string, string | true> = {};
  if (caps.dsn) {
    const notify = original['NOTIFY'];
    const orcpt = original['ORCPT'];
    if (typeof notify === 'string') out['NOTIFY'] = notify.toUpperCase();
    if (typeof orcpt === 'string') out['ORCPT'] = orcpt;
  }
  return out;
}

/**
 * XFORWARD commands for the attributes the server advertised, each line (with CRLF) at most
 * 512 octets: attributes are packed greedily and start a new command when the next would not
 * fit. Exported for tests.
 */
export function buildXforwardCommands(
  attributes: XforwardAttributes,
  advertised: ReadonlySet<string>,
): string[] {
  const lines: string[] = [];
  let current = 'XFORWARD';
  for (const [name, value] of Object.entries(attributes) as [string, string | null | undefined][]) {
    if (value === undefined || !advertised.has(name)) continue;
    // [TEMPUNAVAIL] and [UNAVAILABLE] are sent as is; everything else is xtext.
    const encoded =
      value === null
        ? '[UNAVAILABLE]'
        : value === '[TEMPUNAVAIL]'
          ? value
          : encodeXtext(value).slice(0, 255);
    const pair = ` ${name}=${encoded}`;
    if (current !== 'XFORWARD' && current.length + pair.length + 2 > MAX_COMMAND_LINE_BYTES) {
      lines.push(current);
      current = 'XFORWARD';
    }
    current += pair;
  }
  if (current !== 'XFORWARD') lines.push(current);
  return lines;
}

/** Streams the message with dot-stuffing (RFC 5321 §4.5.2), waiting for drain, then ".". */
async function sendDotStuffed(
  connection: ReinjectConnection,
  message: Message,
  dataTimeoutMs: number,
  signal: AbortSignal | undefined,
  hooks: Pick<ReinjectSendOptions, 'onEndOfDataWritten' | 'onBeforeEndOfData'>,
): Promise<void> {
  let atLineStart = true;
  let last = -1;
  let beforeLast = -1;
  // Small pieces (header block, small bodies, the final dot) are coalesced into writes of up
  // to WRITE_COALESCE_BYTES: one segment for a typical message instead of three.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const out = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending);
    pending = [];
    pendingBytes = 0;
    if (!connection.write(out)) await connection.drained(dataTimeoutMs, signal);
  };
  const add = (chunk: Buffer): void => {
    if (chunk.length === 0) return;
    let from = 0;
    if (atLineStart && chunk[0] === 0x2e) pending.push(DOT);
    // Stuff after every LF, not only CRLF: a stray bare LF must not let a line start with a
    // lone "." that a lenient receiver would take as the end of data.
    let p = chunk.indexOf(LF);
    while (p >= 0) {
      if (p + 1 < chunk.length && chunk[p + 1] === 0x2e) {
        pending.push(chunk.subarray(from, p + 1), DOT);
        pendingBytes += p + 2 - from;
        from = p + 1;
      }
      p = chunk.indexOf(LF, p + 1);
    }
    pending.push(from === 0 ? chunk : chunk.subarray(from));
    pendingBytes += chunk.length - from + (atLineStart && chunk[0] === 0x2e ? 1 : 0);
    if (chunk.length >= 2) beforeLast = chunk[chunk.length - 2] ?? -1;
    else beforeLast = last;
    last = chunk[chunk.length - 1] ?? -1;
    atLineStart = last === LF;
  };
  // A message whose body never left memory is walked directly: no stream machinery and no
  // promise per piece.
  const pieces = message.memoryPieces();
  if (pieces !== null) {
    for (const piece of pieces) {
      add(piece);
      if (pendingBytes >= WRITE_COALESCE_BYTES) await flush();
    }
  } else {
    for await (const piece of message.toStream()) {
      add(piece as Buffer);
      if (pendingBytes >= WRITE_COALESCE_BYTES) await flush();
    }
  }
  if (signal?.aborted === true) {
    // Not one byte of the terminator is sent: dropping the connection now guarantees the
    // re-injection MTA discards the partial message (no delivery, no duplicate later).
    connection.destroy();
    throw new ReinjectError('body', 'aborted before the end of data', null, signal.reason);
  }
  const endsWithCrlf = beforeLast === CR && last === LF;
  const terminator = Buffer.from(endsWithCrlf ? '.\r\n' : '\r\n.\r\n');
  pending.push(terminator);
  // Let earlier body writes reach the kernel first, so that the last write (with the ".")
  // usually goes through within write() itself and the hook runs in that same turn.
  await connection.flushed();
  // The prepared record goes first: dying before the write leaves no "." and no receipt.
  // The commit hook runs when the "." has reached the kernel: from then on the MTA will commit
  // the message even if this process dies (decision 0005), and not a moment earlier.
  beforeEndOfData(connection, hooks);
  const drained = connection.write(
    pending.length === 1 ? terminator : Buffer.concat(pending),
    hooks.onEndOfDataWritten,
  );
  if (!drained) await connection.drained(dataTimeoutMs, signal);
}

/**
 * Runs the prepared-record hook; when it throws, drops the connection so that the MTA
 * discards the partial message, and fails the re-injection.
 */
function beforeEndOfData(
  connection: ReinjectConnection,
  hooks: Pick<ReinjectSendOptions, 'onBeforeEndOfData'>,
): void {
  try {
    hooks.onBeforeEndOfData?.();
  } catch (err) {
    connection.destroy();
    throw new ReinjectError('body', `not sent: ${errorText(err)}`, null, err);
  }
}

function toSmtpReply(reply: ParsedReply): SmtpReply {
  const first = reply.lines[0] ?? '';
  const enhanced = /^([245]\.\d{1,3}\.\d{1,3}) /.exec(first)?.[1] ?? null;
  const text = reply.lines
    .map((l) =>
      enhanced !== null && l.startsWith(`${enhanced} `) ? l.slice(enhanced.length + 1) : l,
    )
    .join('\n');
  return smtpReply(reply.code, enhanced, text);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One SMTP connection to the re-injection MTA: reply parsing, deadlines, capabilities. */
class ReinjectConnection {
  readonly #host: string;
  readonly #port: number;
  #socket: Socket | null = null;
  #capabilities: Capabilities = {
    pipelining: false,
    chunking: false,
    size: false,
    eightBitMime: false,
    smtputf8: false,
    dsn: false,
    xforward: new Set(),
  };
  #partial = '';
  #lines: string[] = [];
  readonly #replies: ParsedReply[] = [];
  /** The readReply() waiting for the next reply, if any. */
  #waiter: ReplyWaiter | null = null;
  /**
   * One deadline timer per connection, restarted (refresh) for each reply awaited instead of a
   * new timer per reply; when it fires with nobody waiting it does nothing.
   */
  #timer: NodeJS.Timeout | null = null;
  #timerMs = 0;
  /** The AbortSignal whose 'abort' listener is attached (at most one, the transaction's). */
  #signal: AbortSignal | null = null;
  readonly #onAbort = (): void => {
    const waiter = this.#waiter;
    if (waiter === null) return; // the next readReply() sees the signal aborted
    this.#waiter = null;
    this.destroy();
    waiter.reject(new ReinjectError(waiter.stage, 'aborted', null, this.#signal?.reason));
  };
  readonly #onTimeout = (): void => {
    const waiter = this.#waiter;
    if (waiter === null) return;
    this.#waiter = null;
    this.destroy();
    waiter.reject(new ReinjectError(waiter.stage, `no reply within ${waiter.timeoutMs} ms`, null));
  };
  #closedError: Error | null = null;
  #idleTimer: NodeJS.Timeout | null = null;
  /** Replies read so far (used to tell a stale pooled connection from a real failure). */
  repliesReceived = 0;
  /** True when the connection is between transactions and may be pooled. */
  reusable = false;
  /** True once the current transaction wrote message bytes (BDAT path). */
  contentSent = false;
  /** The server accepted an XFORWARD on this connection (it will again: same client address). */
  xforwardAccepted = false;
  transactions = 0;

  constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
  }

  get capabilities(): Capabilities {
    return this.#capabilities;
  }

  get isClosed(): boolean {
    return this.#closedError !== null;
  }

  /** The server said something while idle (typically 421 before closing). */
  get hasUnsolicitedReplies(): boolean {
    return this.#replies.length > 0;
  }

  async open(heloName: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const socket = connect({ host: this.#host, port: this.#port, noDelay: true });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('error', (err) => {
      this.#fail(err);
    });
    socket.on('close', () => {
      this.#fail(new Error('connection closed by the re-injection MTA'));
    });
    this.#readLoop(socket);
    const deadline = Date.now() + timeoutMs;
    const left = (): number => Math.max(1, deadline - Date.now());
    const greeting = await this.readReply(left(), signal, 'connect');
    if (greeting.code !== 220) {
      throw new ReinjectError('connect', `greeting ${greeting.code}`, toSmtpReply(greeting));
    }
    const ehlo = await this.command(`EHLO ${heloName}`, left(), signal, 'ehlo');
    if (ehlo.code !== 250) {
      throw new ReinjectError('ehlo', `EHLO refused ${ehlo.code}`, toSmtpReply(ehlo));
    }
    this.#capabilities = parseCapabilities(ehlo.lines.slice(1));
    this.reusable = true;
  }

  /**
   * Reads replies from 'data' events. Replies are small and parsed at once, and a reply line
   * over MAX_REPLY_LINE_BYTES ends the connection, so nothing piles up unbounded.
   */
  #readLoop(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      if (this.#closedError === null) this.#parse(chunk.toString('latin1'));
    });
    socket.once('end', () => {
      this.#fail(new Error('connection closed by the re-injection MTA'));
    });
  }

  #parse(text: string): void {
    this.#partial += text;
    let lf = this.#partial.indexOf('\n');
    while (lf >= 0) {
      const line = this.#partial.slice(0, lf).replace(/\r$/, '');
      this.#partial = this.#partial.slice(lf + 1);
      this.#line(line);
      lf = this.#partial.indexOf('\n');
    }
    if (this.#partial.length > MAX_REPLY_LINE_BYTES) {
      this.#fail(new Error('reply line too long'));
      this.destroy();
    }
  }

  #line(line: string): void {
    const m = /^([2-5][0-9][0-9])([ -]?)(.*)$/.exec(line);
    if (m === null) {
      this.#fail(new Error(`malformed reply line ${JSON.stringify(line.slice(0, 80))}`));
      this.destroy();
      return;
    }
    this.#lines.push(m[3] ?? '');
    if (m[2] === '-') return;
    const reply = { code: Number(m[1]), lines: this.#lines };
    this.#lines = [];
    this.repliesReceived++;
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter.resolve(reply);
    } else {
      this.#replies.push(reply);
    }
  }

  #fail(err: Error): void {
    this.#closedError ??= err;
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.reject(new ReinjectError(waiter.stage, err.message, null, err));
  }

  /** Resolves once everything written so far has been handed to the kernel. */
  flushed(): Promise<void> {
    const socket = this.#socket;
    if (socket === null || this.#closedError !== null || socket.writableLength === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      // The callback of an empty write runs after every earlier write completed (or failed;
      // a failure surfaces through the reply that will not come).
      socket.write(Buffer.alloc(0), () => {
        resolve();
      });
    });
  }

  /**
   * Writes to the socket. `onFlushed` runs once these bytes have been handed to the kernel:
   * synchronously when write() got them all through at once, else from the write callback;
   * never when the socket failed.
   */
  write(data: string | Buffer, onFlushed?: () => void): boolean {
    const socket = this.#socket;
    if (socket === null || this.#closedError !== null) return true;
    if (onFlushed === undefined) return socket.write(data);
    let notified = false;
    const notify = (): void => {
      if (notified) return;
      notified = true;
      onFlushed();
    };
    const ok = socket.write(data, (err) => {
      if (err == null) notify();
    });
    // Nothing left in our buffer: the kernel took every byte during write() itself. Notify in
    // this same turn — the write callback only runs a tick (or a loop iteration) later, and a
    // process killed in between would leave the ledger behind the MTA (decision 0005).
    if (socket.writableLength === 0) notify();
    return ok;
  }

  /** Waits for the next reply, at most `timeoutMs`; on timeout or abort destroys the connection. */
  readReply(
    timeoutMs: number,
    signal: AbortSignal | undefined,
    stage: string,
  ): Promise<ParsedReply> {
    const queued = this.#replies.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#closedError !== null) {
      return Promise.reject(
        new ReinjectError(stage, this.#closedError.message, null, this.#closedError),
      );
    }
    if (signal?.aborted === true) {
      this.destroy();
      return Promise.reject(new ReinjectError(stage, 'aborted', null, signal.reason));
    }
    this.#watch(signal);
    return new Promise<ParsedReply>((resolve, reject) => {
      this.#waiter = { resolve, reject, stage, timeoutMs };
      this.#armTimer(timeoutMs);
    });
  }

  /** Attaches the abort listener to `signal` (moving it from an earlier signal), once. */
  #watch(signal: AbortSignal | undefined): void {
    if ((signal ?? null) === this.#signal) return;
    this.unwatch();
    if (signal === undefined) return;
    this.#signal = signal;
    signal.addEventListener('abort', this.#onAbort);
  }

  /** Detaches the abort listener (the transaction is over). */
  unwatch(): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#signal = null;
  }

  #armTimer(timeoutMs: number): void {
    if (this.#timer !== null && this.#timerMs === timeoutMs) {
      this.#timer.refresh();
      return;
    }
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerMs = timeoutMs;
    this.#timer = setTimeout(this.#onTimeout, timeoutMs);
    // The socket keeps the process alive while a reply is awaited; an idle pooled connection
    // must not be kept alive by its old deadline.
    this.#timer.unref();
  }

  async command(
    line: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    stage: string,
  ): Promise<ParsedReply> {
    this.write(`${line}\r\n`);
    return this.readReply(timeoutMs, signal, stage);
  }

  /** Waits for 'drain', at most `timeoutMs`. */
  async drained(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const socket = this.#socket;
    if (socket === null) throw new ReinjectError('body', 'not connected', null);
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    try {
      await once(socket, 'drain', { signal: combined });
    } catch (err) {
      this.destroy();
      throw new ReinjectError(
        'body',
        timeout.aborted ? `socket did not drain within ${timeoutMs} ms` : errorText(err),
        null,
        err,
      );
    }
  }

  startIdleTimer(ms: number, onIdle: () => void): void {
    this.cancelIdleTimer();
    this.#idleTimer = setTimeout(onIdle, ms);
    this.#idleTimer.unref();
  }

  cancelIdleTimer(): void {
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }

  /** Polite close: QUIT, wait briefly for 221, then destroy. Never throws. */
  async quit(timeoutMs: number): Promise<void> {
    this.cancelIdleTimer();
    if (this.#closedError === null) {
      await this.command('QUIT', Math.min(timeoutMs, 5000), undefined, 'quit').catch(() => null);
    }
    this.destroy();
  }

  destroy(): void {
    this.cancelIdleTimer();
    this.unwatch();
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.reusable = false;
    this.#fail(new Error('connection closed'));
    this.#socket?.destroy();
  }
}

function parseCapabilities(lines: readonly string[]): Capabilities {
  let pipelining = false;
  let chunking = false;
  let size = false;
  let eightBitMime = false;
  let smtputf8 = false;
  let dsn = false;
  let xforward = new Set<string>();
  for (const line of lines) {
    const [keyword = '', ...params] = line.trim().split(/\s+/);
    switch (keyword.toUpperCase()) {
      case 'PIPELINING':
        pipelining = true;
        break;
      case 'CHUNKING':
        chunking = true;
        break;
      case 'SIZE':
        size = true;
        break;
      case '8BITMIME':
        eightBitMime = true;
        break;
      case 'SMTPUTF8':
        smtputf8 = true;
        break;
      case 'DSN':
        dsn = true;
        break;
      case 'XFORWARD':
        xforward = new Set(params.map((p) => p.toUpperCase()));
        break;
      default:
        break;
    }
  }
  return { pipelining, chunking, size, eightBitMime, smtputf8, dsn, xforward };
}

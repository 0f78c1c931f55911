/**
 * A small SMTP client for end-to-end tests: sends a list of messages to 127.0.0.1:port over
 * N concurrent sessions, several messages per session, and reports the final reply for each.
 *
 * Each message gets a first header `X-E2E-Seq: <seq>` (seq = its index in the input list,
 * from 0) so delivered copies can be matched back (see delivery-check.ts). The client speaks
 * plain ESMTP without PIPELINING: EHLO, then per message MAIL FROM (with BODY=8BITMIME when
 * offered), RCPT TO for each recipient, DATA with dot-stuffing (RFC 5321 §4.5.2), RSET after
 * a refused envelope, QUIT after `messagesPerSession`.
 *
 * Bounds: every reply has a timeout, a session that loses its connection is reopened at most
 * `maxReconnects` times in a row, and the whole run stops at `totalTimeoutMs`; messages not
 * tried by then are reported with status `error`.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';

/** A message to send. Envelope fields default to those of {@link SendOptions}. */
export interface OutgoingMessage {
  readonly raw: Buffer;
  readonly name?: string;
  readonly from?: string;
  readonly to?: readonly string[];
}

/** Options of {@link sendMessages}. */
export interface SendOptions {
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Concurrent SMTP sessions; default 8. */
  readonly sessions?: number;
  /** Messages sent over one connection before QUIT and reconnect; default 25. */
  readonly messagesPerSession?: number;
  /** Default envelope sender; default `sender@client.e2e.test`. */
  readonly from?: string;
  /** Default recipients; default `['rcpt@dest.e2e.test']`. */
  readonly to?: readonly string[];
  /** EHLO name; default `client.e2e.test`. */
  readonly heloName?: string;
  /** Name of the sequence header added to each message, or `false` for none. */
  readonly seqHeader?: string | false;
  /** Timeout for each reply except the one after the message data; default 30 s. */
  readonly commandTimeoutMs?: number;
  /** Timeout for the reply after the message data (the filter works then); default 120 s. */
  readonly dataTimeoutMs?: number;
  /** Stop trying new messages after this long; default 600 s. */
  readonly totalTimeoutMs?: number;
  /** Reconnect attempts in a row per session before it gives up; default 3. */
  readonly maxReconnects?: number;
}

/** How the server answered a message in the end. */
export type SendStatus = 'accepted' | 'tempfail' | 'rejected' | 'error';

/** The outcome for one message. */
export interface SendResult {
  /** Index in the input list, also the value of the sequence header. */
  readonly seq: number;
  readonly name: string;
  readonly status: SendStatus;
  /** SMTP reply code of the final reply, 0 when there was none (connection error, timeout). */
  readonly code: number;
  /** The final reply text (all lines joined with '\n') or the error message. */
  readonly text: string;
  /** Which step gave the final reply: connect, ehlo, mail, rcpt, data, end-of-data. */
  readonly stage: string;
  /** Queue id from a Postfix `250 ... queued as ID` reply. */
  readonly queueId?: string;
  /** Milliseconds from MAIL FROM to the final reply. */
  readonly elapsedMs: number;
}

/** A parsed SMTP reply. */
interface Reply {
  readonly code: number;
  readonly lines: string[];
}

class SmtpConnectionError extends Error {}

/** One client connection with a line reader that yields complete (multi-line) replies. */
class ClientConnection {
  readonly #socket: Socket;
  #buffer = '';
  #lines: string[] = [];
  #replies: Reply[] = [];
  #waiter: ((r: Reply | Error) => void) | undefined;
  #failure: Error | undefined;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.#onData(chunk);
    });
    socket.on('error', (err) => {
      this.#fail(new SmtpConnectionError(err.message));
    });
    socket.on('close', () => {
      this.#fail(new SmtpConnectionError('connection closed by server'));
    });
  }

  static async open(host: string, port: number, timeoutMs: number): Promise<ClientConnection> {
    return new Promise<ClientConnection>((resolve, reject) => {
      const socket = connect({ host, port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SmtpConnectionError(`connect timeout after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new ClientConnection(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new SmtpConnectionError(err.message));
      });
    });
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let lf: number;
    while ((lf = this.#buffer.indexOf('\n')) !== -1) {
      const line = this.#buffer.slice(0, lf).replace(/\r$/, '');
      this.#buffer = this.#buffer.slice(lf + 1);
      this.#lines.push(line);
      if (line.length < 4 || line[3] === ' ') {
        const reply: Reply = { code: Number(line.slice(0, 3)) || 0, lines: this.#lines };
        this.#lines = [];
        this.#deliver(reply);
      }
    }
  }

  #deliver(reply: Reply): void {
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter(reply);
    } else {
      this.#replies.push(reply);
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.(err);
  }

  /** Next reply, or rejects on timeout / connection loss. */
  async readReply(timeoutMs: number): Promise<Reply> {
    const queued = this.#replies.shift();
    if (queued !== undefined) return queued;
    if (this.#failure !== undefined) throw this.#failure;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        this.#socket.destroy();
        reject(new SmtpConnectionError(`no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = (r) => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
    });
  }

  async write(data: string | Buffer): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    const flushed = this.#socket.write(data);
    if (!flushed) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.#socket.off('drain', done);
          this.#socket.off('close', done);
          resolve();
        };
        this.#socket.on('drain', done);
        this.#socket.on('close', done);
      });
    }
  }

  async command(line: string, timeoutMs: number): Promise<Reply> {
    await this.write(`${line}\r\n`);
    return this.readReply(timeoutMs);
  }

  close(): void {
    this.#socket.destroy();
  }
}

/**
 * Dot-stuffs a CRLF message for DATA (RFC 5321 §4.5.2: a line starting with '.' gets one
 * more '.') and appends the terminating `.` line. The input must end with CRLF.
 */
export function dotStuff(message: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  if (message[0] === 0x2e) {
    parts.push(Buffer.from('.'));
  }
  for (let i = message.indexOf('\r\n.'); i !== -1; i = message.indexOf('\r\n.', i + 3)) {
    parts.push(message.subarray(start, i + 2), Buffer.from('.'));
    start = i + 2;
  }
  parts.push(message.subarray(start));
  const last = message.subarray(-2).toString('latin1');
  parts.push(Buffer.from(last === '\r\n' ? '.\r\n' : '\r\n.\r\n'));
  return Buffer.concat(parts);
}

/** Prepends `Name: seq` CRLF to a message. */
export function addSequenceHeader(raw: Buffer, headerName: string, seq: number): Buffer {
  return Buffer.concat([Buffer.from(`${headerName}: ${seq}\r\n`, 'latin1'), raw]);
}

function statusOf(code: number): SendStatus {
  if (code >= 200 && code < 300) return 'accepted';
  if (code >= 400 && code < 500) return 'tempfail';
  if (code >= 500 && code < 600) return 'rejected';
  return 'error';
}

function replyText(reply: Reply): string {
  return reply.lines.join('\n');
}

/**
 * Sends `messages` and resolves with one {@link SendResult} per message, in input order.
 * Never rejects for SMTP-level failures: they are results.
 */
export async function sendMessages(
  messages: readonly OutgoingMessage[],
  options: SendOptions,
): Promise<SendResult[]> {
  const host = options.host ?? '127.0.0.1';
  const sessions = Math.max(1, options.sessions ?? 8);
  const perSession = Math.max(1, options.messagesPerSession ?? 25);
  const defaultFrom = options.from ?? 'sender@client.e2e.test';
  const defaultTo = options.to ?? ['rcpt@dest.e2e.test'];
  const helo = options.heloName ?? 'client.e2e.test';
  const seqHeader = options.seqHeader ?? 'X-E2E-Seq';
  const commandTimeoutMs = options.commandTimeoutMs ?? 30_000;
  const dataTimeoutMs = options.dataTimeoutMs ?? 120_000;
  const deadline = Date.now() + (options.totalTimeoutMs ?? 600_000);
  const maxReconnects = options.maxReconnects ?? 3;

  const results: (SendResult | undefined)[] = new Array<SendResult | undefined>(messages.length);
  let next = 0;
  const take = (): number | undefined => {
    if (next >= messages.length || Date.now() >= deadline) return undefined;
    return next++;
  };

  const sendOne = async (
    conn: ClientConnection,
    seq: number,
    eightBit: boolean,
  ): Promise<SendResult> => {
    const message = messages[seq];
    if (message === undefined) throw new Error(`no message ${seq}`);
    const name = message.name ?? `message-${seq}`;
    const started = Date.now();
    const result = (stage: string, reply: Reply): SendResult => {
      const text = replyText(reply);
      const queued = /queued as ([0-9A-Za-z]+)/.exec(text)?.[1];
      return {
        seq,
        name,
        status: statusOf(reply.code),
        code: reply.code,
        text,
        stage,
        ...(queued === undefined ? {} : { queueId: queued }),
        elapsedMs: Date.now() - started,
      };
    };
    const from = message.from ?? defaultFrom;
    const mail = await conn.command(
      `MAIL FROM:<${from}>${eightBit ? ' BODY=8BITMIME' : ''}`,
      commandTimeoutMs,
    );
    if (mail.code !== 250) {
      await conn.command('RSET', commandTimeoutMs);
      return result('mail', mail);
    }
    let accepted = 0;
    let lastRefusal: Reply | undefined;
    for (const rcpt of message.to ?? defaultTo) {
      const reply = await conn.command(`RCPT TO:<${rcpt}>`, commandTimeoutMs);
      if (reply.code === 250 || reply.code === 251) accepted++;
      else lastRefusal = reply;
    }
    if (accepted === 0) {
      await conn.command('RSET', commandTimeoutMs);
      return result('rcpt', lastRefusal ?? { code: 0, lines: ['no recipients'] });
    }
    const data = await conn.command('DATA', commandTimeoutMs);
    if (data.code !== 354) {
      await conn.command('RSET', commandTimeoutMs);
      return result('data', data);
    }
    const body = seqHeader === false ? message.raw : addSequenceHeader(message.raw, seqHeader, seq);
    await conn.write(dotStuff(body));
    return result('end-of-data', await conn.readReply(dataTimeoutMs));
  };

  const worker = async (): Promise<void> => {
    let failuresInRow = 0;
    for (;;) {
      const first = take();
      if (first === undefined) return;
      let seq: number | undefined = first;
      let conn: ClientConnection | undefined;
      let stage = 'connect';
      try {
        conn = await ClientConnection.open(host, options.port, commandTimeoutMs);
        const greeting = await conn.readReply(commandTimeoutMs);
        if (greeting.code !== 220) throw new SmtpConnectionError(replyText(greeting));
        stage = 'ehlo';
        const ehlo = await conn.command(`EHLO ${helo}`, commandTimeoutMs);
        if (ehlo.code !== 250) throw new SmtpConnectionError(replyText(ehlo));
        const eightBit = ehlo.lines.some((l) => /^250[ -]8BITMIME\b/i.test(l));
        stage = 'mail';
        for (let sent = 0; seq !== undefined;) {
          results[seq] = await sendOne(conn, seq, eightBit);
          failuresInRow = 0;
          sent++;
          seq = sent < perSession ? take() : undefined;
        }
        await conn.command('QUIT', commandTimeoutMs).catch(() => undefined);
      } catch (err) {
        const text = err instanceof Error ? err.message : String(err);
        if (seq !== undefined) {
          results[seq] = {
            seq,
            name: messages[seq]?.name ?? `message-${seq}`,
            status: 'error',
            code: 0,
            text,
            stage,
            elapsedMs: 0,
          };
        }
        failuresInRow++;
        if (failuresInRow > maxReconnects) return;
      } finally {
        conn?.close();
      }
    }
  };

  await Promise.all(Array.from({ length: Math.min(sessions, messages.length) }, worker));
  return messages.map(
    (m, seq) =>
      results[seq] ?? {
        seq,
        name: m.name ?? `message-${seq}`,
        status: 'error' as const,
        code: 0,
        text: 'not sent (sessions gave up or total timeout)',
        stage: 'none',
        elapsedMs: 0,
      },
  );
}

/** Counts of each status, plus the results that were not accepted (for assertion messages). */
export function summarizeSendResults(results: readonly SendResult[]): {
  readonly accepted: number;
  readonly tempfail: number;
  readonly rejected: number;
  readonly error: number;
  readonly notAccepted: readonly SendResult[];
} {
  const count = (s: SendStatus): number => results.filter((r) => r.status === s).length;
  return {
    accepted: count('accepted'),
    tempfail: count('tempfail'),
    rejected: count('rejected'),
    error: count('error'),
    notAccepted: results.filter((r) => r.status !== 'accepted'),
  };
}

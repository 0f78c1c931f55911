/**
 * Test doubles for filter/smtp tests (not part of the public API): a fake re-injection MTA on
 * 127.0.0.1 port 0 that can accept, refuse or hang, and a scripted fake Pipeline that records
 * what it saw. The fake MTA parses SMTP on its own (not with our parser), so the re-injection
 * client is checked against an independent reading of the wire.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Verdict } from '../actions/verdict.js';
import type { Envelope } from '../message/envelope.js';
import type { Message } from '../message/message.js';
import type { Disposition, EnvelopeCheck, EnvelopeStage, Pipeline } from '../pipeline/types.js';

/** How the fake re-injection MTA behaves. */
export type FakeMtaMode =
  | 'accept'
  /** 550 to any RCPT whose address contains "refuse" (all-or-nothing test). */
  | 'refuse-rcpt'
  /** 554 after the end of DATA. */
  | 'refuse-data'
  /** Never answers after the greeting. */
  | 'hang'
  /** Answers everything but never the end of DATA. */
  | 'hang-at-dot';

export interface FakeMtaTransaction {
  readonly lines: string[];
  /** Message data as unstuffed by the fake. */
  data: Buffer | null;
  /** Message data exactly as it came over the wire (still dot-stuffed). */
  raw: Buffer | null;
  accepted: boolean;
}

/** A minimal SMTP server standing in for Postfix's smtpd on 10026. */
export class FakeMta {
  mode: FakeMtaMode = 'accept';
  pipelining = true;
  /** Advertise CHUNKING (RFC 3030) and take BDAT. */
  chunking = false;
  readonly transactions: FakeMtaTransaction[] = [];
  connections = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor() {
    this.#server = createServer((socket) => {
      this.#serve(socket);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as AddressInfo).port;
  }

  /** Transactions that got 250 after the dot. */
  get delivered(): FakeMtaTransaction[] {
    return this.transactions.filter((t) => t.accepted);
  }

  /** Drops every open connection while still listening (an MTA closing idle sessions). */
  dropConnections(): void {
    for (const s of this.#sockets) s.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) =>
      this.#server.close(() => {
        resolve();
      }),
    );
  }

  #serve(socket: Socket): void {
    this.connections++;
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.write('220 fake.example ESMTP\r\n');
    if (this.mode === 'hang') return;
    let buffer = '';
    let inData = false;
    /** Bytes of a BDAT chunk still to read, and whether it is the LAST one. */
    let bdatLeft = -1;
    let bdatLast = false;
    let bdatData = '';
    let bdatOk = false;
    let current: FakeMtaTransaction | null = null;
    let recipients = 0;
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        if (bdatLeft >= 0) {
          const take = Math.min(bdatLeft, buffer.length);
          bdatData += buffer.slice(0, take);
          buffer = buffer.slice(take);
          bdatLeft -= take;
          if (bdatLeft > 0) return;
          bdatLeft = -1;
          if (!bdatOk) {
            socket.write('554 5.5.1 Error: no valid recipients\r\n');
            bdatData = '';
            continue;
          }
          if (!bdatLast) {
            socket.write('250 2.0.0 Ok: chunk\r\n');
            continue;
          }
          if (current !== null) {
            current.data = Buffer.from(bdatData, 'latin1');
            current.raw = Buffer.from(bdatData, 'latin1');
          }
          bdatData = '';
          if (this.mode === 'hang-at-dot') return;
          if (this.mode === 'refuse-data') {
            socket.write('554 5.7.1 refused by fake\r\n');
          } else {
            if (current !== null) current.accepted = true;
            socket.write(`250 2.0.0 Ok: queued as FAKE${this.transactions.length}\r\n`);
          }
          current = null;
          recipients = 0;
          continue;
        }
        if (inData) {
          const at = buffer.startsWith('.\r\n') ? 0 : buffer.indexOf('\r\n.\r\n');
          if (at < 0) return;
          const raw = at === 0 ? '' : buffer.slice(0, at + 2);
          buffer = buffer.slice(at === 0 ? 3 : at + 5);
          inData = false;
          const unstuffed = raw.replace(/^\.\./, '.').replace(/\r\n\.\./g, '\r\n.');
          if (current !== null) {
            current.data = Buffer.from(unstuffed, 'latin1');
            current.raw = Buffer.from(raw, 'latin1');
          }
          if (this.mode === 'hang-at-dot') return;
          if (this.mode === 'refuse-data') {
            socket.write('554 5.7.1 refused by fake\r\n');
          } else {
            if (current !== null) current.accepted = true;
            socket.write(`250 2.0.0 Ok: queued as FAKE${this.transactions.length}\r\n`);
          }
          current = null;
          recipients = 0;
          continue;
        }
        const lf = buffer.indexOf('\r\n');
        if (lf < 0) return;
        const line = buffer.slice(0, lf);
        buffer = buffer.slice(lf + 2);
        const verb = line.split(' ')[0]?.toUpperCase() ?? '';
        if (verb === 'EHLO') {
          socket.write(
            [
              '250-fake.example',
              ...(this.pipelining ? ['250-PIPELINING'] : []),
              ...(this.chunking ? ['250-CHUNKING'] : []),
              '250-SIZE 100000000',
              '250-8BITMIME',
              '250-DSN',
              '250-SMTPUTF8',
              '250-ENHANCEDSTATUSCODES',
              '250 XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT',
            ].join('\r\n') + '\r\n',
          );
        } else if (verb === 'XFORWARD' || verb === 'MAIL') {
          if (current === null) {
            current = { lines: [], data: null, raw: null, accepted: false };
            this.transactions.push(current);
          }
          current.lines.push(line);
          socket.write('250 2.0.0 Ok\r\n');
        } else if (verb === 'RCPT') {
          current?.lines.push(line);
          if (this.mode === 'refuse-rcpt' && line.includes('refuse')) {
            socket.write('550 5.1.1 no such user\r\n');
          } else {
            recipients++;
            socket.write('250 2.1.5 Ok\r\n');
          }
        } else if (verb === 'BDAT' && this.chunking) {
          current?.lines.push(line);
          const [, size = '', last = ''] = line.split(' ');
          bdatLeft = Number(size);
          bdatLast = last.toUpperCase() === 'LAST';
          bdatOk = current !== null && recipients > 0;
        } else if (verb === 'DATA') {
          current?.lines.push(line);
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (verb === 'RSET') {
          current = null;
          recipients = 0;
          socket.write('250 2.0.0 Ok\r\n');
        } else if (verb === 'QUIT') {
          socket.end('221 2.0.0 Bye\r\n');
          return;
        } else {
          socket.write('502 5.5.2 what\r\n');
        }
      }
    });
  }
}

/** One scripted answer of the fake pipeline for a message. */
export type FakeRun =
  | { readonly kind: 'verdict'; readonly verdict: Verdict }
  | { readonly kind: 'throw' }
  | { readonly kind: 'hang' }
  /** Waits `ms`, then the default accept. */
  | { readonly kind: 'slow'; readonly ms: number };

export interface RecordedOutcome {
  readonly messageId: string;
  readonly verdict: Verdict | null;
  readonly disposition: Disposition;
  readonly errorCode: string | undefined;
}

/** A Pipeline whose answers are scripted; records what the adapter gave it. */
export class FakePipeline implements Pipeline {
  /** Answers for successive messages; when empty, accept with X-Parapet-Id. */
  readonly runs: FakeRun[] = [];
  readonly checks = new Map<EnvelopeStage, EnvelopeCheck>();
  readonly checked: { stage: EnvelopeStage; envelope: Envelope }[] = [];
  readonly seen: { envelope: Envelope; message: Buffer }[] = [];
  readonly outcomes: RecordedOutcome[] = [];

  checkEnvelope(stage: EnvelopeStage, envelope: Envelope): Promise<EnvelopeCheck> {
    this.checked.push({ stage, envelope: structuredClone(envelope) });
    return Promise.resolve(this.checks.get(stage) ?? { kind: 'continue' });
  }

  async run(message: Message, _signal: AbortSignal): Promise<Verdict> {
    this.seen.push({
      envelope: structuredClone(message.envelope),
      message: await message.toBuffer(),
    });
    let next = this.runs.shift();
    if (next?.kind === 'slow') {
      await new Promise((resolve) => setTimeout(resolve, next?.kind === 'slow' ? next.ms : 0));
      next = undefined;
    }
    next ??= {
      kind: 'verdict',
      verdict: {
        kind: 'accept',
        modifications: [{ kind: 'addHeader', name: 'X-Parapet-Id', value: message.id }],
      },
    };
    switch (next.kind) {
      case 'verdict':
        return next.verdict;
      case 'throw':
        throw new Error('scanner exploded');
      case 'hang':
        // Ignores the signal on purpose: the session must not wait past its deadline.
        return new Promise<Verdict>(() => undefined);
    }
  }

  recordOutcome(
    message: Message,
    verdict: Verdict | null,
    disposition: Disposition,
    errorCode?: string,
  ): void {
    this.outcomes.push({ messageId: message.id, verdict, disposition, errorCode });
    this.#waiters.forEach((w) => {
      w();
    });
  }

  readonly #waiters = new Set<() => void>();

  /** Resolves once `count` outcomes were recorded (or after `timeoutMs`). */
  async waitForOutcomes(count: number, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.outcomes.length < count && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        this.#waiters.add(() => {
          clearTimeout(t);
          resolve();
        });
      });
      this.#waiters.clear();
    }
  }
}

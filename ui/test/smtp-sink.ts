/**
 * Test support: a minimal SMTP sink on loopback (node:net only) that accepts every message and
 * keeps it in memory, for tests that check mail released from the web interfaces arrives.
 * It advertises no extensions, so clients speak plain RFC 5321 one command at a time; input is
 * still read line by line from a buffer, so pipelined commands work too. Bounded: at most
 * `maxMessageBytes` per message and 100 messages kept.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface SunkMessage {
  readonly from: string;
  readonly to: readonly string[];
  /** The message as received, dot-unstuffed, CRLF line ends. */
  readonly raw: string;
}

export interface TestSmtpSink {
  readonly host: string;
  readonly port: number;
  readonly messages: readonly SunkMessage[];
  /** Resolves with the first message `match` accepts (already received or arriving later). */
  waitFor(match: (m: SunkMessage) => boolean, timeoutMs?: number): Promise<SunkMessage>;
  close(): Promise<void>;
}

const MAX_KEPT = 100;

export async function startTestSmtpSink(maxMessageBytes = 10 * 1024 * 1024): Promise<TestSmtpSink> {
  const messages: SunkMessage[] = [];
  const waiters = new Set<() => void>();
  const sockets = new Set<Socket>();

  const onConnection = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setTimeout(30_000, () => socket.destroy());
    let buffer = '';
    let from = '';
    let to: string[] = [];
    let data: string[] | null = null;
    let dataBytes = 0;
    const reply = (line: string): void => {
      socket.write(`${line}\r\n`);
    };
    const onLine = (line: string): void => {
      if (data !== null) {
        if (line === '.') {
          const raw = data.join('\r\n') + (data.length > 0 ? '\r\n' : '');
          data = null;
          if (dataBytes > maxMessageBytes) {
            reply('552 5.3.4 message too big');
            return;
          }
          messages.push({ from, to, raw });
          if (messages.length > MAX_KEPT) messages.shift();
          for (const w of [...waiters]) w();
          reply('250 2.0.0 Ok: queued');
          return;
        }
        dataBytes += line.length + 2;
        if (dataBytes <= maxMessageBytes) data.push(line.startsWith('.') ? line.slice(1) : line);
        return;
      }
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO' || verb === 'HELO') reply('250 sink');
      else if (verb === 'MAIL') {
        from = /<([^>]*)>/.exec(line)?.[1] ?? '';
        to = [];
        reply('250 2.1.0 Ok');
      } else if (verb === 'RCPT') {
        to.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
        reply('250 2.1.5 Ok');
      } else if (verb === 'DATA') {
        if (to.length === 0) reply('554 5.5.1 no valid recipients');
        else {
          data = [];
          dataBytes = 0;
          reply('354 End data with <CR><LF>.<CR><LF>');
        }
      } else if (verb === 'RSET') {
        from = '';
        to = [];
        reply('250 2.0.0 Ok');
      } else if (verb === 'NOOP') reply('250 2.0.0 Ok');
      else if (verb === 'QUIT') {
        reply('221 2.0.0 Bye');
        socket.end();
      } else reply('502 5.5.2 command not recognized');
    };
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        onLine(line);
      }
      // A line without an end that grows past any sane length ends the session.
      if (buffer.length > 1_000_000) socket.destroy();
    });
    reply('220 sink ESMTP');
  };

  const server: Server = createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    messages,
    waitFor: (match, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = messages.find(match);
          if (found === undefined) return false;
          waiters.delete(onMessage);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const onMessage = (): void => {
          check();
        };
        const timer = setTimeout(() => {
          waiters.delete(onMessage);
          reject(new Error(`no matching message within ${String(timeoutMs)} ms`));
        }, timeoutMs);
        waiters.add(onMessage);
        check();
      }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}

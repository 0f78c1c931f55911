/**
 * TCP driver of the after-queue SMTP content filter: listens (127.0.0.1:10025 by default),
 * caps concurrent sessions, keeps the idle timer, and attaches one SmtpSession per connection.
 * All protocol logic lives in session.ts; this file only moves bytes.
 *
 * Security: the listener is meant for the local MTA only (bind to loopback); XFORWARD lets the
 * client set the identity scanners see, so anything that can connect here can forge it
 * (Postfix XFORWARD_README "Security"). Every limit below answers the client with a reply
 * before closing (RFC 5321 §3.8: 421 closes the channel).
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ParapetError } from '../errors.js';
import type { Pipeline } from '../pipeline/types.js';
import { formatSmtpReply, SmtpReplies } from './reply.js';
import {
  ReinjectClient,
  type MessageReinjector,
  type ReinjectClientOptions,
} from './reinject-client.js';
import { SmtpSession, type SmtpSessionOptions } from './session.js';
import type { ReinjectLedger } from './reinject-ledger.js';

export interface SmtpFilterServerOptions extends SmtpSessionOptions {
  /** Decides each message and answers envelope checks. */
  readonly pipeline: Pipeline;
  /**
   * Where accepted mail goes: options for a ReinjectClient the server creates (and closes on
   * close()), or a ready MessageReinjector owned by the caller. Default: 127.0.0.1:10026.
   */
  readonly reinject?: ReinjectClientOptions | MessageReinjector;
  /** Exactly-once re-injection across crashes (decision 0005); owned by the caller. */
  readonly ledger?: ReinjectLedger;
  /** Listen address. Default 127.0.0.1. */
  readonly host?: string;
  /** Listen port; 0 picks a free one. Default 10025. */
  readonly port?: number;
  /** Concurrent sessions; one more gets "421 4.3.2" at connect. Default 100. */
  readonly maxSessions?: number;
  /** Client silence before "421 4.4.2" (RFC 5321 §4.5.3.2.7 suggests 5 minutes). Default 300 000 ms. */
  readonly idleTimeoutMs?: number;
  /** close() waits this long for messages in flight before cutting connections. Default 30 000 ms. */
  readonly drainTimeoutMs?: number;
}

/** A running content-filter listener. */
export interface SmtpFilterServer {
  /** The bound address (useful with port 0). */
  readonly address: AddressInfo;
  /** Sessions currently connected. */
  readonly sessionCount: number;
  /**
   * Graceful stop: stops accepting, tells idle sessions 421 and closes them, lets sessions
   * receiving or deciding a message finish (up to drainTimeoutMs), then cuts what is left
   * (their messages are aborted and Postfix retries them). Closes the re-injection pool the
   * server created. Resolves when every connection is gone.
   */
  close(): Promise<void>;
}

function isReinjector(
  value: ReinjectClientOptions | MessageReinjector,
): value is MessageReinjector {
  return typeof (value as Partial<MessageReinjector>).reinject === 'function';
}

/**
 * Starts the content-filter listener. Resolves once listening; rejects with a ParapetError
 * (ERR_SMTP_LISTEN) when the address cannot be bound.
 */
export async function createSmtpFilterServer(
  options: SmtpFilterServerOptions,
): Promise<SmtpFilterServer> {
  const {
    pipeline,
    reinject,
    ledger,
    host = '127.0.0.1',
    port = 10025,
    maxSessions = 100,
    idleTimeoutMs = 300_000,
    drainTimeoutMs = 30_000,
    ...sessionOptions
  } = options;
  const ownReinjector = reinject === undefined || !isReinjector(reinject);
  const reinjector: MessageReinjector =
    reinject !== undefined && isReinjector(reinject)
      ? reinject
      : new ReinjectClient(reinject ?? {});
  const sessions = new Map<SmtpSession, Socket>();
  const finished = new Set<Promise<void>>();
  let closing = false;

  const serveConnection = async (socket: Socket): Promise<void> => {
    socket.setNoDelay(true);
    socket.on('error', () => {
      // 'close' follows and ends the session; without a listener it would crash the process.
    });
    if (closing || sessions.size >= maxSessions) {
      // B5.7: over the cap, tempfail at once rather than accept and time out.
      socket.end(
        formatSmtpReply(closing ? SmtpReplies.shuttingDown : SmtpReplies.tempfailBusy),
        () => socket.destroy(),
      );
      return;
    }
    const session = new SmtpSession(sessionOptions, {
      pipeline,
      reinjector,
      ...(ledger === undefined ? {} : { ledger }),
      client: {
        address: socket.remoteAddress ?? null,
        port: socket.remotePort ?? null,
        name: null,
      },
      transport: {
        write: (data) => {
          if (!socket.destroyed && !socket.writableEnded) socket.write(data);
        },
        close: () => {
          if (!socket.writableEnded) socket.end(() => socket.destroy());
        },
      },
    });
    sessions.set(session, socket);
    socket.once('close', () => {
      // Fires the abort signal at once, even while the session is awaiting the pipeline.
      void session.abort();
    });
    // One idle timer per connection, restarted (refresh) after each chunk is consumed, not
    // re-created per chunk; while a chunk is being consumed it only restarts itself.
    let feeding = false;
    let timer: NodeJS.Timeout | null = null;
    const disarm = (): void => {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    };
    const arm = (): void => {
      if (session.closed) return;
      if (timer !== null) {
        timer.refresh();
        return;
      }
      timer = setTimeout(() => {
        if (feeding) timer?.refresh();
        else session.idleTimeout();
      }, idleTimeoutMs);
    };
    try {
      await session.start();
      arm();
      // Chunks are taken from 'data' events, one at a time: the socket is paused while the
      // session consumes a chunk, so the next is read only after it (STYLE.md B5.7), without
      // the async-iterator machinery per chunk.
      await new Promise<void>((resolve) => {
        let over = false;
        const finish = (): void => {
          over = true;
          if (!feeding) resolve();
        };
        socket.on('data', (chunk: Buffer) => {
          // After close we keep draining (the socket is destroyed once its end is written).
          if (session.closed) return;
          feeding = true;
          socket.pause();
          void session.feed(chunk).finally(() => {
            feeding = false;
            if (over) {
              resolve();
              return;
            }
            arm();
            socket.resume();
          });
        });
        // Reset by peer or destroyed by us: the session is aborted below.
        socket.once('end', finish);
        socket.once('close', finish);
      });
    } finally {
      disarm();
      await session.abort();
      sessions.delete(session);
      socket.destroy();
    }
  };

  const server: Server = createServer({ noDelay: true }, (socket) => {
    const done = serveConnection(socket);
    finished.add(done);
    void done.finally(() => finished.delete(done));
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(
        new ParapetError('ERR_SMTP_LISTEN', `cannot listen on ${host}:${port}: ${err.message}`, {
          cause: err,
        }),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;

  return {
    address,
    get sessionCount() {
      return sessions.size;
    },
    async close() {
      if (closing) return;
      closing = true;
      const stopped = new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
      for (const session of sessions.keys()) session.requestShutdown();
      const drained = Promise.all([...finished]).then(() => true);
      const deadline = new Promise<false>((resolve) => {
        setTimeout(() => {
          resolve(false);
        }, drainTimeoutMs).unref();
      });
      if (!(await Promise.race([drained, deadline]))) {
        for (const socket of sessions.values()) socket.destroy();
        await Promise.all([...finished]);
      }
      await stopped;
      if (ownReinjector) await reinjector.close();
    },
  };
}

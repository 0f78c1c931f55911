/**
 * The milter listener: TCP (default port 3366) and/or a unix socket, one MilterSession per
 * connection, a session cap, idle and message timeouts, graceful shutdown. This is the only
 * file of filter/milter that touches sockets and the file system; protocol logic lives in the
 * pure files (wire.ts, frame-decoder.ts, negotiate.ts) and in session.ts.
 *
 * Back-pressure: the driver handles frames straight from 'data' events; a frame whose handling
 * returns a promise (an envelope check, the pipeline, a reply waiting for 'drain') pauses the
 * socket until it settles, so nothing piles up while the pipeline runs. Frames that finish at
 * once (macros, headers, body chunks in memory) cost no promise.
 *
 * Security: every byte from the MTA is untrusted. Frames are bounded by maxFrameBytes before
 * a payload byte is kept, messages by maxMessageBytes, bodies spool to disk past
 * spoolMemoryBytes, and sessions by maxSessions. Listen on loopback or a unix socket (mode
 * 0660 by default): the milter protocol has no authentication.
 */
import { lstat, chmod, unlink } from 'node:fs/promises';
import {
  createConnection,
  createServer,
  type AddressInfo,
  type Server,
  type Socket,
} from 'node:net';
import type { EnvelopeStage, Pipeline } from '../pipeline/types.js';
import { ParapetError, toParapetError } from '../errors.js';
import { SmtpReplies } from '../smtp/reply.js';
import { MilterFrameDecoder } from './frame-decoder.js';
import { MilterSession, type MilterEventSink, type MilterTransport } from './session.js';
import type { MilterSymbolList } from './wire.js';

/** Options of createMilterServer. Every limit carries its unit (STYLE.md B4). */
export interface MilterServerOptions {
  /** Decides envelopes and messages; any Pipeline implementation can be plugged in. */
  readonly pipeline: Pipeline;
  /** TCP listener. Port 0 picks a free port (tests). At least one of tcp / unixSocket. */
  readonly tcp?: { readonly host: string; readonly port: number };
  /** Unix socket listener. A stale socket file at `path` is removed; `mode` default 0o660. */
  readonly unixSocket?: { readonly path: string; readonly mode?: number };
  /** Concurrent sessions; past it new connections are answered 421 4.3.2 at connect. Default 256. */
  readonly maxSessions?: number;
  /** Largest frame (command byte + payload). Default 262144 (256 KiB). */
  readonly maxFrameBytes?: number;
  /** Idle time allowed between two MTA commands before we close. Default 600000 (10 min). */
  readonly commandTimeoutMs?: number;
  /** Budget for deciding one message at end of body. Default 120000 (2 min). */
  readonly messageTimeoutMs?: number;
  /** SMFIR_PROGRESS interval while the pipeline runs. Default 10000 (10 s). */
  readonly progressIntervalMs?: number;
  /** How long close() waits for messages in flight. Default 30000 (30 s). */
  readonly drainTimeoutMs?: number;
  /** Body bytes kept in memory per message before spooling to disk. Default 1 MiB. */
  readonly spoolMemoryBytes?: number;
  /** Directory for spooled bodies. Default the OS temp dir. */
  readonly spoolDir?: string;
  /** Largest message (headers + body as received). Default 67108864 (64 MiB). */
  readonly maxMessageBytes?: number;
  /** Most recipients per message. Default 1000. */
  readonly maxRecipients?: number;
  /** Negotiate SMFIP_HDR_LEADSPC when offered (exact header bytes). Default true. */
  readonly headerLeadingSpace?: boolean;
  /** Macro lists to request from the MTA (v6 SETSYMLIST). Default none (MTA config applies). */
  readonly symbolLists?: readonly MilterSymbolList[];
  /**
   * On unix-socket connections, ask the MTA not to wait for replies to headers, end of
   * headers and body chunks (see MilterNegotiationOptions.noReplyContent), nor to the envelope
   * steps the pipeline never refuses at (Pipeline.envelopeStages; connect, HELO, MAIL, RCPT).
   * Default true.
   */
  readonly noReplyOverUnixSocket?: boolean;
  /**
   * The same on TCP connections. Default true: with the DATA step answered (negotiate.ts),
   * Postfix's header writes follow our DATA reply and do not stall on delayed ACK (measured
   * with tcpdump: no per-message stall; throughput up ~40%, CPU per message down ~30%).
   * Also connect, HELO and RCPT when the pipeline never refuses there, but never MAIL: Postfix's
   * smtpd flushes the MAIL command on its own when it hands the milter to cleanup, and the
   * DATA command that follows would then wait on Nagle for our delayed ACK.
   * Turn off for an MTA whose small writes do stall.
   */
  readonly noReplyOverTcp?: boolean;
  /** Ask the MTA not to send bodies (SMFIP_NOBODY): for a pipeline that reads headers only. */
  readonly skipBody?: boolean;
  /** Diagnostics sink (filter/log EventSink fits). */
  readonly onEvent?: MilterEventSink;
}

/** Defaults of MilterServerOptions, documented in PROTOCOL.md. */
export const MILTER_SERVER_DEFAULTS = Object.freeze({
  maxSessions: 256,
  maxFrameBytes: 256 * 1024,
  commandTimeoutMs: 600_000,
  messageTimeoutMs: 120_000,
  progressIntervalMs: 10_000,
  drainTimeoutMs: 30_000,
  maxMessageBytes: 64 * 1024 * 1024,
  maxRecipients: 1000,
  unixSocketMode: 0o660,
  noReplyOverUnixSocket: true,
  noReplyOverTcp: true,
});

const ENVELOPE_STAGES: readonly EnvelopeStage[] = ['connect', 'helo', 'mailFrom', 'rcptTo'];

/** How long a refused (over-cap) connection may live. */
const REFUSED_SESSION_MS = 5_000;
/** Refused connections answered with 421 at once, at least (beyond: dropped). */
const REFUSED_SESSIONS_MIN = 16;

/** A running milter listener. */
export interface MilterServer {
  /** The bound TCP address (port resolved when 0 was asked), or null without TCP. */
  readonly tcpAddress: AddressInfo | null;
  /** The unix socket path, or null without one. */
  readonly unixPath: string | null;
  /** Sessions currently open (refused over-cap connections not counted). */
  readonly sessionCount: number;
  /**
   * Stops accepting, closes idle sessions, waits up to drainTimeoutMs (default: the option)
   * for messages in flight to get their answer, then drops the rest (recorded as aborted; the
   * MTA applies its milter_default_action). Removes the unix socket file. Never rejects.
   */
  close(options?: { readonly drainTimeoutMs?: number }): Promise<void>;
}

interface Connection {
  readonly socket: Socket;
  readonly session: MilterSession;
  readonly refused: boolean;
  closed: Promise<void>;
}

/**
 * Starts the milter listener(s). Resolves once listening. Rejects with ParapetError
 * ERR_MILTER_CONFIG when neither tcp nor unixSocket is given, and ERR_MILTER_LISTEN when a
 * listener cannot bind (address in use, live socket at the path, permissions).
 */
export async function createMilterServer(options: MilterServerOptions): Promise<MilterServer> {
  if (options.tcp === undefined && options.unixSocket === undefined) {
    throw new ParapetError('ERR_MILTER_CONFIG', 'createMilterServer needs tcp and/or unixSocket');
  }
  const cfg = { ...MILTER_SERVER_DEFAULTS, ...definedOnly(options) };
  const connections = new Set<Connection>();
  // Envelope stages the pipeline never refuses at: their replies can be negotiated away.
  const decided = options.pipeline.envelopeStages ?? ENVELOPE_STAGES;
  const quietStages = ENVELOPE_STAGES.filter((stage) => !decided.includes(stage));
  let closing = false;
  let sequence = 0;

  const countSessions = (refused: boolean): number =>
    [...connections].filter((c) => c.refused === refused).length;

  const onSocket = (socket: Socket): void => {
    if (closing) {
      socket.destroy();
      return;
    }
    const refused = countSessions(false) >= cfg.maxSessions;
    // Refusing costs a negotiation; past a second cap we just drop the connection.
    if (refused && countSessions(true) >= Math.max(cfg.maxSessions, REFUSED_SESSIONS_MIN)) {
      socket.destroy();
      return;
    }
    sequence += 1;
    const connection = startConnection(socket, refused, String(sequence));
    connections.add(connection);
    void connection.closed.then(() => {
      connections.delete(connection);
    });
  };

  const startConnection = (socket: Socket, refused: boolean, sessionId: string): Connection => {
    // Answer every step at once: no Nagle on our side (FIELD-NOTES.md milter/Nagle note).
    socket.setNoDelay(true);
    socket.on('error', () => undefined); // 'close' follows and ends the session
    const transport = socketTransport(socket);
    // A unix-socket peer has no remote address.
    const viaUnixSocket = socket.remoteAddress === undefined;
    const session = new MilterSession(transport, {
      pipeline: options.pipeline,
      messageTimeoutMs: cfg.messageTimeoutMs,
      progressIntervalMs: cfg.progressIntervalMs,
      maxMessageBytes: cfg.maxMessageBytes,
      maxRecipients: cfg.maxRecipients,
      sessionId,
      negotiation: {
        headerLeadingSpace: cfg.headerLeadingSpace ?? true,
        symbolLists: cfg.symbolLists ?? [],
        noReplyContent: viaUnixSocket ? cfg.noReplyOverUnixSocket : cfg.noReplyOverTcp,
        noReplyEnvelope: viaUnixSocket
          ? cfg.noReplyOverUnixSocket
            ? quietStages
            : []
          : cfg.noReplyOverTcp
            ? quietStages.filter((stage) => stage !== 'mailFrom')
            : [],
        skipBody: cfg.skipBody === true,
        // Nothing is decided at DATA; over a unix socket there is no Nagle stall to fear.
        skipData: viaUnixSocket && cfg.noReplyOverUnixSocket,
      },
      ...(cfg.spoolMemoryBytes === undefined ? {} : { spoolMemoryBytes: cfg.spoolMemoryBytes }),
      ...(cfg.spoolDir === undefined ? {} : { spoolDir: cfg.spoolDir }),
      ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
      ...(refused ? { refuseWith: SmtpReplies.tempfailBusy } : {}),
    });
    let handling = false;
    socket.setTimeout(refused ? REFUSED_SESSION_MS : cfg.commandTimeoutMs, () => {
      // While a message is being decided the MTA is silent by design; messageTimeoutMs
      // bounds that wait, not the idle timer.
      if (handling) return;
      options.onEvent?.('milter.session_error', {
        errorCode: 'ERR_MILTER_TIMEOUT',
        detail: 'no command within commandTimeoutMs',
        sessionId,
      });
      socket.destroy();
    });
    const decoder = new MilterFrameDecoder({ maxFrameBytes: cfg.maxFrameBytes });
    let ended = false;
    let finished = false;
    let resolveClosed: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => {
      resolveClosed = resolve;
    });
    const finish = (): void => {
      if (finished) return;
      finished = true;
      void session.connectionClosed().finally(() => {
        socket.destroy();
        resolveClosed();
      });
    };
    // Frames are handled in order straight from the 'data' event. Most frames finish
    // synchronously (no promise, no microtask); when one returns a promise, reading pauses
    // until it settles (that is the back-pressure), and the frames already buffered wait.
    const pump = (): void => {
      while (!session.isClosed()) {
        const result = decoder.next();
        if (result.kind === 'incomplete') break;
        handling = true;
        const step =
          result.kind === 'frame'
            ? session.handleFrame(result.frame)
            : session.handleFrameError(result);
        if (step !== undefined) {
          socket.pause();
          void step.then(() => {
            handling = false;
            if (!socket.destroyed) socket.resume();
            pump();
          });
          return;
        }
        handling = false;
        if (result.kind !== 'frame') break;
      }
      // A closed session ignores what still comes until the peer closes or we destroy; a peer
      // that half-closed ends the session once its last frame is handled.
      if (ended) finish();
    };
    socket.on('data', (chunk: Buffer) => {
      if (session.isClosed()) return;
      decoder.push(chunk);
      if (!handling) pump();
    });
    socket.once('end', () => {
      ended = true;
      if (!handling) finish();
    });
    // Also on close while a frame is being handled: that aborts a pipeline still running.
    // (Read errors such as ECONNRESET end the session like a close does.)
    socket.once('close', finish);
    return { socket, session, refused, closed };
  };

  const servers: Server[] = [];
  let tcpAddress: AddressInfo | null = null;
  let unixPath: string | null = null;
  try {
    if (options.tcp !== undefined) {
      const server = createServer(onSocket);
      servers.push(server);
      await listen(server, { host: options.tcp.host, port: options.tcp.port });
      tcpAddress = server.address() as AddressInfo;
    }
    if (options.unixSocket !== undefined) {
      const path = options.unixSocket.path;
      await removeStaleSocket(path);
      const server = createServer(onSocket);
      servers.push(server);
      await listen(server, { path });
      unixPath = path;
      await chmod(path, options.unixSocket.mode ?? MILTER_SERVER_DEFAULTS.unixSocketMode);
    }
  } catch (err) {
    // Closing a listening unix server also removes its socket file.
    await Promise.all(servers.map((s) => closeServer(s)));
    throw err instanceof ParapetError ? err : wrapListenError(err);
  }

  let closePromise: Promise<void> | null = null;
  const close = async (closeOptions?: { readonly drainTimeoutMs?: number }): Promise<void> => {
    closing = true;
    const stopped = Promise.all(servers.map((s) => closeServer(s)));
    const all = [...connections];
    for (const c of all) {
      if (!c.session.inMessage) endSocket(c.socket);
      else
        void c.session.whenIdle().then(() => {
          endSocket(c.socket);
        });
    }
    const drainMs = closeOptions?.drainTimeoutMs ?? cfg.drainTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, drainMs);
    });
    await Promise.race([Promise.all(all.map((c) => c.closed)), expired]);
    clearTimeout(timer);
    for (const c of connections) c.socket.destroy();
    await Promise.all([...connections].map((c) => c.closed));
    await stopped;
    if (unixPath !== null) await unlink(unixPath).catch(() => undefined);
  };

  return {
    tcpAddress,
    unixPath,
    get sessionCount() {
      return countSessions(false);
    },
    close(closeOptions) {
      closePromise ??= close(closeOptions);
      return closePromise;
    },
  };
}

/** Copies only the options that are set, so defaults are not overwritten by undefined. */
function definedOnly<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function socketTransport(socket: Socket): MilterTransport {
  return {
    write(data) {
      if (socket.destroyed || !socket.writable) return undefined;
      if (socket.write(data)) return undefined;
      return new Promise((resolve) => {
        const done = (): void => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
    },
    close() {
      endSocket(socket);
    },
  };
}

/** Half-closes after pending writes are flushed, then releases the socket. */
function endSocket(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end(() => socket.destroy());
}

function listen(
  server: Server,
  where: { host: string; port: number } | { path: string },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(wrapListenError(err));
    };
    server.once('error', onError);
    server.listen(where, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => {
      resolve();
    });
  });
}

function wrapListenError(err: unknown): ParapetError {
  const e = toParapetError('ERR_MILTER_PROTOCOL', err);
  return new ParapetError('ERR_MILTER_LISTEN', `milter listener: ${e.message}`, { cause: err });
}

/**
 * Removes a socket file left by a previous run. A path that is not a socket is never removed,
 * and a socket someone still answers on is an error (another instance is running).
 */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) {
    throw new ParapetError('ERR_MILTER_LISTEN', `${path} exists and is not a socket`);
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => {
      resolve(false);
    });
  });
  if (live) throw new ParapetError('ERR_MILTER_LISTEN', `another process listens on ${path}`);
  await unlink(path).catch(() => undefined);
}

/**
 * The IP Blocker's listener (127.0.0.1:10040): Postfix connects once per smtpd process and
 * sends one request per restriction check, so connections are long-lived and requests on
 * one connection are answered in order. A fault in deciding answers DUNNO — the IP Blocker
 * only ever narrows what Postfix accepts; it must never stop mail by failing.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ParapetError } from '../../filter/index.js';
import { PolicyRequestDecoder, formatPolicyAction, type PolicyRequest } from './policy-protocol.js';
import { decideClient, type IpBlockDecision, type IpBlockerContext } from './decide.js';

export interface IpBlockerServerOptions {
  readonly host: string;
  readonly port: number;
  readonly context: IpBlockerContext;
  /** Connections idle longer than this are closed (Postfix reconnects). Default 300 s. */
  readonly idleTimeoutMs?: number;
  readonly maxConnections?: number;
  /** Called for each decision that refused a client, and for protocol errors. */
  readonly onDecision?: (decision: IpBlockDecision, request: PolicyRequest) => void;
  readonly onError?: (message: string) => void;
}

export interface IpBlockerServer {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

export async function startIpBlockerServer(
  options: IpBlockerServerOptions,
): Promise<IpBlockerServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveConnection(socket, options);
  });
  server.maxConnections = options.maxConnections ?? 500;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      reject(
        new ParapetError(
          'ERR_SERVICE_LISTEN_FAILED',
          `IP Blocker cannot listen on ${options.host}:${String(options.port)}`,
          { cause: err },
        ),
      );
    });
    server.listen(options.port, options.host, () => {
      resolve();
    });
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : options.port;
  return {
    address: { host: options.host, port },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

function serveConnection(socket: Socket, options: IpBlockerServerOptions): void {
  const decoder = new PolicyRequestDecoder();
  // Requests are answered strictly in order even when a DNSBL lookup makes one slow.
  let chain: Promise<void> = Promise.resolve();
  socket.setTimeout(options.idleTimeoutMs ?? 300_000, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    for (const event of decoder.push(chunk)) {
      if (event.kind === 'error') {
        options.onError?.(event.message);
        chain = chain.then(() => {
          socket.end('action=DUNNO\n\n');
        });
        return;
      }
      const request = event.attributes;
      chain = chain.then(async () => {
        let decision: IpBlockDecision;
        try {
          decision = await decideClient(request, options.context);
        } catch (err) {
          options.onError?.(`decision failed: ${String(err)}`);
          decision = { action: { kind: 'dunno' }, source: null, client: null };
        }
        if (decision.source !== null && decision.source !== 'allow') {
          options.onDecision?.(decision, request);
        }
        if (!socket.destroyed) socket.write(formatPolicyAction(decision.action));
      });
    }
  });
}

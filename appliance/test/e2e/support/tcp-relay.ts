/**
 * The barest possible Node "pass-through relay" for the MTA benchmark: a TCP proxy on the
 * content-filter port that pipes every connection to the re-injection port. Postfix's
 * content_filter then talks straight to its own 10026 smtpd through Node, so the rate it
 * reaches is the ceiling of any after-queue filter written in Node on this machine (Postfix
 * syncs each message twice).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpRelay {
  readonly port: number;
  close(): Promise<void>;
}

export async function startTcpRelay(listenPort: number, targetPort: number): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => {
      resolve();
    });
  });
  return {
    port: listenPort,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/**
 * Free TCP ports on 127.0.0.1 for end-to-end tests.
 *
 * A port is found by binding port 0 and closing the socket again, so another process may take
 * it before the caller binds it: callers that start a server on the port retry with a new one
 * when the bind fails (see `startSmtpSink`).
 */
import { createServer, connect } from 'node:net';

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export async function findFreePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('findFreePort: listener has no TCP address'));
        return;
      }
      const { port } = address;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** Returns `count` distinct ports on 127.0.0.1 that were free a moment ago. */
export async function findFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let attempt = 0; ports.size < count && attempt < count * 10; attempt++) {
    ports.add(await findFreePort());
  }
  if (ports.size < count) throw new Error(`findFreePorts: found only ${ports.size} of ${count}`);
  return [...ports];
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export async function isPortAccepting(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => {
      done(false);
    });
    socket.once('connect', () => {
      done(true);
    });
    socket.once('error', () => {
      done(false);
    });
  });
}

/**
 * Waits until 127.0.0.1:port accepts connections; rejects after `timeoutMs`.
 * Polls every 50 ms, so the number of attempts is bounded by timeoutMs / 50.
 */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await isPortAccepting(port, 500)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing accepted connections on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

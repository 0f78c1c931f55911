/**
 * `parapet serve manager` and `parapet serve rpcui`: one HTTPS listener each (18080, 28443 by
 * default; node.json "web"), with the node's certificate, until SIGTERM/SIGINT.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type DestinationStream, type Logger } from 'pino';
import {
  loadNodeConfig,
  signalReady,
  waitForStopSignal,
  type NodeConfig,
  type Db,
} from '../../appliance/index.js';
import { AccountStore } from './auth/account-store.js';
import { LoginThrottle } from './auth/login-throttle.js';
import type { Surface } from './auth/roles.js';
import { SessionStore } from './auth/sessions.js';
import { AuditLog } from './audit-log.js';
import { buildWebApp } from './app.js';
import { createApiContext, type ApiContext } from './context.js';
import { ensureCertificate, watchCertificate, type TlsPair } from './tls-certificate.js';
import type { Server as TlsServer } from 'node:tls';

export const accountsPath = (home: string): string => join(home, 'config', 'users.json');
export const auditPath = (home: string): string => join(home, 'log', 'audit.jsonl');

/** Secrets never reach a log line: cookies, tokens and passwords are redacted by path. */
export function createWebLogger(surface: Surface, destination?: DestinationStream): Logger {
  const options = {
    name: `parapet-${surface}`,
    level: process.env['PARAPET_LOG_LEVEL'] ?? 'info',
    redact: [
      'req.headers.cookie',
      'req.headers.authorization',
      'req.headers["x-csrf-token"]',
      'res.headers["set-cookie"]',
      'password',
      '*.password',
      'secret',
      '*.secret',
      'token',
      '*.token',
    ],
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

export interface RunningWebService {
  readonly app: FastifyInstance;
  readonly context: ApiContext;
  /** e.g. https://127.0.0.1:18080 */
  readonly url: string;
  close(): Promise<void>;
}

export async function startWebService(
  surface: Surface,
  config: NodeConfig,
  options: {
    logger?: Logger;
    tls?: TlsPair | null;
    database?: () => Promise<Db>;
    /** How often the node's certificate files are checked for a new pair. Default 30 s. */
    certificatePollMs?: number;
  } = {},
): Promise<RunningWebService> {
  const logger = options.logger ?? createWebLogger(surface);
  const context = createApiContext({
    surface,
    config,
    accounts: new AccountStore(accountsPath(config.home)),
    sessions: new SessionStore({
      idleMs: config.web.sessionIdleMinutes * 60_000,
      maxMs: config.web.sessionMaxHours * 3_600_000,
      maxSessions: 10_000,
    }),
    throttle: new LoginThrottle(),
    audit: new AuditLog(auditPath(config.home)),
    logger,
    ...(options.database === undefined ? {} : { database: options.database }),
  });
  const tls = options.tls === undefined ? await ensureCertificate(config.home) : options.tls;
  const app = await buildWebApp({ context, tls });
  const listen = config.web[surface];
  await app.listen({ host: listen.host, port: listen.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : listen.port;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  // The node's own pair (not one a test passed in): follow it on disk, so a certificate
  // uploaded through the Manager reaches this listener too without a restart.
  const watcher =
    options.tls === undefined && tls !== null
      ? watchCertificate(
          config.home,
          (pair) => {
            (app.server as unknown as TlsServer).setSecureContext({
              key: pair.key,
              cert: pair.cert,
              minVersion: 'TLSv1.2',
            });
            logger.info({ surface }, 'TLS certificate reloaded');
          },
          {
            ...(options.certificatePollMs === undefined
              ? {}
              : { intervalMs: options.certificatePollMs }),
            onError: (err) => {
              logger.warn({ err }, 'TLS certificate on disk not usable; keeping the current one');
            },
          },
        )
      : null;
  return {
    app,
    context,
    url: `${tls === null ? 'http' : 'https'}://${host}:${port}`,
    close: async () => {
      watcher?.stop();
      await app.close();
      await context.close();
    },
  };
}

export async function runWebServiceUntilSignal(surface: Surface): Promise<void> {
  const config = await loadNodeConfig();
  const service = await startWebService(surface, config);
  service.context.logger.info({ url: service.url }, `${surface} listening`);
  signalReady();
  const signal = await waitForStopSignal();
  service.context.logger.info({ signal }, `${surface} stopping`);
  await service.close();
}

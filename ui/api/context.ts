/**
 * What every API module gets: the node's configuration, the account, session and audit
 * stores, and lazy access to the node's database (opened on first use; the web interfaces
 * keep working for what does not need it while PostgreSQL is down).
 */
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { openDatabase, type Db, type NodeConfig } from '../../appliance/index.js';
import { ParapetError } from '../../filter/index.js';
import type { AccountStore } from './auth/account-store.js';
import type { LoginThrottle } from './auth/login-throttle.js';
import type { Surface } from './auth/roles.js';
import type { SessionStore } from './auth/sessions.js';
import type { AuditLog } from './audit-log.js';

export interface ApiContext {
  readonly surface: Surface;
  readonly config: NodeConfig;
  readonly accounts: AccountStore;
  readonly sessions: SessionStore;
  readonly throttle: LoginThrottle;
  readonly audit: AuditLog;
  readonly logger: Logger;
  /** The node's database; throws ERR_UI_UNAVAILABLE while it cannot be reached. */
  database(): Promise<Db>;
  /** Records a change made through this request (actor, address and surface filled in). */
  audited(
    request: FastifyRequest,
    action: string,
    object: string | null,
    details?: unknown,
    outcome?: 'ok' | 'denied' | 'failed',
  ): Promise<void>;
  close(): Promise<void>;
}

export function createApiContext(fields: {
  surface: Surface;
  config: NodeConfig;
  accounts: AccountStore;
  sessions: SessionStore;
  throttle: LoginThrottle;
  audit: AuditLog;
  logger: Logger;
  /** Tests pass their own database; default: the node's (external URL or embedded, not started). */
  database?: () => Promise<Db>;
}): ApiContext {
  let db: Promise<Db> | null = null;
  const open =
    fields.database ??
    (async () =>
      (
        await openDatabase(fields.config.home, fields.config.database, {
          applicationName: `parapet-${fields.surface}`,
          start: false,
        })
      ).db);
  return {
    ...fields,
    database: async () => {
      db ??= open();
      try {
        return await db;
      } catch (err) {
        db = null; // try again on the next request
        throw new ParapetError('ERR_UI_UNAVAILABLE', 'the database is not reachable right now', {
          cause: err,
        });
      }
    },
    audited: (request, action, object, details, outcome = 'ok') =>
      fields.audit.record({
        actor: request.principal?.username ?? 'anonymous',
        surface: fields.surface,
        ip: request.ip,
        action,
        object,
        outcome,
        details,
      }),
    close: async () => {
      if (db !== null && fields.database === undefined) {
        const opened = await db.catch(() => null);
        await opened?.close();
      }
    },
  };
}

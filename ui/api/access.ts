/**
 * Who may call a route, declared on the route itself (`config: { access }`) so that the
 * table-driven test can read every route's rule back. A route without a declaration is
 * administrators-only: forgetting to declare fails closed.
 */
import type { Role } from './auth/roles.js';
import type { Session } from './auth/sessions.js';
import type { TokenScope } from './auth/account-store.js';

export type Access =
  /** Sign-in itself, the OpenAPI-free static pages: no principal needed. */
  | 'public'
  | {
      readonly roles: readonly Role[];
      /** Also allowed while the session still has to enrol a TOTP second factor. */
      readonly duringTotpEnrolment?: boolean;
    };

export interface Principal {
  readonly username: string;
  readonly role: Role;
  readonly via: 'session' | 'token';
  readonly session: Session | null;
  /** Token scope; a session may do what its role may. */
  readonly scope: TokenScope | 'session';
  /** Mail addresses the principal's own quarantine covers (end users). */
  readonly addresses: readonly string[];
}

export const ADMIN_ONLY: Access = { roles: ['admin'] };
export const ADMIN_READ: Access = { roles: ['admin', 'viewer'] };

declare module 'fastify' {
  /** OpenAPI fields on route schemas (openapi.ts reads them). */
  interface FastifySchema {
    summary?: string;
    tags?: readonly string[];
  }
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export const isWriteMethod = (method: string): boolean =>
  !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase());

/**
 * The one access check every request passes (onRequest hook): find the principal (session
 * cookie or `Authorization: Bearer ppt_…` token), then apply the route's Access rule —
 * 401 without a principal, 403 for the wrong role, for a read-only token that writes, or for
 * a cookie-authenticated state change without the session's CSRF token.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ParapetError } from '../../filter/index.js';
import { ADMIN_ONLY, isWriteMethod, type Access, type Principal } from './access.js';
import type { ApiContext } from './context.js';

export const sessionCookieName = (surface: string): string =>
  surface === 'manager' ? 'parapet_mgr' : 'parapet_ui';

const sameSecret = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

async function findPrincipal(ctx: ApiContext, request: FastifyRequest): Promise<Principal | null> {
  const auth = request.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) {
    const found = await ctx.accounts.resolveToken(auth.slice(7).trim());
    if (found === undefined) return null;
    return {
      username: found.account.username,
      role: found.account.role,
      via: 'token',
      session: null,
      scope: found.token.scope,
      addresses: found.account.addresses,
    };
  }
  const session = ctx.sessions.get(request.cookies[sessionCookieName(ctx.surface)]);
  if (session === undefined) return null;
  const account = await ctx.accounts.get(session.username);
  // An account removed, disabled or demoted since sign-in loses its sessions at once.
  if (account === undefined || account.disabled || account.role !== session.role) {
    ctx.sessions.destroy(session.id);
    return null;
  }
  return {
    username: session.username,
    role: session.role,
    via: 'session',
    session,
    scope: 'session',
    addresses: session.addresses ?? account.addresses,
  };
}

export function accessGuard(ctx: ApiContext) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    request.principal = null;
    const isApi = request.url.startsWith('/api/');
    const declared = request.routeOptions.config.access;
    // Static pages are public; an undeclared API route (or an unknown API path) is admin-only.
    const access: Access = declared ?? (isApi ? ADMIN_ONLY : 'public');
    request.principal = await findPrincipal(ctx, request);
    if (access === 'public') return;
    const p = request.principal;
    if (p === null) throw new ParapetError('ERR_UI_UNAUTHENTICATED', 'sign in first');
    if (p.session?.mustEnrolTotp === true && access.duringTotpEnrolment !== true) {
      throw new ParapetError('ERR_UI_TOTP_REQUIRED', 'enrol a TOTP second factor first');
    }
    if (!access.roles.includes(p.role)) {
      throw new ParapetError('ERR_UI_FORBIDDEN', 'your role may not do this');
    }
    if (isWriteMethod(request.method)) {
      if (p.scope === 'read') throw new ParapetError('ERR_UI_FORBIDDEN', 'read-only token');
      if (p.session !== null) {
        const sent = request.headers['x-csrf-token'];
        if (typeof sent !== 'string' || !sameSecret(sent, p.session.csrf)) {
          throw new ParapetError('ERR_UI_CSRF', 'missing or wrong X-CSRF-Token');
        }
      }
    }
  };
}

/** The principal of a guarded route (never null there). */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new ParapetError('ERR_UI_UNAUTHENTICATED', 'sign in first');
  return request.principal;
}

/**
 * The principal of a request that bypasses the fastify hooks (a WebSocket upgrade): the same
 * cookie or token lookup as the guard, and null for a session that must still enrol TOTP.
 * The caller checks the role and, for cookies, the Origin (a WebSocket has no CSRF header).
 */
export async function principalOfUpgrade(
  ctx: ApiContext,
  headers: FastifyRequest['headers'],
  cookies: Record<string, string | undefined>,
): Promise<Principal | null> {
  const p = await findPrincipal(ctx, { headers, cookies } as FastifyRequest);
  return p?.session?.mustEnrolTotp === true ? null : p;
}

/**
 * /api/v1/session: sign in (password, then TOTP when the account has it), who am I (with
 * the CSRF token the pages send back), sign out, TOTP enrolment, and changing one's own
 * password. Sign-in failures all look the same and take the same time.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ParapetError } from '../../../filter/index.js';
import type { ApiModule } from '../modules.js';
import type { ApiContext } from '../context.js';
import { sessionCookieName, principalOf } from '../guard.js';
import { decoyHash, hashPassword, passwordProblem, verifyPassword } from '../auth/passwords.js';
import { SURFACE_ROLES, ROLES, type Role } from '../auth/roles.js';
import { newTotpSecret, totpUri, verifyTotp } from '../auth/totp.js';
import type { Session } from '../auth/sessions.js';

const ANY_SIGNED_IN = { roles: ROLES };

const sessionView = {
  type: 'object',
  properties: {
    username: { type: 'string' },
    role: { type: 'string' },
    csrf: { type: 'string' },
    addresses: { type: 'array', items: { type: 'string' } },
    mustEnrolTotp: { type: 'boolean' },
    totpEnabled: { type: 'boolean' },
  },
} as const;

function setCookie(ctx: ApiContext, reply: FastifyReply, session: Session): void {
  reply.setCookie(sessionCookieName(ctx.surface), session.id, {
    path: '/',
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
    maxAge: Math.floor((ctx.config.web.sessionMaxHours * 3600_000) / 1000),
  });
}

async function view(ctx: ApiContext, request: FastifyRequest): Promise<Record<string, unknown>> {
  const p = principalOf(request);
  const account = await ctx.accounts.get(p.username);
  return {
    username: p.username,
    role: p.role,
    csrf: p.session?.csrf ?? '',
    addresses: p.addresses,
    mustEnrolTotp: p.session?.mustEnrolTotp ?? false,
    totpEnabled: account?.totp?.enabled === true,
  };
}

export const sessionModule: ApiModule = {
  name: 'session',
  surfaces: ['manager', 'rpcui'],
  register(app, ctx) {
    app.post<{ Body: { username: string; password: string; totp?: string } }>(
      '/api/v1/session',
      {
        config: { access: 'public' },
        schema: {
          summary: 'sign in',
          tags: ['session'],
          body: {
            type: 'object',
            required: ['username', 'password'],
            additionalProperties: false,
            properties: {
              username: { type: 'string', minLength: 1, maxLength: 128 },
              password: { type: 'string', minLength: 1, maxLength: 1024 },
              totp: { type: 'string', maxLength: 10 },
            },
          },
          response: { 200: sessionView },
        },
      },
      async (request, reply) => {
        const username = request.body.username.trim().toLowerCase();
        const wait = ctx.throttle.retryAfter(request.ip, username);
        if (wait > 0) {
          reply.header('retry-after', String(wait));
          await ctx.audited(request, 'session.sign-in', username, { throttled: true }, 'denied');
          throw new ParapetError('ERR_UI_RATE_LIMITED', `too many attempts: retry in ${wait} s`);
        }
        const account = await ctx.accounts.get(username);
        const passwordOk = await verifyPassword(
          request.body.password,
          account?.passwordHash ?? (await decoyHash()),
        );
        const allowedHere = (SURFACE_ROLES[ctx.surface] as readonly Role[]).includes(
          account?.role ?? 'user',
        );
        const fail = async (why: string): Promise<never> => {
          ctx.throttle.recordFailure(request.ip, username);
          await ctx.audited(request, 'session.sign-in', username, { why }, 'denied');
          throw new ParapetError('ERR_UI_SIGN_IN_FAILED', 'wrong user name, password or code');
        };
        if (account === undefined || !passwordOk || account.disabled || !allowedHere) {
          return fail(account === undefined ? 'unknown user' : 'password, disabled or surface');
        }
        let secondFactor = false;
        if (account.totp?.enabled === true) {
          if (request.body.totp === undefined) {
            // Tell the page to ask for the code; counts as an attempt so it cannot probe passwords.
            ctx.throttle.recordFailure(request.ip, username);
            return reply.code(401).send({
              error: 'ERR_UI_SIGN_IN_FAILED',
              message: 'TOTP code required',
              totpRequired: true,
            });
          }
          if (!verifyTotp(account.totp.secret, request.body.totp)) return fail('totp');
          secondFactor = true;
        }
        ctx.throttle.recordSuccess(username);
        const session = ctx.sessions.create({
          username: account.username,
          role: account.role,
          secondFactor,
          mustEnrolTotp: !secondFactor && ctx.config.web.requireTotpFor.includes(account.role),
          addresses: null,
        });
        setCookie(ctx, reply, session);
        request.principal = {
          username: account.username,
          role: account.role,
          via: 'session',
          session,
          scope: 'session',
          addresses: account.addresses,
        };
        await ctx.audited(request, 'session.sign-in', account.username, {});
        return view(ctx, request);
      },
    );

    app.get(
      '/api/v1/session',
      {
        config: { access: { ...ANY_SIGNED_IN, duringTotpEnrolment: true } },
        schema: {
          summary: 'the signed-in account and its CSRF token',
          tags: ['session'],
          response: { 200: sessionView },
        },
      },
      async (request) => view(ctx, request),
    );

    app.delete(
      '/api/v1/session',
      {
        config: { access: { ...ANY_SIGNED_IN, duringTotpEnrolment: true } },
        schema: { summary: 'sign out', tags: ['session'] },
      },
      async (request, reply) => {
        const p = principalOf(request);
        if (p.session !== null) ctx.sessions.destroy(p.session.id);
        reply.clearCookie(sessionCookieName(ctx.surface), { path: '/' });
        await ctx.audited(request, 'session.sign-out', p.username, {});
        return { ok: true };
      },
    );

    app.post(
      '/api/v1/session/totp',
      {
        config: { access: { ...ANY_SIGNED_IN, duringTotpEnrolment: true } },
        schema: {
          summary: 'start TOTP enrolment: a new secret and its otpauth URI',
          tags: ['session'],
        },
      },
      async (request) => {
        const p = principalOf(request);
        const secret = newTotpSecret();
        await ctx.accounts.update(p.username, (a) => {
          if (a.totp?.enabled === true) {
            throw new ParapetError(
              'ERR_UI_CONFLICT',
              'TOTP is enabled already; an administrator resets it',
            );
          }
          return { ...a, totp: { secret, enabled: false } };
        });
        await ctx.audited(request, 'session.totp-enrol', p.username, {});
        return { secret, uri: totpUri(secret, p.username) };
      },
    );

    app.put<{ Body: { code: string } }>(
      '/api/v1/session/totp',
      {
        config: { access: { ...ANY_SIGNED_IN, duringTotpEnrolment: true } },
        schema: {
          summary: 'confirm TOTP enrolment with a first code',
          tags: ['session'],
          body: {
            type: 'object',
            required: ['code'],
            additionalProperties: false,
            properties: { code: { type: 'string', pattern: '^[0-9]{6}$' } },
          },
        },
      },
      async (request, reply) => {
        const p = principalOf(request);
        const account = await ctx.accounts.get(p.username);
        const pending = account?.totp;
        if (pending == null || pending.enabled) {
          throw new ParapetError('ERR_UI_CONFLICT', 'no TOTP enrolment is pending');
        }
        if (!verifyTotp(pending.secret, request.body.code)) {
          await ctx.audited(request, 'session.totp-confirm', p.username, {}, 'denied');
          throw new ParapetError('ERR_UI_BAD_REQUEST', 'that code is not valid');
        }
        await ctx.accounts.update(p.username, (a) => ({
          ...a,
          totp: { secret: pending.secret, enabled: true },
        }));
        // A fresh session with the second factor, the old one ends.
        if (p.session !== null) ctx.sessions.destroy(p.session.id);
        const session = ctx.sessions.create({
          username: p.username,
          role: p.role,
          secondFactor: true,
          mustEnrolTotp: false,
          addresses: p.session?.addresses ?? null,
        });
        setCookie(ctx, reply, session);
        request.principal = { ...p, session };
        await ctx.audited(request, 'session.totp-confirm', p.username, {});
        return view(ctx, request);
      },
    );

    app.put<{ Body: { current: string; password: string } }>(
      '/api/v1/session/password',
      {
        config: { access: ANY_SIGNED_IN },
        schema: {
          summary: 'change one’s own password (ends the account’s other sessions)',
          tags: ['session'],
          body: {
            type: 'object',
            required: ['current', 'password'],
            additionalProperties: false,
            properties: {
              current: { type: 'string', maxLength: 1024 },
              password: { type: 'string', maxLength: 1024 },
            },
          },
        },
      },
      async (request) => {
        const p = principalOf(request);
        const account = await ctx.accounts.get(p.username);
        if (
          account === undefined ||
          !(await verifyPassword(request.body.current, account.passwordHash))
        ) {
          await ctx.audited(request, 'session.password', p.username, {}, 'denied');
          throw new ParapetError('ERR_UI_FORBIDDEN', 'the current password is wrong');
        }
        const problem = passwordProblem(request.body.password);
        if (problem !== null) throw new ParapetError('ERR_UI_ACCOUNT_INVALID', problem);
        const hash = await hashPassword(request.body.password);
        await ctx.accounts.update(p.username, (a) => ({
          ...a,
          passwordHash: hash,
          passwordChangedAt: new Date().toISOString(),
        }));
        ctx.sessions.destroyFor(p.username, p.session?.id);
        await ctx.audited(request, 'session.password', p.username, {});
        return { ok: true };
      },
    );
  },
};

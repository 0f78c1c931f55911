/**
 * /api/v1/users (accounts and roles), /api/v1/tokens (API tokens for scripts) and
 * /api/v1/audit (the audit log), on the Manager. Administrators change; viewers read.
 */
import { ParapetError } from '../../../filter/index.js';
import { ADMIN_ONLY, ADMIN_READ } from '../access.js';
import type { ApiModule } from '../modules.js';
import { principalOf } from '../guard.js';
import { hashPassword, passwordProblem } from '../auth/passwords.js';
import { ROLES, isRole, type Role } from '../auth/roles.js';
import { ACCOUNT_VIEW_SCHEMA, accountView, tokenView } from '../auth/account-view.js';
import { normalizeAddress, type Account } from '../auth/account-store.js';

const usernameParam = {
  type: 'object',
  required: ['username'],
  properties: { username: { type: 'string', maxLength: 128 } },
} as const;

export const usersModule: ApiModule = {
  name: 'users',
  surfaces: ['manager'],
  register(app, ctx) {
    const adminCount = async (): Promise<number> =>
      (await ctx.accounts.list()).filter((a) => a.role === 'admin' && !a.disabled).length;

    app.get(
      '/api/v1/users',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary: 'accounts and their roles',
          tags: ['users'],
          response: {
            200: {
              type: 'object',
              properties: { users: { type: 'array', items: ACCOUNT_VIEW_SCHEMA } },
            },
          },
        },
      },
      async () => ({ users: (await ctx.accounts.list()).map(accountView) }),
    );

    app.post<{ Body: { username: string; role: Role; password: string; addresses?: string[] } }>(
      '/api/v1/users',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'add an account',
          tags: ['users'],
          body: {
            type: 'object',
            required: ['username', 'role', 'password'],
            additionalProperties: false,
            properties: {
              username: { type: 'string', maxLength: 128 },
              role: { type: 'string', enum: [...ROLES] },
              password: { type: 'string', maxLength: 1024 },
              addresses: {
                type: 'array',
                maxItems: 1000,
                items: { type: 'string', maxLength: 320 },
              },
            },
          },
          response: { 201: ACCOUNT_VIEW_SCHEMA },
        },
      },
      async (request, reply) => {
        const problem = passwordProblem(request.body.password);
        if (problem !== null) throw new ParapetError('ERR_UI_ACCOUNT_INVALID', problem);
        const created = await ctx.accounts.add({
          username: request.body.username,
          role: request.body.role,
          passwordHash: await hashPassword(request.body.password),
          addresses: defaultAddresses(request.body.username, request.body.addresses),
          totp: null,
          disabled: false,
        });
        await ctx.audited(request, 'user.add', created.username, {
          role: created.role,
          addresses: created.addresses,
        });
        return reply.code(201).send(accountView(created));
      },
    );

    app.patch<{
      Params: { username: string };
      Body: {
        role?: Role;
        addresses?: string[];
        disabled?: boolean;
        password?: string;
        resetTotp?: boolean;
      };
    }>(
      '/api/v1/users/:username',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'change an account: role, addresses, disabled, password, reset TOTP',
          tags: ['users'],
          params: usernameParam,
          body: {
            type: 'object',
            additionalProperties: false,
            properties: {
              role: { type: 'string', enum: [...ROLES] },
              addresses: {
                type: 'array',
                maxItems: 1000,
                items: { type: 'string', maxLength: 320 },
              },
              disabled: { type: 'boolean' },
              password: { type: 'string', maxLength: 1024 },
              resetTotp: { type: 'boolean' },
            },
          },
          response: { 200: ACCOUNT_VIEW_SCHEMA },
        },
      },
      async (request) => {
        const me = principalOf(request);
        const b = request.body;
        const target = await ctx.accounts.get(request.params.username);
        if (target === undefined) throw new ParapetError('ERR_UI_NOT_FOUND', 'no such user');
        const losesAdmin =
          target.role === 'admin' &&
          ((b.role !== undefined && b.role !== 'admin') || b.disabled === true);
        if (losesAdmin && (await adminCount()) <= 1) {
          throw new ParapetError(
            'ERR_UI_CONFLICT',
            'the last administrator cannot be demoted or disabled',
          );
        }
        if (b.password !== undefined) {
          const problem = passwordProblem(b.password);
          if (problem !== null) throw new ParapetError('ERR_UI_ACCOUNT_INVALID', problem);
        }
        const hash = b.password === undefined ? undefined : await hashPassword(b.password);
        const addresses = b.addresses?.map(normalizeAddress);
        const updated = await ctx.accounts.update(target.username, (a): Account => ({
          ...a,
          ...(b.role !== undefined && isRole(b.role) ? { role: b.role } : {}),
          ...(addresses !== undefined ? { addresses } : {}),
          ...(b.disabled !== undefined ? { disabled: b.disabled } : {}),
          ...(hash !== undefined
            ? { passwordHash: hash, passwordChangedAt: new Date().toISOString() }
            : {}),
          ...(b.resetTotp === true ? { totp: null } : {}),
        }));
        if (
          b.password !== undefined ||
          b.disabled === true ||
          b.role !== undefined ||
          b.resetTotp === true
        ) {
          ctx.sessions.destroyFor(
            updated.username,
            me.username === updated.username ? me.session?.id : undefined,
          );
        }
        await ctx.audited(request, 'user.change', updated.username, {
          fields: Object.keys(b),
          role: b.role,
          disabled: b.disabled,
          addresses,
        });
        return accountView(updated);
      },
    );

    app.delete<{ Params: { username: string } }>(
      '/api/v1/users/:username',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'remove an account and its tokens',
          tags: ['users'],
          params: usernameParam,
        },
      },
      async (request) => {
        const me = principalOf(request);
        const target = await ctx.accounts.get(request.params.username);
        if (target === undefined) throw new ParapetError('ERR_UI_NOT_FOUND', 'no such user');
        if (target.username === me.username) {
          throw new ParapetError('ERR_UI_CONFLICT', 'you cannot remove your own account');
        }
        if (target.role === 'admin' && (await adminCount()) <= 1) {
          throw new ParapetError('ERR_UI_CONFLICT', 'the last administrator cannot be removed');
        }
        await ctx.accounts.remove(target.username);
        ctx.sessions.destroyFor(target.username);
        await ctx.audited(request, 'user.remove', target.username, {});
        return { ok: true };
      },
    );

    app.get(
      '/api/v1/tokens',
      {
        config: { access: ADMIN_READ },
        schema: { summary: 'API tokens (administrators see all)', tags: ['tokens'] },
      },
      async (request) => {
        const me = principalOf(request);
        const tokens = await ctx.accounts.listTokens(me.role === 'admin' ? undefined : me.username);
        return { tokens: tokens.map(tokenView) };
      },
    );

    app.post<{ Body: { name: string; scope: 'read' | 'write'; expiresDays?: number } }>(
      '/api/v1/tokens',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'create an API token for the signed-in account (the secret is shown once)',
          tags: ['tokens'],
          body: {
            type: 'object',
            required: ['name', 'scope'],
            additionalProperties: false,
            properties: {
              name: { type: 'string', minLength: 1, maxLength: 100 },
              scope: { type: 'string', enum: ['read', 'write'] },
              expiresDays: { type: 'integer', minimum: 1, maximum: 3650 },
            },
          },
        },
      },
      async (request, reply) => {
        const me = principalOf(request);
        if (me.via === 'token')
          throw new ParapetError('ERR_UI_FORBIDDEN', 'tokens cannot make tokens');
        const days = request.body.expiresDays;
        const { token, secret } = await ctx.accounts.createToken(
          me.username,
          request.body.name,
          request.body.scope,
          days === undefined ? null : new Date(Date.now() + days * 86_400_000),
        );
        await ctx.audited(request, 'token.create', token.id, {
          name: token.name,
          scope: token.scope,
        });
        return reply.code(201).send({ ...tokenView(token), secret });
      },
    );

    app.delete<{ Params: { id: string } }>(
      '/api/v1/tokens/:id',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'revoke an API token',
          tags: ['tokens'],
          params: {
            type: 'object',
            required: ['id'],
            properties: { id: { type: 'string', maxLength: 12 } },
          },
        },
      },
      async (request) => {
        if (!(await ctx.accounts.revokeToken(request.params.id))) {
          throw new ParapetError('ERR_UI_NOT_FOUND', 'no such token');
        }
        await ctx.audited(request, 'token.revoke', request.params.id, {});
        return { ok: true };
      },
    );

    app.get<{ Querystring: { actor?: string; action?: string; since?: string; limit?: number } }>(
      '/api/v1/audit',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary: 'the audit log, newest first',
          tags: ['audit'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              actor: { type: 'string', maxLength: 128 },
              action: { type: 'string', maxLength: 64 },
              since: { type: 'string', format: 'date-time' },
              limit: { type: 'integer', minimum: 1, maximum: 5000 },
            },
          },
        },
      },
      async (request) => {
        const q = request.query;
        return {
          entries: await ctx.audit.query({
            ...(q.actor === undefined ? {} : { actor: q.actor }),
            ...(q.action === undefined ? {} : { action: q.action }),
            ...(q.since === undefined ? {} : { since: new Date(q.since) }),
            ...(q.limit === undefined ? {} : { limit: q.limit }),
          }),
        };
      },
    );
  },
};

/** An end user named by their mail address sees that address's mail unless told otherwise. */
export function defaultAddresses(username: string, given: readonly string[] | undefined): string[] {
  if (given !== undefined) return given.map(normalizeAddress);
  return username.includes('@') ? [normalizeAddress(username)] : [];
}

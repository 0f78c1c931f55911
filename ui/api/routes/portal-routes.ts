/**
 * /api/v1/portal: the End User Web Interface (28443). An end user sees and acts on the
 * quarantined mail addressed to their own addresses only (a session from a digest link: to
 * that one address); every action is checked against the administrator's settings
 * (`config/portal.json`, GET/PUT /api/v1/portal/settings). A message that is not the user's
 * answers 404, as one that does not exist. Also /api/v1/session/link: sign-in with the signed
 * link from the quarantine digest.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { linkKey, verifyDigestLink, MAX_DIGEST_LINK_CHARS } from '../../../appliance/index.js';
import { ParapetError } from '../../../filter/index.js';
import { ADMIN_ONLY, type Access, type Principal } from '../access.js';
import type { ApiContext } from '../context.js';
import { principalOf, sessionCookieName } from '../guard.js';
import type { ApiModule } from '../modules.js';
import { hashPassword } from '../auth/passwords.js';
import {
  DEFAULT_DIGEST_PREFERENCE,
  PORTAL_SETTING_KEYS,
  portalStore,
  type DigestPreference,
  type PortalSettings,
} from '../portal-store.js';
import {
  quarantineRow,
  rowView,
  scopedQuarantine,
  scopedListQueryProperties,
  scopedSearchOf,
  searchScoped,
  SCOPED_PAGE_RESPONSE,
  REQUEST_DECISION_SCHEMA,
  type RequestDecision,
  type ScopedListQuery,
} from '../portal-quarantine.js';
import {
  changeSenderLists,
  senderEntry,
  userSenders,
  type SenderListKind,
} from '../user-sender-lists.js';
import type { QuarantineRow } from '../../../appliance/index.js';

/** Who uses the end-user routes: end users, and an administrator for their own addresses. */
const END_USER: Access = { roles: ['user', 'admin'] };
/** Digest links keep a session this long at most (a digest is re-sent daily or weekly). */
const LINK_SESSION_NOTE = 'the session lasts as the web settings say; the link itself expires';

const idParam = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{8,64}$' } },
} as const;

const settingsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    release: { type: 'string', enum: ['release', 'request', 'none'] },
    ...Object.fromEntries(PORTAL_SETTING_KEYS.map((k) => [k, { type: 'boolean' }])),
  },
} as const;

const addressesOf = (p: Principal): string[] => p.addresses.map((a) => a.toLowerCase());

/** The principal's addresses among the message's recipients (empty: not theirs). */
function mineIn(p: Principal, row: QuarantineRow): string[] {
  const mine = new Set(addressesOf(p));
  return row.to.filter((r) => mine.has(r.toLowerCase()));
}

function forbiddenUnless(allowed: boolean, what: string): void {
  if (!allowed) {
    throw new ParapetError('ERR_UI_FORBIDDEN', `your administrator does not let users ${what}`);
  }
}

export const portalModule: ApiModule = {
  name: 'portal',
  surfaces: ['rpcui'],
  register(app, ctx) {
    const store = portalStore(ctx.config);
    const quarantine = scopedQuarantine(ctx.config);

    /** The row if it is addressed to the principal, else 404 (whether it exists or not). */
    const ownRow = async (
      request: FastifyRequest,
      id: string,
    ): Promise<{ row: QuarantineRow; mine: string[] }> => {
      const p = principalOf(request);
      const row = await quarantineRow(await ctx.database(), id);
      const mine = row === undefined ? [] : mineIn(p, row);
      if (row === undefined || mine.length === 0) {
        throw new ParapetError('ERR_UI_NOT_FOUND', 'no such message in your quarantine');
      }
      return { row, mine };
    };

    app.get(
      '/api/v1/portal/settings',
      {
        config: { access: ADMIN_ONLY },
        schema: { summary: 'what end users may do', tags: ['portal'] },
      },
      async () => store.settings(),
    );

    app.put<{ Body: Partial<PortalSettings> }>(
      '/api/v1/portal/settings',
      {
        config: { access: ADMIN_ONLY },
        schema: { summary: 'set what end users may do', tags: ['portal'], body: settingsSchema },
      },
      async (request) => {
        const next = await store.setSettings(request.body);
        await ctx.audited(request, 'portal.settings', 'portal', request.body);
        return next;
      },
    );

    app.get(
      '/api/v1/portal/me',
      {
        config: { access: END_USER },
        schema: {
          summary: 'the signed-in user’s addresses and what they may do',
          tags: ['portal'],
        },
      },
      async (request) => {
        const p = principalOf(request);
        return { username: p.username, addresses: addressesOf(p), may: await store.settings() };
      },
    );

    app.get<{ Querystring: ScopedListQuery & { address?: string } }>(
      '/api/v1/portal/messages',
      {
        config: { access: END_USER },
        schema: {
          summary: 'the user’s quarantined messages, newest first (keyset pages)',
          tags: ['portal'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              ...scopedListQueryProperties(4000),
              address: { type: 'string', maxLength: 320 },
            },
          },
          response: SCOPED_PAGE_RESPONSE,
        },
      },
      async (request) => {
        const p = principalOf(request);
        const q = request.query;
        let terms = addressesOf(p);
        if (q.address !== undefined) {
          const a = q.address.toLowerCase();
          if (!terms.includes(a)) throw new ParapetError('ERR_UI_FORBIDDEN', 'not your address');
          terms = [a];
        }
        const page = await searchScoped(
          await ctx.database(),
          terms,
          scopedSearchOf(q),
          q.limit ?? 50,
          q.cursor,
        );
        const actions = await quarantine.recipientActions(page.rows.map((r) => r.id));
        const mine = new Set(terms);
        const messages = page.rows
          .map((r) => ({
            row: r,
            acts: (actions.get(r.id) ?? []).filter((a) => mine.has(a.address)),
          }))
          // Held for others but already released or deleted for every one of the user's
          // addresses: no longer in this user's held list.
          .filter(
            ({ row, acts }) =>
              (q.status ?? 'held') !== 'held' ||
              !row.to.filter((t) => mine.has(t)).every((t) => acts.some((a) => a.address === t)),
          )
          .map(({ row, acts }) => rowView(row, acts));
        return { messages, next: page.next };
      },
    );

    app.get<{ Params: { id: string } }>(
      '/api/v1/portal/messages/:id',
      {
        config: { access: END_USER },
        schema: {
          summary: 'one of the user’s messages: its details, headers and the start of its text',
          tags: ['portal'],
          params: idParam,
        },
      },
      async (request) => {
        forbiddenUnless((await store.settings()).view, 'view messages');
        const { row } = await ownRow(request, request.params.id);
        let headers = '';
        let text = '';
        try {
          const raw = (await quarantine.message(row)).subarray(0, 65_536).toString('utf8');
          const cut = raw.search(/\r?\n\r?\n/);
          headers = cut < 0 ? raw : raw.slice(0, cut);
          text = cut < 0 ? '' : raw.slice(cut).trimStart().slice(0, 32_768);
        } catch (err) {
          if (!(err instanceof ParapetError)) throw err;
          text = err.message;
        }
        return { ...rowView(row), headers, text };
      },
    );

    app.post<{ Params: { id: string }; Body: { allowSender?: boolean } }>(
      '/api/v1/portal/messages/:id/approve',
      {
        config: { access: END_USER },
        schema: {
          summary: 'release the message to the user’s own addresses (and allow its sender)',
          tags: ['portal'],
          params: idParam,
          body: {
            type: 'object',
            additionalProperties: false,
            properties: { allowSender: { type: 'boolean' } },
          },
        },
      },
      async (request) => {
        const may = await store.settings();
        const allow = request.body.allowSender === true;
        forbiddenUnless(may.release === 'release', 'release messages');
        if (allow) forbiddenUnless(may.allowSender, 'allow senders');
        const { row, mine } = await ownRow(request, request.params.id);
        if (row.status !== 'held')
          throw new ParapetError('ERR_UI_CONFLICT', `the message is ${row.status}`);
        // Check the sender can be listed before anything is released.
        if (allow && row.from !== null && row.from !== '') senderEntry(row.from);
        const p = principalOf(request);
        const result = await quarantine.release(await ctx.database(), row, mine, p.username);
        if (allow && row.from !== null && row.from !== '') {
          for (const a of mine) await allowSender(ctx, a, row.from);
        }
        await ctx.audited(request, 'portal.approve', row.id, { to: mine, allowSender: allow });
        return { ok: true, releasedTo: mine, queued: result.queued };
      },
    );

    app.post<{ Params: { id: string } }>(
      '/api/v1/portal/messages/:id/request-release',
      {
        config: { access: END_USER },
        schema: {
          summary: 'ask an administrator to release the message (when users may only ask)',
          tags: ['portal'],
          params: idParam,
        },
      },
      async (request) => {
        forbiddenUnless((await store.settings()).release !== 'none', 'request releases');
        const { row, mine } = await ownRow(request, request.params.id);
        if (row.status !== 'held')
          throw new ParapetError('ERR_UI_CONFLICT', `the message is ${row.status}`);
        const p = principalOf(request);
        const made = await store.addRequest({
          id: row.id,
          username: p.username,
          addresses: mine,
          subject: row.subject,
          from: row.from,
        });
        await ctx.audited(request, 'portal.request-release', row.id, { to: mine });
        return { ok: true, requestedAt: made.requestedAt, state: made.state };
      },
    );

    app.delete<{ Params: { id: string }; Querystring: { blockSender?: boolean } }>(
      '/api/v1/portal/messages/:id',
      {
        config: { access: END_USER },
        schema: {
          summary: 'delete the message for the user (and block its sender)',
          tags: ['portal'],
          params: idParam,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { blockSender: { type: 'boolean' } },
          },
        },
      },
      async (request) => {
        const may = await store.settings();
        const block = request.query.blockSender === true;
        forbiddenUnless(may.delete, 'delete messages');
        if (block) forbiddenUnless(may.blockSender, 'block senders');
        const { row, mine } = await ownRow(request, request.params.id);
        if (row.status !== 'held') {
          throw new ParapetError('ERR_UI_CONFLICT', `the message is ${row.status}`);
        }
        if (block && row.from !== null && row.from !== '') senderEntry(row.from);
        const p = principalOf(request);
        await quarantine.delete(await ctx.database(), row, mine, p.username);
        if (block && row.from !== null && row.from !== '') {
          for (const a of mine) await blockSender(ctx, a, row.from);
        }
        await ctx.audited(request, 'portal.delete', row.id, { for: mine, blockSender: block });
        return { ok: true };
      },
    );

    app.post<{ Params: { id: string }; Body: { as: 'spam' | 'ham' } }>(
      '/api/v1/portal/messages/:id/report',
      {
        config: { access: END_USER },
        schema: {
          summary: 'report the message as spam or not spam (trains the node’s Bayes filter)',
          tags: ['portal'],
          params: idParam,
          body: {
            type: 'object',
            required: ['as'],
            additionalProperties: false,
            properties: { as: { type: 'string', enum: ['spam', 'ham'] } },
          },
        },
      },
      async (request) => {
        const may = await store.settings();
        const cls = request.body.as;
        forbiddenUnless(cls === 'spam' ? may.reportSpam : may.reportNotSpam, `report ${cls}`);
        const { row } = await ownRow(request, request.params.id);
        const result = await quarantine.learn(row, cls);
        await ctx.audited(request, 'portal.report', row.id, { as: cls });
        return { ok: true, learned: result.learned };
      },
    );

    app.get(
      '/api/v1/portal/senders',
      {
        config: { access: END_USER },
        schema: {
          summary: 'the user’s approved and blocked senders, per address',
          tags: ['portal'],
        },
      },
      async (request) => {
        const p = principalOf(request);
        const lists = [];
        for (const address of addressesOf(p)) {
          lists.push({
            address,
            allow: await userSenders(ctx.config, 'allow', address),
            block: await userSenders(ctx.config, 'block', address),
          });
        }
        return { lists };
      },
    );

    app.put<{
      Params: { kind: SenderListKind };
      Body: { address?: string; add?: string[]; remove?: string[] };
    }>(
      '/api/v1/portal/senders/:kind',
      {
        config: { access: END_USER },
        schema: {
          summary: 'add senders to or remove them from the user’s approved or blocked list',
          tags: ['portal'],
          params: {
            type: 'object',
            required: ['kind'],
            additionalProperties: false,
            properties: { kind: { type: 'string', enum: ['allow', 'block'] } },
          },
          body: {
            type: 'object',
            additionalProperties: false,
            properties: {
              address: { type: 'string', maxLength: 320 },
              add: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 256 } },
              remove: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 256 } },
            },
          },
        },
      },
      async (request) => {
        forbiddenUnless((await store.settings()).senderLists, 'edit sender lists');
        const p = principalOf(request);
        const address = (request.body.address ?? addressesOf(p)[0] ?? '').toLowerCase();
        if (!addressesOf(p).includes(address)) {
          throw new ParapetError('ERR_UI_FORBIDDEN', 'not your address');
        }
        const entries = await changeSenderLists(
          ctx.config,
          request.params.kind,
          address,
          request.body,
        );
        await ctx.audited(request, `portal.senders-${request.params.kind}`, address, {
          add: request.body.add,
          remove: request.body.remove,
        });
        return { address, kind: request.params.kind, entries };
      },
    );

    app.get(
      '/api/v1/portal/digest',
      {
        config: { access: END_USER },
        schema: { summary: 'the user’s quarantine digest preference', tags: ['portal'] },
      },
      async (request) => {
        const first = addressesOf(principalOf(request))[0];
        return first === undefined
          ? DEFAULT_DIGEST_PREFERENCE
          : await store.digestPreference(first);
      },
    );

    app.put<{ Body: DigestPreference }>(
      '/api/v1/portal/digest',
      {
        config: { access: END_USER },
        schema: {
          summary: 'set the quarantine digest preference (all of the user’s addresses)',
          tags: ['portal'],
          body: {
            type: 'object',
            required: ['enabled', 'frequency'],
            additionalProperties: false,
            properties: {
              enabled: { type: 'boolean' },
              frequency: { type: 'string', enum: ['daily', 'weekly'] },
            },
          },
        },
      },
      async (request) => {
        forbiddenUnless((await store.settings()).digestPreferences, 'change digest preferences');
        const p = principalOf(request);
        const pref = { enabled: request.body.enabled, frequency: request.body.frequency };
        await store.setDigestPreference(addressesOf(p), pref);
        await ctx.audited(request, 'portal.digest', p.username, pref);
        return pref;
      },
    );

    app.get(
      '/api/v1/portal/requests',
      {
        config: { access: ADMIN_ONLY },
        schema: { summary: 'pending release requests of end users (all groups)', tags: ['portal'] },
      },
      async () => ({ requests: (await store.requests()).filter((r) => r.state === 'pending') }),
    );

    app.post<{
      Params: { id: string };
      Body: RequestDecision;
    }>(
      '/api/v1/portal/requests/:id',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'approve (release to the requester’s addresses) or refuse a release request',
          tags: ['portal'],
          params: idParam,
          body: REQUEST_DECISION_SCHEMA,
        },
      },
      async (request) => {
        const p = principalOf(request);
        const req = (await store.requests()).find(
          (r) =>
            r.id === request.params.id &&
            r.username === request.body.username &&
            r.state === 'pending',
        );
        if (req === undefined)
          throw new ParapetError('ERR_UI_NOT_FOUND', 'no such pending request');
        const approve = request.body.decision === 'approve';
        if (approve) {
          const db = await ctx.database();
          const row = await quarantineRow(db, req.id);
          if (row?.status !== 'held') {
            throw new ParapetError('ERR_UI_CONFLICT', 'the message is no longer held');
          }
          await quarantine.release(db, row, req.addresses, p.username);
        }
        await store.decide(req.id, approve ? 'approved' : 'refused', p.username, req.username);
        await ctx.audited(request, `portal.request-${request.body.decision}`, req.id, {
          user: req.username,
          to: req.addresses,
        });
        return { ok: true };
      },
    );

    const linkSignIn = async (request: FastifyRequest, reply: FastifyReply, token: string) => {
      const check = verifyDigestLink(await linkKey(ctx.config.paths.config), token);
      if (!check.ok) {
        await ctx.audited(request, 'session.link', null, { why: check.reason }, 'denied');
        throw new ParapetError('ERR_UI_UNAUTHENTICATED', 'this link is not valid or has expired');
      }
      const account = await linkAccount(ctx, check.address);
      if (account === null) {
        await ctx.audited(request, 'session.link', check.address, { why: 'account' }, 'denied');
        throw new ParapetError('ERR_UI_UNAUTHENTICATED', 'this link is not valid or has expired');
      }
      const session = ctx.sessions.create({
        username: account,
        role: 'user',
        secondFactor: false,
        mustEnrolTotp: false,
        addresses: [check.address],
      });
      reply.setCookie(sessionCookieName(ctx.surface), session.id, {
        path: '/',
        httpOnly: true,
        secure: true,
        sameSite: 'strict',
        maxAge: Math.floor(ctx.config.web.sessionMaxHours * 3600),
      });
      request.principal = {
        username: account,
        role: 'user',
        via: 'session',
        session,
        scope: 'session',
        addresses: [check.address],
      };
      await ctx.audited(request, 'session.link', check.address, { account });
      return session;
    };

    const tokenQuery = {
      type: 'object',
      required: ['token'],
      // The one route that ignores parameters it does not know: the link travels in mail, and
      // link rewriters and trackers append their own (utm_source=…); it selects nothing.
      additionalProperties: true,
      properties: {
        token: { type: 'string', minLength: 1, maxLength: MAX_DIGEST_LINK_CHARS },
        // The digest's per-message links open on that message.
        message: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
      },
    } as const;

    app.get<{ Querystring: { token: string; message?: string } }>(
      '/api/v1/session/link',
      {
        config: { access: 'public' },
        schema: {
          summary: 'sign in with the link from the quarantine digest, then open the quarantine',
          tags: ['session'],
          querystring: tokenQuery,
        },
      },
      async (request, reply) => {
        await linkSignIn(request, reply, request.query.token);
        const message = request.query.message;
        const target =
          message === undefined
            ? '/#/quarantine'
            : `/#/quarantine?message=${encodeURIComponent(message)}`;
        return reply.code(303).header('location', target).send();
      },
    );

    app.post<{ Querystring: { token: string; message?: string } }>(
      '/api/v1/session/link',
      {
        config: { access: 'public' },
        schema: {
          summary: `sign in with a digest link token (${LINK_SESSION_NOTE})`,
          tags: ['session'],
          querystring: tokenQuery,
        },
      },
      async (request, reply) => {
        const session = await linkSignIn(request, reply, request.query.token);
        return {
          username: session.username,
          role: session.role,
          csrf: session.csrf,
          addresses: session.addresses,
          mustEnrolTotp: false,
          totpEnabled: false,
        };
      },
    );
  },
};

/**
 * The end-user account a digest link signs in to: the enabled `user` account named by the
 * address or listing it; made (with an unusable random password) when the address has none.
 * null when the address belongs to a disabled account or to one of another role.
 */
async function linkAccount(ctx: ApiContext, address: string): Promise<string | null> {
  const accounts = await ctx.accounts.list();
  const named = accounts.find((a) => a.username === address);
  const listing = accounts.filter((a) => a.role === 'user' && a.addresses.includes(address));
  const found = named ?? listing[0];
  if (found !== undefined) {
    return found.role === 'user' && !found.disabled && found.addresses.includes(address)
      ? found.username
      : null;
  }
  const made = await ctx.accounts.add({
    username: address,
    role: 'user',
    passwordHash: await hashPassword(randomBytes(32).toString('base64url')),
    addresses: [address],
    totp: null,
    disabled: false,
  });
  return made.username;
}

const allowSender = (ctx: ApiContext, address: string, sender: string) =>
  changeSenderLists(ctx.config, 'allow', address, { add: [sender] });
const blockSender = (ctx: ApiContext, address: string, sender: string) =>
  changeSenderLists(ctx.config, 'block', address, { add: [sender] });

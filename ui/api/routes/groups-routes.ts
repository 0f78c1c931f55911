/**
 * /api/v1/groups: the Groups Web Interface (28443). The global administrator makes groups
 * (domains and/or addresses) and delegates them to group administrators with permissions
 * (quarantine, reports, lists, policy settings); a group administrator sees and changes only
 * the data of the groups that name them. Every group route checks the group first: another
 * group's name answers 403, and a message or address outside the group answers 403 too,
 * never data.
 */
import type { FastifyRequest } from 'fastify';
import { ParapetError } from '../../../filter/index.js';
import { ADMIN_ONLY, type Access } from '../access.js';
import { principalOf } from '../guard.js';
import type { ApiModule } from '../modules.js';
import {
  GROUP_PERMISSIONS,
  groupCovers,
  groupTerms,
  groupsStore,
  type Group,
  type GroupPermission,
} from '../groups-store.js';
import { portalStore } from '../portal-store.js';
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
import { changeSenderLists, userSenders, type SenderListKind } from '../user-sender-lists.js';
import type { QuarantineRow } from '../../../appliance/index.js';

const GROUP_ACCESS: Access = { roles: ['admin', 'groupadmin'] };

const nameParam = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' } },
} as const;

const messageParams = {
  type: 'object',
  required: ['name', 'id'],
  additionalProperties: false,
  properties: {
    name: nameParam.properties.name,
    id: { type: 'string', pattern: '^[A-Za-z0-9_-]{8,64}$' },
  },
} as const;

const groupBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    domains: { type: 'array', maxItems: 1000, items: { type: 'string', maxLength: 253 } },
    addresses: { type: 'array', maxItems: 10000, items: { type: 'string', maxLength: 320 } },
    admins: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 128 } },
    permissions: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(GROUP_PERMISSIONS.map((p) => [p, { type: 'boolean' }])),
    },
  },
} as const;

const GROUP_VIEW_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    domains: { type: 'array', items: { type: 'string' } },
    addresses: { type: 'array', items: { type: 'string' } },
    admins: { type: 'array', items: { type: 'string' } },
    permissions: {
      type: 'object',
      properties: Object.fromEntries(GROUP_PERMISSIONS.map((p) => [p, { type: 'boolean' }])),
    },
  },
} as const;

export const groupsModule: ApiModule = {
  name: 'groups',
  surfaces: ['rpcui'],
  register(app, ctx) {
    const groups = groupsStore(ctx.config);
    const quarantine = scopedQuarantine(ctx.config);
    const portal = portalStore(ctx.config);

    /**
     * The named group if the principal may use it for `permission`: an administrator any
     * group; a group administrator only a group naming them that grants the permission.
     */
    const groupFor = async (
      request: FastifyRequest,
      name: string,
      permission?: GroupPermission,
    ): Promise<Group> => {
      const p = principalOf(request);
      const group = await groups.get(name);
      if (p.role === 'admin') {
        if (group === undefined) throw new ParapetError('ERR_UI_NOT_FOUND', 'no such group');
        return group;
      }
      // Not theirs and not there look the same: 403.
      if (group === undefined || !group.admins.includes(p.username)) {
        await ctx.audited(request, 'group.access', name, {}, 'denied');
        throw new ParapetError('ERR_UI_FORBIDDEN', 'not one of your groups');
      }
      if (permission !== undefined && !group.permissions[permission]) {
        throw new ParapetError('ERR_UI_FORBIDDEN', `this group does not delegate ${permission}`);
      }
      return group;
    };

    /** A message of the group (a recipient in it), with those recipients; else 403. */
    const groupRow = async (
      group: Group,
      id: string,
    ): Promise<{ row: QuarantineRow; inGroup: string[] }> => {
      const row = await quarantineRow(await ctx.database(), id);
      const inGroup = row === undefined ? [] : row.to.filter((r) => groupCovers(group, r));
      if (row === undefined || inGroup.length === 0) {
        throw new ParapetError('ERR_UI_FORBIDDEN', 'not a message of this group');
      }
      return { row, inGroup };
    };

    app.get(
      '/api/v1/groups',
      {
        config: { access: GROUP_ACCESS },
        schema: {
          summary: 'groups (an administrator sees all, a group administrator theirs)',
          tags: ['groups'],
          response: {
            200: {
              type: 'object',
              properties: { groups: { type: 'array', items: GROUP_VIEW_SCHEMA } },
            },
          },
        },
      },
      async (request) => {
        const p = principalOf(request);
        return {
          groups:
            p.role === 'admin' ? await groups.list() : await groups.administeredBy(p.username),
        };
      },
    );

    app.get<{ Params: { name: string } }>(
      '/api/v1/groups/:name',
      {
        config: { access: GROUP_ACCESS },
        schema: {
          summary: 'one group',
          tags: ['groups'],
          params: nameParam,
          response: { 200: GROUP_VIEW_SCHEMA },
        },
      },
      async (request) => groupFor(request, request.params.name),
    );

    app.put<{ Params: { name: string }; Body: Partial<Omit<Group, 'name'>> }>(
      '/api/v1/groups/:name',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'create or replace a group and delegate it',
          tags: ['groups'],
          params: nameParam,
          body: groupBody,
          response: { 200: GROUP_VIEW_SCHEMA },
        },
      },
      async (request) => {
        const admins = request.body.admins ?? [];
        for (const name of admins) {
          const account = await ctx.accounts.get(name);
          if (account?.role !== 'groupadmin') {
            throw new ParapetError(
              'ERR_UI_BAD_REQUEST',
              `'${name.slice(0, 80)}' is not a group administrator account`,
            );
          }
        }
        let group: Group;
        try {
          group = await groups.put({ ...request.body, name: request.params.name });
        } catch (err) {
          if (err instanceof TypeError) throw new ParapetError('ERR_UI_BAD_REQUEST', err.message);
          throw err;
        }
        await ctx.audited(request, 'group.put', group.name, group);
        return group;
      },
    );

    app.delete<{ Params: { name: string } }>(
      '/api/v1/groups/:name',
      {
        config: { access: ADMIN_ONLY },
        schema: { summary: 'remove a group', tags: ['groups'], params: nameParam },
      },
      async (request) => {
        if (!(await groups.remove(request.params.name))) {
          throw new ParapetError('ERR_UI_NOT_FOUND', 'no such group');
        }
        await ctx.audited(request, 'group.remove', request.params.name, {});
        return { ok: true };
      },
    );

    app.get<{ Params: { name: string }; Querystring: ScopedListQuery }>(
      '/api/v1/groups/:name/messages',
      {
        config: { access: GROUP_ACCESS },
        schema: {
          summary: 'the group’s quarantined messages, newest first',
          tags: ['groups'],
          params: nameParam,
          querystring: {
            type: 'object',
            additionalProperties: false,
            // A group's scope can be many domains: its cursor holds one position per term.
            properties: scopedListQueryProperties(20000),
          },
          response: SCOPED_PAGE_RESPONSE,
        },
      },
      async (request) => {
        const group = await groupFor(request, request.params.name, 'quarantine');
        const q = request.query;
        const page = await searchScoped(
          await ctx.database(),
          groupTerms([group]),
          scopedSearchOf(q),
          q.limit ?? 50,
          q.cursor,
        );
        const actions = await quarantine.recipientActions(page.rows.map((r) => r.id));
        return {
          messages: page.rows.map((r) => rowView(r, actions.get(r.id) ?? [])),
          next: page.next,
        };
      },
    );

    app.post<{ Params: { name: string; id: string } }>(
      '/api/v1/groups/:name/messages/:id/approve',
      {
        config: { access: GROUP_ACCESS },
        schema: {
          summary: 'release the message to its recipients in the group',
          tags: ['groups'],
          params: messageParams,
        },
      },
      async (request) => {
        const group = await groupFor(request, request.params.name, 'quarantine');
        const { row, inGroup } = await groupRow(group, request.params.id);
        if (row.status !== 'held') {
          throw new ParapetError('ERR_UI_CONFLICT', `the message is ${row.status}`);
        }
        const p = principalOf(request);
        const result = await quarantine.release(await ctx.database(), row, inGroup, p.username);
        await portal.decide(row.id, 'approved', p.username);
        await ctx.audited(request, 'group.approve', row.id, { group: group.name, to: inGroup });
        return { ok: true, releasedTo: inGroup, queued: result.queued };
      },
    );

    app.delete<{ Params: { name: string; id: string } }>(
      '/api/v1/groups/:name/messages/:id',
      {
        config: { access: GROUP_ACCESS },
        schema: {
          summary: 'delete the message for its recipients in the group',
          tags: ['groups'],
          params: messageParams,
        },
      },
      async (request) => {
        const group = await groupFor(request, request.params.name, 'quarantine');
        const { row, inGroup } = await groupRow(group, request.params.id);
        if (row.status !== 'held') {
          throw new ParapetError('ERR_UI_CONFLICT', `the message is ${row.status}`);
        }
        const p = principalOf(request);
        await quarantine.delete(await ctx.database(), row, inGroup, p.username);
        await portal.decide(row.id, 'refused', p.username);
        await ctx.audited(request, 'group.delete', row.id, { group: group.name, for: inGroup });
        return { ok: true };
      },
    );

    app.get<{ Params: { name: string } }>(
      '/api/v1/groups/:name/requests',
      {
        config: { access: GROUP_ACCESS },
        schema: {
          summary: 'pending release requests from the group’s users',
          tags: ['groups'],
          params: nameParam,
        },
      },
      async (request) => {
        const group = await groupFor(request, request.params.name, 'quarantine');
        const pending = (await portal.requests()).filter(
          (r) => r.state === 'pending' && r.addresses.some((a) => groupCovers(group, a)),
        );
        return { requests: pending };
      },
    );

    app.post<{
      Params: { name: string; id: string };
      Body: RequestDecision;
    }>(
      '/api/v1/groups/:name/requests/:id',
      {
        config: { access: GROUP_ACCESS },
        schema: {
          summary: 'approve (release to the requester) or refuse a user’s release request',
          tags: ['groups'],
          params: messageParams,
          body: REQUEST_DECISION_SCHEMA,
        },
      },
      async (request) => {
        const group = await groupFor(request, request.params.name, 'quarantine');
        const p = principalOf(request);
        const req = (await portal.requests()).find(
          (r) =>
            r.id === request.params.id &&
            r.username === request.body.username &&
            r.state === 'pending',
        );
        const addresses = req?.addresses.filter((a) => groupCovers(group, a)) ?? [];
        if (req === undefined || addresses.length === 0) {
          throw new ParapetError('ERR_UI_FORBIDDEN', 'no pending request of this group');
        }
        const { row } = await groupRow(group, req.id);
        if (request.body.decision === 'approve') {
          if (row.status !== 'held') {
            throw new ParapetError('ERR_UI_CONFLICT', `the message is ${row.status}`);
          }
          await quarantine.release(await ctx.database(), row, addresses, p.username);
        }
        await portal.decide(
          req.id,
          request.body.decision === 'approve' ? 'approved' : 'refused',
          p.username,
          req.username,
        );
        await ctx.audited(request, `group.request-${request.body.decision}`, req.id, {
          group: group.name,
          user: req.username,
          to: addresses,
        });
        return { ok: true };
      },
    );

    app.get<{ Params: { name: string }; Querystring: { address: string } }>(
      '/api/v1/groups/:name/senders',
      {
        config: { access: GROUP_ACCESS },
        schema: {
          summary: 'a group user’s approved and blocked senders',
          tags: ['groups'],
          params: nameParam,
          querystring: {
            type: 'object',
            required: ['address'],
            additionalProperties: false,
            properties: { address: { type: 'string', maxLength: 320 } },
          },
        },
      },
      async (request) => {
        const group = await groupFor(request, request.params.name, 'lists');
        const address = request.query.address.trim().toLowerCase();
        if (!groupCovers(group, address)) {
          throw new ParapetError('ERR_UI_FORBIDDEN', 'not an address of this group');
        }
        return {
          address,
          allow: await userSenders(ctx.config, 'allow', address),
          block: await userSenders(ctx.config, 'block', address),
        };
      },
    );

    app.put<{
      Params: { name: string; kind: SenderListKind };
      Body: { address: string; add?: string[]; remove?: string[] };
    }>(
      '/api/v1/groups/:name/senders/:kind',
      {
        config: { access: GROUP_ACCESS },
        schema: {
          summary: 'change a group user’s approved or blocked senders',
          tags: ['groups'],
          params: {
            type: 'object',
            required: ['name', 'kind'],
            additionalProperties: false,
            properties: {
              name: nameParam.properties.name,
              kind: { type: 'string', enum: ['allow', 'block'] },
            },
          },
          body: {
            type: 'object',
            required: ['address'],
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
        const group = await groupFor(request, request.params.name, 'lists');
        const address = request.body.address.trim().toLowerCase();
        if (!groupCovers(group, address)) {
          throw new ParapetError('ERR_UI_FORBIDDEN', 'not an address of this group');
        }
        const entries = await changeSenderLists(
          ctx.config,
          request.params.kind,
          address,
          request.body,
        );
        await ctx.audited(request, `group.senders-${request.params.kind}`, address, {
          group: group.name,
          add: request.body.add,
          remove: request.body.remove,
        });
        return { address, kind: request.params.kind, entries };
      },
    );

    app.get<{ Params: { name: string }; Querystring: { days?: number } }>(
      '/api/v1/groups/:name/report',
      {
        config: { access: GROUP_ACCESS },
        schema: {
          summary: 'the group’s mail by category over the last days, and its held quarantine',
          tags: ['groups'],
          params: nameParam,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { days: { type: 'integer', minimum: 1, maximum: 366 } },
          },
        },
      },
      async (request) => {
        const group = await groupFor(request, request.params.name, 'reports');
        const days = request.query.days ?? 7;
        const db = await ctx.database();
        // The daily roll-up keeps one scope per recipient domain and address: the group's
        // figures are the sum over its own scopes (a message to two of them counts twice).
        const scopes = [...group.domains, ...group.addresses];
        const categories = await db.query<{ category: string; messages: string; bytes: string }>(
          `SELECT category, sum(messages)::text AS messages, sum(bytes)::text AS bytes
           FROM report_category_daily
           WHERE scope = ANY($1::text[]) AND bucket >= current_date - $2::int
           GROUP BY category ORDER BY category`,
          [scopes, days],
        );
        const terms = groupTerms([group]);
        const held = await db.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM quarantine
           WHERE status = 'held' AND recipient_keys && $1::text[]`,
          [terms],
        );
        return {
          group: group.name,
          days,
          categories: categories.map((c) => ({
            category: c.category,
            messages: Number(c.messages),
            bytes: Number(c.bytes),
          })),
          held: Number(held[0]?.n ?? 0),
        };
      },
    );
  },
};

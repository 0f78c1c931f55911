/**
 * /api/v1/quarantine on the Manager: search over the central `quarantine` table (keyset pages,
 * newest first), one message with its symbols, scores, deciding rule, headers and text, and
 * the actions `parapet qman` has — approve, approve and allow the sender, forward, delete —
 * one at a time or in bulk. Every action goes through the same code as qman
 * (appliance quarantineActions: durable outbound queue, exactly-once release) and is audited.
 *
 * The stored message lives on the node that caught it (its file store); the database holds
 * the metadata of every node's quarantine. While the database is away, search falls back to
 * this node's file store (first page only, held and released messages), and answers 503 for
 * what only the database knows (deleted and expired messages, later pages).
 */
import type { FastifyRequest } from 'fastify';
import {
  searchQuarantine,
  quarantineActions,
  type Db,
  type QuarantineActions,
  type QuarantineEntry,
  getQuarantineRow,
  setQuarantineStatus,
  type QuarantineRow,
  type QuarantineSearch,
  type QuarantineStatus,
} from '../../../appliance/index.js';
import {
  ParapetError,
  parseHeaderBlock,
  parseMime,
  unfoldHeaderValue,
} from '../../../filter/index.js';
import { ADMIN_ONLY, ADMIN_READ } from '../access.js';
import type { ApiContext } from '../context.js';
import { principalOf } from '../guard.js';
import type { ApiModule } from '../modules.js';

const STATUSES = ['held', 'released', 'deleted', 'expired'] as const;
const ID_PATTERN = '^[A-Za-z0-9_-]{8,64}$';
/** Most rows a page may ask for (searchQuarantine caps at 1000; a page needs far fewer). */
const MAX_PAGE = 200;
/** Most ids one bulk action takes. */
const MAX_BULK = 500;
/** The message view shows at most this much text and these many header fields. */
const MAX_TEXT_CHARS = 200_000;
const MAX_HEADER_FIELDS = 300;
const MAX_HEADER_VALUE_CHARS = 4000;

export interface QuarantineSearchQuery {
  status?: (typeof STATUSES)[number];
  sender?: string;
  recipient?: string;
  subject?: string;
  reason?: string;
  virus?: string;
  since?: string;
  until?: string;
  minScore?: number;
  maxScore?: number;
  limit?: number;
  after?: string;
}

/** One search result row as the page shows it. */
export interface QuarantineListRow {
  readonly id: string;
  readonly time: string;
  readonly nodeId: string | null;
  readonly from: string | null;
  readonly to: readonly string[];
  readonly subject: string | null;
  readonly reason: string;
  readonly score: number | null;
  readonly sizeBytes: number;
  readonly status: QuarantineStatus;
  readonly virusNames: readonly string[];
  readonly rule: string | null;
}

const text = (max: number) => ({ type: 'string', maxLength: max }) as const;

const SEARCH_QUERY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: [...STATUSES] },
    sender: text(320),
    recipient: text(320),
    subject: text(200),
    reason: text(200),
    virus: text(200),
    since: text(40),
    until: text(40),
    minScore: { type: 'number', minimum: -1e6, maximum: 1e6 },
    maxScore: { type: 'number', minimum: -1e6, maximum: 1e6 },
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE },
    after: text(300),
  },
} as const;

const ID_PARAMS = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: ID_PATTERN } },
} as const;

const ROW_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    time: { type: 'string' },
    nodeId: { type: ['string', 'null'] },
    from: { type: ['string', 'null'] },
    to: { type: 'array', items: { type: 'string' } },
    subject: { type: ['string', 'null'] },
    reason: { type: 'string' },
    score: { type: ['number', 'null'] },
    sizeBytes: { type: 'number' },
    status: { type: 'string' },
    virusNames: { type: 'array', items: { type: 'string' } },
    rule: { type: ['string', 'null'] },
  },
} as const;

function parseDate(value: string | undefined, name: string): Date | undefined {
  if (value === undefined || value === '') return undefined;
  const t = Date.parse(value);
  if (!Number.isFinite(t)) throw new ParapetError('ERR_UI_BAD_REQUEST', `${name} is not a date`);
  return new Date(t);
}

/** An appliance fault as the ui code it answers with; anything unknown stays internal. */
export function asUiError(err: unknown): unknown {
  if (!(err instanceof ParapetError) || err.code.startsWith('ERR_UI_')) return err;
  switch (err.code) {
    case 'ERR_NOT_FOUND':
      return new ParapetError('ERR_UI_NOT_FOUND', err.message, { cause: err });
    case 'ERR_QUEUE_INVALID':
    case 'ERR_LIST_INVALID':
    case 'ERR_REPORT_INVALID':
      return new ParapetError('ERR_UI_BAD_REQUEST', err.message, { cause: err });
    case 'ERR_DB_UNAVAILABLE':
      return new ParapetError('ERR_UI_UNAVAILABLE', 'the database is not reachable right now', {
        cause: err,
      });
    default:
      return new ParapetError('ERR_UI_INTERNAL', 'internal error', { cause: err });
  }
}

const isUnavailable = (err: unknown): boolean =>
  err instanceof ParapetError &&
  (err.code === 'ERR_UI_UNAVAILABLE' || err.code === 'ERR_DB_UNAVAILABLE');

function rowView(r: QuarantineRow): QuarantineListRow {
  return {
    id: r.id,
    time: r.time.toISOString(),
    nodeId: r.nodeId,
    from: r.from,
    to: r.to,
    subject: r.subject,
    reason: r.reason,
    score: r.score,
    sizeBytes: r.sizeBytes,
    status: r.status,
    virusNames: r.virusNames,
    rule: r.rule,
  };
}

function entryView(e: QuarantineEntry, nodeId: string): QuarantineListRow {
  return {
    id: e.id,
    time: e.time,
    nodeId,
    from: e.from,
    to: e.to,
    subject: e.subject,
    reason: e.reason,
    score: e.score,
    sizeBytes: e.sizeBytes,
    status: e.status === 'released' ? 'released' : 'held',
    virusNames: [],
    rule: e.rule,
  };
}

/** A symbol as the message view lists it: name and, when the record kept it, its score. */
export interface SymbolView {
  readonly name: string;
  readonly score: number | null;
}

export function symbolViews(symbols: readonly unknown[]): SymbolView[] {
  const out: SymbolView[] = [];
  for (const s of symbols) {
    if (typeof s === 'string') out.push({ name: s, score: null });
    else if (typeof s === 'object' && s !== null) {
      const o = s as Record<string, unknown>;
      if (typeof o['name'] !== 'string') continue;
      out.push({ name: o['name'], score: typeof o['score'] === 'number' ? o['score'] : null });
    }
  }
  // Highest contribution first: what caught the message is at the top.
  return out.sort((a, b) => (b.score ?? 0) - (a.score ?? 0) || a.name.localeCompare(b.name));
}

/**
 * HTML turned into plain text for display (the page shows text only, so no markup, script or
 * remote image of a quarantined message ever runs or loads in an administrator's browser).
 */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style|head|title)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|tr|li|h[1-6]|table|blockquote)\s*>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&nbsp;/gi, ' ')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/&quot;/gi, '"')
    .replace(/&#39;|&apos;/gi, "'")
    .replace(/&amp;/gi, '&')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Headers and the text part of a stored message. */
export interface MessageContent {
  readonly headers: readonly { readonly name: string; readonly value: string }[];
  readonly text: string;
  /** The text was made from the HTML part (there was no text part). */
  readonly fromHtml: boolean;
  readonly truncated: boolean;
  readonly attachments: readonly {
    readonly filename: string | null;
    readonly mimeType: string;
    readonly size: number;
  }[];
}

export async function messageContent(raw: Buffer): Promise<MessageContent> {
  let sep = raw.indexOf('\r\n\r\n');
  let skip = 4;
  if (sep < 0) {
    sep = raw.indexOf('\n\n');
    skip = 2;
  }
  const headerBlock = sep < 0 ? raw : raw.subarray(0, sep + skip / 2);
  const headers = parseHeaderBlock(headerBlock)
    .all()
    .slice(0, MAX_HEADER_FIELDS)
    .map((f) => ({
      name: f.name,
      value: unfoldHeaderValue(f.value).slice(0, MAX_HEADER_VALUE_CHARS),
    }));
  let body = '';
  let fromHtml = false;
  let attachments: MessageContent['attachments'] = [];
  try {
    const mime = await parseMime(raw);
    if (mime.text !== null && mime.text.trim() !== '') body = mime.text;
    else if (mime.html !== null) {
      body = htmlToText(mime.html);
      fromHtml = true;
    }
    attachments = mime.attachments.map((a) => ({
      filename: a.filename,
      mimeType: a.mimeType,
      size: a.size,
    }));
  } catch {
    // A message too broken to decode is still shown: its raw body as text.
    body = sep < 0 ? '' : raw.subarray(sep + skip).toString('utf8');
  }
  const truncated = body.length > MAX_TEXT_CHARS;
  return {
    headers,
    text: truncated ? body.slice(0, MAX_TEXT_CHARS) : body,
    fromHtml,
    truncated,
    attachments,
  };
}

type BulkAction = 'approve' | 'approve-allow' | 'forward' | 'delete';

interface ActionResult {
  readonly id: string;
  readonly ok: boolean;
  readonly outcome: string;
  readonly error?: string;
}

export const quarantineModule: ApiModule = {
  name: 'quarantine',
  surfaces: ['manager'],
  register(app, ctx) {
    let actionsPromise: Promise<QuarantineActions> | null = null;
    const actions = (): Promise<QuarantineActions> => {
      actionsPromise ??= quarantineActions(ctx.config).catch((err: unknown) => {
        actionsPromise = null;
        throw err;
      });
      return actionsPromise;
    };

    /** The database when it answers, else null (the caller decides what still works). */
    const databaseOrNull = async (): Promise<Db | null> => {
      try {
        return await ctx.database();
      } catch (err) {
        if (isUnavailable(err)) return null;
        throw err;
      }
    };

    /** The status change in the database; the file store stays the truth when it is away. */
    const recordStatus = async (
      request: FastifyRequest,
      id: string,
      status: 'released' | 'deleted',
      by: string,
    ): Promise<boolean> => {
      const db = await databaseOrNull();
      if (db === null) return false;
      try {
        await setQuarantineStatus(db, id, status, by);
        return true;
      } catch (err) {
        request.log.warn({ err, id }, 'quarantine status not recorded in the database');
        return false;
      }
    };

    const runAction = async (
      request: FastifyRequest,
      action: BulkAction,
      id: string,
      to: string | undefined,
    ): Promise<ActionResult> => {
      const me = principalOf(request);
      const by = `web:${me.username}`;
      const a = await actions();
      try {
        switch (action) {
          case 'approve':
          case 'approve-allow': {
            const { entry, item, created } = await a.approve(id, by);
            const allowed = action === 'approve-allow' ? await a.allowSender(id) : null;
            const recorded = await recordStatus(request, id, 'released', by);
            await ctx.audited(request, 'quarantine.approve', id, {
              to: entry.to,
              queueItem: item.id,
              queued: created,
              allowedSender: allowed,
              databaseUpdated: recorded,
            });
            return {
              id,
              ok: true,
              outcome: `${created ? 'released' : 'already released'} to ${entry.to.join(', ')}${allowed === null ? '' : `; ${allowed} allowed`}`,
            };
          }
          case 'forward': {
            if (to === undefined) {
              throw new ParapetError('ERR_UI_BAD_REQUEST', 'forward needs an address');
            }
            const { item, created } = await a.forward(id, to, by);
            await ctx.audited(request, 'quarantine.forward', id, {
              to,
              queueItem: item.id,
              queued: created,
            });
            return {
              id,
              ok: true,
              outcome: `${created ? 'forwarded' : 'already forwarded'} to ${to}`,
            };
          }
          case 'delete': {
            await a.store.delete(id);
            const recorded = await recordStatus(request, id, 'deleted', by);
            await ctx.audited(request, 'quarantine.delete', id, { databaseUpdated: recorded });
            return { id, ok: true, outcome: 'deleted' };
          }
        }
      } catch (err) {
        const e = asUiError(err);
        await ctx.audited(
          request,
          `quarantine.${action === 'approve-allow' ? 'approve' : action}`,
          id,
          { error: e instanceof ParapetError ? e.code : 'ERR_UI_INTERNAL' },
          'failed',
        );
        throw e;
      }
    };

    app.get<{ Querystring: QuarantineSearchQuery }>(
      '/api/v1/quarantine',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary: 'search quarantined messages, newest first (keyset pages: pass next as after)',
          tags: ['quarantine'],
          querystring: SEARCH_QUERY_SCHEMA,
          response: {
            200: {
              type: 'object',
              properties: {
                rows: { type: 'array', items: ROW_SCHEMA },
                next: { type: ['string', 'null'] },
                source: { type: 'string', enum: ['database', 'files'] },
                notice: { type: ['string', 'null'] },
              },
            },
          },
        },
      },
      async (request) => {
        const q = request.query;
        const since = parseDate(q.since, 'since');
        const until = parseDate(q.until, 'until');
        const limit = q.limit ?? 50;
        const search: QuarantineSearch = {
          status: q.status ?? 'held',
          ...(q.sender === undefined || q.sender === '' ? {} : { sender: q.sender.trim() }),
          ...(q.recipient === undefined || q.recipient === ''
            ? {}
            : { recipient: q.recipient.trim() }),
          ...(q.subject === undefined || q.subject === '' ? {} : { subject: q.subject }),
          ...(q.reason === undefined || q.reason === '' ? {} : { reason: q.reason }),
          ...(q.virus === undefined || q.virus === '' ? {} : { virus: q.virus }),
          ...(since === undefined ? {} : { since }),
          ...(until === undefined ? {} : { until }),
          ...(q.minScore === undefined ? {} : { minScore: q.minScore }),
          ...(q.maxScore === undefined ? {} : { maxScore: q.maxScore }),
        };
        const db = await databaseOrNull();
        if (db !== null) {
          try {
            const page = await searchQuarantine(db, search, { limit, after: q.after ?? null });
            return {
              rows: page.rows.map(rowView),
              next: page.next,
              source: 'database',
              notice: null,
            };
          } catch (err) {
            if (!isUnavailable(err)) throw asUiError(err);
          }
        }
        // The database is away: this node's own files answer what they can.
        if (search.status === 'deleted' || search.status === 'expired') {
          throw new ParapetError(
            'ERR_UI_UNAVAILABLE',
            'the database is not reachable: deleted and expired messages cannot be searched now',
          );
        }
        if (q.after !== undefined && q.after !== '') {
          throw new ParapetError(
            'ERR_UI_UNAVAILABLE',
            'the database is not reachable: only the first page of this node’s quarantine is available',
          );
        }
        const { store } = await actions();
        const found = await store.search({
          ...(search.sender === undefined ? {} : { from: search.sender }),
          ...(search.recipient === undefined ? {} : { to: search.recipient }),
          ...(search.subject === undefined ? {} : { subject: search.subject }),
          ...(search.reason === undefined ? {} : { reason: search.reason }),
          ...(search.virus === undefined ? {} : { virus: search.virus }),
          ...(since === undefined ? {} : { since }),
          ...(until === undefined ? {} : { until }),
          ...(q.minScore === undefined ? {} : { minScore: q.minScore }),
          ...(q.maxScore === undefined ? {} : { maxScore: q.maxScore }),
          status: search.status === 'released' ? 'released' : 'quarantined',
          limit,
        });
        return {
          rows: found.map((e) => entryView(e, ctx.config.nodeId)),
          next: null,
          source: 'files',
          notice:
            'The database is not reachable: showing this node’s own quarantine files (first page only).',
        };
      },
    );

    app.get<{ Params: { id: string } }>(
      '/api/v1/quarantine/:id',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary:
            'one quarantined message: metadata, symbols with scores, the deciding rule, headers and text',
          tags: ['quarantine'],
          params: ID_PARAMS,
        },
      },
      async (request) => {
        const id = request.params.id;
        const db = await databaseOrNull();
        let row: QuarantineRow | null = null;
        if (db !== null) {
          try {
            row = await getQuarantineRow(db, id);
          } catch (err) {
            if (!isUnavailable(err)) throw asUiError(err);
          }
        }
        const { store } = await actions();
        const entry = await store.get(id).catch(() => null);
        if (row === null && entry === null) {
          throw new ParapetError('ERR_UI_NOT_FOUND', 'no such quarantined message');
        }
        let content: MessageContent | null = null;
        if (entry !== null) {
          try {
            content = await messageContent(await store.message(id));
          } catch (err) {
            request.log.warn({ err, id }, 'quarantined message file not readable');
          }
        }
        const symbols = symbolViews(row?.symbols ?? entry?.symbols ?? []);
        return {
          id,
          time: row?.time.toISOString() ?? entry?.time ?? null,
          nodeId: row?.nodeId ?? ctx.config.nodeId,
          status: row?.status ?? (entry?.status === 'released' ? 'released' : 'held'),
          from: row?.from ?? entry?.from ?? null,
          to: row?.to ?? entry?.to ?? [],
          subject: row?.subject ?? entry?.subject ?? null,
          client: row?.clientAddress ?? entry?.client ?? null,
          helo: row?.helo ?? null,
          sizeBytes: row?.sizeBytes ?? entry?.sizeBytes ?? 0,
          reason: row?.reason ?? entry?.reason ?? '',
          score: row?.score ?? entry?.score ?? null,
          rule: row?.rule ?? entry?.rule ?? null,
          virusNames: row?.virusNames ?? [],
          symbols,
          releasedAt: row?.releasedAt?.toISOString() ?? entry?.state.releasedAt ?? null,
          releasedBy: row?.releasedBy ?? entry?.state.releasedBy ?? null,
          forwards: entry?.state.forwards ?? [],
          onThisNode: entry !== null,
          message: content,
        };
      },
    );

    app.get<{ Params: { id: string } }>(
      '/api/v1/quarantine/:id/raw',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'the stored message as an .eml download (never rendered)',
          tags: ['quarantine'],
          params: ID_PARAMS,
        },
      },
      async (request, reply) => {
        const { store } = await actions();
        const raw = await store.message(request.params.id).catch((err: unknown) => {
          throw asUiError(err);
        });
        await ctx.audited(request, 'quarantine.download', request.params.id, {});
        return reply
          .header('content-type', 'application/octet-stream')
          .header('content-disposition', `attachment; filename="${request.params.id}.eml"`)
          .send(raw);
      },
    );

    app.post<{ Params: { id: string }; Body: { allowSender?: boolean } }>(
      '/api/v1/quarantine/:id/approve',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary:
            'release to the original recipients (exactly once); allowSender also adds the sender to allow-senders',
          tags: ['quarantine'],
          params: ID_PARAMS,
          body: {
            type: 'object',
            additionalProperties: false,
            properties: { allowSender: { type: 'boolean' } },
          },
        },
      },
      async (request) =>
        runAction(
          request,
          request.body.allowSender === true ? 'approve-allow' : 'approve',
          request.params.id,
          undefined,
        ),
    );

    app.post<{ Params: { id: string }; Body: { to: string } }>(
      '/api/v1/quarantine/:id/forward',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'send a copy to another address',
          tags: ['quarantine'],
          params: ID_PARAMS,
          body: {
            type: 'object',
            required: ['to'],
            additionalProperties: false,
            properties: { to: { type: 'string', minLength: 3, maxLength: 320 } },
          },
        },
      },
      async (request) => runAction(request, 'forward', request.params.id, request.body.to),
    );

    app.delete<{ Params: { id: string } }>(
      '/api/v1/quarantine/:id',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'delete a message from the quarantine',
          tags: ['quarantine'],
          params: ID_PARAMS,
        },
      },
      async (request) => runAction(request, 'delete', request.params.id, undefined),
    );

    app.post<{ Body: { action: BulkAction; ids: string[]; to?: string } }>(
      '/api/v1/quarantine/bulk',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'one action over many messages; each id gets its own result',
          tags: ['quarantine'],
          body: {
            type: 'object',
            required: ['action', 'ids'],
            additionalProperties: false,
            properties: {
              action: { type: 'string', enum: ['approve', 'approve-allow', 'forward', 'delete'] },
              ids: {
                type: 'array',
                minItems: 1,
                maxItems: MAX_BULK,
                uniqueItems: true,
                items: { type: 'string', pattern: ID_PATTERN },
              },
              to: { type: 'string', minLength: 3, maxLength: 320 },
            },
          },
        },
      },
      async (request) => {
        const { action, ids, to } = request.body;
        if (action === 'forward' && to === undefined) {
          throw new ParapetError('ERR_UI_BAD_REQUEST', 'forward needs an address');
        }
        const results: ActionResult[] = [];
        // One at a time: each is a few fsyncs, and the order of the audit log follows the list.
        for (const id of ids) {
          try {
            results.push(await runAction(request, action, id, to));
          } catch (err) {
            results.push({
              id,
              ok: false,
              outcome: 'failed',
              error: err instanceof Error ? err.message : String(err),
            });
          }
        }
        return {
          results,
          ok: results.filter((r) => r.ok).length,
          failed: results.filter((r) => !r.ok).length,
        };
      },
    );
  },
};

/** For the reports module and tests: the API context's database or a clear 503. */
export async function requireDatabase(ctx: ApiContext): Promise<Db> {
  try {
    return await ctx.database();
  } catch (err) {
    throw asUiError(err);
  }
}

/**
 * The quarantine as the 28443 interfaces see it: always through a scope (an end user's
 * addresses, a group administrator's domains and addresses), never the whole table.
 *
 * - Search runs the database's keyset search once per scope term (an address or `@domain`,
 *   each an index lookup) and merges the pages; the cursor holds each term's own cursor, so
 *   paging stays exact however many terms there are.
 * - A release goes to the recipients inside the scope only (not the message's other
 *   recipients), through the node's durable outbound queue keyed per message and recipient set,
 *   so a repeated approval delivers once. The database row becomes `released` or `deleted` only
 *   when the action covered every recipient; otherwise the per-recipient outcome is kept in
 *   `config/quarantine-recipient-actions.json` and the row stays held for the others.
 */
import {
  OutboundQueue,
  QuarantineStore,
  RELEASE_HEADER,
  learnNodeFiles,
  releaseKey,
  searchQuarantine,
  setQuarantineStatus,
  signRelease,
  type Db,
  type NodeConfig,
  type QuarantineRow,
  type QuarantineSearch,
} from '../../appliance/index.js';
import { ParapetError } from '../../filter/index.js';
import { JsonConfigFile } from './json-config-file.js';

export interface ScopedSearch {
  readonly status?: 'held' | 'released' | 'deleted' | 'expired';
  readonly subject?: string;
  readonly sender?: string;
  /** Narrows to one term of the scope (an address or @domain the caller may see). */
  readonly only?: string;
}

export interface ScopedPage {
  readonly rows: readonly QuarantineRow[];
  readonly next: string | null;
}

type Cursors = Record<string, string>;

function decodeCursors(cursor: string | undefined): Cursors | null {
  if (cursor === undefined || cursor === '') return null;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const out: Cursors = {};
      for (const [k, c] of Object.entries(v as Record<string, unknown>)) {
        if (typeof c === 'string' && c.length < 500) out[k] = c;
      }
      return out;
    }
  } catch {
    // An invalid cursor starts from the first page.
  }
  return null;
}

/** One page of the rows whose recipients match any of `terms` (addresses or `@domain`). */
export async function searchScoped(
  db: Db,
  terms: readonly string[],
  search: ScopedSearch,
  limit: number,
  cursor?: string,
): Promise<ScopedPage> {
  if (terms.length === 0) return { rows: [], next: null };
  const cursors = decodeCursors(cursor);
  // On a later page only the terms that still had more rows are asked again.
  const active = cursors === null ? [...terms] : terms.filter((t) => t in cursors);
  const base: QuarantineSearch = {
    status: search.status ?? 'held',
    ...(search.subject === undefined ? {} : { subject: search.subject }),
    ...(search.sender === undefined ? {} : { sender: search.sender }),
  };
  const pages = await Promise.all(
    active.map(async (term) => {
      const s: QuarantineSearch = term.startsWith('@')
        ? { ...base, recipient: term }
        : { ...base, owner: term };
      return {
        term,
        page: await searchQuarantine(db, s, { limit, after: cursors?.[term] ?? null }),
      };
    }),
  );
  const seen = new Map<string, QuarantineRow>();
  const next: Cursors = {};
  for (const { term, page } of pages) {
    for (const r of page.rows) seen.set(r.id, r);
    if (page.next !== null) next[term] = page.next;
  }
  const rows = [...seen.values()].sort(
    (a, b) => b.time.getTime() - a.time.getTime() || (a.id < b.id ? 1 : -1),
  );
  return {
    rows,
    next:
      Object.keys(next).length === 0
        ? null
        : Buffer.from(JSON.stringify(next)).toString('base64url'),
  };
}

interface RawRow {
  id: string;
  node_id: string;
  ts: Date;
  queue_id: string | null;
  client_address: string | null;
  helo: string | null;
  sender: string | null;
  recipients: string[];
  subject: string | null;
  size_bytes: string | number;
  reason: string;
  score: number | null;
  symbols: unknown[];
  rule: string | null;
  virus_names: string[];
  status: QuarantineRow['status'];
  released_at: Date | null;
  released_by: string | null;
  path: string;
}

/** One row by id, or undefined. */
export async function quarantineRow(db: Db, id: string): Promise<QuarantineRow | undefined> {
  const rows = await db.query<RawRow>(
    `SELECT id, node_id, ts, queue_id, client_address, helo, sender, recipients, subject,
       size_bytes, reason, score, symbols, rule, virus_names, status, released_at, released_by,
       path
     FROM quarantine WHERE id = $1`,
    [id],
  );
  const r = rows[0];
  if (r === undefined) return undefined;
  return {
    id: r.id,
    nodeId: r.node_id,
    time: r.ts,
    queueId: r.queue_id,
    clientAddress: r.client_address,
    helo: r.helo,
    from: r.sender,
    to: r.recipients,
    subject: r.subject,
    sizeBytes: Number(r.size_bytes),
    reason: r.reason,
    score: r.score,
    symbols: r.symbols,
    rule: r.rule,
    virusNames: r.virus_names,
    status: r.status,
    releasedAt: r.released_at,
    releasedBy: r.released_by,
    path: r.path,
  };
}

export interface RecipientAction {
  readonly id: string;
  readonly address: string;
  readonly action: 'released' | 'deleted';
  readonly by: string;
  readonly at: string;
}

interface RecipientActionsFile {
  readonly version: 1;
  readonly actions: readonly RecipientAction[];
}

/**
 * Kept at most (oldest dropped): only actions that left other recipients' copy held are
 * recorded (multi-recipient mail), and older entries belong to long-expired messages.
 */
const MAX_RECIPIENT_ACTIONS = 20_000;

function checkActions(raw: unknown): RecipientActionsFile {
  const r = raw as { actions?: unknown } | null;
  if (r === null || typeof r !== 'object' || !Array.isArray(r.actions)) {
    throw new TypeError('recipient actions: { "version": 1, "actions": [...] }');
  }
  return { version: 1, actions: r.actions as RecipientAction[] };
}

export class ScopedQuarantine {
  readonly #config: NodeConfig;
  readonly #actions: JsonConfigFile<RecipientActionsFile>;
  readonly store: QuarantineStore;

  constructor(config: NodeConfig) {
    this.#config = config;
    this.store = new QuarantineStore(config.paths.quarantine);
    this.#actions = new JsonConfigFile(
      config.paths.config,
      'quarantine-recipient-actions.json',
      () => ({ version: 1, actions: [] }),
      checkActions,
    );
  }

  /** What was done for each of `ids`, by address. */
  async recipientActions(ids: readonly string[]): Promise<Map<string, RecipientAction[]>> {
    const want = new Set(ids);
    const out = new Map<string, RecipientAction[]>();
    for (const a of (await this.#actions.read()).actions) {
      if (!want.has(a.id)) continue;
      out.set(a.id, [...(out.get(a.id) ?? []), a]);
    }
    return out;
  }

  async #record(
    id: string,
    addresses: readonly string[],
    action: RecipientAction['action'],
    by: string,
  ): Promise<void> {
    const at = new Date().toISOString();
    await this.#actions.update((f) => {
      const kept = f.actions.filter((a) => !(a.id === id && addresses.includes(a.address)));
      const added = addresses.map((address) => ({ id, address, action, by, at }));
      const all = [...kept, ...added];
      return { version: 1, actions: all.slice(Math.max(0, all.length - MAX_RECIPIENT_ACTIONS)) };
    });
  }

  /** The stored message (on this node), or ERR_UI_UNAVAILABLE when it is elsewhere. */
  async #message(row: QuarantineRow): Promise<Buffer> {
    try {
      return await this.store.message(row.id);
    } catch (err) {
      throw new ParapetError(
        'ERR_UI_UNAVAILABLE',
        row.nodeId === this.#config.nodeId
          ? 'the quarantined message file is missing'
          : `the message is stored on node ${row.nodeId}; act on it there`,
        { cause: err },
      );
    }
  }

  /** Releases the message to `addresses` (recipients of it) only. */
  async release(
    db: Db,
    row: QuarantineRow,
    addresses: readonly string[],
    by: string,
  ): Promise<{ queued: boolean; all: boolean }> {
    const to = [...new Set(addresses.map((a) => a.toLowerCase()))].sort();
    if (to.length === 0 || !to.every((a) => row.to.includes(a))) {
      throw new ParapetError('ERR_UI_FORBIDDEN', 'not a recipient of this message');
    }
    const who = by
      .replace(/[^\x21-\x7e]/g, '_')
      .replace(/;/g, '_')
      .slice(0, 100);
    const key = await releaseKey(this.#config);
    const header = `${RELEASE_HEADER}: ${row.id}; by=${who}; sig=${signRelease(key, row.id, who)}\r\n`;
    const { created } = await new OutboundQueue(this.#config.paths.queue).enqueue({
      kind: 'release',
      from: row.from ?? '',
      to,
      raw: Buffer.concat([Buffer.from(header), await this.#message(row)]),
      origin: row.id,
      key: `release:${row.id}:${to.join(',')}`,
    });
    const before = await this.recipientActions([row.id]);
    const handled = new Set([...(before.get(row.id) ?? []).map((a) => a.address), ...to]);
    const all = row.to.every((r) => handled.has(r));
    if (all) {
      await setQuarantineStatus(db, row.id, 'released', who, { onlyIfHeld: true });
    }
    // A release to every recipient is in the row itself; only partial ones need the file.
    if (!all) await this.#record(row.id, to, 'released', by);
    return { queued: created, all };
  }

  /** Deletes the message for `addresses`; the file and row go when no recipient is left. */
  async delete(
    db: Db,
    row: QuarantineRow,
    addresses: readonly string[],
    by: string,
  ): Promise<void> {
    const mine = [...new Set(addresses.map((a) => a.toLowerCase()))];
    if (mine.length === 0 || !mine.every((a) => row.to.includes(a))) {
      throw new ParapetError('ERR_UI_FORBIDDEN', 'not a recipient of this message');
    }
    const before = await this.recipientActions([row.id]);
    const handled = new Set([...(before.get(row.id) ?? []).map((a) => a.address), ...mine]);
    if (!row.to.every((r) => handled.has(r))) {
      await this.#record(row.id, mine, 'deleted', by);
    } else {
      await setQuarantineStatus(db, row.id, 'deleted', by, { onlyIfHeld: true });
      // The file may be on another node or gone already; the row no longer shows it.
      await this.store.delete(row.id).catch(() => undefined);
    }
  }

  /** Trains the node's Bayes store with the message. */
  async learn(row: QuarantineRow, cls: 'spam' | 'ham'): Promise<{ learned: boolean }> {
    await this.#message(row);
    const entry = await this.store.get(row.id);
    // Into the shared store when the node has a database (its snapshot follows), else the file.
    const summary = await learnNodeFiles(this.#config, cls, [entry.path]);
    return { learned: summary.learned + summary.relearned > 0 };
  }

  /** The stored message's bytes (view). */
  message(row: QuarantineRow): Promise<Buffer> {
    return this.#message(row);
  }
}

const instances = new Map<string, ScopedQuarantine>();

export function scopedQuarantine(config: NodeConfig): ScopedQuarantine {
  let q = instances.get(config.paths.config);
  if (q === undefined) {
    q = new ScopedQuarantine(config);
    instances.set(config.paths.config, q);
  }
  return q;
}

/** The row as an end user or group administrator sees it (no file path, node, client IP). */
export function rowView(row: QuarantineRow, actions: readonly RecipientAction[] = []) {
  return {
    id: row.id,
    time: row.time.toISOString(),
    from: row.from,
    to: row.to,
    subject: row.subject,
    sizeBytes: row.sizeBytes,
    reason: row.reason,
    score: row.score,
    status: row.status,
    recipientActions: actions.map((a) => ({ address: a.address, action: a.action, at: a.at })),
  };
}

export const ROW_VIEW_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    time: { type: 'string' },
    from: { type: ['string', 'null'] },
    to: { type: 'array', items: { type: 'string' } },
    subject: { type: ['string', 'null'] },
    sizeBytes: { type: 'number' },
    reason: { type: 'string' },
    score: { type: ['number', 'null'] },
    status: { type: 'string' },
    recipientActions: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          address: { type: 'string' },
          action: { type: 'string' },
          at: { type: 'string' },
        },
      },
    },
  },
} as const;

/** The query both scoped quarantine lists take (End User portal and group pages). */
export interface ScopedListQuery {
  readonly status?: 'held' | 'released' | 'deleted';
  readonly subject?: string;
  readonly sender?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

/** JSON-schema properties of ScopedListQuery; `cursorMaxLength` differs by scope size. */
export function scopedListQueryProperties(cursorMaxLength: number) {
  return {
    status: { type: 'string', enum: ['held', 'released', 'deleted'] },
    subject: { type: 'string', maxLength: 200 },
    sender: { type: 'string', maxLength: 320 },
    limit: { type: 'integer', minimum: 1, maximum: 200 },
    cursor: { type: 'string', maxLength: cursorMaxLength },
  } as const;
}

/** The 200 response of both scoped quarantine lists: one page of rows and the next cursor. */
export const SCOPED_PAGE_RESPONSE = {
  200: {
    type: 'object',
    properties: {
      messages: { type: 'array', items: ROW_VIEW_SCHEMA },
      next: { type: ['string', 'null'] },
    },
  },
} as const;

/** The search a list query asks for: held messages unless it names another status. */
export function scopedSearchOf(q: ScopedListQuery): ScopedSearch {
  return {
    status: q.status ?? 'held',
    ...(q.subject === undefined ? {} : { subject: q.subject }),
    ...(q.sender === undefined ? {} : { sender: q.sender }),
  };
}

/** A decision on a user's release request (portal administrators and group pages). */
export interface RequestDecision {
  readonly username: string;
  readonly decision: 'approve' | 'refuse';
}

export const REQUEST_DECISION_SCHEMA = {
  type: 'object',
  required: ['username', 'decision'],
  additionalProperties: false,
  properties: {
    username: { type: 'string', maxLength: 128 },
    decision: { type: 'string', enum: ['approve', 'refuse'] },
  },
} as const;

/**
 * Quarantine metadata rows: idempotent insert (forwarded from the node that caught the
 * message) and search for `parapet qman` and the web interfaces.
 *
 * Search is keyset-paginated, newest first, on (ts, id) within one status: each page is one
 * range read of the (status, ts DESC, id DESC) index, however deep the page, instead of an
 * OFFSET that reads and throws away every earlier row. Substring filters (subject, sender,
 * recipient) use the pg_trgm indexes when the extension is there.
 */
import { sqlState, type Queryable } from './db.js';
import { storableJson } from './sql-json.js';

export type QuarantineStatus = 'held' | 'released' | 'deleted' | 'expired';

export interface QuarantineRow {
  readonly id: string;
  readonly nodeId: string;
  readonly time: Date;
  readonly queueId: string | null;
  readonly clientAddress: string | null;
  readonly helo: string | null;
  readonly from: string | null;
  readonly to: readonly string[];
  readonly subject: string | null;
  readonly sizeBytes: number;
  readonly reason: string;
  readonly score: number | null;
  readonly symbols: readonly unknown[];
  readonly rule: string | null;
  readonly virusNames: readonly string[];
  readonly status: QuarantineStatus;
  readonly releasedAt: Date | null;
  readonly releasedBy: string | null;
  readonly path: string;
}

export type NewQuarantineRow = Omit<
  QuarantineRow,
  'status' | 'releasedAt' | 'releasedBy' | 'queueId' | 'clientAddress' | 'helo' | 'virusNames'
> &
  Partial<Pick<QuarantineRow, 'queueId' | 'clientAddress' | 'helo' | 'virusNames'>>;

/** Inserts rows, skipping ids already present; returns how many were new. */
export async function insertQuarantineRows(
  db: Queryable,
  rows: readonly NewQuarantineRow[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const json = storableJson(
    rows.map((r) => {
      const to = r.to.map((t) => t.toLowerCase());
      return {
        id: r.id,
        node_id: r.nodeId,
        ts: r.time.toISOString(),
        queue_id: r.queueId ?? null,
        client_address: r.clientAddress ?? null,
        helo: r.helo ?? null,
        sender: r.from,
        recipients: to,
        recipient_keys: recipientKeys(to),
        recipients_text: to.join(' '),
        subject: r.subject,
        size_bytes: r.sizeBytes,
        reason: r.reason,
        score: r.score,
        symbols: r.symbols,
        rule: r.rule,
        virus_names: r.virusNames ?? [],
        path: r.path,
      };
    }),
  );
  return db.execute(
    `INSERT INTO quarantine (id, node_id, ts, queue_id, client_address, helo, sender, recipients,
       recipient_keys, recipients_text, subject, size_bytes, reason, score, symbols, rule,
       virus_names, path)
     SELECT r.id, r.node_id, r.ts, r.queue_id, r.client_address, r.helo, r.sender,
       r.recipients, r.recipient_keys, r.recipients_text, r.subject, r.size_bytes, r.reason,
       r.score, r.symbols, r.rule, r.virus_names, r.path
     FROM jsonb_to_recordset($1::jsonb) AS r(id text, node_id text, ts timestamptz,
       queue_id text, client_address text, helo text, sender text, recipients text[],
       recipient_keys text[], recipients_text text, subject text, size_bytes bigint, reason text,
       score double precision, symbols jsonb, rule text, virus_names text[], path text)
     ON CONFLICT (id) DO NOTHING`,
    [json],
  );
}

export interface QuarantineSearch {
  /** Default 'held'. */
  readonly status?: QuarantineStatus;
  /**
   * The envelope sender, case-insensitively: a whole address matches exactly, `local@` the
   * addresses with that local part, a domain (`example.com` or `@example.com`) its addresses
   * (and, without `@`, its subdomains'); anything else is a substring.
   */
  readonly sender?: string;
  /** Any envelope recipient, with the same forms as `sender`. */
  readonly recipient?: string;
  /** Exact recipient (the owner's own quarantine in the end-user interface). */
  readonly owner?: string;
  /** Case-insensitive substring of the subject. */
  readonly subject?: string;
  readonly reason?: string;
  readonly virus?: string;
  readonly nodeId?: string;
  /** Inclusive lower and exclusive upper time bounds. */
  readonly since?: Date;
  readonly until?: Date;
  readonly minScore?: number;
  readonly maxScore?: number;
}

export interface QuarantinePage {
  readonly rows: readonly QuarantineRow[];
  /** Pass as `after` for the next page; null on the last page. */
  readonly next: string | null;
}

/** `%` and `_` in what the user typed are literal characters, not wildcards. */
function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function likePattern(text: string): string {
  return `%${likeEscape(text)}%`;
}

const ADDRESS = /^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$/;
const LOCAL_PART = /^[^@\s]+@$/;
const DOMAIN = /^@?[a-z0-9-]+(\.[a-z0-9-]+)+$/;

/**
 * Whole addresses and domains are the usual sender searches, and a trigram index serves them
 * badly: their trigrams ("com", "exa"…) occur in nearly every row. They use the lower(sender)
 * index (equality) and the reversed-sender index (suffix: `@domain` / `.domain`) instead.
 */
/** The recipient forms of {@link QuarantineSearch.recipient}, all but substrings by GIN lookup. */
function recipientCondition(term: string, p: (value: unknown) => string): string {
  if (ADDRESS.test(term) || LOCAL_PART.test(term) || (DOMAIN.test(term) && term.startsWith('@'))) {
    return `recipient_keys @> ARRAY[${p(term)}::text]`;
  }
  if (DOMAIN.test(term)) {
    return `recipient_keys && ARRAY[${p(`@${term}`)}::text, ${p(`.${term}`)}::text]`;
  }
  return `recipients_text ILIKE ${p(likePattern(term))}`;
}

/**
 * What whole-part recipient searches look up (lower-case input): each address, `local@`,
 * `@domain`, and `.parent` for every parent domain (`.corp.example`, `.example`), so a domain
 * search also finds its subdomains.
 */
export function recipientKeys(recipients: readonly string[]): string[] {
  const keys = new Set<string>();
  for (const address of recipients) {
    keys.add(address);
    const at = address.lastIndexOf('@');
    if (at <= 0 || at === address.length - 1) continue;
    keys.add(address.slice(0, at + 1));
    const domain = address.slice(at + 1);
    keys.add(`@${domain}`);
    for (let dot = domain.indexOf('.'); dot >= 0; dot = domain.indexOf('.', dot + 1)) {
      keys.add(domain.slice(dot));
    }
  }
  return [...keys];
}

function senderCondition(term: string, p: (value: unknown) => string): string {
  // By code point, as PostgreSQL's reverse() does in a UTF8 database.
  const reversed = (s: string): string => Array.from(s).reverse().join('');
  if (ADDRESS.test(term)) return `lower(sender) = ${p(term)}`;
  if (LOCAL_PART.test(term)) return `lower(sender) LIKE ${p(`${likeEscape(term)}%`)}`;
  if (DOMAIN.test(term)) {
    const domain = term.replace(/^@/, '');
    const at = `reverse(lower(sender)) LIKE ${p(`${likeEscape(reversed(`@${domain}`))}%`)}`;
    if (term.startsWith('@')) return at;
    const sub = `reverse(lower(sender)) LIKE ${p(`${likeEscape(reversed(`.${domain}`))}%`)}`;
    return `(${at} OR ${sub})`;
  }
  return `sender ILIKE ${p(likePattern(term))}`;
}

interface RawRow {
  id: string;
  node_id: string;
  ts: Date;
  ts_key: string;
  queue_id: string | null;
  client_address: string | null;
  helo: string | null;
  sender: string | null;
  recipients: string[];
  subject: string | null;
  size_bytes: number;
  reason: string;
  score: number | null;
  symbols: unknown[];
  rule: string | null;
  virus_names: string[];
  status: QuarantineStatus;
  released_at: Date | null;
  released_by: string | null;
  path: string;
}

/**
 * One page of matching rows, newest first. `after` is the `next` of the previous page (an
 * opaque cursor); an invalid cursor starts from the first page. `limit` is capped at 1000.
 */
export async function searchQuarantine(
  db: Transactional,
  search: QuarantineSearch = {},
  page: {
    limit?: number;
    after?: string | null;
    /** How long the first-choice plan may take before the other runs (default 40). */
    budgetMs?: number;
    /** 'auto' (default) as described below; 'walk' or 'lookup' force one plan (tests). */
    plan?: 'auto' | 'walk' | 'lookup';
  } = {},
): Promise<QuarantinePage> {
  const plan = page.plan ?? 'auto';
  const limit = Math.max(1, Math.min(1000, Math.floor(page.limit ?? 50)));
  const budgetMs = Math.max(1, Math.round(page.budgetMs ?? 40));
  const params: unknown[] = [];
  const p = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  /** Filters with an index of their own (the lookup plan below uses only these). */
  const lookups: string[] = [];
  /** Whether one of them names a whole address or local part: few matches, as a rule. */
  let narrow = false;
  /**
   * The other filters, twice: as written (for the walk along (status, ts)), and in a form no
   * index matches (`ts + interval '0 s'`), so the lookup plan cannot wander back to that walk
   * or AND in a bitmap of a whole date range.
   */
  const walk: string[] = [];
  const opaque: string[] = [];
  const both = (indexed: string, hidden: string): void => {
    walk.push(indexed);
    opaque.push(hidden);
  };
  const status = p(search.status ?? 'held');
  both(`status = ${status}`, `(status || '') = ${status}`);
  if (search.sender !== undefined && search.sender !== '') {
    const term = search.sender.toLowerCase();
    lookups.push(senderCondition(term, p));
    narrow ||= ADDRESS.test(term) || LOCAL_PART.test(term);
  }
  if (search.recipient !== undefined && search.recipient !== '') {
    const term = search.recipient.toLowerCase();
    lookups.push(recipientCondition(term, p));
    narrow ||= ADDRESS.test(term) || LOCAL_PART.test(term);
  }
  if (search.owner !== undefined && search.owner !== '') {
    lookups.push(`recipient_keys @> ARRAY[${p(search.owner.toLowerCase())}::text]`);
    narrow = true;
  }
  if (search.subject !== undefined && search.subject !== '') {
    lookups.push(`subject ILIKE ${p(likePattern(search.subject))}`);
  }
  if (search.virus !== undefined) lookups.push(`virus_names @> ARRAY[${p(search.virus)}::text]`);
  if (search.reason !== undefined)
    both(`reason = ${p(search.reason)}`, `reason = $${params.length}`);
  if (search.nodeId !== undefined) {
    both(`node_id = ${p(search.nodeId)}`, `node_id = $${params.length}`);
  }
  if (search.since !== undefined) {
    const v = p(search.since);
    both(`ts >= ${v}`, `ts + interval '0 s' >= ${v}`);
  }
  if (search.until !== undefined) {
    const v = p(search.until);
    both(`ts < ${v}`, `ts + interval '0 s' < ${v}`);
  }
  if (search.minScore !== undefined) {
    const v = p(search.minScore);
    both(`score >= ${v}`, `score + 0 >= ${v}`);
  }
  if (search.maxScore !== undefined) {
    const v = p(search.maxScore);
    both(`score <= ${v}`, `score + 0 <= ${v}`);
  }
  const after = decodeCursor(page.after ?? null);
  if (after !== null) {
    const ts = p(after.ts);
    const id = p(after.id);
    both(
      `(ts, id) < (${ts}::timestamptz, ${id})`,
      `(ts + interval '0 s', id) < (${ts}::timestamptz, ${id})`,
    );
  }
  const select = (conditions: readonly string[]): string =>
    `SELECT ${ROW_COLUMNS}
     FROM quarantine
     WHERE ${conditions.join(' AND ')}
     ORDER BY ts DESC, id DESC
     LIMIT ${limit + 1}`;
  // Two plans, each fast where the other is slow. The walk down the (status, ts) index finds a
  // page at once when matches are common, but reads every row when they are rare or none are
  // held (a user with an empty quarantine). The lookup plan fetches the matches through their
  // own index and sorts them: fast when they are few, slow when they are many. The planner
  // cannot tell these apart reliably (correlated columns, substring estimates), so the likelier
  // plan runs first with a budget of `budgetMs` (the lookup for whole addresses and local
  // parts, else the walk), and the other one takes over when the budget runs out.
  const walkQuery = select([...walk, ...lookups]);
  const lookupQuery = select([...opaque, ...lookups]);
  const runWalk = (budget: number | null): Promise<RawRow[]> =>
    db.transaction(async (tx) => {
      if (budget !== null) await tx.execute(`SET LOCAL statement_timeout = ${budget}`);
      return tx.query<RawRow>(walkQuery, params);
    });
  const runLookup = (budget: number | null): Promise<RawRow[]> =>
    db.transaction(async (tx) => {
      if (budget !== null) await tx.execute(`SET LOCAL statement_timeout = ${budget}`);
      await tx.execute('SET LOCAL enable_indexscan = off');
      await tx.execute('SET LOCAL enable_seqscan = off');
      return tx.query<RawRow>(lookupQuery, params);
    });
  let rows: RawRow[];
  if (lookups.length === 0 || plan === 'walk') {
    rows = await runWalk(null);
  } else if (plan === 'lookup') {
    rows = await runLookup(null);
  } else {
    const [first, second] = narrow ? [runLookup, runWalk] : [runWalk, runLookup];
    try {
      rows = await first(budgetMs);
    } catch (err) {
      if (sqlState(err) !== QUERY_CANCELED) throw err;
      rows = await second(null);
    }
  }
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  const last = shown[shown.length - 1];
  return {
    rows: shown.map(fromRaw),
    next: more && last !== undefined ? encodeCursor(last.ts_key, last.id) : null,
  };
}

/** SQLSTATE of a statement stopped by statement_timeout. */
const QUERY_CANCELED = '57014';

/** What searchQuarantine needs: transactions, for its SET LOCAL planner settings. */
export interface Transactional {
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

const ROW_COLUMNS = `id, node_id, ts, ts::text AS ts_key, queue_id, client_address, helo, sender,
       recipients, subject, size_bytes, reason, score, symbols, rule, virus_names, status,
       released_at, released_by, path`;

/** One row by message id, or null. */
export async function getQuarantineRow(db: Queryable, id: string): Promise<QuarantineRow | null> {
  const rows = await db.query<RawRow>(`SELECT ${ROW_COLUMNS} FROM quarantine WHERE id = $1`, [id]);
  const row = rows[0];
  return row === undefined ? null : fromRaw(row);
}

/**
 * The row's status after an action on the stored message: released (the first release's time
 * and actor are kept; a deleted row stays deleted) or deleted.
 */
export async function setQuarantineStatus(
  db: Queryable,
  id: string,
  status: 'released' | 'deleted',
  by: string,
  options: { readonly onlyIfHeld?: boolean } = {},
): Promise<void> {
  // onlyIfHeld: an end user's action never overrides an administrator's earlier decision.
  const guard = options.onlyIfHeld === true ? `status = 'held'` : null;
  if (status === 'released') {
    await db.query(
      `UPDATE quarantine SET status = 'released', released_at = coalesce(released_at, now()),
         released_by = coalesce(released_by, $2) WHERE id = $1 AND ${guard ?? `status <> 'deleted'`}`,
      [id, by],
    );
  } else {
    await db.query(
      `UPDATE quarantine SET status = 'deleted' WHERE id = $1${guard === null ? '' : ` AND ${guard}`}`,
      [id],
    );
  }
}

function fromRaw(r: RawRow): QuarantineRow {
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
    sizeBytes: r.size_bytes,
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

/** The cursor carries the server's own text form of ts, so microseconds survive the trip. */
function encodeCursor(ts: string, id: string): string {
  return Buffer.from(JSON.stringify([ts, id])).toString('base64url');
}

function decodeCursor(cursor: string | null): { ts: string; id: string } | null {
  if (cursor === null || cursor === '') return null;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string' &&
      /^\d{4}-\d\d-\d\d[ T][\d:.]+([+-][\d:]+|Z)?$/.test(value[0])
    ) {
      return { ts: value[0], id: value[1] };
    }
  } catch {
    // Fall through: an invalid cursor means the first page.
  }
  return null;
}

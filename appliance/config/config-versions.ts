/**
 * Configuration versions (ARCHITECTURE.md "State and who owns it"): every change of the
 * node's configuration files is recorded as a new row of `config_versions`, with the next
 * version number, a JSON snapshot of the files, when, and who (from the audit log when an
 * entry explains the change, else `node:<id>`). The server group later pushes these.
 *
 * The files: policy.sieve, lists/*, jobs.json, users.json, groups.json, portal.json,
 * node.json. Secrets stay out of the snapshot: password hashes, token hashes, TOTP secrets
 * (only whether TOTP is on is kept) and passwords in URLs.
 *
 * One writer per node (the database service polls the files); versions are numbered
 * globally under an advisory lock, so several nodes never take the same number, and a
 * snapshot equal to this node's newest recorded one is not recorded again.
 */
import { createHash } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ParapetError } from '../../filter/index.js';
import type { Db, Queryable } from '../db/index.js';
import { storableJson } from '../db/sql-json.js';

/** The files a version holds, relative to the config folder (lists/ is every file in it). */
export const VERSIONED_CONFIG_FILES = [
  'policy.sieve',
  'jobs.json',
  'users.json',
  'groups.json',
  'portal.json',
  'node.json',
] as const;

/** Relative path → parsed JSON (a .json file) or text; absent files are not listed. */
export type ConfigSnapshot = Readonly<Record<string, unknown>>;

export interface ConfigVersionMeta {
  readonly version: number;
  readonly createdAt: Date;
  readonly author: string;
  readonly comment: string | null;
  readonly nodeId: string | null;
  readonly contentHash: string | null;
}

export interface ConfigVersion extends ConfigVersionMeta {
  readonly content: ConfigSnapshot;
}

/** Advisory lock key for numbering versions ("parapet config" in ASCII). */
const VERSION_LOCK_KEY = 0x7061_7261_636f_6e66n;
/** Largest file taken into a snapshot (bigger ones are recorded by hash only). */
const MAX_FILE_BYTES = 8 * 1024 * 1024;
const SECRET_KEY = /password|passwd|secret|hash|^token$|privatekey/i;
const URL_PASSWORD = /(\/\/[^/:@\s]*):[^@\s/]*@/g;

/** A copy of parsed JSON without secrets (see the file header). */
export function withoutSecrets(value: unknown, depth = 0): unknown {
  if (depth > 32) return '[deep]';
  if (typeof value === 'string') return value.replace(URL_PASSWORD, '$1:[redacted]@');
  if (Array.isArray(value)) return value.map((v) => withoutSecrets(v, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (SECRET_KEY.test(key) && typeof v !== 'boolean') continue;
    if (key === 'totp' && v !== null && typeof v === 'object') {
      out[key] = { enabled: (v as { enabled?: unknown }).enabled === true };
      continue;
    }
    out[key] = withoutSecrets(v, depth + 1);
  }
  return out;
}

async function readSmall(path: string): Promise<Buffer | null> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ParapetError('ERR_INPUT_UNREADABLE', `cannot read ${path}`, { cause: err });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return null;
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

function entryOf(name: string, data: Buffer): unknown {
  if (data.length > MAX_FILE_BYTES) {
    return { tooLarge: true, bytes: data.length, sha256: sha256(data) };
  }
  const text = data.toString('utf8');
  if (!name.endsWith('.json')) return text;
  try {
    return withoutSecrets(JSON.parse(text));
  } catch {
    // A half-edited file is still a state of the configuration; kept as text (redacted).
    return { unparsable: String(withoutSecrets(text)) };
  }
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** The snapshot of the node's configuration files under `configDir`. */
export async function snapshotConfig(configDir: string): Promise<ConfigSnapshot> {
  const out: Record<string, unknown> = {};
  for (const name of VERSIONED_CONFIG_FILES) {
    const data = await readSmall(join(configDir, name));
    if (data !== null) out[name] = entryOf(name, data);
  }
  const lists = await readdir(join(configDir, 'lists')).catch(() => [] as string[]);
  for (const name of lists.filter((n) => !n.endsWith('.tmp') && !n.startsWith('.')).sort()) {
    const data = await readSmall(join(configDir, 'lists', name));
    if (data !== null) out[`lists/${name}`] = entryOf(name, data);
  }
  return out;
}

/** JSON with object keys sorted, so equal snapshots hash equally. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    const obj = value as Record<string, unknown>;
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value === undefined ? null : value);
}

export const snapshotHash = (snapshot: ConfigSnapshot): string => sha256(canonical(snapshot));

/** Audit actions whose noun names configuration (not quarantine work or sign-ins). */
const CONFIG_NOUNS = new Set([
  'policy',
  'list',
  'lists',
  'user',
  'token',
  'group',
  'groups',
  'portal',
  'job',
  'jobs',
  'scheduler',
  'node',
  'config',
  'settings',
]);

/**
 * Who made the change: the actor of the newest successful configuration entry of the local
 * audit log (`auditPath`, its last 1 MiB) written after `since`; null when none.
 */
export async function authorFromAuditLog(auditPath: string, since: Date): Promise<string | null> {
  let text: string;
  try {
    const handle = await open(auditPath, 'r');
    try {
      const size = (await handle.stat()).size;
      const from = Math.max(0, size - 1024 * 1024);
      const buf = Buffer.alloc(size - from);
      await handle.read(buf, 0, buf.length, from);
      text = buf.toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return null;
  }
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    let e: { at?: unknown; actor?: unknown; action?: unknown; outcome?: unknown };
    try {
      e = JSON.parse(lines[i] ?? '') as typeof e;
    } catch {
      continue;
    }
    if (typeof e.at !== 'string' || typeof e.actor !== 'string' || typeof e.action !== 'string') {
      continue;
    }
    const at = Date.parse(e.at);
    if (Number.isNaN(at) || at < since.getTime()) break;
    if (e.outcome !== undefined && e.outcome !== 'ok') continue;
    if (CONFIG_NOUNS.has(e.action.split('.')[0] ?? '')) return e.actor;
  }
  return null;
}

interface RawVersion {
  version: string;
  created_at: Date;
  author: string;
  comment: string | null;
  node_id: string | null;
  content_hash: string | null;
  content?: ConfigSnapshot;
}

const metaOf = (r: RawVersion): ConfigVersionMeta => ({
  version: Number(r.version),
  createdAt: r.created_at,
  author: r.author,
  comment: r.comment,
  nodeId: r.node_id,
  contentHash: r.content_hash,
});

export interface RecordResult {
  /** The version recorded, or null when the files match this node's newest version. */
  readonly recorded: ConfigVersionMeta | null;
  readonly contentHash: string;
}

/**
 * Records the node's configuration as a new version when it differs from the newest one this
 * node recorded. `auditPath`: the local audit log, for the author.
 */
export async function recordConfigVersion(
  db: Db,
  options: { nodeId: string; configDir: string; auditPath: string; comment?: string },
): Promise<RecordResult> {
  const content = await snapshotConfig(options.configDir);
  const contentHash = snapshotHash(content);
  const recorded = await db.transaction(async (tx: Queryable) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [VERSION_LOCK_KEY.toString()]);
    const last = await tx.query<{ content_hash: string | null; created_at: Date }>(
      `SELECT content_hash, created_at FROM config_versions WHERE node_id = $1
       ORDER BY version DESC LIMIT 1`,
      [options.nodeId],
    );
    if (last[0]?.content_hash === contentHash) return null;
    const since = last[0]?.created_at ?? new Date(0);
    const author = (await authorFromAuditLog(options.auditPath, since)) ?? `node:${options.nodeId}`;
    const rows = await tx.query<RawVersion>(
      `INSERT INTO config_versions (version, author, comment, content, node_id, content_hash)
       SELECT coalesce(max(version), 0) + 1, $1, $2, ($3::jsonb) -> 0, $4, $5
       FROM config_versions
       RETURNING version::text, created_at, author, comment, node_id, content_hash`,
      [author, options.comment ?? null, storableJson([content]), options.nodeId, contentHash],
    );
    const row = rows[0];
    if (row === undefined) throw new ParapetError('ERR_DB_QUERY_FAILED', 'no version returned');
    return metaOf(row);
  });
  return { recorded, contentHash };
}

/** Every version, newest first (at most `limit`, default 1000), without content. */
export async function listConfigVersions(
  db: Queryable,
  limit = 1000,
): Promise<ConfigVersionMeta[]> {
  const rows = await db.query<RawVersion>(
    `SELECT version::text, created_at, author, comment, node_id, content_hash
     FROM config_versions ORDER BY version DESC LIMIT $1`,
    [Math.max(1, Math.min(100_000, Math.floor(limit)))],
  );
  return rows.map(metaOf);
}

/** One version with its content; ERR_NOT_FOUND when there is none. */
export async function readConfigVersion(db: Queryable, version: number): Promise<ConfigVersion> {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new ParapetError('ERR_NOT_FOUND', `no configuration version ${String(version)}`);
  }
  const rows = await db.query<RawVersion & { content: ConfigSnapshot }>(
    `SELECT version::text, created_at, author, comment, node_id, content_hash, content
     FROM config_versions WHERE version = $1`,
    [version],
  );
  const row = rows[0];
  if (row === undefined) {
    throw new ParapetError('ERR_NOT_FOUND', `no configuration version ${String(version)}`);
  }
  return { ...metaOf(row), content: row.content };
}

/** Inode, size and mtime of every versioned file: changes whenever a file is written. */
async function filesSignature(configDir: string): Promise<string> {
  const lists = await readdir(join(configDir, 'lists')).catch(() => [] as string[]);
  const names = [...VERSIONED_CONFIG_FILES, ...lists.sort().map((n) => `lists/${n}`)];
  const parts: string[] = [];
  for (const name of names) {
    const st = await stat(join(configDir, name)).catch(() => null);
    parts.push(
      st === null
        ? `${name}:-`
        : `${name}:${String(st.ino)}:${String(st.size)}:${String(st.mtimeMs)}`,
    );
  }
  return parts.join('\n');
}

/**
 * Records a version whenever the files change: checks every `intervalMs` (default 5000) and
 * once at start. A database that is away is retried on the next tick; the change is recorded
 * then (its time is when it was noticed).
 */
export class ConfigVersionRecorder {
  readonly #db: Db;
  readonly #options: { nodeId: string; configDir: string; auditPath: string };
  readonly #intervalMs: number;
  readonly #onEvent: (event: { type: 'recorded' | 'error'; detail: unknown }) => void;
  #lastSignature: string | null = null;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(options: {
    db: Db;
    nodeId: string;
    configDir: string;
    auditPath: string;
    intervalMs?: number;
    onEvent?: (event: { type: 'recorded' | 'error'; detail: unknown }) => void;
  }) {
    this.#db = options.db;
    this.#options = {
      nodeId: options.nodeId,
      configDir: options.configDir,
      auditPath: options.auditPath,
    };
    this.#intervalMs = options.intervalMs ?? 5000;
    this.#onEvent = options.onEvent ?? (() => undefined);
  }

  /** One check: records a version when the files differ from the last one recorded. */
  async check(): Promise<ConfigVersionMeta | null> {
    // Cheap first: the files' identities, sizes and times; the contents only when they moved.
    const signature = await filesSignature(this.#options.configDir);
    if (signature === this.#lastSignature) return null;
    const r = await recordConfigVersion(this.#db, this.#options);
    this.#lastSignature = signature;
    if (r.recorded !== null) this.#onEvent({ type: 'recorded', detail: r.recorded });
    return r.recorded;
  }

  start(): void {
    if (this.#timer !== null) return;
    const tick = (): void => {
      // A slow check (database away, connect timeout) is not overlapped by the next one.
      if (this.#running !== null) return;
      this.#running = this.check()
        .then(
          () => undefined,
          (err: unknown) => {
            this.#onEvent({ type: 'error', detail: err instanceof Error ? err.message : err });
          },
        )
        .finally(() => {
          this.#running = null;
        });
    };
    tick();
    this.#timer = setInterval(tick, this.#intervalMs);
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }
}

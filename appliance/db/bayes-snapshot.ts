/**
 * Moving Bayes tokens between the shared store and a node's snapshot file
 * (`$PARAPET_HOME/bayes/tokens.json`, the JSON-file store's format 1, which the policy service
 * scans from): the export writes the whole database store into the file (atomic: temp file,
 * fsync, rename), the one-time import loads a node's own file into an empty database.
 *
 * An exported file says where it came from in its first bytes (`"origin":"database",
 * "dbVersion":N`), so the exporter can tell a stale cache (another version) from a node's own
 * trained store (no origin), which it must import or keep rather than overwrite. The JSON-file
 * store's parser ignores the extra keys. Learned message keys stay in the database: a scan
 * does not need them.
 */
import { open, rename, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ParapetError, type MessageTotals, type TokenStoreSnapshot } from '../../filter/index.js';
import type { Db } from './db.js';

/** Token rows per query of an export (keyset pages over the primary key). */
const EXPORT_PAGE = 50_000;
/** Rows per statement of an import. */
const IMPORT_CHUNK = 10_000;

/** What the first bytes of a snapshot file say about it. */
export type SnapshotOrigin =
  | { readonly kind: 'database'; readonly dbVersion: number }
  /** Written by the JSON-file store (`parapet learn` without a database): the node's own. */
  | { readonly kind: 'local' };

const HEAD = /^\{"format":"parapet-bayes","version":1,"origin":"database","dbVersion":(\d{1,16}),/;

/** Reads the origin of the snapshot at `path`; null when there is no file. */
export async function readSnapshotOrigin(path: string): Promise<SnapshotOrigin | null> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ParapetError('ERR_BAYES_STORE_IO', `cannot read ${path}`, { cause: err });
  }
  try {
    const buffer = Buffer.alloc(128);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
    const match = HEAD.exec(buffer.subarray(0, bytesRead).toString('latin1'));
    return match?.[1] === undefined
      ? { kind: 'local' }
      : { kind: 'database', dbVersion: Number(match[1]) };
  } finally {
    await file.close();
  }
}

/** What {@link exportBayesSnapshot} wrote. */
export interface BayesExportResult {
  readonly dbVersion: number;
  readonly tokens: number;
  readonly totals: MessageTotals;
  readonly bytes: number;
}

/**
 * Writes the database store to `path` as a snapshot, consistent as of one moment (a repeatable
 * read transaction), without holding the whole table in memory: pages of rows are appended to
 * a temp file that replaces `path` only when complete and synced.
 */
export async function exportBayesSnapshot(db: Db, path: string): Promise<BayesExportResult> {
  const temp = `${path}.${String(process.pid)}.export.tmp`;
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  let file;
  try {
    file = await open(temp, 'w', 0o640);
  } catch (err) {
    throw new ParapetError('ERR_BAYES_STORE_IO', `cannot write ${temp}`, { cause: err });
  }
  let bytes = 0;
  const write = async (text: string): Promise<void> => {
    try {
      await file.write(text);
    } catch (err) {
      throw new ParapetError('ERR_BAYES_STORE_IO', `cannot write ${temp}`, { cause: err });
    }
    bytes += Buffer.byteLength(text);
  };
  try {
    const result = await db.transaction(
      async (tx) => {
        const head = await tx.query<{ nspam: number; nham: number; version: number }>(
          'SELECT nspam, nham, version FROM bayes_totals',
        );
        const totals = { spam: head[0]?.nspam ?? 0, ham: head[0]?.nham ?? 0 };
        const dbVersion = head[0]?.version ?? 0;
        await write(
          `{"format":"parapet-bayes","version":1,"origin":"database",` +
            `"dbVersion":${String(dbVersion)},"totals":${JSON.stringify(totals)},"tokens":[`,
        );
        let after = -1;
        let tokens = 0;
        for (;;) {
          // The server formats each page as one text (a row object per token cost the client
          // several times more than the query).
          const pages = await tx.query<{ text: string | null; last: number | null; n: number }>(
            `SELECT string_agg(token || ',' || nspam || ',' || nham || ',' || t, ',' ORDER BY token)
                      AS text, max(token) AS last, count(*)::int AS n
               FROM (SELECT token, nspam, nham, floor(extract(epoch FROM last_seen))::bigint AS t
                       FROM bayes_tokens WHERE token > $1 ORDER BY token
                      LIMIT ${String(EXPORT_PAGE)}) page`,
            [after],
          );
          const page = pages[0];
          if (page === undefined || page.n === 0 || page.text === null || page.last === null) break;
          await write(`${tokens > 0 ? ',' : ''}${page.text}`);
          tokens += page.n;
          after = page.last;
          if (page.n < EXPORT_PAGE) break;
        }
        await write('],"learned":{}}');
        return { dbVersion, tokens, totals };
      },
      { isolation: 'repeatable read' },
    );
    try {
      await file.sync();
      await file.close();
      await rename(temp, path);
    } catch (err) {
      throw new ParapetError('ERR_BAYES_STORE_IO', `cannot write ${path}`, { cause: err });
    }
    return { ...result, bytes };
  } catch (err) {
    await file.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/** What {@link importBayesSnapshotIfEmpty} did. */
export interface BayesImportResult {
  /** False when the database store already held something (nothing was changed). */
  readonly imported: boolean;
  readonly tokens: number;
  readonly learned: number;
}

/**
 * Loads a node's own snapshot into the database store when that is still empty (no totals,
 * tokens or learned keys), in one transaction that holds the totals row: of two nodes importing
 * at once, one imports and the other finds the store no longer empty.
 */
export async function importBayesSnapshotIfEmpty(
  db: Db,
  snapshot: TokenStoreSnapshot,
): Promise<BayesImportResult> {
  const none: BayesImportResult = { imported: false, tokens: 0, learned: 0 };
  if (snapshot.totals.spam + snapshot.totals.ham === 0 && snapshot.tokens.size === 0) return none;
  return db.transaction(async (tx) => {
    const totals = await tx.query<{ nspam: number; nham: number }>(
      'SELECT nspam, nham FROM bayes_totals FOR UPDATE',
    );
    const held = await tx.query(
      `SELECT 1 FROM bayes_tokens UNION ALL SELECT 1 FROM bayes_learned LIMIT 1`,
    );
    const t = totals[0];
    if (t === undefined || t.nspam + t.nham > 0 || held.length > 0) return none;
    const rows = [...snapshot.tokens];
    for (let i = 0; i < rows.length; i += IMPORT_CHUNK) {
      const chunk = rows.slice(i, i + IMPORT_CHUNK);
      await tx.execute(
        `INSERT INTO bayes_tokens (token, nspam, nham, last_seen)
         SELECT t, s, h, to_timestamp(l)
           FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) AS x(t, s, h, l)`,
        [
          chunk.map(([id]) => id),
          chunk.map(([, r]) => r.spam),
          chunk.map(([, r]) => r.ham),
          chunk.map(([, r]) => r.lastSeenSec),
        ],
      );
    }
    const learned = [...snapshot.learned];
    for (let i = 0; i < learned.length; i += IMPORT_CHUNK) {
      const chunk = learned.slice(i, i + IMPORT_CHUNK);
      await tx.execute(
        `INSERT INTO bayes_learned (message_key, class)
         SELECT k, c FROM unnest($1::text[], $2::text[]) AS x(k, c)`,
        [chunk.map(([key]) => key), chunk.map(([, cls]) => cls)],
      );
    }
    await tx.execute(
      `UPDATE bayes_totals SET nspam = $1, nham = $2, version = version + 1, updated_at = now()`,
      [snapshot.totals.spam, snapshot.totals.ham],
    );
    return { imported: true, tokens: rows.length, learned: learned.length };
  });
}

/**
 * The node's quarantine as qman sees it: the files the data plane wrote durably
 * (`$PARAPET_HOME/quarantine/<day>/<id>.eml` + `.json`, filter/quarantine/writer.ts) plus a
 * small state file per message that qman writes (`<id>.state.json`: released, forwarded).
 * Reads the local files, so it works with the database away; the central search over all
 * nodes (millions of rows) is the database's job (appliance/db).
 */
import { existsSync } from 'node:fs';
import { open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ParapetError, type QuarantineMetadata } from '../../filter/index.js';

export interface QuarantineState {
  readonly releasedAt: string | null;
  readonly releasedBy: string | null;
  /** Outbound queue item of the release. */
  readonly releaseItem: string | null;
  readonly forwards: readonly { readonly to: string; readonly at: string; readonly by: string }[];
}

export interface QuarantineEntry extends QuarantineMetadata {
  readonly status: 'quarantined' | 'released';
  readonly state: QuarantineState;
  /** Path of the stored message. */
  readonly path: string;
}

export interface QuarantineQuery {
  /** Substring of the envelope sender (case-insensitive). */
  readonly from?: string;
  /** Substring of any envelope recipient. */
  readonly to?: string;
  readonly subject?: string;
  readonly reason?: string;
  readonly since?: Date;
  readonly until?: Date;
  readonly minScore?: number;
  readonly maxScore?: number;
  /** Substring of a symbol name (VIRUS_FOUND …) or of the reason (virus names). */
  readonly virus?: string;
  readonly status?: 'quarantined' | 'released';
  /** Newest first; default 100. */
  readonly limit?: number;
}

const EMPTY_STATE: QuarantineState = {
  releasedAt: null,
  releasedBy: null,
  releaseItem: null,
  forwards: [],
};
const ID = /^[A-Za-z0-9_-]{8,64}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export class QuarantineStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async #days(): Promise<string[]> {
    try {
      return (await readdir(this.dir))
        .filter((d) => DAY.test(d))
        .sort()
        .reverse();
    } catch {
      return [];
    }
  }

  /** Every stored message, newest day first (ids are time-ordered within a day). */
  async *entries(): AsyncGenerator<QuarantineEntry> {
    for (const day of await this.#days()) {
      const names = (await readdir(join(this.dir, day)).catch(() => [] as string[]))
        .filter((n) => n.endsWith('.json') && !n.endsWith('.state.json'))
        .sort()
        .reverse();
      for (const name of names) {
        const entry = await this.#read(day, name.slice(0, -5));
        if (entry !== null) yield entry;
      }
    }
  }

  async #read(day: string, id: string): Promise<QuarantineEntry | null> {
    const base = join(this.dir, day, id);
    try {
      const meta = JSON.parse(await readFile(`${base}.json`, 'utf8')) as QuarantineMetadata;
      let state = EMPTY_STATE;
      if (existsSync(`${base}.state.json`)) {
        state = {
          ...EMPTY_STATE,
          ...(JSON.parse(await readFile(`${base}.state.json`, 'utf8')) as Partial<QuarantineState>),
        };
      }
      return {
        ...meta,
        status: state.releasedAt === null ? 'quarantined' : 'released',
        state,
        path: `${base}.eml`,
      };
    } catch {
      return null;
    }
  }

  async get(id: string): Promise<QuarantineEntry> {
    if (!ID.test(id)) throw new ParapetError('ERR_NOT_FOUND', `no quarantined message ${id}`);
    for (const day of await this.#days()) {
      if (existsSync(join(this.dir, day, `${id}.json`))) {
        const entry = await this.#read(day, id);
        if (entry !== null) return entry;
      }
    }
    throw new ParapetError('ERR_NOT_FOUND', `no quarantined message ${id}`);
  }

  async search(query: QuarantineQuery = {}): Promise<QuarantineEntry[]> {
    const out: QuarantineEntry[] = [];
    const limit = query.limit ?? 100;
    const has = (value: string | null | undefined, needle: string | undefined): boolean =>
      needle === undefined || (value ?? '').toLowerCase().includes(needle.toLowerCase());
    for await (const e of this.entries()) {
      const t = Date.parse(e.time);
      if (query.since !== undefined && t < query.since.getTime()) continue;
      if (query.until !== undefined && t >= query.until.getTime()) continue;
      if (!has(e.from, query.from)) continue;
      if (query.to !== undefined && !e.to.some((r) => has(r, query.to))) continue;
      if (!has(e.subject, query.subject) || !has(e.reason, query.reason)) continue;
      if (query.minScore !== undefined && (e.score ?? -Infinity) < query.minScore) continue;
      if (query.maxScore !== undefined && (e.score ?? Infinity) > query.maxScore) continue;
      if (
        query.virus !== undefined &&
        !e.symbols.some((s) => has(s, query.virus)) &&
        !has(e.reason, query.virus)
      ) {
        continue;
      }
      if (query.status !== undefined && e.status !== query.status) continue;
      out.push(e);
      if (out.length >= limit) break;
    }
    return out;
  }

  async message(id: string): Promise<Buffer> {
    return readFile((await this.get(id)).path);
  }

  /** Replaces the state file atomically. */
  async setState(
    id: string,
    update: (s: QuarantineState) => QuarantineState,
  ): Promise<QuarantineState> {
    const entry = await this.get(id);
    const path = entry.path.replace(/\.eml$/, '.state.json');
    const next = update(entry.state);
    const tmp = `${path}.${String(process.pid)}.tmp`;
    const handle = await open(tmp, 'w', 0o640);
    try {
      await handle.writeFile(`${JSON.stringify(next)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    return next;
  }

  async delete(id: string): Promise<void> {
    const entry = await this.get(id);
    const base = entry.path.slice(0, -4);
    // Metadata first: a message without metadata is invisible, never half-listed.
    await rm(`${base}.json`, { force: true });
    await rm(`${base}.state.json`, { force: true });
    await rm(entry.path, { force: true });
  }

  /** Deletes messages quarantined before `before`; returns the ids (none with dryRun). */
  async expire(before: Date, dryRun = false): Promise<string[]> {
    const gone: string[] = [];
    for await (const e of this.entries()) {
      if (Date.parse(e.time) >= before.getTime()) continue;
      gone.push(e.id);
      if (!dryRun) await this.delete(e.id);
    }
    if (!dryRun) {
      // Drop day folders left empty.
      for (const day of await this.#days()) {
        const left = await readdir(join(this.dir, day)).catch(() => ['?']);
        if (left.length === 0) await rm(join(this.dir, day), { recursive: true, force: true });
      }
    }
    return gone;
  }
}

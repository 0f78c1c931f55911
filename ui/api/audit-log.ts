/**
 * The audit log of the web interfaces and `parapet user`: one JSON line per change (who,
 * when, from where, what, on which object) appended to `$PARAPET_HOME/log/audit.jsonl`
 * (mode 0600). Details pass through redact() so that no password, secret or token reaches it.
 */
import { appendFile, chown, mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditLine } from '../../appliance/index.js';

/** One audit line as written here: appliance's AuditLine (which the shipper reads back). */
export interface AuditEntry extends AuditLine {
  readonly outcome: 'ok' | 'denied' | 'failed';
}

const SECRET_KEY = /pass|secret|token|totp|hash|key|cookie|csrf/i;

/** A copy of `value` with every secret-looking field replaced by "[redacted]". */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[deep]';
  if (Array.isArray(value)) return value.slice(0, 100).map((v) => redact(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
    }
    return out;
  }
  if (typeof value === 'string' && value.length > 2000) return `${value.slice(0, 2000)}…`;
  return value;
}

export interface AuditQuery {
  readonly actor?: string;
  readonly action?: string;
  readonly since?: Date;
  readonly limit?: number;
}

export class AuditLog {
  readonly #path: string;
  #ready: Promise<void> | null = null;

  constructor(path: string) {
    this.#path = path;
  }

  async record(entry: Omit<AuditEntry, 'at' | 'details'> & { details?: unknown }): Promise<void> {
    await (this.#ready ??= this.#prepare());
    const line: AuditEntry = {
      at: new Date().toISOString(),
      actor: entry.actor,
      surface: entry.surface,
      ip: entry.ip,
      action: entry.action,
      object: entry.object,
      outcome: entry.outcome,
      details: (redact(entry.details ?? {}) ?? {}) as Record<string, unknown>,
    };
    await appendFile(this.#path, `${JSON.stringify(line)}\n`, { mode: 0o600 });
  }

  /** Newest first, filtered; reads the file's tail (the last 8 MiB). */
  async query(q: AuditQuery = {}): Promise<AuditEntry[]> {
    let text: string;
    try {
      const st = await stat(this.#path);
      const from = Math.max(0, st.size - 8 * 1024 * 1024);
      if (from === 0) text = await readFile(this.#path, 'utf8');
      else {
        const fh = await open(this.#path, 'r');
        try {
          const buf = Buffer.alloc(st.size - from);
          await fh.read(buf, 0, buf.length, from);
          text = buf.toString('utf8');
          text = text.slice(text.indexOf('\n') + 1);
        } finally {
          await fh.close();
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const limit = Math.min(Math.max(q.limit ?? 200, 1), 5000);
    const out: AuditEntry[] = [];
    const lines = text.split('\n');
    for (let i = lines.length - 1; i >= 0 && out.length < limit; i--) {
      const raw = lines[i];
      if (raw === undefined || raw === '') continue;
      let e: AuditEntry;
      try {
        e = JSON.parse(raw) as AuditEntry;
      } catch {
        continue;
      }
      if (q.actor !== undefined && e.actor !== q.actor) continue;
      if (q.action !== undefined && !e.action.startsWith(q.action)) continue;
      if (q.since !== undefined && Date.parse(e.at) < q.since.getTime()) continue;
      out.push(e);
    }
    return out;
  }

  async #prepare(): Promise<void> {
    const dir = dirname(this.#path);
    await mkdir(dir, { recursive: true, mode: 0o750 });
    // Created by root (`parapet user`) before the services' user writes to it: same owner as
    // its folder.
    const fh = await open(this.#path, 'a', 0o600);
    await fh.close();
    const owner = await stat(dir);
    if (process.getuid?.() === 0 && owner.uid !== 0) await chown(this.#path, owner.uid, owner.gid);
  }
}

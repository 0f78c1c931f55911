/**
 * /api/v1/dashboard: the Manager's first page — mail flow now (the last 15 minutes, per
 * minute) and today, the verdict mix, the outbound queue and quarantine sizes, and the state
 * of the node's services. `GET /api/v1/dashboard` answers one snapshot (first paint, scripts);
 * `/api/v1/dashboard/live` is a WebSocket that pushes one every 2 s to Manager accounts.
 *
 * Sources: this node's message log (`$PARAPET_HOME/log/message-log.jsonl`), read
 * incrementally from where the last read stopped, so a snapshot never waits on the database;
 * today's figures of the other nodes from the roll-ups (message_log_hourly) when the database
 * answers within a short budget (cached); pm2 for the services. Every source that fails is
 * reported as null or with an error text, never as a failed snapshot.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, WebSocket } from 'ws';
import {
  listServices,
  OutboundQueue,
  type NodeConfig,
  type ServiceStatus,
} from '../../../appliance/index.js';
import { ADMIN_READ } from '../access.js';
import type { ApiContext } from '../context.js';
import { principalOfUpgrade } from '../guard.js';
import type { ApiModule } from '../modules.js';

const MINUTE_MS = 60_000;
/** The "now" window. */
export const NOW_MINUTES = 15;
/** How often the live socket pushes a snapshot. */
export const LIVE_INTERVAL_MS = 2000;
export const LIVE_PATH = '/api/v1/dashboard/live';
/** A first read of a big log starts at most this far from its end (today is then partial). */
const MAX_INITIAL_BYTES = 64 * 1024 * 1024;
/** One refresh reads at most this much; the rest follows at the next one. */
const MAX_READ_BYTES = 16 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;
const DB_BUDGET_MS = 2000;
const DB_CACHE_MS = 30_000;

/** Dispositions (filter/pipeline Disposition) grouped the way the dashboard shows them. */
export const MIX_GROUPS = {
  delivered: ['reinjected', 'released', 'duplicate'],
  quarantined: ['quarantined'],
  rejected: ['rejected'],
  discarded: ['discarded'],
  tempfailed: ['tempfailed', 'aborted'],
} as const;
export type MixGroup = keyof typeof MIX_GROUPS;
export type VerdictMix = Record<MixGroup, number>;

const GROUP_OF = new Map<string, MixGroup>(
  Object.entries(MIX_GROUPS).flatMap(([g, ds]) => ds.map((d) => [d, g as MixGroup] as const)),
);

export interface FlowCounts {
  messages: number;
  bytes: number;
  mix: VerdictMix;
}

const emptyCounts = (): FlowCounts => ({
  messages: 0,
  bytes: 0,
  mix: { delivered: 0, quarantined: 0, rejected: 0, discarded: 0, tempfailed: 0 },
});

function addCounts(into: FlowCounts, from: FlowCounts): void {
  into.messages += from.messages;
  into.bytes += from.bytes;
  for (const g of Object.keys(into.mix) as MixGroup[]) into.mix[g] += from.mix[g];
}

function countDisposition(into: FlowCounts, disposition: string, messages: number, bytes: number) {
  into.messages += messages;
  into.bytes += bytes;
  const g = GROUP_OF.get(disposition);
  if (g !== undefined) into.mix[g] += messages;
}

export interface DashboardSnapshot {
  readonly at: string;
  readonly nodeId: string;
  readonly now: FlowCounts & {
    readonly windowMinutes: number;
    /** Oldest first, one entry per minute of the window (the last one is still running). */
    readonly perMinute: readonly { readonly minute: string; readonly messages: number }[];
    readonly lastMessageAt: string | null;
  };
  readonly today: FlowCounts & {
    /** UTC midnight. */
    readonly since: string;
    /** local-log: this node only; database+local-log: other nodes from the roll-ups too. */
    readonly source: 'local-log' | 'database+local-log';
    /** The local log was too long to read back to midnight (its figure is a lower bound). */
    readonly partial: boolean;
    readonly nodes: number;
  };
  /** Outbound queue items by status; null when it cannot be read. */
  readonly queue: {
    readonly queued: number;
    readonly failed: number;
    readonly uncertain: number;
  } | null;
  /** Messages held in this node's quarantine; null when it cannot be read. */
  readonly quarantine: { readonly messages: number } | null;
  readonly services: {
    /** False when the node's pm2 is not running (a checkout running one service by hand). */
    readonly running: boolean;
    readonly list: readonly {
      readonly name: string;
      readonly status: string;
      readonly pid: number | null;
      readonly uptimeMs: number | null;
      readonly restarts: number;
    }[];
    readonly error: string | null;
  };
}

const startOfUtcDay = (ms: number): number => {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
};

/**
 * This node's message log, per minute, from UTC midnight (or the last 15 minutes, whichever
 * is earlier) to now. Reads only what was appended since the last refresh; starts again when
 * the file is replaced or truncated.
 */
export class MessageFlow {
  readonly #path: string;
  #offset = -1;
  #ino = -1;
  #buckets = new Map<number, FlowCounts>();
  #partial = false;
  #lastAt: string | null = null;
  #busy: Promise<void> | null = null;

  readonly #maxInitialBytes: number;
  readonly #maxReadBytes: number;

  constructor(path: string, limits: { maxInitialBytes?: number; maxReadBytes?: number } = {}) {
    this.#path = path;
    this.#maxInitialBytes = limits.maxInitialBytes ?? MAX_INITIAL_BYTES;
    this.#maxReadBytes = limits.maxReadBytes ?? MAX_READ_BYTES;
  }

  /** Reads what was appended; concurrent callers share one read. */
  refresh(nowMs = Date.now()): Promise<void> {
    this.#busy ??= this.#refresh(nowMs).finally(() => {
      this.#busy = null;
    });
    return this.#busy;
  }

  #keepFrom(nowMs: number): number {
    return Math.min(startOfUtcDay(nowMs), nowMs - NOW_MINUTES * MINUTE_MS);
  }

  async #refresh(nowMs: number): Promise<void> {
    const keepFrom = this.#keepFrom(nowMs);
    for (const key of this.#buckets.keys()) if (key < keepFrom) this.#buckets.delete(key);
    let size: number;
    try {
      const st = await stat(this.#path);
      if (st.ino !== this.#ino || st.size < this.#offset) {
        this.#buckets.clear();
        this.#offset = -1;
        this.#ino = st.ino;
        this.#partial = false;
        this.#lastAt = null;
      }
      size = st.size;
    } catch {
      this.#buckets.clear();
      this.#offset = -1;
      return;
    }
    const fh = await open(this.#path, 'r');
    try {
      if (this.#offset < 0) {
        const start = await findStart(fh, size, keepFrom, this.#maxInitialBytes);
        this.#offset = start.offset;
        this.#partial = start.partial;
      }
      const end = Math.min(size, this.#offset + this.#maxReadBytes);
      const buf = Buffer.alloc(CHUNK_BYTES);
      while (this.#offset < end) {
        const { bytesRead } = await fh.read(
          buf,
          0,
          Math.min(CHUNK_BYTES, end - this.#offset),
          this.#offset,
        );
        if (bytesRead === 0) break;
        const last = buf.lastIndexOf(0x0a, bytesRead - 1);
        if (last < 0) {
          // A line longer than a chunk is not a record: skip it; a short tail is still being written.
          if (bytesRead === CHUNK_BYTES) this.#offset += bytesRead;
          break;
        }
        for (const line of buf.toString('utf8', 0, last).split('\n')) this.#count(line, keepFrom);
        this.#offset += last + 1;
      }
    } finally {
      await fh.close();
    }
  }

  #count(line: string, keepFrom: number): void {
    if (line === '') return;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      return; // a torn line after a crash
    }
    if (r === null || typeof r !== 'object') return;
    const rec = r as { time?: unknown; sizeBytes?: unknown; disposition?: unknown };
    const t = typeof rec.time === 'string' ? Date.parse(rec.time) : NaN;
    if (Number.isNaN(t) || t < keepFrom) return;
    const key = Math.floor(t / MINUTE_MS) * MINUTE_MS;
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = emptyCounts();
      this.#buckets.set(key, b);
    }
    const bytes = typeof rec.sizeBytes === 'number' && rec.sizeBytes > 0 ? rec.sizeBytes : 0;
    countDisposition(b, typeof rec.disposition === 'string' ? rec.disposition : '', 1, bytes);
    if (this.#lastAt === null || (rec.time as string) > this.#lastAt)
      this.#lastAt = rec.time as string;
  }

  /** The counts since `fromMs` (inclusive, minute-aligned). */
  since(fromMs: number): FlowCounts {
    const out = emptyCounts();
    for (const [key, b] of this.#buckets) if (key >= fromMs) addCounts(out, b);
    return out;
  }

  perMinute(nowMs: number): { minute: string; messages: number }[] {
    const current = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
    const out: { minute: string; messages: number }[] = [];
    for (let i = NOW_MINUTES - 1; i >= 0; i--) {
      const key = current - i * MINUTE_MS;
      out.push({
        minute: new Date(key).toISOString(),
        messages: this.#buckets.get(key)?.messages ?? 0,
      });
    }
    return out;
  }

  get partial(): boolean {
    return this.#partial;
  }

  get lastMessageAt(): string | null {
    return this.#lastAt;
  }
}

type FileHandle = Awaited<ReturnType<typeof open>>;

/** The time of the first whole line at or after `pos`, and where that line starts. */
async function lineTimeAt(
  fh: FileHandle,
  pos: number,
  size: number,
): Promise<{ start: number; time: number } | null> {
  const buf = Buffer.alloc(Math.min(64 * 1024, size - pos));
  const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
  let from = 0;
  if (pos > 0) {
    from = buf.indexOf(0x0a) + 1;
    if (from === 0 || from >= bytesRead) return null;
  }
  const endOfLine = buf.indexOf(0x0a, from);
  if (endOfLine < 0 || endOfLine >= bytesRead) return null;
  const m = /"time":"([^"]{10,40})"/.exec(buf.toString('utf8', from, endOfLine));
  const time = m?.[1] === undefined ? NaN : Date.parse(m[1]);
  return { start: pos + from, time: Number.isNaN(time) ? -Infinity : time };
}

/**
 * Where to start reading for records at or after `fromMs`: a binary search over byte offsets
 * (records are appended in time order), no further back than `maxBytes` from the end.
 */
async function findStart(
  fh: FileHandle,
  size: number,
  fromMs: number,
  maxBytes: number,
): Promise<{ offset: number; partial: boolean }> {
  const floor = Math.max(0, size - maxBytes);
  const first = floor === 0 ? { start: 0, time: -Infinity } : await lineTimeAt(fh, floor, size);
  if (first === null) return { offset: size, partial: false };
  let lo = first.start;
  let hi = size;
  // Invariant: the line at lo is older than fromMs (or lo is the floor); the answer is in [lo, hi).
  while (hi - lo > 64 * 1024) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const at = await lineTimeAt(fh, mid, size);
    if (at === null || at.time >= fromMs) hi = mid;
    else lo = at.start;
  }
  return { offset: lo, partial: floor > 0 && first.time > fromMs };
}

/** A value recomputed at most every `maxAgeMs`; failures are cached too (as null). */
function cached<T>(maxAgeMs: number, load: () => Promise<T>): () => Promise<T | null> {
  let at = 0;
  let value: T | null = null;
  let pending: Promise<T | null> | null = null;
  return () => {
    if (Date.now() - at < maxAgeMs) return Promise.resolve(value);
    pending ??= load()
      .then(
        (v) => v,
        () => null,
      )
      .then((v) => {
        value = v;
        at = Date.now();
        pending = null;
        return v;
      });
    return pending;
  };
}

/** Messages held in the quarantine: `<day>/<id>.eml` files. */
async function countQuarantined(dir: string): Promise<number> {
  let n = 0;
  for (const day of await readdir(dir)) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) continue;
    for (const name of await readdir(join(dir, day))) if (name.endsWith('.eml')) n += 1;
  }
  return n;
}

function withBudget<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`no answer within ${String(ms)} ms`));
      }, ms);
    }),
  ]).finally(() => {
    clearTimeout(timer);
  });
}

interface ServicesState {
  readonly running: boolean;
  readonly list: readonly ServiceStatus[];
  readonly error: string | null;
}

/** Builds snapshots for one web service (shared by GET and every live socket). */
export class DashboardSource {
  readonly #config: NodeConfig;
  readonly #flow: MessageFlow;
  readonly #queue: () => Promise<DashboardSnapshot['queue']>;
  readonly #quarantine: () => Promise<number | null>;
  readonly #rollups: () => Promise<Map<string, FlowCounts> | null>;
  #rollupDay = 0;
  #servicesAt = 0;
  #servicesPending: Promise<ServicesState> | null = null;
  #servicesLast: ServicesState | null = null;

  constructor(ctx: ApiContext) {
    this.#config = ctx.config;
    this.#flow = new MessageFlow(ctx.config.paths.messageLog);
    const q = new OutboundQueue(ctx.config.paths.queue);
    this.#queue = cached(5000, async () => {
      const out = { queued: 0, failed: 0, uncertain: 0 };
      for (const item of await q.list()) if (item.status !== 'delivered') out[item.status] += 1;
      return out;
    });
    this.#quarantine = cached(10_000, () => countQuarantined(ctx.config.paths.quarantine));
    this.#rollups = cached(DB_CACHE_MS, async () => {
      const db = await withBudget(ctx.database(), DB_BUDGET_MS);
      const rows = await withBudget(
        db.query<{
          node_id: string;
          disposition: string;
          messages: number | string;
          bytes: number | string;
        }>(
          `SELECT node_id, disposition, sum(messages)::float8 AS messages,
                  sum(bytes)::float8 AS bytes
           FROM message_log_hourly WHERE bucket >= $1 GROUP BY 1, 2`,
          [new Date(this.#rollupDay)],
        ),
        DB_BUDGET_MS,
      );
      const perNode = new Map<string, FlowCounts>();
      for (const r of rows) {
        let c = perNode.get(r.node_id);
        if (c === undefined) {
          c = emptyCounts();
          perNode.set(r.node_id, c);
        }
        countDisposition(c, r.disposition, Number(r.messages), Number(r.bytes));
      }
      return perNode;
    });
  }

  /** pm2's list, shared by callers within a second (each call is a connection to pm2). */
  #services(): Promise<ServicesState> {
    if (this.#servicesLast !== null && Date.now() - this.#servicesAt < 1000) {
      return Promise.resolve(this.#servicesLast);
    }
    this.#servicesPending ??= listServices(this.#config)
      .then(
        (list): ServicesState => ({ running: list.length > 0, list, error: null }),
        (err: unknown): ServicesState => ({
          running: false,
          list: [],
          error: err instanceof Error ? err.message : String(err),
        }),
      )
      .then((state) => {
        this.#servicesLast = state;
        this.#servicesAt = Date.now();
        this.#servicesPending = null;
        return state;
      });
    return this.#servicesPending;
  }

  async snapshot(nowMs = Date.now()): Promise<DashboardSnapshot> {
    const dayStart = startOfUtcDay(nowMs);
    this.#rollupDay = dayStart;
    const [, queue, quarantine, rollups, services] = await Promise.all([
      this.#flow.refresh(nowMs).catch(() => undefined),
      this.#queue(),
      this.#quarantine(),
      this.#rollups(),
      this.#services(),
    ]);
    const current = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
    const now = this.#flow.since(current - (NOW_MINUTES - 1) * MINUTE_MS);
    const local = this.#flow.since(dayStart);
    const today = emptyCounts();
    let nodes = 1;
    let partial = this.#flow.partial;
    const mine = rollups?.get(this.#config.nodeId);
    // The local log is fresher than the hourly roll-ups for this node, unless it was cut short.
    addCounts(
      today,
      partial && mine !== undefined && mine.messages > local.messages ? mine : local,
    );
    if (partial && mine !== undefined) partial = false;
    for (const [node, counts] of rollups ?? []) {
      if (node === this.#config.nodeId) continue;
      addCounts(today, counts);
      nodes += 1;
    }
    return {
      at: new Date(nowMs).toISOString(),
      nodeId: this.#config.nodeId,
      now: {
        ...now,
        windowMinutes: NOW_MINUTES,
        perMinute: this.#flow.perMinute(nowMs),
        lastMessageAt: this.#flow.lastMessageAt,
      },
      today: {
        ...today,
        since: new Date(dayStart).toISOString(),
        source: rollups === null ? 'local-log' : 'database+local-log',
        partial,
        nodes,
      },
      queue,
      quarantine: quarantine === null ? null : { messages: quarantine },
      services: {
        running: services.running,
        list: services.list.map((s) => ({
          name: s.name,
          status: s.status,
          pid: s.pid,
          uptimeMs: s.uptimeMs,
          restarts: s.restarts,
        })),
        error: services.error,
      },
    };
  }
}

interface LiveClient {
  readonly ws: WebSocket;
  readonly headers: IncomingMessage['headers'];
  readonly cookies: Record<string, string | undefined>;
}

/** The live sockets of one web service: one timer and one snapshot for all of them. */
class DashboardHub {
  readonly #ctx: ApiContext;
  readonly #source: DashboardSource;
  readonly #clients = new Set<LiveClient>();
  #timer: NodeJS.Timeout | null = null;
  #busy = false;

  constructor(ctx: ApiContext, source: DashboardSource) {
    this.#ctx = ctx;
    this.#source = source;
  }

  add(client: LiveClient): void {
    this.#clients.add(client);
    client.ws.on('close', () => {
      this.#clients.delete(client);
      if (this.#clients.size === 0 && this.#timer !== null) {
        clearInterval(this.#timer);
        this.#timer = null;
      }
    });
    client.ws.on('error', () => {
      client.ws.terminate();
    });
    // The page sends nothing; anything it does send is ignored.
    client.ws.on('message', () => undefined);
    this.#timer ??= setInterval(() => void this.#tick(), LIVE_INTERVAL_MS);
    void this.#send([client]);
  }

  async #tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      // A session signed out, expired, disabled or demoted loses its socket at the next push.
      for (const c of this.#clients) {
        const p = await principalOfUpgrade(this.#ctx, c.headers, c.cookies).catch(() => null);
        if (p === null || !allowedLive(p.role)) c.ws.close(4401, 'signed out');
      }
      await this.#send([...this.#clients]);
    } finally {
      this.#busy = false;
    }
  }

  async #send(clients: readonly LiveClient[]): Promise<void> {
    let text: string;
    try {
      text = JSON.stringify({ type: 'snapshot', snapshot: await this.#source.snapshot() });
    } catch (err) {
      this.#ctx.logger.warn({ err }, 'dashboard snapshot failed');
      return;
    }
    for (const c of clients) {
      // A client that does not keep up skips snapshots instead of growing our memory.
      if (c.ws.readyState === WebSocket.OPEN && c.ws.bufferedAmount < 1024 * 1024) c.ws.send(text);
    }
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    for (const c of this.#clients) c.ws.terminate();
    this.#clients.clear();
  }
}

const allowedLive = (role: string): boolean =>
  ADMIN_READ !== 'public' && (ADMIN_READ.roles as readonly string[]).includes(role);

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(
    `HTTP/1.1 ${String(status)} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
  );
}

/** Same origin: the page's Origin names the host it was served from (no cross-site sockets). */
function sameOrigin(headers: IncomingMessage['headers']): boolean {
  const origin = headers.origin;
  const host = headers.host;
  if (typeof origin !== 'string' || typeof host !== 'string') return false;
  try {
    const u = new URL(origin);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.host === host : false;
  } catch {
    return false;
  }
}

function attachLiveSocket(app: FastifyInstance, ctx: ApiContext, hub: DashboardHub): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024, perMessageDeflate: false });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => undefined);
    const path = (req.url ?? '').split('?')[0];
    if (path !== LIVE_PATH) {
      // Another listener may own that path; alone, we refuse it.
      if (app.server.listenerCount('upgrade') === 1) refuseUpgrade(socket, 404, 'Not Found');
      return;
    }
    void (async () => {
      const cookies = app.parseCookie(req.headers.cookie ?? '');
      const p = await principalOfUpgrade(ctx, req.headers, cookies).catch(() => null);
      if (p === null) {
        refuseUpgrade(socket, 401, 'Unauthorized');
        return;
      }
      // A cookie rides along with any page's request: only our own pages may open the socket.
      if (!allowedLive(p.role) || (p.via === 'session' && !sameOrigin(req.headers))) {
        refuseUpgrade(socket, 403, 'Forbidden');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        hub.add({ ws, headers: req.headers, cookies });
      });
    })();
  };
  app.server.on('upgrade', onUpgrade);
  app.addHook('preClose', (done) => {
    app.server.off('upgrade', onUpgrade);
    hub.close();
    wss.close();
    done();
  });
}

export const dashboardModule: ApiModule = {
  name: 'dashboard',
  surfaces: ['manager'],
  register(app, ctx) {
    const source = new DashboardSource(ctx);
    attachLiveSocket(app, ctx, new DashboardHub(ctx, source));

    app.get(
      '/api/v1/dashboard',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary:
            'mail flow now and today, verdict mix, queue and quarantine sizes, service states',
          tags: ['dashboard'],
        },
      },
      () => source.snapshot(),
    );

    app.get(
      LIVE_PATH,
      {
        config: { access: ADMIN_READ },
        schema: {
          summary:
            'WebSocket (same origin, session cookie or token): a dashboard snapshot every 2 s',
          tags: ['dashboard'],
        },
      },
      (_request, reply) =>
        reply.code(426).header('upgrade', 'websocket').send({
          error: 'ERR_UI_BAD_REQUEST',
          message: 'open this path as a WebSocket',
        }),
    );
  },
};

/**
 * The scanners' DNS resolver: node's c-ares resolver pointed at configured servers, with a hard
 * per-query timeout of our own (c-ares' retry schedule is not a deadline), an AbortSignal, a
 * bounded TTL cache, and in-flight de-duplication. Answers are values: records, NXDOMAIN, no data,
 * or "unavailable" (timeout, SERVFAIL, refused, no network). It never throws, so a dead DNS
 * server costs a scan at most one queryTimeoutMs and gives a DNS_UNAVAILABLE finding.
 */
import { Resolver } from 'node:dns/promises';

export type DnsRecordType = 'A' | 'AAAA' | 'TXT' | 'MX' | 'PTR' | 'NS' | 'CNAME';

/** Records in node's shapes (what mailauth expects): strings, TXT chunks, MX objects. */
export type DnsRecords = readonly string[] | readonly string[][] | readonly MxRecord[];

export interface MxRecord {
  readonly exchange: string;
  readonly priority: number;
}

export type DnsAnswer =
  | { readonly kind: 'records'; readonly records: DnsRecords }
  | { readonly kind: 'nxdomain' }
  | { readonly kind: 'nodata' }
  | { readonly kind: 'unavailable'; readonly reason: string };

export interface DnsResolverOptions {
  /** Servers as "ip" or "ip:port" ("[v6]:port"). Default: the system's (/etc/resolv.conf). */
  readonly servers?: readonly string[];
  /** Hard budget per query, cache misses only. Default 1 000 ms. */
  readonly queryTimeoutMs?: number;
  /** Cache entries kept (oldest dropped first). Default 10 000; 0 disables the cache. */
  readonly cacheMaxEntries?: number;
  /** Longest time a positive answer is kept (A/AAAA keep their own TTL when shorter). Default 300 000. */
  readonly cacheTtlMs?: number;
  /** How long NXDOMAIN/no-data is kept. Default 60 000. */
  readonly negativeTtlMs?: number;
  /**
   * How long "unavailable" is kept, so a dead server costs one timeout per name and period, not
   * one per message. Default 5 000.
   */
  readonly unavailableTtlMs?: number;
}

interface CacheEntry {
  readonly expiresAtMs: number;
  readonly answer: DnsAnswer;
}

const NXDOMAIN_CODES = new Set(['ENOTFOUND']);
const NODATA_CODES = new Set(['ENODATA']);

export class DnsResolver {
  readonly queryTimeoutMs: number;
  readonly #resolver: Resolver;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<DnsAnswer>>();
  readonly #cacheMax: number;
  readonly #ttlMs: number;
  readonly #negativeTtlMs: number;
  readonly #unavailableTtlMs: number;
  #hits = 0;
  #misses = 0;

  constructor(options: DnsResolverOptions = {}) {
    this.queryTimeoutMs = options.queryTimeoutMs ?? 1_000;
    // One try, c-ares' own timeout at our budget: the race below is the real deadline.
    this.#resolver = new Resolver({ timeout: this.queryTimeoutMs, tries: 1 });
    if (options.servers !== undefined && options.servers.length > 0) {
      this.#resolver.setServers([...options.servers]);
    }
    this.#cacheMax = options.cacheMaxEntries ?? 10_000;
    this.#ttlMs = options.cacheTtlMs ?? 300_000;
    this.#negativeTtlMs = options.negativeTtlMs ?? 60_000;
    this.#unavailableTtlMs = options.unavailableTtlMs ?? 5_000;
  }

  /** Cache hits and misses since construction (for benchmarks and diagnostics). */
  get stats(): { hits: number; misses: number; entries: number } {
    return { hits: this.#hits, misses: this.#misses, entries: this.#cache.size };
  }

  /** One lookup; resolves within queryTimeoutMs (or at `signal`), never rejects. */
  lookup(name: string, type: DnsRecordType, signal?: AbortSignal): Promise<DnsAnswer> {
    const key = `${type} ${name.toLowerCase().replace(/\.$/, '')}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      if (cached.expiresAtMs > Date.now()) {
        this.#hits++;
        return Promise.resolve(cached.answer);
      }
      this.#cache.delete(key);
    }
    this.#misses++;
    let pending = this.#inFlight.get(key);
    if (pending === undefined) {
      pending = this.#query(name, type).then((result) => {
        this.#inFlight.delete(key);
        this.#remember(key, result.answer, result.ttlMs);
        return result.answer;
      });
      this.#inFlight.set(key, pending);
    }
    return signal === undefined ? pending : abortable(pending, signal);
  }

  /**
   * A resolver function in the shape of `dns.promises.resolve(name, rrtype)` for mailauth: it
   * throws node-style errors (code ENOTFOUND / ENODATA for "no such record", which mailauth
   * reads as "none"; ETIMEOUT / ESERVFAIL otherwise, which it reads as a temperror).
   */
  toNodeStyleResolver(signal?: AbortSignal): (name: string, rrtype: string) => Promise<unknown> {
    return async (name: string, rrtype: string): Promise<unknown> => {
      const type = rrtype.toUpperCase();
      if (!isSupportedType(type)) throw nodeStyleError('ENOTIMP', name, rrtype);
      const answer = await this.lookup(name, type, signal);
      switch (answer.kind) {
        case 'records':
          return answer.records;
        case 'nxdomain':
          throw nodeStyleError('ENOTFOUND', name, rrtype);
        case 'nodata':
          throw nodeStyleError('ENODATA', name, rrtype);
        case 'unavailable':
          throw nodeStyleError(
            answer.reason.includes('timeout') ? 'ETIMEOUT' : 'ESERVFAIL',
            name,
            rrtype,
          );
      }
    };
  }

  async #query(
    name: string,
    type: DnsRecordType,
  ): Promise<{ answer: DnsAnswer; ttlMs: number | null }> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<{ answer: DnsAnswer; ttlMs: null }>((resolve) => {
      timer = setTimeout(() => {
        resolve({
          answer: {
            kind: 'unavailable',
            reason: `timeout after ${String(this.queryTimeoutMs)} ms`,
          },
          ttlMs: null,
        });
      }, this.queryTimeoutMs);
    });
    try {
      return await Promise.race([this.#ask(name, type), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #ask(
    name: string,
    type: DnsRecordType,
  ): Promise<{ answer: DnsAnswer; ttlMs: number | null }> {
    try {
      switch (type) {
        case 'A':
        case 'AAAA': {
          const records =
            type === 'A'
              ? await this.#resolver.resolve4(name, { ttl: true })
              : await this.#resolver.resolve6(name, { ttl: true });
          const ttl = Math.min(...records.map((r) => r.ttl));
          return {
            answer: { kind: 'records', records: records.map((r) => r.address) },
            ttlMs: Number.isFinite(ttl) ? ttl * 1000 : null,
          };
        }
        case 'TXT':
          return {
            answer: { kind: 'records', records: await this.#resolver.resolveTxt(name) },
            ttlMs: null,
          };
        case 'MX':
          return {
            answer: { kind: 'records', records: await this.#resolver.resolveMx(name) },
            ttlMs: null,
          };
        case 'PTR':
          return {
            answer: { kind: 'records', records: await this.#resolver.resolvePtr(name) },
            ttlMs: null,
          };
        case 'NS':
          return {
            answer: { kind: 'records', records: await this.#resolver.resolveNs(name) },
            ttlMs: null,
          };
        case 'CNAME':
          return {
            answer: { kind: 'records', records: await this.#resolver.resolveCname(name) },
            ttlMs: null,
          };
      }
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && NXDOMAIN_CODES.has(code)) {
        return { answer: { kind: 'nxdomain' }, ttlMs: null };
      }
      if (typeof code === 'string' && NODATA_CODES.has(code)) {
        return { answer: { kind: 'nodata' }, ttlMs: null };
      }
      const reason =
        code === 'ETIMEOUT' ? 'timeout' : typeof code === 'string' ? code : String(err);
      return { answer: { kind: 'unavailable', reason }, ttlMs: null };
    }
  }

  #remember(key: string, answer: DnsAnswer, ttlMs: number | null): void {
    if (this.#cacheMax <= 0) return;
    let keepMs: number;
    switch (answer.kind) {
      case 'records':
        keepMs = Math.min(this.#ttlMs, ttlMs ?? this.#ttlMs);
        break;
      case 'nxdomain':
      case 'nodata':
        keepMs = this.#negativeTtlMs;
        break;
      case 'unavailable':
        keepMs = this.#unavailableTtlMs;
        break;
    }
    if (keepMs <= 0) return;
    // Map keeps insertion order: deleting the first key drops the oldest entry.
    while (this.#cache.size >= this.#cacheMax) {
      const oldest = this.#cache.keys().next();
      if (oldest.done === true) break;
      this.#cache.delete(oldest.value);
    }
    this.#cache.set(key, { expiresAtMs: Date.now() + keepMs, answer });
  }
}

function isSupportedType(type: string): type is DnsRecordType {
  return ['A', 'AAAA', 'TXT', 'MX', 'PTR', 'NS', 'CNAME'].includes(type);
}

function nodeStyleError(code: string, name: string, rrtype: string): Error {
  const err = new Error(`query${rrtype} ${code} ${name}`) as Error & {
    code: string;
    hostname: string;
  };
  err.code = code;
  err.hostname = name;
  return err;
}

function abortable(pending: Promise<DnsAnswer>, signal: AbortSignal): Promise<DnsAnswer> {
  if (signal.aborted) return Promise.resolve({ kind: 'unavailable', reason: 'aborted' });
  return new Promise((resolve) => {
    const onAbort = (): void => {
      resolve({ kind: 'unavailable', reason: 'aborted' });
    };
    signal.addEventListener('abort', onAbort, { once: true });
    void pending.then((answer) => {
      signal.removeEventListener('abort', onAbort);
      resolve(answer);
    });
  });
}

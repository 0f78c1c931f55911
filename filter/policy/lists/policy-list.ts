/**
 * Named policy lists and maps (issue 3): plain JSON data in and out, so the configuration store
 * can hold them, compiled once per configuration version into lookup structures (hash sets for
 * addresses and domains, sorted ranges for CIDRs) that the policy host and the gateway Sieve
 * extensions query per message.
 *
 * Entry syntax of a list (one string each; case-insensitive):
 * - `user@example.com`  an address (also matches `user+tag@example.com`: the subaddress is
 *   ignored when the separator is given);
 * - `example.com`       exactly that domain (of an address, or a bare domain value);
 * - `*.example.com`     every subdomain of example.com, at any depth, not example.com itself;
 * - `192.0.2.0/24`, `2001:db8::/32`, `198.51.100.7`, `::1`  IPv4/IPv6 CIDR blocks or hosts.
 *
 * Keys of a map are looked up the same way: exact key, and for addresses the address, then the
 * domain, then `*.parent` keys from the nearest parent outwards.
 */
import { CidrSet, parseCidr, parseIp, type CidrRange } from './ip.js';

/** A list as stored in the configuration (JSON). */
export interface PolicyListData {
  /** Name, as scripts use it: 1–64 of [A-Za-z0-9._-]. */
  readonly name: string;
  readonly description?: string;
  /** Entries (see the file header for the syntax), in the administrator's order. */
  readonly entries: readonly string[];
}

/** A map as stored in the configuration (JSON). */
export interface PolicyMapData {
  readonly name: string;
  readonly description?: string;
  /** Key → value; keys are case-insensitive (stored as given). */
  readonly entries: Readonly<Record<string, string>>;
}

/** What kind of entry a list string is. */
export type PolicyListEntryKind = 'address' | 'domain' | 'subdomains' | 'cidr';

/** An entry that could not be understood, with its position in `entries`. */
export interface PolicyListProblem {
  readonly index: number;
  readonly entry: string;
  readonly message: string;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const DOMAIN =
  /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}[a-z0-9_])?)*\.?$/;
/** Longest entry accepted, in characters (RFC 5321 path limit). */
export const MAX_ENTRY_CHARS = 256;

/** True for a valid list or map name. */
export function isValidPolicyListName(name: string): boolean {
  return NAME.test(name);
}

/** A domain name; the last label must not be all digits (so "300.1.1.1" is not a domain). */
function isDomain(d: string): boolean {
  return DOMAIN.test(d) && !/(?:^|\.)[0-9]+\.?$/.test(d);
}

function normalizeDomain(d: string): string {
  const t = d.toLowerCase();
  return t.endsWith('.') ? t.slice(0, -1) : t;
}

/** Classifies one list entry; null when it is not valid. */
export function classifyListEntry(
  entry: string,
): { kind: PolicyListEntryKind; key: string; cidr?: CidrRange } | null {
  const t = entry.trim();
  if (t === '' || t.length > MAX_ENTRY_CHARS) return null;
  if (t.includes('/') || parseIp(t) !== null) {
    const cidr = parseCidr(t);
    return cidr === null ? null : { kind: 'cidr', key: t, cidr };
  }
  const at = t.lastIndexOf('@');
  if (at >= 0) {
    const local = t.slice(0, at);
    const domain = t.slice(at + 1);
    if (local === '' || /[\s<>]/.test(local) || !isDomain(domain.toLowerCase())) return null;
    return { kind: 'address', key: `${local.toLowerCase()}@${normalizeDomain(domain)}` };
  }
  if (t.startsWith('*.')) {
    const d = t.slice(2).toLowerCase();
    return isDomain(d) ? { kind: 'subdomains', key: normalizeDomain(d) } : null;
  }
  const d = t.toLowerCase();
  return isDomain(d) ? { kind: 'domain', key: normalizeDomain(d) } : null;
}

/** Checks a list's data; returns the problems (empty when valid). */
export function validatePolicyListData(data: PolicyListData): PolicyListProblem[] {
  const problems: PolicyListProblem[] = [];
  if (!isValidPolicyListName(data.name)) {
    problems.push({ index: -1, entry: data.name, message: 'invalid list name' });
  }
  data.entries.forEach((entry, index) => {
    if (classifyListEntry(entry) === null) {
      problems.push({ index, entry, message: 'not an address, domain, *.domain or CIDR' });
    }
  });
  return problems;
}

/** Splits "user+detail@domain" into its parts; detail removed when `separator` is given. */
function addressParts(
  value: string,
  separator: string | null,
): { address: string; base: string | null; domain: string } | null {
  let v = value.trim();
  if (v.startsWith('<') && v.endsWith('>')) v = v.slice(1, -1);
  const at = v.lastIndexOf('@');
  if (at <= 0 || at === v.length - 1) return null;
  const local = v.slice(0, at).toLowerCase();
  const domain = normalizeDomain(v.slice(at + 1));
  let base: string | null = null;
  if (separator !== null && separator !== '') {
    const cut = local.indexOf(separator);
    if (cut > 0) base = `${local.slice(0, cut)}@${domain}`;
  }
  return { address: `${local}@${domain}`, base, domain };
}

/** An immutable, compiled policy list. */
export class PolicyList {
  readonly name: string;
  readonly size: number;
  readonly #addresses = new Set<string>();
  readonly #domains = new Set<string>();
  readonly #subdomains = new Set<string>();
  readonly #cidrs: CidrSet;

  /** Compiles list data; invalid entries are skipped (validate first to report them). */
  constructor(data: PolicyListData) {
    this.name = data.name;
    const blocks: CidrRange[] = [];
    for (const entry of data.entries) {
      const c = classifyListEntry(entry);
      if (c === null) continue;
      switch (c.kind) {
        case 'address':
          this.#addresses.add(c.key);
          break;
        case 'domain':
          this.#domains.add(c.key);
          break;
        case 'subdomains':
          this.#subdomains.add(c.key);
          break;
        case 'cidr':
          if (c.cidr !== undefined) blocks.push(c.cidr);
          break;
      }
    }
    this.#cidrs = new CidrSet(blocks);
    this.size = this.#addresses.size + this.#domains.size + this.#subdomains.size + blocks.length;
  }

  /** True when the domain is listed exactly or under a `*.parent` entry. */
  hasDomain(domain: string): boolean {
    const d = normalizeDomain(domain.trim());
    if (d === '') return false;
    if (this.#domains.has(d)) return true;
    if (this.#subdomains.size === 0) return false;
    for (let dot = d.indexOf('.'); dot >= 0; dot = d.indexOf('.', dot + 1)) {
      if (this.#subdomains.has(d.slice(dot + 1))) return true;
    }
    return false;
  }

  /** True when the address, its base address (without subaddress) or its domain is listed. */
  hasAddress(address: string, subaddressSeparator: string | null = '+'): boolean {
    const p = addressParts(address, subaddressSeparator);
    if (p === null) return false;
    if (this.#addresses.has(p.address)) return true;
    if (p.base !== null && this.#addresses.has(p.base)) return true;
    return this.hasDomain(p.domain);
  }

  /** True when the IP address lies in a listed CIDR block. */
  hasIp(ip: string): boolean {
    return this.#cidrs.has(ip);
  }

  /** Any value: an IP is checked against CIDRs, an address against addresses and domains, else a domain. */
  has(value: string, subaddressSeparator: string | null = '+'): boolean {
    const t = value.trim();
    if (t === '') return false;
    const ip = parseIp(t);
    if (ip !== null) return this.#cidrs.has(ip);
    if (t.includes('@')) return this.hasAddress(t, subaddressSeparator);
    return this.hasDomain(t);
  }
}

/** An immutable, compiled key → value map. */
export class PolicyMap {
  readonly name: string;
  readonly #entries = new Map<string, string>();

  constructor(data: PolicyMapData) {
    this.name = data.name;
    for (const [k, v] of Object.entries(data.entries)) this.#entries.set(k.trim().toLowerCase(), v);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value of exactly this key (case-insensitive), or null. */
  get(key: string): string | null {
    return this.#entries.get(key.trim().toLowerCase()) ?? null;
  }

  readonly #valueLists = new Map<string, PolicyList>();

  /**
   * The value for `key` (looked up like {@link lookup}) read as a list of entries separated by
   * spaces or commas — per-user sender lists keep "recipient → senders" this way — compiled
   * once per distinct value. Null when the key is absent.
   */
  listFor(key: string, subaddressSeparator: string | null = '+'): PolicyList | null {
    const found = this.lookup(key, subaddressSeparator);
    if (found === null) return null;
    let list = this.#valueLists.get(found.value);
    if (list === undefined) {
      list = new PolicyList({
        name: `${this.name}[${found.key}]`,
        entries: found.value.split(/[\s,]+/).filter((e) => e !== ''),
      });
      // Bounded: a map's distinct values, at most one compiled list each.
      if (this.#valueLists.size < 100_000) this.#valueLists.set(found.value, list);
    }
    return list;
  }

  /**
   * Looks a key up the way lists match: the key itself; for an address its base address
   * (subaddress removed) and its domain; for a domain `*.parent` keys from the nearest parent.
   * Returns the key that matched and its value, or null.
   */
  lookup(
    key: string,
    subaddressSeparator: string | null = '+',
  ): { readonly key: string; readonly value: string } | null {
    const k = key.trim().toLowerCase();
    const exact = this.#entries.get(k);
    if (exact !== undefined) return { key: k, value: exact };
    let domain = k;
    if (k.includes('@')) {
      const p = addressParts(k, subaddressSeparator);
      if (p === null) return null;
      for (const cand of [p.address, p.base]) {
        if (cand === null) continue;
        const v = this.#entries.get(cand);
        if (v !== undefined) return { key: cand, value: v };
      }
      domain = p.domain;
      const v = this.#entries.get(domain);
      if (v !== undefined) return { key: domain, value: v };
    }
    for (let dot = domain.indexOf('.'); dot >= 0; dot = domain.indexOf('.', dot + 1)) {
      const cand = `*.${domain.slice(dot + 1)}`;
      const v = this.#entries.get(cand);
      if (v !== undefined) return { key: cand, value: v };
    }
    return null;
  }
}

/** Checks a map's data; returns the problems (empty when valid). */
export function validatePolicyMapData(data: PolicyMapData): PolicyListProblem[] {
  const problems: PolicyListProblem[] = [];
  if (!isValidPolicyListName(data.name)) {
    problems.push({ index: -1, entry: data.name, message: 'invalid map name' });
  }
  Object.entries(data.entries).forEach(([k, v], index) => {
    if (k.trim() === '' || k.length > MAX_ENTRY_CHARS) {
      problems.push({ index, entry: k, message: 'empty or too long key' });
    }
    if (typeof v !== 'string') problems.push({ index, entry: k, message: 'value is not a string' });
  });
  return problems;
}

/** Lists and maps by name, as the policy host and the gateway extensions see them. */
export interface PolicyData {
  readonly lists: ReadonlyMap<string, PolicyList>;
  readonly maps: ReadonlyMap<string, PolicyMap>;
}

/** Compiles lists and maps from their stored data (names are case-sensitive). */
export function compilePolicyData(
  lists: readonly PolicyListData[],
  maps: readonly PolicyMapData[] = [],
): PolicyData {
  return {
    lists: new Map(lists.map((l) => [l.name, new PolicyList(l)])),
    maps: new Map(maps.map((m) => [m.name, new PolicyMap(m)])),
  };
}

/**
 * Parses stored JSON into list or map data; throws a TypeError with a readable message when
 * the shape is wrong (callers wrap it in their error code). `{"name","entries":[...]}` is a
 * list; `{"name","entries":{...}}` is a map.
 */
export function parsePolicyListJson(
  text: string,
): { kind: 'list'; data: PolicyListData } | { kind: 'map'; data: PolicyMapData } {
  const v: unknown = JSON.parse(text);
  if (typeof v !== 'object' || v === null) throw new TypeError('not a JSON object');
  const o = v as Record<string, unknown>;
  if (typeof o['name'] !== 'string') throw new TypeError('missing "name"');
  const description = typeof o['description'] === 'string' ? o['description'] : undefined;
  const entries = o['entries'];
  const base = { name: o['name'], ...(description === undefined ? {} : { description }) };
  if (Array.isArray(entries)) {
    if (!entries.every((e) => typeof e === 'string')) {
      throw new TypeError('"entries" must hold strings');
    }
    return { kind: 'list', data: { ...base, entries } };
  }
  if (typeof entries === 'object' && entries !== null) {
    const rec = entries as Record<string, unknown>;
    if (!Object.values(rec).every((e) => typeof e === 'string')) {
      throw new TypeError('map values must be strings');
    }
    return { kind: 'map', data: { ...base, entries: rec as Record<string, string> } };
  }
  throw new TypeError('"entries" must be an array (list) or an object (map)');
}

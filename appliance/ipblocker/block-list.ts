/**
 * The IP Blocker's local entries: CIDRs that are blocked (or explicitly allowed, which wins),
 * each with a reason, who added it and an optional expiry. Stored as one JSON file under
 * `$PARAPET_HOME/config/` (written atomically) until the versioned configuration store takes it
 * over; looked up by prefix length with one hash map per length, so a lookup costs at most one
 * map probe per distinct prefix length in use.
 */
import { isIP } from 'node:net';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { ParapetError } from '../../filter/index.js';

export interface IpBlockEntry {
  /** Normalised CIDR ("192.0.2.0/24", "2001:db8::/32"); a bare address is /32 or /128. */
  readonly cidr: string;
  readonly action: 'block' | 'allow';
  readonly reason: string;
  readonly addedBy: string;
  readonly addedAt: string;
  /** ISO time after which the entry no longer applies; null = permanent. */
  readonly expiresAt: string | null;
}

interface ParsedIp {
  readonly family: 4 | 6;
  readonly value: bigint;
}

/** Parses an IPv4 or IPv6 address; IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes IPv4. */
export function parseIp(text: string): ParsedIp | null {
  const kind = isIP(text);
  if (kind === 4) return { family: 4, value: ipv4Value(text) };
  if (kind !== 6) return null;
  const value = ipv6Value(text);
  if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
  return { family: 6, value };
}

function ipv4Value(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6Value(text: string): bigint {
  let head = text;
  let tailV4: bigint | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    tailV4 = ipv4Value(text.slice(lastColon + 1));
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [left = '', right] = head.split('::');
  const leftParts = left === '' ? [] : left.split(':');
  const rightParts = right === undefined || right === '' ? [] : right.split(':');
  const missing = 8 - leftParts.length - rightParts.length;
  const groups = [
    ...leftParts,
    ...Array<string>(right === undefined ? 0 : missing).fill('0'),
    ...rightParts,
  ];
  let value = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  if (tailV4 !== null) value = (value & ~0xffffffffn) | tailV4;
  return value;
}

function formatIp(family: 4 | 6, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((value >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Shorten the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best === -1) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Normalises "a.b.c.d", "a.b.c.d/n", "v6", "v6/n" to its network CIDR, or null if invalid. */
export function normaliseCidr(text: string): string | null {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text.trim() : text.slice(0, slash).trim();
  const ip = parseIp(address);
  if (ip === null) return null;
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const p = text.slice(slash + 1).trim();
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
    // An IPv4-mapped v6 CIDR keeps its v6 prefix meaning: ::ffff:0:0/104 is 0.0.0.0/8.
    if (ip.family === 4 && isIP(address) === 6) prefix -= 96;
    if (prefix < 0 || prefix > max) return null;
  }
  return `${formatIp(ip.family, maskOf(ip, prefix))}/${prefix}`;
}

function maskOf(ip: ParsedIp, prefix: number): bigint {
  const bits = ip.family === 4 ? 32 : 128;
  const hostBits = BigInt(bits - prefix);
  return (ip.value >> hostBits) << hostBits;
}

/** Lookup structure over a set of entries. Expired entries are skipped at lookup time. */
export class IpBlockList {
  readonly entries: readonly IpBlockEntry[];
  /** family → prefix → network value → entry */
  readonly #index = new Map<4 | 6, Map<number, Map<bigint, IpBlockEntry>>>();

  constructor(entries: readonly IpBlockEntry[]) {
    this.entries = entries;
    for (const entry of entries) {
      const [addr = '', p = ''] = entry.cidr.split('/');
      const ip = parseIp(addr);
      if (ip === null) continue;
      let byPrefix = this.#index.get(ip.family);
      if (byPrefix === undefined) {
        byPrefix = new Map();
        this.#index.set(ip.family, byPrefix);
      }
      const prefix = Number(p);
      let nets = byPrefix.get(prefix);
      if (nets === undefined) {
        nets = new Map();
        byPrefix.set(prefix, nets);
      }
      nets.set(ip.value, entry);
    }
  }

  /**
   * The entry deciding `address`: an allow entry anywhere wins over block entries; among
   * one kind the most specific prefix wins. Null when nothing (unexpired) matches.
   */
  lookup(address: string, nowMs = Date.now()): IpBlockEntry | null {
    const ip = parseIp(address);
    if (ip === null) return null;
    const byPrefix = this.#index.get(ip.family);
    if (byPrefix === undefined) return null;
    let block: IpBlockEntry | null = null;
    let blockPrefix = -1;
    for (const [prefix, nets] of byPrefix) {
      const entry = nets.get(maskOf(ip, prefix));
      if (entry === undefined) continue;
      if (entry.expiresAt !== null && Date.parse(entry.expiresAt) <= nowMs) continue;
      if (entry.action === 'allow') return entry;
      if (prefix > blockPrefix) {
        block = entry;
        blockPrefix = prefix;
      }
    }
    return block;
  }
}

/** Reads the entries file; a missing file is an empty list. */
export async function readBlockEntries(path: string): Promise<IpBlockEntry[]> {
  if (!existsSync(path)) return [];
  const text = await readFile(path, 'utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ParapetError('ERR_CONFIG_INVALID', `${path}: not valid JSON`, { cause: err });
  }
  if (!Array.isArray(data)) throw new ParapetError('ERR_CONFIG_INVALID', `${path}: not a list`);
  return data.map((item: unknown, i) => validateEntry(item, `${path}[${String(i)}]`));
}

function validateEntry(item: unknown, where: string): IpBlockEntry {
  if (typeof item !== 'object' || item === null) {
    throw new ParapetError('ERR_CONFIG_INVALID', `${where}: not an object`);
  }
  const o = item as Record<string, unknown>;
  const cidr = typeof o['cidr'] === 'string' ? normaliseCidr(o['cidr']) : null;
  if (cidr === null) throw new ParapetError('ERR_CONFIG_INVALID', `${where}: bad cidr`);
  const action = o['action'] === 'allow' ? 'allow' : 'block';
  const str = (k: string): string => (typeof o[k] === 'string' ? o[k] : '');
  const expires = o['expiresAt'];
  return {
    cidr,
    action,
    reason: str('reason'),
    addedBy: str('addedBy'),
    addedAt: str('addedAt'),
    expiresAt: typeof expires === 'string' ? expires : null,
  };
}

/** Writes the entries atomically (temp file, then rename). */
export async function writeBlockEntries(
  path: string,
  entries: readonly IpBlockEntry[],
): Promise<void> {
  const tmp = `${path}.${String(process.pid)}.tmp`;
  await writeFile(tmp, `${JSON.stringify(entries, null, 2)}\n`, { mode: 0o640 });
  await rename(tmp, path);
}

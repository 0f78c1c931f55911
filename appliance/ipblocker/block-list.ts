/**
 * The IP Blocker's local entries: CIDRs that are blocked (or explicitly allowed, which wins),
 * each with a reason, who added it and an optional expiry. Stored as one JSON file under
 * `$PARAPET_HOME/config/` (written atomically) until the versioned configuration store takes it
 * over; looked up in the filter's CidrSet (policy lists use the same one), where each range
 * carries its entry, so a lookup is one binary search plus a walk up the enclosing blocks.
 */
import { isIP } from 'node:net';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { ParapetError, policy } from '../../filter/index.js';

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

/**
 * An address as node:net spells it (what Postfix sends: no brackets, no "IPv6:" tag), parsed by
 * the filter: an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address.
 */
function parseAddress(text: string): policy.IpAddress | null {
  return isIP(text) === 0 ? null : policy.parseIp(text);
}

/** Parses an IPv4 or IPv6 address; IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes IPv4. */
export function parseIp(text: string): ParsedIp | null {
  const ip = parseAddress(text);
  return ip === null ? null : { family: ip.family, value: BigInt(ip.value) };
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
  if (parseAddress(address) === null) return null;
  let prefix = '';
  if (slash !== -1) {
    const p = text.slice(slash + 1).trim();
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = `/${p}`;
  }
  // An IPv4-mapped v6 CIDR keeps its v6 prefix meaning: ::ffff:0:0/104 is 0.0.0.0/8, and
  // ::ffff:0:0/95 is the IPv6 block ::fffe:0:0/95 (which covers IPv4 clients too).
  const range = policy.parseCidr(address + prefix);
  if (range === null) return null;
  const size = BigInt(range.end) - BigInt(range.start) + 1n;
  const bits = (range.family === 4 ? 32 : 128) - (size.toString(2).length - 1);
  return `${formatIp(range.family, BigInt(range.start))}/${String(bits)}`;
}

/** Lookup structure over a set of entries. Expired entries are skipped at lookup time. */
export class IpBlockList {
  readonly entries: readonly IpBlockEntry[];
  readonly #ranges: policy.CidrSet<IpBlockEntry>;

  constructor(entries: readonly IpBlockEntry[]) {
    this.entries = entries;
    // A CIDR listed twice: the later entry replaces the earlier one.
    const byCidr = new Map(entries.map((e) => [e.cidr, e]));
    const blocks: (policy.CidrRange & { payload: IpBlockEntry })[] = [];
    for (const entry of byCidr.values()) {
      const range = policy.parseCidr(entry.cidr);
      if (range !== null) blocks.push({ ...range, payload: entry });
    }
    this.#ranges = new policy.CidrSet(blocks);
  }

  /**
   * The entry deciding `address`: an allow entry anywhere wins over block entries; among
   * one kind the most specific prefix wins. Null when nothing (unexpired) matches.
   */
  lookup(address: string, nowMs = Date.now()): IpBlockEntry | null {
    const ip = parseAddress(address);
    if (ip === null) return null;
    let block: IpBlockEntry | null = null;
    // Narrowest block first: the first unexpired block entry is the most specific.
    for (const entry of this.#ranges.lookup(ip)) {
      if (entry.expiresAt !== null && Date.parse(entry.expiresAt) <= nowMs) continue;
      if (entry.action === 'allow') return entry;
      block ??= entry;
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

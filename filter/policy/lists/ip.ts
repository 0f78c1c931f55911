/**
 * IP addresses and CIDR sets for policy lists. Pure: no node:net, no I/O. IPv4 addresses are
 * 32-bit numbers; IPv6 addresses are 128-bit bigints; an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is treated as the IPv4 address, so one entry covers both spellings.
 * A CIDR set keeps merged, sorted ranges per family and answers by binary search; blocks that
 * carry a payload are also kept as a containment forest, to list every block holding an address.
 */

/** A parsed address: family and numeric value. */
export type IpAddress =
  { readonly family: 4; readonly value: number } | { readonly family: 6; readonly value: bigint };

/** An inclusive range of addresses of one family. */
interface Range<T> {
  readonly start: T;
  readonly end: T;
}

const V4_PART = /^(?:0|[1-9][0-9]{0,2})$/;

/** Parses dotted-quad IPv4 (no leading zeros, no shorthand); null when invalid. */
export function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const p of parts) {
    if (!V4_PART.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Parses IPv6 text (RFC 4291 §2.2, incl. "::" and an embedded IPv4 tail); null when invalid. */
export function parseIpv6(text: string): bigint | null {
  if (text.length > 45 || text === '') return null;
  // A zone index (fe80::1%eth0) names an interface, not part of the address.
  const zone = text.indexOf('%');
  const addr = zone >= 0 ? text.slice(0, zone) : text;
  const halves = addr.split('::');
  if (halves.length > 2) return null;
  const parseSide = (side: string, allowV4Tail: boolean): number[] | null => {
    if (side === '') return [];
    const groups = side.split(':');
    const out: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i] ?? '';
      if (allowV4Tail && i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIpv4(g);
        if (v4 === null) return null;
        out.push(Math.floor(v4 / 65536), v4 % 65536);
        continue;
      }
      if (!HEX_GROUP.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  if (halves.length === 2) {
    const head = parseSide(halves[0] ?? '', false);
    const tail = parseSide(halves[1] ?? '', true);
    if (head === null || tail === null || head.length + tail.length > 7) return null;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = parseSide(addr, true);
    if (all?.length !== 8) return null;
    groups = all;
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return value;
}

const V4_MAPPED_PREFIX = 0xffffn << 32n;

/** Parses an IPv4 or IPv6 address (brackets allowed: "[::1]"); null when invalid. */
export function parseIp(text: string): IpAddress | null {
  let t = text.trim();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  if (t.startsWith('IPv6:') || t.startsWith('ipv6:')) t = t.slice(5);
  if (!t.includes(':')) {
    const v4 = parseIpv4(t);
    return v4 === null ? null : { family: 4, value: v4 };
  }
  const v6 = parseIpv6(t);
  if (v6 === null) return null;
  if (v6 >> 32n === 0xffffn) return { family: 4, value: Number(v6 - V4_MAPPED_PREFIX) };
  return { family: 6, value: v6 };
}

/** A parsed CIDR block as an inclusive range. */
export type CidrRange =
  | { readonly family: 4; readonly start: number; readonly end: number }
  | { readonly family: 6; readonly start: bigint; readonly end: bigint };

/**
 * Parses "a.b.c.d/n", "x::/n" or a bare address (a /32 or /128). Host bits below the prefix are
 * ignored ("10.1.2.3/8" is 10.0.0.0/8), as most MTAs do. A v4-mapped address with a prefix of
 * 96 or more is an IPv4 block, with a shorter one an IPv6 block. Null when invalid.
 */
export function parseCidr(text: string): CidrRange | null {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addrText = slash < 0 ? t : t.slice(0, slash);
  let ip = parseIp(addrText);
  if (ip === null) return null;
  const mappedV6 = ip.family === 4 && addrText.includes(':');
  let prefix: number | null = null;
  if (slash >= 0) {
    const p = t.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p)) return null;
    prefix = Number(p);
    // ::ffff:10.0.0.0/104 is 10.0.0.0/8; a shorter prefix (::ffff:0:0/95) is an IPv6 block.
    if (mappedV6 && ip.family === 4) {
      if (prefix >= 96) prefix -= 96;
      else ip = { family: 6, value: V4_MAPPED_PREFIX + BigInt(ip.value) };
    }
  }
  const bits = ip.family === 4 ? 32 : 128;
  prefix ??= bits;
  if (prefix < 0 || prefix > bits) return null;
  if (ip.family === 4) {
    const size = 2 ** (32 - prefix);
    const start = Math.floor(ip.value / size) * size;
    return { family: 4, start, end: start + size - 1 };
  }
  const hostBits = BigInt(128 - prefix);
  const start = (ip.value >> hostBits) << hostBits;
  return { family: 6, start, end: start + (1n << hostBits) - 1n };
}

function mergeRanges<T extends number | bigint>(ranges: Range<T>[]): Range<T>[] {
  ranges.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: { start: T; end: T }[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    // Adjacent ranges merge too: end + 1 === start.
    if (last !== undefined && (r.start <= last.end || r.start === inc(last.end))) {
      if (r.end > last.end) last.end = r.end;
    } else {
      out.push({ start: r.start, end: r.end });
    }
  }
  return out;
}

function inc<T extends number | bigint>(v: T): T {
  const n: number | bigint = v;
  return (typeof n === 'bigint' ? n + 1n : n + 1) as T;
}

function inRanges<T extends number | bigint>(ranges: readonly Range<T>[], v: T): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid];
    if (r === undefined) return false;
    if (v < r.start) hi = mid - 1;
    else if (v > r.end) lo = mid + 1;
    else return true;
  }
  return false;
}

const V4_MAPPED_END = V4_MAPPED_PREFIX + 0xffffffffn;

/**
 * The IPv4 part of an IPv6 range, as an IPv4 range: ::ffff:a.b.c.d is looked up as a.b.c.d, so
 * an IPv6 block that reaches into ::ffff:0:0/96 (::/0, say) must cover those IPv4 addresses.
 */
function mappedPart(start: bigint, end: bigint): Range<number> | null {
  const lo = start > V4_MAPPED_PREFIX ? start : V4_MAPPED_PREFIX;
  const hi = end < V4_MAPPED_END ? end : V4_MAPPED_END;
  if (lo > hi) return null;
  return { start: Number(lo - V4_MAPPED_PREFIX), end: Number(hi - V4_MAPPED_PREFIX) };
}

/** A block carrying a payload, in a forest where each block's parent is the next wider one. */
interface PayloadBlock<V extends number | bigint, T> {
  readonly start: V;
  readonly end: V;
  readonly payload: T;
  /** Index of the narrowest block containing this one (sort order), or -1. */
  parent: number;
}

/**
 * Splits an inclusive range into CIDR-aligned blocks (a CIDR block stays one block). Aligned
 * blocks nest or are disjoint, which lets {@link buildForest} chain them by containment.
 */
function alignedBlocks(start: bigint, end: bigint, bits: bigint): Range<bigint>[] {
  const whole = end - start + 1n;
  // The common case: a block from parseCidr.
  if ((whole & (whole - 1n)) === 0n && (start & (whole - 1n)) === 0n) return [{ start, end }];
  const out: Range<bigint>[] = [];
  let s = start;
  while (s <= end) {
    // The largest block starting at s: limited by s's alignment and by the rest of the range.
    let size = s === 0n ? 1n << bits : s & -s;
    while (size > end - s + 1n) size >>= 1n;
    out.push({ start: s, end: s + size - 1n });
    s += size;
  }
  return out;
}

/** Sorts blocks (start ascending, wider first, then in given order) and links each to its parent. */
function buildForest<V extends number | bigint, T>(
  blocks: PayloadBlock<V, T>[],
): PayloadBlock<V, T>[] {
  const cmp = (x: V, y: V): number => (x < y ? -1 : x > y ? 1 : 0);
  blocks.sort((a, b) => cmp(a.start, b.start) || cmp(b.end, a.end));
  const open: number[] = [];
  blocks.forEach((b, i) => {
    for (let top = open.at(-1); top !== undefined; top = open.at(-1)) {
      const t = blocks[top];
      if (t !== undefined && t.end >= b.start) break;
      open.pop();
    }
    b.parent = open.at(-1) ?? -1;
    open.push(i);
  });
  return blocks;
}

/** Payloads of the blocks containing v, narrowest first. */
function containing<V extends number | bigint, T>(
  blocks: readonly PayloadBlock<V, T>[],
  v: V,
): T[] {
  // The last block starting at or before v: every block containing v is it or an ancestor.
  let lo = 0;
  let hi = blocks.length - 1;
  let at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const b = blocks[mid];
    if (b !== undefined && b.start <= v) {
      at = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  const out: T[] = [];
  for (let b = blocks[at]; b !== undefined; b = blocks[b.parent]) {
    if (b.end >= v) out.push(b.payload);
  }
  return out;
}

/**
 * A CIDR block (or any inclusive range) for a {@link CidrSet}, optionally with a payload that
 * {@link CidrSet.lookup} returns when an address lies in it.
 */
export type CidrEntry<T> = CidrRange & { readonly payload?: T };

/**
 * An immutable set of CIDR blocks (both families); lookups are O(log n). Blocks may carry a
 * payload (a list entry, a rule): {@link CidrSet.lookup} returns those of every block that
 * contains an address. IPv6 blocks that reach into ::ffff:0:0/96 also cover the IPv4 addresses
 * mapped there.
 */
export class CidrSet<T = unknown> {
  readonly #v4: readonly Range<number>[];
  readonly #v6: readonly Range<bigint>[];
  readonly #v4Blocks: readonly PayloadBlock<number, T>[];
  readonly #v6Blocks: readonly PayloadBlock<bigint, T>[];

  constructor(blocks: readonly CidrEntry<T>[]) {
    const v4: Range<number>[] = [];
    const v6: Range<bigint>[] = [];
    const v4Blocks: PayloadBlock<number, T>[] = [];
    const v6Blocks: PayloadBlock<bigint, T>[] = [];
    for (const b of blocks) {
      if (b.start > b.end) continue;
      const v4Part = b.family === 4 ? { start: b.start, end: b.end } : mappedPart(b.start, b.end);
      if (v4Part !== null) v4.push(v4Part);
      if (b.family === 6) v6.push({ start: b.start, end: b.end });
      if (!('payload' in b)) continue;
      const payload = b.payload;
      if (v4Part !== null) {
        const size = v4Part.end - v4Part.start + 1;
        // The common case, a CIDR block, without bigint arithmetic.
        if (Number.isInteger(Math.log2(size)) && v4Part.start % size === 0) {
          v4Blocks.push({ ...v4Part, payload, parent: -1 });
        } else {
          for (const a of alignedBlocks(BigInt(v4Part.start), BigInt(v4Part.end), 32n)) {
            v4Blocks.push({ start: Number(a.start), end: Number(a.end), payload, parent: -1 });
          }
        }
      }
      if (b.family === 6) {
        for (const a of alignedBlocks(b.start, b.end, 128n)) {
          v6Blocks.push({ start: a.start, end: a.end, payload, parent: -1 });
        }
      }
    }
    this.#v4 = mergeRanges(v4);
    this.#v6 = mergeRanges(v6);
    this.#v4Blocks = buildForest(v4Blocks);
    this.#v6Blocks = buildForest(v6Blocks);
  }

  /** Number of merged ranges (for tests and diagnostics). */
  get rangeCount(): number {
    return this.#v4.length + this.#v6.length;
  }

  /** True when the address (text or parsed) lies in one of the blocks. */
  has(address: string | IpAddress): boolean {
    const ip = normalize(address);
    if (ip === null) return false;
    return ip.family === 4 ? inRanges(this.#v4, ip.value) : inRanges(this.#v6, ip.value);
  }

  /**
   * The payloads of every block containing the address, the narrowest block first (among
   * equal blocks, the one given last first); blocks without a payload are not listed.
   */
  lookup(address: string | IpAddress): T[] {
    const ip = normalize(address);
    if (ip === null) return [];
    return ip.family === 4
      ? containing(this.#v4Blocks, ip.value)
      : containing(this.#v6Blocks, ip.value);
  }
}

/** Parses text; a parsed IPv6 address inside ::ffff:0:0/96 becomes its IPv4 address. */
function normalize(address: string | IpAddress): IpAddress | null {
  const ip = typeof address === 'string' ? parseIp(address) : address;
  if (ip?.family === 6 && ip.value >> 32n === 0xffffn) {
    return { family: 4, value: Number(ip.value - V4_MAPPED_PREFIX) };
  }
  return ip;
}

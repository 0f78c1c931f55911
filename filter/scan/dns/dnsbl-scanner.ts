/**
 * DNS blocklists: the client IP against DNSBL zones (RFC 5782 §2.1: reversed octets or nibbles,
 * then the zone) and the body's link domains against URIBL zones (RFC 5782 §2.3). All zones are
 * asked in parallel through the shared DnsResolver, so a scan waits at most one queryTimeoutMs.
 * DNS trouble never fails the scan: it gives one DNS_UNAVAILABLE finding naming the zones.
 */
import { isIP } from 'node:net';
import type { Message } from '../../message/message.js';
import { symbolMap, type SymbolDefinition } from '../symbols.js';
import type { Finding, Scanner, ScannerOutput } from '../scanner.js';
import type { DnsAnswer, DnsResolver } from './dns-resolver.js';
import { extractLinkDomains } from './link-domains.js';

/** Symbols of the DNS scanners beyond the per-zone ones: group, default score, description. */
export const DNS_SYMBOL_TABLE = {
  DNS_UNAVAILABLE: {
    group: 'dns',
    defaultScore: 0,
    description: 'a DNS blocklist lookup timed out or failed; the scan went on without it',
  },
} as const;

/** The same, as catalogue entries (filter/scan/symbols.ts), for the symbol catalogue. */
export const DNS_SYMBOLS: ReadonlyMap<string, SymbolDefinition> = symbolMap(DNS_SYMBOL_TABLE);

export interface BlocklistZone {
  /** The zone queried ("zen.spamhaus.org"). */
  readonly zone: string;
  /** The symbol a listing gives ("DNSBL_SPAMHAUS_ZEN"); UPPER_SNAKE. */
  readonly symbol: string;
  readonly score: number;
  /**
   * Answers that count as listed; default: any 127.0.0.0/8 answer except the refusal codes
   * below. A list lets one zone give several symbols by registering it once per code set.
   */
  readonly listedAnswers?: readonly string[];
  /**
   * Answers that mean "query refused" (Spamhaus 127.255.255.252–255 for public resolvers,
   * URIBL 127.0.0.1): counted as unavailable, never as listed. Default those four plus, for
   * URI zones, 127.0.0.1.
   */
  readonly refusedAnswers?: readonly string[];
}

export interface DnsblScannerOptions {
  readonly resolver: DnsResolver;
  readonly zones: readonly BlocklistZone[];
  /** Scanner budget; default the resolver's queryTimeoutMs + 250 ms. */
  readonly timeoutMs?: number;
  readonly unavailableScore?: number;
}

export interface UriblScannerOptions extends DnsblScannerOptions {
  /** Most link domains looked up per message (first seen first). Default 20. */
  readonly maxDomains?: number;
}

const REFUSED_IP = ['127.255.255.252', '127.255.255.253', '127.255.255.254', '127.255.255.255'];
const REFUSED_URI = [...REFUSED_IP, '127.0.0.1'];

/** The client IP (connection phase) against DNSBL zones. */
export function createDnsblScanner(options: DnsblScannerOptions): Scanner {
  return {
    name: 'dnsbl',
    phase: 'connection',
    timeoutMs: options.timeoutMs ?? options.resolver.queryTimeoutMs + 250,
    onError: 'skip',
    scan: async (message: Message, signal: AbortSignal): Promise<ScannerOutput> => {
      const ip = message.envelope.client.address;
      const reversed = ip === null || !isPublicAddress(ip) ? null : reverseIpForDnsbl(ip);
      if (reversed === null) return { findings: [] };
      return lookupZones(options, REFUSED_IP, [{ label: reversed, shown: ip ?? '' }], signal);
    },
  };
}

/** Link domains of the body (content phase) against URIBL zones. */
export function createUriblScanner(options: UriblScannerOptions): Scanner {
  const maxDomains = options.maxDomains ?? 20;
  return {
    name: 'uribl',
    phase: 'content',
    timeoutMs: options.timeoutMs ?? options.resolver.queryTimeoutMs + 250,
    onError: 'skip',
    scan: async (message: Message, signal: AbortSignal): Promise<ScannerOutput> => {
      const mime = await message.mime();
      const domains = extractLinkDomains([mime.text ?? '', mime.html ?? ''], maxDomains);
      if (domains.length === 0) return { findings: [] };
      return lookupZones(
        options,
        REFUSED_URI,
        domains.map((d) => ({ label: d, shown: d })),
        signal,
      );
    },
  };
}

async function lookupZones(
  options: DnsblScannerOptions,
  defaultRefused: readonly string[],
  items: readonly { label: string; shown: string }[],
  signal: AbortSignal,
): Promise<ScannerOutput> {
  const queries = options.zones.flatMap((zone) =>
    items.map(async (item) => ({
      zone,
      item,
      answer: await options.resolver.lookup(`${item.label}.${zone.zone}`, 'A', signal),
    })),
  );
  const results = await Promise.all(queries);
  const findings: Finding[] = [];
  const unavailable = new Set<string>();
  const fired = new Set<string>();
  for (const { zone, item, answer } of results) {
    const verdict = classifyAnswer(answer, zone, defaultRefused);
    if (verdict.kind === 'unavailable') unavailable.add(`${zone.zone} (${verdict.reason})`);
    else if (verdict.kind === 'listed' && !fired.has(`${zone.symbol} ${item.shown}`)) {
      fired.add(`${zone.symbol} ${item.shown}`);
      findings.push({
        symbol: zone.symbol,
        score: zone.score,
        evidence: `${item.shown} listed in ${zone.zone} (${verdict.answers.join(', ')})`,
      });
    }
  }
  if (unavailable.size > 0) {
    findings.push({
      symbol: 'DNS_UNAVAILABLE',
      score: options.unavailableScore ?? DNS_SYMBOL_TABLE.DNS_UNAVAILABLE.defaultScore,
      evidence: [...unavailable].slice(0, 5).join('; '),
    });
  }
  return { findings };
}

type ZoneVerdict =
  | { kind: 'listed'; answers: readonly string[] }
  | { kind: 'clean' }
  | { kind: 'unavailable'; reason: string };

function classifyAnswer(
  answer: DnsAnswer,
  zone: BlocklistZone,
  defaultRefused: readonly string[],
): ZoneVerdict {
  switch (answer.kind) {
    case 'nxdomain':
    case 'nodata':
      return { kind: 'clean' };
    case 'unavailable':
      return { kind: 'unavailable', reason: answer.reason };
    case 'records': {
      const addresses = answer.records.filter((r): r is string => typeof r === 'string');
      const refused = zone.refusedAnswers ?? defaultRefused;
      if (addresses.some((a) => refused.includes(a))) {
        return { kind: 'unavailable', reason: `refused (${addresses.join(', ')})` };
      }
      const listed = addresses.filter((a) =>
        zone.listedAnswers === undefined ? a.startsWith('127.') : zone.listedAnswers.includes(a),
      );
      return listed.length > 0 ? { kind: 'listed', answers: listed } : { kind: 'clean' };
    }
  }
}

/** "192.0.2.1" → "1.2.0.192"; IPv6 → 32 reversed nibbles (RFC 5782 §2.4). Null if not an IP. */
export function reverseIpForDnsbl(ip: string): string | null {
  const v4 = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  if (isIP(v4) === 4) return v4.split('.').reverse().join('.');
  if (isIP(ip) !== 6) return null;
  const [head = '', tail = ''] = ip.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  if (ip.includes('.')) return null; // embedded IPv4 forms other than ::ffff: are not listed
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailGroups];
  const nibbles = groups.map((g) => g.padStart(4, '0')).join('');
  const out: string[] = [];
  for (let i = nibbles.length - 1; i >= 0; i--) out.push(nibbles.charAt(i).toLowerCase());
  return out.join('.');
}

/** Loopback, private, link-local and unspecified addresses are never looked up. */
export function isPublicAddress(ip: string): boolean {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (isIP(v4) === 4) {
    const [a = 0, b = 0] = v4.split('.').map(Number);
    if (a === 0 || a === 10 || a === 127) return false;
    if (a === 169 && b === 254) return false;
    if (a === 172 && b >= 16 && b <= 31) return false;
    if (a === 192 && b === 168) return false;
    if (a === 100 && b >= 64 && b <= 127) return false;
    return a < 224;
  }
  if (isIP(ip) !== 6) return false;
  const lower = ip.toLowerCase();
  return !(
    lower === '::1' ||
    lower === '::' ||
    lower.startsWith('fe80:') ||
    lower.startsWith('fc') ||
    lower.startsWith('fd')
  );
}

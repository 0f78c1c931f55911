/**
 * RFC 5260 date and index: the date and currentdate tests with :zone / :originalzone and the
 * date parts, and the :index/:last tags on header, address and date (checked in core.ts).
 */
import { selectHeaderFields } from '../address.js';
import { validateRegexKeys } from '../compiler.js';
import type { CompiledNode, SieveExtension, SieveValidateContext } from '../extension-api.js';
import { headerFieldDecodedValue } from '../message-view.js';
import type { SieveRuntime } from '../runtime.js';
import { indexOf, validateIndex } from './core.js';

const PARTS = new Set([
  'year',
  'month',
  'day',
  'date',
  'julian',
  'hour',
  'minute',
  'second',
  'time',
  'iso8601',
  'std11',
  'zone',
  'weekday',
]);
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const OBS_ZONES: Readonly<Record<string, number>> = {
  ut: 0,
  gmt: 0,
  z: 0,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
};

/** A point in time plus the zone it is shown in (minutes east of UTC). */
interface ZonedTime {
  readonly utcMs: number;
  readonly zoneMinutes: number;
}

/** Parses an RFC 2822 date-time (with obsolete zones); null when it does not parse. */
export function parseRfc2822Date(text: string): ZonedTime | null {
  const m =
    /^\s*(?:[A-Za-z]{3}\s*,\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[A-Za-z]{1,5})?/.exec(
      text,
    );
  if (m === null) return null;
  const day = Number(m[1]);
  const month = MONTHS.indexOf((m[2] ?? '').toLowerCase());
  let year = Number(m[3]);
  if ((m[3] ?? '').length === 2) year += year < 50 ? 2000 : 1900;
  else if ((m[3] ?? '').length === 3) year += 1900;
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  // A leap second is read as :59 (as Dovecot does).
  const second = Math.min(59, m[6] === undefined ? 0 : Number(m[6]));
  if (month < 0 || day < 1 || hour > 23 || minute > 59 || Number(m[6] ?? 0) > 60) return null;
  // Dovecot refuses years before 1900 and impossible calendar days (31 Feb).
  if (year < 1900 || day > new Date(Date.UTC(year, month + 1, 0)).getUTCDate()) return null;
  let zone = 0;
  const z = m[7];
  if (z !== undefined) {
    if (/^[+-]\d{4}$/.test(z)) {
      // Dovecot does not range-check the zone: +0160 is +02:00.
      const sign = z.startsWith('-') ? -1 : 1;
      zone = sign * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5)));
    } else if (z.length === 1) zone = militaryZone(z);
    else zone = OBS_ZONES[z.toLowerCase()] ?? 0;
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  date.setUTCHours(hour, minute, second, 0);
  const utcMs = date.getTime() - zone * 60_000;
  // time_t -1 is Dovecot's error value, so 1969-12-31 23:59:59 UTC does not parse.
  if (utcMs === -1000) return null;
  return { utcMs, zoneMinutes: zone };
}

/**
 * Dovecot's reading of RFC 822 military zones: A–I are +1…+9 hours, K–M +10…+12, N–Y −1…−12,
 * Z and J are UTC. The range test ignores case but the arithmetic does not (a lower-case "a"
 * gives +33 hours); we reproduce that.
 */
function militaryZone(z: string): number {
  const c = z.charCodeAt(0);
  const u = z.toUpperCase();
  if (u >= 'A' && u <= 'I') return (c - 65 + 1) * 60;
  if (u >= 'K' && u <= 'M') return (c - 75 + 10) * 60;
  if (u >= 'N' && u <= 'Y') return -(c - 78 + 1) * 60;
  return 0;
}

/** Parses a ±hhmm zone; null when invalid. */
export function parseZone(text: string): number | null {
  const m = /^([+-])(\d{2})(\d{2})$/.exec(text);
  if (m === null) return null;
  const h = Number(m[2]);
  const mi = Number(m[3]);
  if (h > 23 || mi > 59) return null;
  return (m[1] === '-' ? -1 : 1) * (h * 60 + mi);
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function zoneText(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const a = Math.abs(minutes);
  return `${sign}${pad(Math.floor(a / 60))}${pad(a % 60)}`;
}

/** The value of a date part (RFC 5260 §4.2). */
export function datePart(t: ZonedTime, part: string): string {
  const d = new Date(t.utcMs + t.zoneMinutes * 60_000);
  const Y = pad(d.getUTCFullYear(), 4);
  const M = pad(d.getUTCMonth() + 1);
  const D = pad(d.getUTCDate());
  const h = pad(d.getUTCHours());
  const mi = pad(d.getUTCMinutes());
  const s = pad(d.getUTCSeconds());
  switch (part) {
    case 'year':
      return Y;
    case 'month':
      return M;
    case 'day':
      return D;
    case 'date':
      return `${Y}-${M}-${D}`;
    case 'julian': {
      const days = Math.floor(
        Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) / 86_400_000,
      );
      return String(days + 40587);
    }
    case 'hour':
      return h;
    case 'minute':
      return mi;
    case 'second':
      return s;
    case 'time':
      return `${h}:${mi}:${s}`;
    case 'iso8601': {
      const abs = Math.abs(t.zoneMinutes);
      const sign = t.zoneMinutes < 0 ? '-' : '+';
      const z = t.zoneMinutes === 0 ? 'Z' : `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
      return `${Y}-${M}-${D}T${h}:${mi}:${s}${z}`;
    }
    case 'std11':
      return `${DAYS[d.getUTCDay()] ?? ''}, ${D} ${capital(MONTHS[d.getUTCMonth()] ?? '')} ${Y} ${h}:${mi}:${s} ${zoneText(t.zoneMinutes)}`;
    case 'zone':
      return zoneText(t.zoneMinutes);
    case 'weekday':
      return String(d.getUTCDay());
    default:
      return '';
  }
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function validateDateNode(node: CompiledNode, ctx: SieveValidateContext, partIndex: number): void {
  const part = node.args[partIndex];
  if (
    part?.kind === 'string' &&
    part.value.parts === null &&
    !PARTS.has(part.value.raw.toLowerCase())
  ) {
    // Pigeonhole accepts unknown date parts; the test then never matches.
    ctx.warn(`unknown date part '${part.value.raw}'`, part.value);
  }
  const zone = node.tags.get('zone');
  if (zone?.kind === 'string' && zone.value.parts === null && parseZone(zone.value.raw) === null) {
    ctx.warn(`specified :zone argument '${zone.value.raw}' is not a valid timezone`, zone.value);
  }
  validateRegexKeys(node, node.args[partIndex + 1], ctx);
}

function targetZone(node: CompiledNode, rt: SieveRuntime, original: number, atMs: number): number {
  const zone = node.tags.get('zone');
  if (zone !== undefined) {
    const z = parseZone(rt.expandString(zone));
    if (z !== null) return z;
  }
  if (node.tags.has('originalzone')) return original;
  return rt.env.localZoneMinutes ?? -new Date(atMs).getTimezoneOffset();
}

/** The date and index extensions. */
export const dateExtension: SieveExtension = {
  capabilities: ['date', 'index'],
  tagsFor: {
    header: [
      { name: 'index', arg: 'number', capability: 'index' },
      { name: 'last', capability: 'index' },
    ],
    address: [
      { name: 'index', arg: 'number', capability: 'index' },
      { name: 'last', capability: 'index' },
    ],
    date: [
      { name: 'index', arg: 'number', capability: 'index' },
      { name: 'last', capability: 'index' },
    ],
  },
  commands: [
    {
      name: 'date',
      kind: 'test',
      capability: 'date',
      positional: [['string', 'string', 'string-list']],
      matching: true,
      tags: [
        { name: 'zone', arg: 'string', group: 'zone' },
        { name: 'originalzone', group: 'zone' },
      ],
      validate: (node, ctx) => {
        validateDateNode(node, ctx, 1);
        validateIndex(node, ctx);
      },
      test: (node, rt) => {
        const { index, last } = indexOf(node);
        const header = rt.expandString(node.args[0]);
        const part = rt.expandString(node.args[1]).toLowerCase();
        const values: string[] = [];
        for (const field of selectHeaderFields(rt, [header], index, last)) {
          let text = headerFieldDecodedValue(field);
          // RFC 5260 §4.1: for Received, the date is after the last semicolon.
          if (header.toLowerCase() === 'received') text = text.slice(text.lastIndexOf(';') + 1);
          const t = parseRfc2822Date(text);
          if (t === null || !PARTS.has(part)) continue;
          const zone = targetZone(node, rt, t.zoneMinutes, t.utcMs);
          values.push(datePart({ utcMs: t.utcMs, zoneMinutes: zone }, part));
        }
        return rt.matchValuesAgainst(node, values, rt.stringList(node.args[2]));
      },
    },
    {
      name: 'currentdate',
      kind: 'test',
      capability: 'date',
      positional: [['string', 'string-list']],
      matching: true,
      tags: [{ name: 'zone', arg: 'string' }],
      validate: (node, ctx) => {
        validateDateNode(node, ctx, 0);
      },
      test: (node, rt) => {
        const part = rt.expandString(node.args[0]).toLowerCase();
        if (!PARTS.has(part)) return false;
        const now = rt.env.nowMs;
        const zone = targetZone(node, rt, 0, now);
        return rt.matchValuesAgainst(
          node,
          [datePart({ utcMs: now, zoneMinutes: zone }, part)],
          rt.stringList(node.args[1]),
        );
      },
    },
  ],
};

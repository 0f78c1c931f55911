/**
 * Comparators (RFC 4790 as used by RFC 5228 §2.7.3: i;octet, i;ascii-casemap; RFC 5231:
 * i;ascii-numeric) and the match types :is, :contains, :matches (RFC 5228 §2.7.1), :regex
 * (draft-ietf-sieve-regex, POSIX ERE as Pigeonhole uses it) and :value/:count (RFC 5231).
 * Regular expressions run on re2js, which matches in linear time, so a hostile pattern cannot
 * stall the interpreter.
 */
import { RE2JS } from 're2js';
import type { SieveRelation } from './extension-api.js';

/** Comparators the engine knows. */
export const SIEVE_COMPARATORS = ['i;octet', 'i;ascii-casemap', 'i;ascii-numeric'] as const;

const NON_ASCII = /[^\x00-\x7f]/;

/** True when every character is ASCII (so UTF-16 units equal UTF-8 octets). */
export function isAscii(s: string): boolean {
  return !NON_ASCII.test(s);
}

// The case maps are ASCII-only (i;ascii-casemap); String#toUpperCase/toLowerCase agree with
// that on ASCII text, and are much cheaper than a replace with a callback.
function upperAscii(s: string): string {
  return isAscii(s) ? s.toUpperCase() : s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}
/** Lower-cases A–Z only (the i;ascii-casemap fold). */
export function lowerAscii(s: string): string {
  return isAscii(s) ? s.toLowerCase() : s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function equalsCasemap(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0x41 && x <= 0x5a) x += 32;
    if (y >= 0x41 && y <= 0x5a) y += 32;
    if (x !== y) return false;
  }
  return true;
}

/** Equality under a comparator. */
export function comparatorEquals(comparator: string, a: string, b: string): boolean {
  if (comparator === 'i;ascii-casemap') return equalsCasemap(a, b);
  if (comparator === 'i;ascii-numeric') return compareNumeric(a, b) === 0;
  return a === b;
}

/** Substring test under a comparator (not defined for i;ascii-numeric). */
export function comparatorContains(comparator: string, haystack: string, needle: string): boolean {
  if (comparator === 'i;ascii-casemap') return lowerAscii(haystack).includes(lowerAscii(needle));
  return haystack.includes(needle);
}

/** i;ascii-numeric: the leading digits as a number; no leading digit means positive infinity. */
function numericKey(s: string): string | null {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
  if (i === 0) return null;
  let digits = s.slice(0, i).replace(/^0+/, '');
  if (digits === '') digits = '0';
  return digits;
}

function compareNumeric(a: string, b: string): number {
  const x = numericKey(a);
  const y = numericKey(b);
  if (x === null) return y === null ? 0 : 1;
  if (y === null) return -1;
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

function compareOctet(a: string, b: string): number {
  if (a === b) return 0;
  // UTF-8 byte order equals code point order; JS string order is UTF-16 unit order.
  const ca = Array.from(a);
  const cb = Array.from(b);
  const n = Math.min(ca.length, cb.length);
  for (let i = 0; i < n; i++) {
    const x = ca[i]?.codePointAt(0) ?? 0;
    const y = cb[i]?.codePointAt(0) ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return ca.length === cb.length ? 0 : ca.length < cb.length ? -1 : 1;
}

/** Ordering under a comparator (for :value). */
export function comparatorCompare(comparator: string, a: string, b: string): number {
  if (comparator === 'i;ascii-numeric') return compareNumeric(a, b);
  if (comparator === 'i;ascii-casemap') return compareOctet(upperAscii(a), upperAscii(b));
  return compareOctet(a, b);
}

/** Applies a relational operator to a comparison result. */
export function relationHolds(relation: SieveRelation, cmp: number): boolean {
  switch (relation) {
    case 'gt':
      return cmp > 0;
    case 'ge':
      return cmp >= 0;
    case 'lt':
      return cmp < 0;
    case 'le':
      return cmp <= 0;
    case 'eq':
      return cmp === 0;
    case 'ne':
      return cmp !== 0;
  }
}

/**
 * RFC 5228 §2.7.1 :matches with `*`, `?` and backslash escapes. Returns the strings matched
 * by each wildcard in order (RFC 5229 §3.2: each `*` as short as possible, left to right), or
 * null when the value does not match. Like Pigeonhole it works on UTF-8 octets (`?` is one
 * octet). Runs in O(value × pattern) with single-star backtracking, so hostile patterns stay
 * bounded. `budget` counts work units.
 */
export function wildcardMatch(
  comparator: string,
  value: string,
  pattern: string,
  budget: { steps: number },
): string[] | null {
  return wildcardMatchText(comparator, wildcardText(value), pattern, budget);
}

/**
 * A value prepared for {@link wildcardMatchText}: ASCII text has one octet per UTF-16 unit and
 * is matched as it is; other text as its UTF-8 octets.
 */
export function wildcardText(value: string): string | Uint8Array {
  return isAscii(value) ? value : Buffer.from(value, 'utf8');
}

/** {@link wildcardMatch} on a value prepared by {@link wildcardText}. */
export function wildcardMatchText(
  comparator: string,
  text: string | Uint8Array,
  pattern: string,
  budget: { steps: number },
): string[] | null {
  const pat = compileWildcard(pattern);
  const ascii = typeof text === 'string';
  const len = text.length;
  const fold = comparator === 'i;ascii-casemap';
  const np = pat.length;

  let starStarts: number[] | null = null;
  let starEnds: number[] | null = null;
  let oneAt: number[] | null = null;
  let p = 0;
  let t = 0;
  let lastStar = -1;
  let lastStarText = 0;
  while (t < len || p < np) {
    budget.steps++;
    if (p < np) {
      const tok = pat[p] ?? 0;
      if (tok === WILD_STAR) {
        lastStar = p;
        lastStarText = t;
        starStarts ??= [];
        starEnds ??= [];
        starStarts[p] = t;
        starEnds[p] = t;
        p++;
        continue;
      }
      if (t < len) {
        const ch = ascii ? text.charCodeAt(t) : (text[t] ?? 0);
        if (tok === WILD_ONE) {
          oneAt ??= [];
          oneAt[p] = t;
          p++;
          t++;
          continue;
        }
        if (
          tok === ch ||
          (fold &&
            (tok >= 0x41 && tok <= 0x5a ? tok + 32 : tok) ===
              (ch >= 0x41 && ch <= 0x5a ? ch + 32 : ch))
        ) {
          p++;
          t++;
          continue;
        }
      }
    }
    if (lastStar >= 0 && lastStarText < len) {
      lastStarText++;
      if (starEnds !== null) starEnds[lastStar] = lastStarText;
      p = lastStar + 1;
      t = lastStarText;
      continue;
    }
    return null;
  }
  const captures: string[] = [];
  for (let i = 0; i < np; i++) {
    const tok = pat[i];
    let from: number;
    let to: number;
    if (tok === WILD_STAR) {
      from = starStarts?.[i] ?? 0;
      to = starEnds?.[i] ?? 0;
    } else if (tok === WILD_ONE) {
      from = oneAt?.[i] ?? 0;
      to = from + 1;
    } else continue;
    captures.push(
      typeof text === 'string' ? text.slice(from, to) : decodeUtf8Lossless(text.subarray(from, to)),
    );
  }
  return captures;
}

const WILD_STAR = -1;
const WILD_ONE = -2;
const wildcardCache = new Map<string, Int32Array>();

/** A :matches key as octets and wildcard tokens (cached: keys are mostly constants). */
function compileWildcard(pattern: string): Int32Array {
  const hit = wildcardCache.get(pattern);
  if (hit !== undefined) return hit;
  const pat: number[] = [];
  const pbytes = Buffer.from(pattern, 'utf8');
  for (let i = 0; i < pbytes.length; i++) {
    const c = pbytes[i] ?? 0;
    if (c === 0x5c && i + 1 < pbytes.length) {
      pat.push(pbytes[i + 1] ?? 0);
      i++;
    } else if (c === 0x2a) pat.push(WILD_STAR);
    else if (c === 0x3f) pat.push(WILD_ONE);
    else pat.push(c);
  }
  const compiled = Int32Array.from(pat);
  if (pattern.length <= 1024) {
    if (wildcardCache.size >= 4096) wildcardCache.clear();
    wildcardCache.set(pattern, compiled);
  }
  return compiled;
}

/**
 * Decodes UTF-8, mapping each byte of an invalid sequence to a lone surrogate U+DC00+byte
 * (as Python's surrogateescape), so a capture that splits a character stays detectable.
 */
export function decodeUtf8Lossless(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    let out = '';
    let i = 0;
    while (i < bytes.length) {
      const b = bytes[i] ?? 0;
      const len =
        b < 0x80
          ? 1
          : b >= 0xc2 && b <= 0xdf
            ? 2
            : b >= 0xe0 && b <= 0xef
              ? 3
              : b >= 0xf0 && b <= 0xf4
                ? 4
                : 0;
      if (len > 0 && i + len <= bytes.length) {
        try {
          out += new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(i, i + len));
          i += len;
          continue;
        } catch {
          // fall through to the escape below
        }
      }
      out += String.fromCharCode(0xdc00 + b);
      i++;
    }
    return out;
  }
}

/** True when the string holds a lone surrogate (an undecodable byte from a capture). */
export function hasInvalidUtf8(s: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/** Thrown by {@link translatePosixRegex} for patterns regcomp would refuse. */
export class SieveRegexError extends Error {}

/**
 * Translates a POSIX extended regular expression (regcomp REG_EXTENDED, as Pigeonhole
 * compiles :regex keys) into RE2 syntax: bracket expressions keep backslashes literal and
 * allow `]` first; GNU escapes \w \W \s \S \b \B \< \> \` \' are mapped; any other escaped
 * character is literal. `.` matches newline (no REG_NEWLINE), `^`/`$` anchor the whole value.
 */
export function translatePosixRegex(src: string): string {
  let out = '';
  let i = 0;
  const n = src.length;
  const groupStarts: number[] = [];
  // Start (in `out`) of the last quantifiable atom, and whether it already has a quantifier:
  // POSIX applies a second quantifier to the quantified atom (`a+?` is `(a+)?`), where RE2
  // would read a lazy quantifier.
  let atomStart = -1;
  let quantified = false;
  const atom = (text: string): void => {
    atomStart = out.length;
    quantified = false;
    out += text;
  };
  const quantifier = (q: string): void => {
    if (atomStart >= 0 && quantified) {
      out = `${out.slice(0, atomStart)}(?:${out.slice(atomStart)})`;
    }
    out += q;
    quantified = true;
  };
  while (i < n) {
    const c = src.charAt(i);
    if (c === '\\') {
      if (i + 1 >= n) throw new SieveRegexError('trailing backslash');
      const d = src.charAt(i + 1);
      i += 2;
      switch (d) {
        case 'w':
        case 'W':
        case 's':
        case 'S':
          atom('\\' + d);
          break;
        case 'b':
        case 'B':
          out += '\\' + d;
          atomStart = -1;
          break;
        case '<':
        case '>':
          out += '\\b';
          atomStart = -1;
          break;
        case '`':
          out += '\\A';
          atomStart = -1;
          break;
        case "'":
          out += '\\z';
          atomStart = -1;
          break;
        default:
          if (/[0-9]/.test(d)) throw new SieveRegexError('back-references are not supported');
          atom(escapeLiteral(d));
      }
      continue;
    }
    if (c === '[') {
      const [cls, next] = translateBracket(src, i);
      atom(cls);
      i = next;
      continue;
    }
    if (c === '(') {
      groupStarts.push(out.length);
      out += '(';
      atomStart = -1;
      i++;
      continue;
    }
    if (c === ')') {
      const start = groupStarts.pop();
      if (start === undefined) {
        atom('\\)');
        i++;
        continue;
      }
      out += ')';
      atomStart = start;
      quantified = false;
      i++;
      continue;
    }
    if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(i));
      if (m === null) {
        atom('\\{');
        i++;
        continue;
      }
      quantifier(m[0]);
      i += m[0].length;
      continue;
    }
    if (c === '}') {
      atom('\\}');
      i++;
      continue;
    }
    if (c === '*' || c === '+' || c === '?') {
      quantifier(c);
      i++;
      continue;
    }
    if (c === '|' || c === '^' || c === '$') {
      out += c;
      atomStart = -1;
      i++;
      continue;
    }
    atom(c);
    i++;
  }
  if (groupStarts.length !== 0) throw new SieveRegexError('unmatched ( or \\(');
  return out;
}

function escapeLiteral(ch: string): string {
  return /[\\^$.|?*+()[\]{}]/.test(ch) ? '\\' + ch : ch;
}

function translateBracket(src: string, start: number): [string, number] {
  let i = start + 1;
  let out = '[';
  if (src.charAt(i) === '^') {
    out += '^';
    i++;
  }
  let first = true;
  for (;;) {
    if (i >= src.length) throw new SieveRegexError('unmatched [, [^, [:, [., or [=');
    const c = src.charAt(i);
    if (c === ']' && !first) return [out + ']', i + 1];
    first = false;
    if (
      c === '[' &&
      (src.charAt(i + 1) === ':' || src.charAt(i + 1) === '.' || src.charAt(i + 1) === '=')
    ) {
      const kind = src.charAt(i + 1);
      const end = src.indexOf(kind + ']', i + 2);
      if (end < 0) throw new SieveRegexError('unmatched [, [^, [:, [., or [=');
      const name = src.slice(i + 2, end);
      if (kind === ':') {
        if (
          !/^(alpha|digit|alnum|upper|lower|space|blank|punct|print|graph|cntrl|xdigit)$/.test(name)
        ) {
          throw new SieveRegexError('invalid character class');
        }
        out += `[:${name}:]`;
      } else {
        out += escapeBracketChar(name);
      }
      i = end + 2;
      continue;
    }
    out += escapeBracketChar(c);
    i++;
  }
}

function escapeBracketChar(c: string): string {
  return c === '\\' || c === ']' || c === '[' || c === '^' ? '\\' + c : c;
}

const regexCache = new Map<string, RE2JS | SieveRegexError>();

/** Compiles (and caches) a POSIX ERE for :regex; returns an error for invalid patterns. */
export function compileSieveRegex(
  pattern: string,
  caseInsensitive: boolean,
): RE2JS | SieveRegexError {
  const key = (caseInsensitive ? 'i' : 'o') + pattern;
  const hit = regexCache.get(key);
  if (hit !== undefined) return hit;
  let compiled: RE2JS | SieveRegexError;
  try {
    const flags =
      RE2JS.LONGEST_MATCH | RE2JS.DOTALL | (caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0);
    compiled = RE2JS.compile(translatePosixRegex(pattern), flags);
  } catch (err) {
    compiled = err instanceof SieveRegexError ? err : new SieveRegexError(String(err));
  }
  if (regexCache.size > 4096) regexCache.clear();
  regexCache.set(key, compiled);
  return compiled;
}

/** Runs a compiled regex; returns the match and its groups, or null. */
export function regexMatch(re: RE2JS, value: string): string[] | null {
  const m = re.matcher(value);
  if (!m.find()) return null;
  const groups: string[] = [];
  const count = re.groupCount();
  for (let g = 0; g <= count; g++) groups.push(m.group(g) ?? '');
  return groups;
}

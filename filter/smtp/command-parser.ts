/**
 * Pure SMTP command parsing for the after-queue content filter (STYLE.md B1.1, B2): one command
 * line in, one typed `SmtpCommand` out. No sockets, no timers, no state beyond the line reader.
 *
 * Syntax follows RFC 5321 §4.1.1–§4.1.2 (commands, paths, ESMTP parameters), RFC 3461 (DSN
 * parameters, xtext), RFC 6531 (SMTPUTF8) and Postfix XFORWARD_README (attribute=xtext pairs,
 * `[UNAVAILABLE]` / `[TEMPUNAVAIL]` values). The parser is deliberately lenient where Postfix's
 * own smtpd is (a space after "FROM:", an address without angle brackets), because our only
 * expected client is Postfix's smtp(8) delivery agent; anything it cannot read becomes an
 * `invalid` command carrying the reply to send, never an exception.
 */
import type { EsmtpArgs } from '../message/envelope.js';
import { smtpReply, type SmtpReply } from './reply.js';

/** A value of one XFORWARD attribute: text, or one of the two placeholders. */
export type XforwardValue =
  | { readonly kind: 'value'; readonly text: string }
  /** `[UNAVAILABLE]` (any case): the upstream did not know it; erases the attribute. */
  | { readonly kind: 'unavailable' }
  /** `[TEMPUNAVAIL]`: a lookup failed temporarily upstream (typically the client NAME). */
  | { readonly kind: 'tempUnavailable' };

export interface XforwardAttribute {
  /** Upper-cased attribute name (NAME, ADDR, PORT, PROTO, HELO, IDENT, SOURCE). */
  readonly name: string;
  readonly value: XforwardValue;
}

/** The XFORWARD attributes this implementation understands (Postfix XFORWARD_README). */
export const XFORWARD_ATTRIBUTES = [
  'NAME',
  'ADDR',
  'PORT',
  'PROTO',
  'HELO',
  'IDENT',
  'SOURCE',
] as const;
export type XforwardAttributeName = (typeof XFORWARD_ATTRIBUTES)[number];

/** One parsed SMTP command. Unknown verbs and syntax errors are values too. */
export type SmtpCommand =
  | { readonly kind: 'helo'; readonly verb: 'HELO' | 'EHLO' | 'LHLO'; readonly domain: string }
  | { readonly kind: 'mail'; readonly address: string; readonly args: EsmtpArgs }
  | { readonly kind: 'rcpt'; readonly address: string; readonly args: EsmtpArgs }
  | { readonly kind: 'data' }
  | { readonly kind: 'rset' }
  | { readonly kind: 'noop' }
  | { readonly kind: 'quit' }
  | { readonly kind: 'xforward'; readonly attributes: readonly XforwardAttribute[] }
  /** A verb we do not implement (VRFY, EXPN, HELP, AUTH, STARTTLS, BDAT, …): 502. */
  | { readonly kind: 'unknown'; readonly verb: string }
  /** A known verb with bad syntax; `reply` is what to answer (501/555/500). */
  | { readonly kind: 'invalid'; readonly verb: string; readonly reply: SmtpReply };

const utf8 = new TextDecoder('utf-8', { fatal: true });

const syntax = (text: string): SmtpReply => smtpReply(501, '5.5.4', text);

/**
 * Parses one command line (without its CRLF / LF). Never throws: bytes that are not UTF-8, an
 * empty line or bad arguments give `{ kind: 'invalid', reply }`.
 */
export function parseSmtpCommand(line: Buffer | string): SmtpCommand {
  let text: string;
  if (typeof line === 'string') {
    text = line;
  } else {
    try {
      text = utf8.decode(line);
    } catch {
      return {
        kind: 'invalid',
        verb: '',
        reply: smtpReply(500, '5.5.2', 'Error: bad UTF-8 syntax'),
      };
    }
  }
  text = text.replace(/\r$/, '');
  const match = /^\s*([A-Za-z]+)(?:\s+|$)/.exec(text);
  if (match === null) {
    return { kind: 'invalid', verb: '', reply: smtpReply(500, '5.5.2', 'Error: bad syntax') };
  }
  const verb = (match[1] ?? '').toUpperCase();
  const rest = text.slice(match[0].length);
  switch (verb) {
    case 'HELO':
    case 'EHLO':
    case 'LHLO': {
      const domain = rest.trim();
      if (domain === '' || /\s/.test(domain)) {
        return { kind: 'invalid', verb, reply: syntax(`Syntax: ${verb} hostname`) };
      }
      return { kind: 'helo', verb, domain };
    }
    case 'MAIL':
      return parsePathCommand('mail', verb, rest);
    case 'RCPT':
      return parsePathCommand('rcpt', verb, rest);
    case 'DATA':
    case 'RSET':
    case 'QUIT':
      if (rest.trim() !== '') {
        return { kind: 'invalid', verb, reply: syntax(`Syntax: ${verb}`) };
      }
      return { kind: verb === 'DATA' ? 'data' : verb === 'RSET' ? 'rset' : 'quit' };
    case 'NOOP':
      // RFC 5321 §4.1.1.9: NOOP may carry a string argument, which is ignored.
      return { kind: 'noop' };
    case 'XFORWARD':
      return parseXforwardCommand(rest);
    default:
      return { kind: 'unknown', verb };
  }
}

/** MAIL FROM:<path> [params] / RCPT TO:<path> [params] (RFC 5321 §4.1.1.2–3). */
function parsePathCommand(kind: 'mail' | 'rcpt', verb: string, afterVerb: string): SmtpCommand {
  const keyword = kind === 'mail' ? 'FROM:' : 'TO:';
  const body = afterVerb;
  if (body.slice(0, keyword.length).toUpperCase() !== keyword) {
    return {
      kind: 'invalid',
      verb,
      reply: syntax(`Syntax: ${verb} ${keyword}<address>`),
    };
  }
  // Postfix's smtpd accepts "MAIL FROM: <a@b>" unless strict_rfc821_envelopes is set; so do we.
  const afterColon = body.slice(keyword.length).replace(/^ +/, '');
  const path = splitPath(afterColon);
  if (path === null) {
    return {
      kind: 'invalid',
      verb,
      reply: smtpReply(501, kind === 'mail' ? '5.1.7' : '5.1.3', 'Bad address syntax'),
    };
  }
  if (kind === 'rcpt' && path.address === '') {
    return {
      kind: 'invalid',
      verb,
      reply: smtpReply(501, '5.1.3', 'Bad recipient address syntax'),
    };
  }
  const args = parseEsmtpParams(path.rest);
  if (args === null) {
    return { kind: 'invalid', verb, reply: smtpReply(555, '5.5.4', 'Bad ESMTP parameter syntax') };
  }
  return { kind, address: path.address, args };
}

/**
 * Splits "<path> params" into the address (angle brackets and any RFC 5321 §4.1.2 source route
 * removed) and the parameter text. Quoted local parts may contain ">" and spaces.
 */
function splitPath(text: string): { address: string; rest: string } | null {
  if (!text.startsWith('<')) {
    // Lenient form without brackets (Postfix accepts it); the address ends at the first space.
    const space = text.indexOf(' ');
    const address = space < 0 ? text : text.slice(0, space);
    if (address === '' || /[<>]/.test(address) || hasControl(address)) return null;
    return { address, rest: space < 0 ? '' : text.slice(space + 1) };
  }
  let inQuote = false;
  let end = -1;
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && inQuote) {
      i++;
      continue;
    }
    if (c === '"') inQuote = !inQuote;
    else if (c === '>' && !inQuote) {
      end = i;
      break;
    }
  }
  if (end < 0) return null;
  let address = text.slice(1, end);
  const rest = text.slice(end + 1);
  if (rest !== '' && !rest.startsWith(' ')) return null;
  // Source route "@a,@b:user@c" (RFC 5321 §4.1.2, Appendix C): keep only the mailbox.
  if (address.startsWith('@')) {
    const colon = address.indexOf(':');
    if (colon < 0) return null;
    address = address.slice(colon + 1);
  }
  if (hasControl(address) || address.length > 512) return null;
  return { address, rest: rest.trim() };
}

function hasControl(text: string): boolean {
  return /[\x00-\x1f\x7f]/.test(text);
}

/**
 * Parses ESMTP parameters (RFC 5321 §4.1.2 `esmtp-param = esmtp-keyword ["=" esmtp-value]`).
 * Keywords are upper-cased; a bare keyword maps to true. Returns null on bad syntax or a
 * repeated keyword. Values may be UTF-8 (RFC 6531 §3.3 widens esmtp-value).
 */
export function parseEsmtpParams(text: string): EsmtpArgs | null {
  const out: Record<string, string | true> = {};
  const trimmed = text.trim();
  if (trimmed === '') return out;
  for (const token of trimmed.split(/ +/)) {
    const eq = token.indexOf('=');
    const keyword = (eq < 0 ? token : token.slice(0, eq)).toUpperCase();
    if (!/^[A-Z0-9][A-Z0-9-]*$/.test(keyword)) return null;
    if (Object.hasOwn(out, keyword)) return null;
    if (eq < 0) {
      out[keyword] = true;
      continue;
    }
    const value = token.slice(eq + 1);
    // esmtp-value = 1*(%d33-60 / %d62-126) — no "=", no controls, no space.
    if (value === '' || /[=\x00-\x20\x7f]/.test(value)) return null;
    out[keyword] = value;
  }
  return out;
}

/** Formats ESMTP parameters back to wire text (" KEY=value KEY2"), or "" when there are none. */
export function formatEsmtpParams(args: EsmtpArgs): string {
  let out = '';
  for (const [key, value] of Object.entries(args)) {
    out += value === true ? ` ${key}` : ` ${key}=${value}`;
  }
  return out;
}

/** XFORWARD attr=value … (Postfix XFORWARD_README). Attribute names are case-insensitive. */
function parseXforwardCommand(rest: string): SmtpCommand {
  const trimmed = rest.trim();
  if (trimmed === '') {
    return {
      kind: 'invalid',
      verb: 'XFORWARD',
      reply: syntax('Syntax: XFORWARD attribute=value...'),
    };
  }
  const attributes: XforwardAttribute[] = [];
  for (const token of trimmed.split(/\s+/)) {
    const eq = token.indexOf('=');
    if (eq <= 0) {
      return { kind: 'invalid', verb: 'XFORWARD', reply: syntax('Bad XFORWARD attribute syntax') };
    }
    const name = token.slice(0, eq).toUpperCase();
    if (!(XFORWARD_ATTRIBUTES as readonly string[]).includes(name)) {
      return {
        kind: 'invalid',
        verb: 'XFORWARD',
        reply: syntax(`Bad XFORWARD attribute name: ${name.slice(0, 32)}`),
      };
    }
    const raw = token.slice(eq + 1);
    const value = parseXforwardValue(raw);
    if (value === null) {
      return { kind: 'invalid', verb: 'XFORWARD', reply: syntax(`Bad ${name} syntax`) };
    }
    attributes.push({ name, value });
  }
  return { kind: 'xforward', attributes };
}

/**
 * One XFORWARD value: `[UNAVAILABLE]`/`[TEMPUNAVAIL]` (any case, XFORWARD_README note 3),
 * else xtext. Postfix before 2.3 sent values unencoded (note 5), so text that is not valid
 * xtext is taken as is. Returns null for an empty value or one over 255 characters (note 1).
 */
export function parseXforwardValue(raw: string): XforwardValue | null {
  if (raw === '' || raw.length > 255) return null;
  const upper = raw.toUpperCase();
  if (upper === '[UNAVAILABLE]') return { kind: 'unavailable' };
  if (upper === '[TEMPUNAVAIL]') return { kind: 'tempUnavailable' };
  const decoded = decodeXtext(raw) ?? raw;
  if (hasControl(decoded)) return null;
  return { kind: 'value', text: decoded };
}

/**
 * Decodes RFC 3461 §4 xtext ("+" HEXCHAR HEXCHAR for bytes outside 33–126, "+" and "=").
 * Returns null when the text is not valid xtext. The decoded bytes are read as UTF-8.
 */
export function decodeXtext(text: string): string | null {
  if (!text.includes('+')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2b) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c > 0x7f) {
      for (const b of Buffer.from(text[i] ?? '', 'utf8')) bytes.push(b);
    } else {
      bytes.push(c);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Encodes text as RFC 3461 §4 xtext: bytes outside 33–126, "+" and "=" become "+HH". */
export function encodeXtext(text: string): string {
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) {
    if (b < 33 || b > 126 || b === 0x2b || b === 0x3d) {
      out += `+${b.toString(16).toUpperCase().padStart(2, '0')}`;
    } else {
      out += String.fromCharCode(b);
    }
  }
  return out;
}

/** What the server advertises, as far as MAIL/RCPT parameter validation needs to know. */
export interface AdvertisedExtensions {
  readonly maxMessageBytes: number;
  readonly dsn: boolean;
}

/**
 * Checks MAIL FROM parameters against what we advertised (SIZE RFC 1870, BODY RFC 6152,
 * SMTPUTF8 RFC 6531, RET/ENVID RFC 3461). Returns the reply to send, or null when acceptable.
 */
export function validateMailParams(
  address: string,
  args: EsmtpArgs,
  ext: AdvertisedExtensions,
): SmtpReply | null {
  for (const [key, value] of Object.entries(args)) {
    switch (key) {
      case 'SIZE': {
        if (typeof value !== 'string' || !/^[0-9]{1,20}$/.test(value)) {
          return smtpReply(501, '5.5.4', 'Bad SIZE parameter syntax');
        }
        // RFC 1870 §6.1: a declared size over our limit is refused up front with 552.
        if (Number(value) > ext.maxMessageBytes) {
          return smtpReply(552, '5.3.4', 'Message size exceeds fixed limit');
        }
        break;
      }
      case 'BODY':
        if (typeof value !== 'string' || !/^(7BIT|8BITMIME)$/i.test(value)) {
          return smtpReply(501, '5.5.4', 'Bad BODY parameter');
        }
        break;
      case 'SMTPUTF8':
        if (value !== true) return smtpReply(501, '5.5.4', 'SMTPUTF8 takes no value');
        break;
      case 'RET':
        if (!ext.dsn) return unsupported(key);
        if (typeof value !== 'string' || !/^(FULL|HDRS)$/i.test(value)) {
          return smtpReply(501, '5.5.4', 'Bad RET parameter');
        }
        break;
      case 'ENVID':
        if (!ext.dsn) return unsupported(key);
        if (typeof value !== 'string' || decodeXtext(value) === null || value.length > 100) {
          return smtpReply(501, '5.5.4', 'Bad ENVID parameter');
        }
        break;
      case 'AUTH':
        // RFC 4954 §5: AUTH=<> or an xtext identity; Postfix may forward it. Pass it on.
        break;
      default:
        return unsupported(key);
    }
  }
  if (args['SMTPUTF8'] !== true && !isAscii(address)) {
    // RFC 6531 §3.7.4.1: a non-ASCII address needs SMTPUTF8.
    return smtpReply(553, '5.6.7', 'Non-ASCII address requires SMTPUTF8');
  }
  return null;
}

/**
 * Checks RCPT TO parameters (NOTIFY/ORCPT, RFC 3461 §4.1–4.2). `smtputf8` is whether the
 * transaction's MAIL carried SMTPUTF8. Returns the reply to send, or null when acceptable.
 */
export function validateRcptParams(
  address: string,
  args: EsmtpArgs,
  ext: AdvertisedExtensions,
  smtputf8: boolean,
): SmtpReply | null {
  for (const [key, value] of Object.entries(args)) {
    switch (key) {
      case 'NOTIFY':
        if (!ext.dsn) return unsupported(key);
        if (
          typeof value !== 'string' ||
          !/^(NEVER|((SUCCESS|FAILURE|DELAY)(,(SUCCESS|FAILURE|DELAY))*))$/i.test(value)
        ) {
          return smtpReply(501, '5.5.4', 'Bad NOTIFY parameter');
        }
        break;
      case 'ORCPT':
        if (!ext.dsn) return unsupported(key);
        if (typeof value !== 'string' || !/^[A-Za-z0-9-]+;./.test(value)) {
          return smtpReply(501, '5.5.4', 'Bad ORCPT parameter');
        }
        break;
      default:
        return unsupported(key);
    }
  }
  if (!smtputf8 && !isAscii(address)) {
    return smtpReply(553, '5.6.7', 'Non-ASCII address requires SMTPUTF8');
  }
  return null;
}

function unsupported(key: string): SmtpReply {
  return smtpReply(555, '5.5.4', `Unsupported option: ${key.slice(0, 32)}`);
}

function isAscii(text: string): boolean {
  return /^[\x00-\x7f]*$/.test(text);
}

/** One step of the command line reader: a line, the marker that a line was too long, or nothing yet. */
export type CommandLine =
  | { readonly kind: 'line'; readonly line: Buffer; readonly rest: Buffer }
  | { readonly kind: 'tooLong'; readonly rest: Buffer }
  | { readonly kind: 'partial' };

/**
 * Incremental splitter of the command stream into lines, with a hard bound on buffered bytes
 * (RFC 5321 §4.5.3.1.4 sets 512 octets per command line; `maxLineBytes` is ours, including
 * CRLF). A line terminates at LF; a CR before it is removed. A line over the limit is
 * reported once as `tooLong` when the limit is passed and its remaining bytes are dropped up
 * to the next LF, so memory stays bounded whatever the peer sends.
 */
export class CommandLineReader {
  readonly #maxLineBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #discarding = false;

  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  /** Bytes held for an incomplete line. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Takes the next line out of `chunk` (plus what was held before). */
  next(chunk: Buffer): CommandLine {
    const lf = chunk.indexOf(0x0a);
    if (this.#discarding) {
      if (lf < 0) return { kind: 'partial' };
      this.#discarding = false;
      return this.next(chunk.subarray(lf + 1));
    }
    if (lf < 0) {
      if (this.#pendingBytes + chunk.length > this.#maxLineBytes) {
        this.#reset();
        this.#discarding = true;
        return { kind: 'tooLong', rest: Buffer.alloc(0) };
      }
      if (chunk.length > 0) {
        // Copy: the caller's chunk may be reused; held bytes are bounded by maxLineBytes.
        this.#pending.push(Buffer.from(chunk));
        this.#pendingBytes += chunk.length;
      }
      return { kind: 'partial' };
    }
    const rest = chunk.subarray(lf + 1);
    if (this.#pendingBytes + lf + 1 > this.#maxLineBytes) {
      this.#reset();
      return { kind: 'tooLong', rest };
    }
    let line =
      this.#pendingBytes === 0
        ? chunk.subarray(0, lf)
        : Buffer.concat([...this.#pending, chunk.subarray(0, lf)]);
    this.#reset();
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, -1);
    return { kind: 'line', line, rest };
  }

  #reset(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
  }
}

/**
 * Turns a message into the set of tokens the Bayes classifier counts. Cheap on purpose: the
 * header fields come from the already parsed HeaderList, the body is walked with a light MIME
 * splitter (boundaries and part headers only), and only text parts are decoded; attachments
 * contribute their type and name, never their content.
 *
 * Token families (prefixes keep one word in different places apart, as SpamAssassin's and
 * Bogofilter's tokenizers do):
 * - body words, lower case (`word`), plus `UC:word` for words written in capitals, and
 *   `sk:` + the first 7 characters for long runs (encoded blobs, hashes);
 * - selected header fields: `S:` subject words, `F:`/`F@`/`FN:` sender address, domain and
 *   display-name words, `T#` how many recipients, `RT:` reply/return domains, `MI:` Message-ID
 *   domain and shape, `XM:` mailer, `L:list` for mailing-list mail, `RV:` host names of the
 *   Received hops outside the recipient's own system, `HN:` field names present, and shape
 *   tokens (`DS:` Date format). Fields the recipient's side writes (Delivered-To, list and
 *   filter fields, its own Received hops, the recipient addresses) give no words: they are the
 *   same on spam and ham and would teach the mailbox instead of the mail;
 * - URLs: `U:` host and its parent domains, `UP:` first path segment, `U:ip` for numeric hosts;
 * - structure: `CT:` types of the top level and of each part, `CS:` charsets, `CTE:` encodings,
 *   `HT:` HTML tag names, `A:` attachment types and extensions.
 */
import type { Message } from '../../message/message.js';
import { unfoldHeaderValue, type HeaderList } from '../../message/header-list.js';
import { decodeCharset, decodeEncodedWords, decodeTransfer } from '../text/decode.js';
import { reduceHtml } from './html-text.js';

/** Limits that keep tokenizing cheap and bounded on hostile input. */
export interface TokenizeOptions {
  /** Raw body bytes read at most (the rest is not tokenized). Default 256 KiB. */
  readonly maxBodyBytes?: number;
  /** Decoded characters tokenized per text part. Default 64 Ki. */
  readonly maxPartChars?: number;
  /** MIME parts visited at most. Default 32. */
  readonly maxParts?: number;
  /** Multipart nesting followed at most. Default 5. */
  readonly maxDepth?: number;
  /** Distinct tokens kept at most. Default 4,000. */
  readonly maxTokens?: number;
}

const DEFAULTS = {
  maxBodyBytes: 256 * 1024,
  maxPartChars: 64 * 1024,
  maxParts: 32,
  maxDepth: 5,
  maxTokens: 4000,
} as const;

type Limits = { readonly [K in keyof typeof DEFAULTS]: number };

/** A parsed Content-Type (or Content-Disposition) value. */
interface ContentType {
  readonly type: string;
  readonly params: ReadonlyMap<string, string>;
}

function parseContentType(value: string | null, fallback: string): ContentType {
  const params = new Map<string, string>();
  if (value === null) return { type: fallback, params };
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  if (semi >= 0) {
    const re = /;\s*([a-z0-9*_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/gi;
    re.lastIndex = semi;
    for (const m of value.matchAll(re)) {
      const name = (m[1] ?? '').toLowerCase();
      if (!params.has(name)) params.set(name, m[2] ?? m[3] ?? '');
    }
  }
  return { type: type === '' ? fallback : type, params };
}

/** Collects tokens into a bounded set. */
class TokenSink {
  readonly tokens = new Set<string>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  add(token: string): void {
    if (this.tokens.size < this.#max) this.tokens.add(token);
  }

  get full(): boolean {
    return this.tokens.size >= this.#max;
  }
}

// Words: letters, digits and a few joiners; money signs start a token so "$500" stays whole.
const WORD = /[\p{L}\p{N}$€£][\p{L}\p{N}'.\-_$€£%]*/gu;
const TRIM_END = /['.\-_]+$/;

/** Adds the words of `text` under `prefix`; body text passes '' and gets the capitals variant. */
function addWords(sink: TokenSink, text: string, prefix: string, capitals: boolean): void {
  for (const m of text.matchAll(WORD)) {
    if (sink.full) return;
    let word = m[0];
    if (word.length > 1) word = word.replace(TRIM_END, '');
    const length = word.length;
    if (length < 3) continue;
    if (length > 20) {
      sink.add(`${prefix}sk:${word.slice(0, 7).toLowerCase()}`);
      continue;
    }
    const lower = word.toLowerCase();
    sink.add(prefix + lower);
    if (capitals && lower !== word && length > 3 && word === word.toUpperCase()) {
      sink.add(`UC:${lower}`);
    }
  }
}

/** Replaces digit runs with D and letter runs with a, keeping punctuation: a value's shape. */
function shapeOf(value: string): string {
  return value
    .slice(0, 60)
    .replace(/[0-9]+/g, 'D')
    .replace(/[a-zA-Z]+/g, 'a');
}

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** URL tokens: host, its parent domains, numeric hosts, the first path segment. */
function addUrl(sink: TokenSink, url: string): void {
  const m = /^(?:([a-z][a-z0-9+.-]*):)?\/*(?:[^/?#@\s]*@)?([^/?#:\s]+)(:\d+)?([/?#][^\s]*)?/i.exec(
    url.trim(),
  );
  if (m === null) return;
  const scheme = (m[1] ?? '').toLowerCase();
  if (scheme === 'mailto') {
    const at = url.indexOf('@');
    if (at > 0)
      sink.add(
        `U:mailto@${
          url
            .slice(at + 1)
            .split(/[?>\s]/)[0]
            ?.toLowerCase() ?? ''
        }`,
      );
    return;
  }
  if (scheme !== '' && scheme !== 'http' && scheme !== 'https' && scheme !== 'ftp') return;
  const host = (m[2] ?? '').toLowerCase().replace(/\.$/, '');
  if (host === '' || !host.includes('.')) return;
  if (url.includes('@') && /^[a-z]+:\/\/[^/]*@/i.test(url)) sink.add('U:userinfo');
  if (m[3] !== undefined) sink.add('U:port');
  if (host.includes('%')) sink.add('U:pct');
  if (IPV4.test(host)) {
    sink.add('U:ip');
    sink.add(`U:${host.split('.').slice(0, 2).join('.')}`);
  } else {
    sink.add(`U:${host}`);
    const labels = host.split('.');
    for (let i = 1; i < labels.length - 1 && i < 4; i++) sink.add(`U:${labels.slice(i).join('.')}`);
  }
  const path = m[4];
  if (path !== undefined && path.length > 1) {
    const first = /^[/?#]([^/?#&=]{1,24})/.exec(path)?.[1];
    if (first !== undefined) sink.add(`UP:${first.toLowerCase()}`);
    if (path.includes('?')) sink.add('U:query');
  }
}

const URL_IN_TEXT = /\b(?:https?:\/\/|www\.)[^\s"'<>()[\]{}]+/gi;

function addText(sink: TokenSink, text: string, limits: Limits): void {
  const bounded = text.length > limits.maxPartChars ? text.slice(0, limits.maxPartChars) : text;
  let urls = 0;
  for (const m of bounded.matchAll(URL_IN_TEXT)) {
    if (++urls > 64) break;
    addUrl(sink, m[0].startsWith('www.') || m[0].startsWith('WWW.') ? `http://${m[0]}` : m[0]);
  }
  addWords(sink, bounded, '', true);
}

const ADDRESS = /[^\s<>"(),;:]+@[^\s<>"(),;:]+/g;

function addresses(value: string): string[] {
  return [...value.matchAll(ADDRESS)].slice(0, 8).map((m) => m[0].toLowerCase());
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).replace(/[>.]+$/, '');
}

/**
 * Header fields that say where the message was delivered or how it was filed rather than what
 * it is: the recipient's own system writes them the same way on spam and ham, so their tokens
 * learn the mailbox, not the mail (SpamAssassin's Bayes ignores the same kinds of field).
 * Mailing-list fields are among them: spam sent through a list would otherwise carry the list's
 * ham evidence.
 */
const IGNORED_FIELD =
  /^(?:delivered-to|delivery-date|x-original-to|envelope-to|x-envelope-to|x-spam-[a-z-]*|x-virus-[a-z-]*|x-scanned-by|x-uidl?|status|x-status|x-keywords|x-flags|lines|content-length|x-loop|x-beenthere|x-mailman-version|list-[a-z-]+|x-list[a-z-]*|mailing-list|x-mailing-list|precedence|errors-to|mail-followup-to|x-egroups-[a-z-]+|(?:x-)?resent-[a-z-]+|x-original-[a-z-]+|xref)$/;

const LOCAL_HOP = /\b(?:localhost|127\.0\.0\.1|::1)\b|\bwith\s+(?:pop3|imap|lmtp)\b|fetchmail/i;

/**
 * The Received fields worth tokenizing, top (newest) first: the recipient's own hops (local
 * deliveries, fetchmail) are skipped, and of the first hop from outside (the receiving MX) only
 * the "from" part is kept, since its "by" part names the recipient's own server.
 */
function externalReceived(headers: HeaderList, max: number): string[] {
  const out: string[] = [];
  let outside = false;
  for (const field of headers.all()) {
    if (field.name.toLowerCase() !== 'received') continue;
    let value = unfoldHeaderValue(field.value);
    const semi = value.lastIndexOf(';');
    if (semi >= 0) value = value.slice(0, semi);
    if (!outside) {
      if (LOCAL_HOP.test(value)) continue;
      outside = true;
      const by = value.search(/\sby\s/i);
      if (by >= 0) value = value.slice(0, by);
    }
    out.push(value);
    if (out.length >= max) break;
  }
  return out;
}

/** Tokens of the header fields: names present, and the words of the telling fields. */
function addHeaders(sink: TokenSink, headers: HeaderList): void {
  let received = 0;
  let recipients = 0;
  let list = false;
  for (const field of headers.all()) {
    const name = field.name.toLowerCase();
    if (name === '') {
      sink.add('HN:!malformed');
      continue;
    }
    if (IGNORED_FIELD.test(name)) {
      if (name.startsWith('list-') || name === 'x-mailman-version' || name === 'x-beenthere') {
        list = true;
      }
      continue;
    }
    sink.add(`HN:${name.slice(0, 40)}`);
    switch (name) {
      case 'subject': {
        const subject = decodeEncodedWords(unfoldHeaderValue(field.value));
        addWords(sink, subject, 'S:', false);
        if (/[!?]{2,}/.test(subject)) sink.add('S:!!');
        if (/\$\d/.test(subject)) sink.add('S:$n');
        if (/^\s*(re|fwd?|aw):/i.test(subject)) sink.add('S:reply');
        const letters = subject.replace(/[^a-zA-Z]/g, '');
        if (letters.length >= 8 && letters === letters.toUpperCase()) sink.add('S:CAPS');
        if (field.value.includes('=?')) sink.add('S:encoded');
        break;
      }
      case 'from': {
        const value = decodeEncodedWords(unfoldHeaderValue(field.value));
        for (const address of addresses(value).slice(0, 1)) {
          sink.add(`F:${address}`);
          sink.add(`F@${domainOf(address)}`);
        }
        const display = value.replace(ADDRESS, ' ').replace(/[<>"]/g, ' ');
        addWords(sink, display, 'FN:', false);
        break;
      }
      case 'to':
      case 'cc':
        // Only how many: the addresses are the recipient's own, the same on spam and ham.
        recipients += addresses(unfoldHeaderValue(field.value)).length;
        break;
      case 'reply-to':
      case 'return-path':
      case 'sender':
        for (const address of addresses(unfoldHeaderValue(field.value)).slice(0, 1)) {
          sink.add(`RT:${domainOf(address)}`);
        }
        break;
      case 'message-id': {
        const value = unfoldHeaderValue(field.value);
        const at = value.lastIndexOf('@');
        if (at >= 0)
          sink.add(
            `MI:${value
              .slice(at + 1)
              .replace(/>.*$/, '')
              .toLowerCase()}`,
          );
        sink.add(`MIS:${shapeOf(value)}`);
        break;
      }
      case 'date':
        sink.add(`DS:${shapeOf(unfoldHeaderValue(field.value))}`);
        break;
      case 'x-mailer':
      case 'user-agent': {
        const value = unfoldHeaderValue(field.value);
        sink.add(`XM:${shapeOf(value)}`);
        addWords(sink, value, 'XM:', false);
        break;
      }
      case 'x-priority':
      case 'x-msmail-priority':
      case 'importance':
        sink.add(`XP:${unfoldHeaderValue(field.value).slice(0, 20).toLowerCase()}`);
        break;
      case 'content-type': {
        const ct = parseContentType(unfoldHeaderValue(field.value), 'text/plain');
        sink.add(`CT0:${ct.type}`);
        const charset = ct.params.get('charset');
        if (charset !== undefined) sink.add(`CS:${charset.toLowerCase()}`);
        break;
      }
      case 'received':
        received++;
        break;
      default:
        break;
    }
  }
  for (const hop of externalReceived(headers, 8)) addWords(sink, hop, 'RV:', false);
  if (list) sink.add('L:list');
  sink.add(`T#${String(Math.min(recipients, 10))}`);
  sink.add(`RV#${String(Math.min(received, 12))}`);
}

/** Header fields of a MIME part, unfolded, names lower-cased (first occurrence wins). */
function parsePartHeaders(block: string): Map<string, string> {
  const fields = new Map<string, string>();
  const unfolded = block.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!fields.has(name)) fields.set(name, line.slice(colon + 1).trim());
  }
  return fields;
}

/** Splits a part into its header block and body at the first empty line. */
function splitPart(part: Buffer): { headers: Map<string, string>; body: Buffer } {
  let end = -1;
  let skip = 0;
  const crlf = part.indexOf('\r\n\r\n');
  const lf = part.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) {
    end = crlf;
    skip = 4;
  } else if (lf >= 0) {
    end = lf;
    skip = 2;
  }
  // A part that starts with an empty line has no header fields.
  if (part[0] === 0x0a || (part[0] === 0x0d && part[1] === 0x0a)) {
    return { headers: new Map(), body: part.subarray(part[0] === 0x0a ? 1 : 2) };
  }
  if (end < 0) return { headers: parsePartHeaders(part.toString('latin1')), body: Buffer.alloc(0) };
  return {
    headers: parsePartHeaders(part.subarray(0, end).toString('latin1')),
    body: part.subarray(end + skip),
  };
}

/** The parts between `--boundary` lines (the preamble and epilogue are skipped). */
function splitMultipart(body: Buffer, boundary: string, maxParts: number): Buffer[] {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const parts: Buffer[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0 && parts.length < maxParts) {
    // The delimiter must start a line (RFC 2046 §5.1.1).
    if (at > 0 && body[at - 1] !== 0x0a) {
      at = body.indexOf(delimiter, at + delimiter.length);
      continue;
    }
    const after = at + delimiter.length;
    if (body[after] === 0x2d && body[after + 1] === 0x2d) break;
    const lineEnd = body.indexOf(0x0a, after);
    if (lineEnd < 0) break;
    let next = body.indexOf(delimiter, lineEnd);
    while (next > 0 && body[next - 1] !== 0x0a) next = body.indexOf(delimiter, next + 1);
    const end = next < 0 ? body.length : next;
    // The CRLF before the next delimiter belongs to the delimiter.
    let partEnd = end;
    if (next >= 0 && body[partEnd - 1] === 0x0a) partEnd--;
    if (next >= 0 && body[partEnd - 1] === 0x0d) partEnd--;
    parts.push(body.subarray(lineEnd + 1, Math.max(lineEnd + 1, partEnd)));
    at = next;
  }
  return parts;
}

interface WalkState {
  parts: number;
}

function walkPart(
  sink: TokenSink,
  headers: { get(name: string): string | null | undefined },
  body: Buffer,
  depth: number,
  state: WalkState,
  limits: Limits,
): void {
  if (++state.parts > limits.maxParts || sink.full) return;
  const ct = parseContentType(headers.get('content-type') ?? null, 'text/plain');
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').trim().toLowerCase();
  if (depth > 0) sink.add(`CT:${ct.type}`);
  if (encoding !== '7bit' && encoding !== '8bit') sink.add(`CTE:${encoding.slice(0, 20)}`);
  if (ct.type.startsWith('multipart/')) {
    const boundary = ct.params.get('boundary');
    if (boundary === undefined || boundary === '' || depth >= limits.maxDepth) {
      sink.add('CT:!boundary');
      return;
    }
    for (const part of splitMultipart(body, boundary, limits.maxParts)) {
      const split = splitPart(part);
      walkPart(sink, split.headers, split.body, depth + 1, state, limits);
      if (state.parts > limits.maxParts) return;
    }
    return;
  }
  if (ct.type === 'message/rfc822' && depth < limits.maxDepth) {
    const split = splitPart(body);
    walkPart(sink, split.headers, split.body, depth + 1, state, limits);
    return;
  }
  const disposition = parseContentType(headers.get('content-disposition') ?? null, 'inline');
  const filename = disposition.params.get('filename') ?? ct.params.get('name') ?? null;
  const isText = ct.type === 'text/plain' || ct.type === 'text/html' || ct.type === 'text';
  if (!isText || filename !== null) {
    sink.add(`A:${ct.type}`);
    if (filename !== null) {
      const name = decodeEncodedWords(filename).toLowerCase();
      const dot = name.lastIndexOf('.');
      if (dot >= 0) sink.add(`A:ext:${name.slice(dot + 1, dot + 9)}`);
    }
    if (!isText) return;
  }
  const charset = ct.params.get('charset') ?? null;
  if (charset !== null && depth > 0) sink.add(`CS:${charset.toLowerCase()}`);
  const decoded = decodeTransfer(body, encoding);
  const text = decodeCharset(
    decoded.length > limits.maxPartChars * 2
      ? decoded.subarray(0, limits.maxPartChars * 2)
      : decoded,
    charset,
  );
  if (ct.type === 'text/html' || /^\s*<(?:!doctype|html|head|body)/i.test(text.slice(0, 200))) {
    const html = reduceHtml(text);
    for (const tag of html.tags) sink.add(`HT:${tag}`);
    for (const url of html.urls) addUrl(sink, url);
    addText(sink, html.text, limits);
  } else {
    addText(sink, text, limits);
  }
}

/**
 * The distinct tokens of a message. Reads at most `maxBodyBytes` of the body; never throws on
 * malformed MIME (what cannot be split is tokenized as text).
 */
export async function tokenizeMessage(
  message: Message,
  options: TokenizeOptions = {},
): Promise<Set<string>> {
  const limits: Limits = { ...DEFAULTS, ...options };
  const body = await message.body.head(limits.maxBodyBytes);
  return tokenizeParts(message.headers, body, limits);
}

/** The synchronous core of {@link tokenizeMessage}, for a header list and body bytes at hand. */
export function tokenizeParts(
  headers: HeaderList,
  body: Buffer,
  options: TokenizeOptions = {},
): Set<string> {
  const limits: Limits = { ...DEFAULTS, ...options };
  const sink = new TokenSink(limits.maxTokens);
  addHeaders(sink, headers);
  const topHeaders = {
    get: (name: string): string | null => headers.getFirst(name),
  };
  walkPart(sink, topHeaders, body, 0, { parts: 0 }, limits);
  return sink.tokens;
}

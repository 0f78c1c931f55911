/**
 * A light, lazy view of one message for the rules: a header index built from the HeaderList,
 * the MIME structure found by a boundary scan (part headers only), text parts decoded only when
 * a body rule asks, HTML stripped by a cheap tag scan and URIs extracted once. Nothing here
 * decodes attachments, and every step has a size cap, so a hostile message costs bounded CPU.
 *
 * It never throws on bad input: malformed MIME, unknown charsets or broken encodings degrade to
 * "what could be read" (the rules then see less, never an exception).
 */
import type { Message } from '../../message/message.js';
import { unfoldHeaderValue } from '../../message/header-list.js';
import {
  decodeBase64,
  decodeCharset,
  decodeEncodedWords,
  decodeQuotedPrintable,
} from '../text/decode.js';
import { analyzeHtml, type HtmlInfo } from './html.js';
import { WordIndex } from './prefilter.js';
import { extractTextUris, parseUri, type UriInfo } from './uri.js';

/** Caps that bound the work done per message. */
export interface MessageViewLimits {
  /** Body bytes looked at (the rest is ignored by rules). Default 512 KiB. */
  readonly maxBodyBytes: number;
  /** Characters of decoded text kept per text part. Default 128 Ki. */
  readonly maxTextChars: number;
  /** MIME parts indexed. Default 200. */
  readonly maxParts: number;
  /** MIME nesting followed. Default 12. */
  readonly maxDepth: number;
  /** URIs kept. Default 500. */
  readonly maxUris: number;
}

export const DEFAULT_VIEW_LIMITS: MessageViewLimits = Object.freeze({
  maxBodyBytes: 512 * 1024,
  maxTextChars: 128 * 1024,
  maxParts: 200,
  maxDepth: 12,
  maxUris: 500,
});

/** A mailbox as rules see it: display name (decoded), address and domain, lower case. */
export interface Mailbox {
  readonly name: string;
  readonly address: string;
  readonly local: string;
  readonly domain: string;
}

/** One MIME leaf part, from its headers only (content is decoded only for text parts). */
export interface MimePart {
  /** Lower-case media type ("text/plain"); "text/plain" when none is given. */
  readonly type: string;
  readonly charset: string;
  /** Lower-case Content-Transfer-Encoding ("7bit" when none). */
  readonly encoding: string;
  /** File name from Content-Disposition or Content-Type (RFC 2047/2231 decoded), or null. */
  readonly filename: string | null;
  /** "attachment" / "inline" / "" */
  readonly disposition: string;
  /** Encoded size in bytes. */
  readonly size: number;
  /** The raw Content-Type value (for rules on odd parameters). */
  readonly rawType: string;
  /** Depth in the MIME tree (0 = the message itself). */
  readonly depth: number;
  /** Start and end of the part's encoded content in the body string. */
  readonly start: number;
  readonly end: number;
}

/** A text part once decoded. */
export interface TextPart {
  readonly type: 'text/plain' | 'text/html';
  readonly text: string;
  readonly part: MimePart;
  /** Decoding trouble seen (bad base64, unknown charset), for encoding-abuse rules. */
  readonly problems: readonly string[];
}

/** Body bytes as a latin1 string (one char per byte) so offsets equal byte offsets. */
async function readBody(message: Message, maxBytes: number): Promise<string> {
  const pieces = message.body.memoryChunks();
  if (pieces !== null) {
    let out = '';
    for (const piece of pieces) {
      if (out.length >= maxBytes) break;
      out += piece.toString('latin1', 0, Math.min(piece.length, maxBytes - out.length));
    }
    return out;
  }
  return (await message.body.head(maxBytes)).toString('latin1');
}

/** Parameters of a structured header (Content-Type, Content-Disposition), lower-case names. */
export function parseHeaderParams(value: string): { value: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  const semi = value.indexOf(';');
  const main = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  if (semi < 0) return { value: main, params };
  const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.){0,1000})"|([^;\s]{0,1000}))/g;
  const continuation = new Map<string, string[]>();
  for (const m of value.slice(semi).matchAll(re)) {
    const name = (m[1] ?? '').toLowerCase();
    const v = m[2] ?? m[3] ?? '';
    // RFC 2231 continuations (name*0, name*1*) are joined; charset'lang' prefixes dropped.
    const cont = /^([^*]+)\*(\d+)\*?$/.exec(name);
    if (cont !== null) {
      const base = cont[1] ?? '';
      const list = continuation.get(base) ?? [];
      list[Number(cont[2])] = v;
      continuation.set(base, list);
      continue;
    }
    if (name.endsWith('*')) {
      params.set(name.slice(0, -1), decodeRfc2231(v));
      continue;
    }
    if (!params.has(name)) params.set(name, v);
  }
  for (const [base, list] of continuation) {
    if (!params.has(base)) params.set(base, decodeRfc2231(list.join('')));
  }
  return { value: main, params };
}

function decodeRfc2231(v: string): string {
  const m = /^([^']*)'[^']*'(.*)$/.exec(v);
  if (m === null) return v;
  try {
    return decodeCharset(
      Buffer.from(decodeURIComponent(m[2] ?? '').replace(/[^\x00-\xff]/g, '?'), 'latin1'),
      m[1] ?? 'utf-8',
    );
  } catch {
    return m[2] ?? '';
  }
}

/** "Name <a@b>" / "a@b (Name)" / "a@b" → Mailbox; the first mailbox of a list. */
export function parseMailbox(value: string): Mailbox {
  const decoded = decodeEncodedWords(value);
  let name = '';
  let address = '';
  const angle = /<([^<>]*)>/.exec(decoded);
  if (angle !== null) {
    address = angle[1] ?? '';
    name = decoded.slice(0, angle.index);
  } else {
    const paren = /\(([^()]*)\)/.exec(decoded);
    address = decoded.replace(/\([^()]*\)/g, '');
    name = paren?.[1] ?? '';
    const comma = address.indexOf(',');
    if (comma >= 0) address = address.slice(0, comma);
  }
  address = address.trim().toLowerCase();
  name = name
    .trim()
    .replace(/^"(.*)"$/s, '$1')
    .replace(/\\(.)/g, '$1')
    .trim();
  const at = address.lastIndexOf('@');
  return {
    name,
    address,
    local: at < 0 ? address : address.slice(0, at),
    domain: at < 0 ? '' : address.slice(at + 1).replace(/[>.\s]+$/, ''),
  };
}

/** The light view the rules run on. Build one per scan with {@link createMessageView}. */
export class MessageView {
  readonly limits: MessageViewLimits;
  readonly #message: Message;
  readonly #body: string;
  readonly #index = new Map<string, string[]>();
  readonly #names: string[] = [];
  #decoded = new Map<string, string[]>();
  #parts: MimePart[] | null = null;
  #textParts: TextPart[] | null = null;
  #bodyText: string | null = null;
  #lowerBody: string | null = null;
  #wordKeys: WordIndex | null = null;
  #rawBody: string | null = null;
  #html: HtmlInfo | null | undefined;
  #uris: UriInfo[] | null = null;
  #from: Mailbox | null = null;
  #mimeProblems: string[] = [];

  constructor(message: Message, body: string, limits: MessageViewLimits) {
    this.#message = message;
    this.#body = body;
    this.limits = limits;
    for (const field of message.headers.all()) {
      const key = field.name.toLowerCase();
      this.#names.push(field.name);
      let list = this.#index.get(key);
      if (list === undefined) {
        list = [];
        this.#index.set(key, list);
      }
      list.push(field.value);
    }
  }

  get message(): Message {
    return this.#message;
  }

  /** Field names in order, as they arrived. */
  get headerNames(): readonly string[] {
    return this.#names;
  }

  /** Raw (folded, not decoded) values of a header, in order. */
  rawHeaders(name: string): readonly string[] {
    return this.#index.get(name.toLowerCase()) ?? [];
  }

  hasHeader(name: string): boolean {
    return this.#index.has(name.toLowerCase());
  }

  /** Unfolded, RFC 2047-decoded values of a header, in order. */
  headers(name: string): readonly string[] {
    const key = name.toLowerCase();
    let list = this.#decoded.get(key);
    if (list === undefined) {
      list = (this.#index.get(key) ?? []).map((v) => decodeEncodedWords(unfoldHeaderValue(v)));
      this.#decoded.set(key, list);
    }
    return list;
  }

  /** The first decoded value of a header, or "" when absent. */
  header(name: string): string {
    return this.headers(name)[0] ?? '';
  }

  /** The decoded Subject. */
  get subject(): string {
    return this.header('subject');
  }

  /** The From mailbox (first one). */
  get from(): Mailbox {
    this.#from ??= parseMailbox(unfoldHeaderValue(this.rawHeaders('from')[0] ?? ''));
    return this.#from;
  }

  /** The undecoded body (latin1, capped at maxBodyBytes). */
  get body(): string {
    return this.#body;
  }

  /** Header block + empty line + capped body, as text (for "full" rules). */
  full(): string {
    const head = this.#message.headers
      .all()
      .map((f) => `${f.name}: ${f.value}`)
      .join('\r\n');
    return `${head}\r\n\r\n${this.#body}`;
  }

  /** MIME leaf parts found by the boundary scan (part headers only). */
  parts(): readonly MimePart[] {
    if (this.#parts === null) {
      this.#parts = [];
      const ct = unfoldHeaderValue(this.rawHeaders('content-type')[0] ?? '');
      const cte = unfoldHeaderValue(this.rawHeaders('content-transfer-encoding')[0] ?? '');
      const cd = unfoldHeaderValue(this.rawHeaders('content-disposition')[0] ?? '');
      this.#walk(ct, cte, cd, 0, this.#body.length, 0, '');
    }
    return this.#parts;
  }

  /** Structural MIME trouble seen (missing boundary, depth or part limit). */
  mimeProblems(): readonly string[] {
    this.parts();
    return this.#mimeProblems;
  }

  /** text/plain and text/html parts (not attachments), decoded. */
  textParts(): readonly TextPart[] {
    if (this.#textParts === null) {
      this.#textParts = [];
      for (const part of this.parts()) {
        if (part.type !== 'text/plain' && part.type !== 'text/html') continue;
        if (part.disposition === 'attachment') continue;
        const problems: string[] = [];
        const text = this.decodePart(part, problems).slice(0, this.limits.maxTextChars);
        this.#textParts.push({ type: part.type, text, part, problems });
        if (this.#textParts.length >= 20) break;
      }
    }
    return this.#textParts;
  }

  /** Decoded content of a part as text in its charset. */
  decodePart(part: MimePart, problems?: string[]): string {
    const encoded = this.#body.slice(part.start, part.end);
    let bytes: Buffer;
    if (part.encoding === 'base64') bytes = decodeBase64(encoded, problems);
    else if (part.encoding === 'quoted-printable') bytes = decodeQuotedPrintable(encoded);
    else bytes = Buffer.from(encoded, 'latin1');
    return decodeCharset(bytes, part.charset, problems);
  }

  /** The first HTML part analysed (visible text, hidden text, links, images), or null. */
  html(): HtmlInfo | null {
    if (this.#html === undefined) {
      const part = this.textParts().find((p) => p.type === 'text/html');
      this.#html = part === undefined ? null : analyzeHtml(part.text);
    }
    return this.#html;
  }

  /**
   * What a reader sees: the subject, then each text part (HTML reduced to its visible text),
   * whitespace collapsed. What "body" rules match.
   */
  bodyText(): string {
    if (this.#bodyText === null) {
      const chunks = [this.subject];
      let htmlSeen = false;
      for (const part of this.textParts()) {
        if (part.type === 'text/html') {
          // The first HTML part is analysed once; later ones are stripped the same way.
          const info = htmlSeen ? analyzeHtml(part.text) : this.html();
          htmlSeen = true;
          chunks.push(info?.visibleText ?? '');
        } else {
          chunks.push(part.text);
        }
      }
      this.#bodyText = chunks.join('\n').replace(/[ \t\u00a0]+/g, ' ');
    }
    return this.#bodyText;
  }

  /** {@link bodyText} in lower case, computed once (most phrase rules run on it). */
  lowerBodyText(): string {
    this.#lowerBody ??= this.bodyText().toLowerCase();
    return this.#lowerBody;
  }

  /** Word keys of {@link lowerBodyText} and where they start, for phrase rules (prefilter.ts). */
  bodyWordKeys(): WordIndex {
    this.#wordKeys ??= new WordIndex(this.lowerBodyText());
    return this.#wordKeys;
  }

  /** The decoded text parts with HTML markup kept ("rawbody" rules). */
  rawBody(): string {
    this.#rawBody ??= this.textParts()
      .map((p) => p.text)
      .join('\n');
    return this.#rawBody;
  }

  /** Every URI of the message (text parts, HTML links and images), parsed once. */
  uris(): readonly UriInfo[] {
    if (this.#uris === null) {
      const seen = new Set<string>();
      const parsed = new Map<string, UriInfo | null>();
      const out: UriInfo[] = [];
      const add = (raw: string, source: UriInfo['source'], linkText?: string): void => {
        if (out.length >= this.limits.maxUris) return;
        const key = `${source}\u0000${raw}\u0000${linkText ?? ''}`;
        if (seen.has(key)) return;
        seen.add(key);
        // The same URL often appears as a link and in the text: parse it once.
        let base = parsed.get(raw);
        if (base === undefined) {
          base = parseUri(raw, 'text');
          parsed.set(raw, base);
        }
        if (base === null && source === 'text') return;
        const info =
          base === null
            ? parseUri(raw, source, linkText)
            : { ...base, source, ...(linkText === undefined ? {} : { linkText }) };
        if (info !== null) out.push(info);
      };
      const html = this.html();
      if (html !== null) {
        for (const link of html.links) add(link.href, 'href', link.text);
        for (const src of html.images) add(src, 'img');
        for (const action of html.forms) add(action, 'form');
      }
      for (const part of this.textParts()) {
        const text = part.type === 'text/html' ? (html?.visibleText ?? '') : part.text;
        for (const raw of extractTextUris(text, this.limits.maxUris)) add(raw, 'text');
      }
      this.#uris = out;
    }
    return this.#uris;
  }

  #walk(
    contentType: string,
    encoding: string,
    disposition: string,
    start: number,
    end: number,
    depth: number,
    parentType: string,
  ): void {
    const parts = this.#parts ?? [];
    if (parts.length >= this.limits.maxParts) {
      if (!this.#mimeProblems.includes('too many parts')) this.#mimeProblems.push('too many parts');
      return;
    }
    const ct = parseHeaderParams(contentType);
    const type =
      ct.value === '' || !ct.value.includes('/')
        ? parentType === 'multipart/digest'
          ? 'message/rfc822'
          : 'text/plain'
        : ct.value;
    if (type.startsWith('multipart/') && depth < this.limits.maxDepth) {
      const boundary = ct.params.get('boundary');
      if (boundary === undefined || boundary === '') {
        this.#mimeProblems.push('multipart without boundary');
        this.#leaf('text/plain', ct.params, encoding, disposition, start, end, depth, contentType);
        return;
      }
      this.#walkMultipart(boundary, start, end, depth, type);
      return;
    }
    if (type === 'message/rfc822' && depth < this.limits.maxDepth) {
      const sep = findHeaderEnd(this.#body, start, end);
      const headers = indexPartHeaders(this.#body.slice(start, sep.headerEnd));
      this.#walk(
        headers.get('content-type') ?? '',
        headers.get('content-transfer-encoding') ?? '',
        headers.get('content-disposition') ?? '',
        sep.bodyStart,
        end,
        depth + 1,
        type,
      );
      return;
    }
    if (depth >= this.limits.maxDepth && !this.#mimeProblems.includes('nesting too deep')) {
      this.#mimeProblems.push('nesting too deep');
    }
    this.#leaf(type, ct.params, encoding, disposition, start, end, depth, contentType);
  }

  #walkMultipart(boundary: string, start: number, end: number, depth: number, type: string): void {
    const body = this.#body;
    const delimiter = `--${boundary}`;
    // Boundaries must start a line (RFC 2046 §5.1.1); collect every delimiter line in range.
    const marks: { at: number; next: number; close: boolean }[] = [];
    let pos = start;
    while (pos < end && marks.length <= this.limits.maxParts) {
      const hit = body.indexOf(delimiter, pos);
      if (hit < 0 || hit >= end) break;
      pos = hit + delimiter.length;
      if (hit !== start && body.charCodeAt(hit - 1) !== 0x0a) continue;
      const close = body.startsWith('--', pos);
      let lineEnd = body.indexOf('\n', pos);
      if (lineEnd < 0 || lineEnd > end) lineEnd = end;
      else lineEnd += 1;
      marks.push({ at: hit, next: lineEnd, close });
      if (close) break;
    }
    if (marks.length === 0) {
      this.#mimeProblems.push('boundary not found');
      this.#leaf('text/plain', new Map(), '', '', start, end, depth, '');
      return;
    }
    if (!(marks[marks.length - 1]?.close ?? false)) this.#mimeProblems.push('no closing boundary');
    for (let i = 0; i < marks.length; i++) {
      const mark = marks[i];
      if (mark === undefined || mark.close) break;
      const partStart = mark.next;
      let partEnd = marks[i + 1]?.at ?? end;
      // The CRLF before a delimiter belongs to the delimiter.
      if (body.charCodeAt(partEnd - 1) === 0x0a) partEnd--;
      if (body.charCodeAt(partEnd - 1) === 0x0d) partEnd--;
      if (partEnd < partStart) partEnd = partStart;
      const sep = findHeaderEnd(body, partStart, partEnd);
      const headers = indexPartHeaders(body.slice(partStart, sep.headerEnd));
      this.#walk(
        headers.get('content-type') ?? '',
        headers.get('content-transfer-encoding') ?? '',
        headers.get('content-disposition') ?? '',
        sep.bodyStart,
        partEnd,
        depth + 1,
        type,
      );
    }
  }

  #leaf(
    type: string,
    params: Map<string, string>,
    encoding: string,
    disposition: string,
    start: number,
    end: number,
    depth: number,
    rawType: string,
  ): void {
    const cd = parseHeaderParams(disposition);
    const rawName = cd.params.get('filename') ?? params.get('name') ?? null;
    (this.#parts ??= []).push({
      type,
      charset: params.get('charset') ?? '',
      encoding: encoding.trim().toLowerCase() || '7bit',
      filename: rawName === null ? null : decodeEncodedWords(rawName),
      disposition: cd.value,
      size: Math.max(0, end - start),
      rawType,
      depth,
      start,
      end,
    });
  }
}

/** Where a part's header block ends and its body starts (blank line), within [start, end). */
function findHeaderEnd(
  body: string,
  start: number,
  end: number,
): { headerEnd: number; bodyStart: number } {
  // A part that starts with a blank line has no headers.
  if (body.startsWith('\r\n', start)) return { headerEnd: start, bodyStart: start + 2 };
  if (body.charCodeAt(start) === 0x0a) return { headerEnd: start, bodyStart: start + 1 };
  const crlf = body.indexOf('\r\n\r\n', start);
  const lf = body.indexOf('\n\n', start);
  let headerEnd = -1;
  let bodyStart = -1;
  if (crlf >= 0 && crlf < end && (lf < 0 || crlf <= lf)) {
    headerEnd = crlf + 2;
    bodyStart = crlf + 4;
  } else if (lf >= 0 && lf < end) {
    headerEnd = lf + 1;
    bodyStart = lf + 2;
  }
  if (headerEnd < 0) return { headerEnd: end, bodyStart: end };
  return { headerEnd, bodyStart: Math.min(bodyStart, end) };
}

/** The few part headers the walker needs, unfolded, first occurrence wins. */
function indexPartHeaders(block: string): Map<string, string> {
  const out = new Map<string, string>();
  const unfolded = block.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/, 100)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!name.startsWith('content-')) continue;
    if (!out.has(name)) out.set(name, line.slice(colon + 1).trim());
  }
  return out;
}

/** Builds the view: reads at most `limits.maxBodyBytes` of the body, parses nothing yet. */
export async function createMessageView(
  message: Message,
  limits: MessageViewLimits = DEFAULT_VIEW_LIMITS,
): Promise<MessageView> {
  const body = await readBody(message, limits.maxBodyBytes);
  return new MessageView(message, body, limits);
}

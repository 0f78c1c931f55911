/**
 * The message as the Sieve interpreter sees it: header fields (mutable by editheader), the
 * body bytes, RFC 2047 decoding of header values, RFC 5322 address lists, and the MIME part
 * tree used by the body extension. Built from raw bytes once per evaluation; no I/O.
 */

/** One header field; `value` is the raw text after the colon (folding kept, no final CRLF). */
export interface SieveHeaderField {
  readonly name: string;
  readonly value: string;
  /** Octets the field takes in the message (CRLF line ends), for the size test. */
  readonly octets: number;
}

/** A parsed message. */
export interface SieveMessage {
  /** Header fields in order; editheader changes this list. */
  headers: SieveHeaderField[];
  /** The body bytes (after the empty line). */
  readonly body: Uint8Array;
  /** Size in octets with CRLF line ends (RFC 5228 §5.9); computed on first use. */
  readonly size: number;
  /** Adds `delta` octets to the size (editheader changes). */
  adjustSize(delta: number): void;
}

/** Octets of `bytes` with every bare LF counted as CRLF. */
function crlfOctets(bytes: Uint8Array): number {
  let size = bytes.length;
  for (let i = bytes.indexOf(LF); i >= 0; i = bytes.indexOf(LF, i + 1)) {
    if (i === 0 || bytes[i - 1] !== CR) size++;
  }
  return size;
}

class ParsedSieveMessage implements SieveMessage {
  headers: SieveHeaderField[];
  readonly body: Uint8Array;
  readonly #bytes: Uint8Array;
  #size = -1;
  #delta = 0;

  constructor(headers: SieveHeaderField[], body: Uint8Array, bytes: Uint8Array) {
    this.headers = headers;
    this.body = body;
    this.#bytes = bytes;
  }

  get size(): number {
    if (this.#size < 0) this.#size = crlfOctets(this.#bytes);
    return this.#size + this.#delta;
  }

  adjustSize(delta: number): void {
    this.#delta += delta;
  }

  /** Bounds of {@link size} without counting line ends: each LF adds at most one octet. */
  get sizeAtLeast(): number {
    return this.#size < 0 ? this.#bytes.length + this.#delta : this.size;
  }

  get sizeAtMost(): number {
    return this.#size < 0 ? 2 * this.#bytes.length + this.#delta : this.size;
  }
}

/**
 * True when the message is larger than `limit` octets (the size test's :over), counting line
 * ends only when the raw length leaves the answer open.
 */
export function messageSizeOver(msg: SieveMessage, limit: number): boolean {
  if (msg instanceof ParsedSieveMessage) {
    if (msg.sizeAtLeast > limit) return true;
    if (msg.sizeAtMost <= limit) return false;
  }
  return msg.size > limit;
}

/** True when the message is smaller than `limit` octets (the size test's :under). */
export function messageSizeUnder(msg: SieveMessage, limit: number): boolean {
  if (msg instanceof ParsedSieveMessage) {
    if (msg.sizeAtMost < limit) return true;
    if (msg.sizeAtLeast >= limit) return false;
  }
  return msg.size < limit;
}

const CR = 0x0d;
const LF = 0x0a;

const UTF8 = new TextDecoder('utf-8');

function utf8(bytes: Uint8Array): string {
  return UTF8.decode(bytes);
}

/**
 * A header field parsed from the message. Only the name is cut out while parsing; the value,
 * its octet count, the lower-cased name, the decoded value and the addresses in it are
 * computed when a test first asks, since a policy reads only a few of a message's fields.
 */
class ParsedHeaderField implements SieveHeaderField {
  readonly name: string;
  readonly #block: string;
  /** Where the value starts in the header block (after the colon and leading blanks). */
  readonly #valueStart: number;
  /** Where the field's text starts and ends (end of its last line, without the line end). */
  readonly #start: number;
  readonly #end: number;
  #value: string | undefined;
  #lower: string | undefined;
  #decoded: string | undefined;
  #addresses: readonly SieveAddress[] | undefined;

  constructor(block: string, start: number, name: string, valueStart: number, end: number) {
    this.#block = block;
    this.#start = start;
    this.name = name;
    this.#valueStart = valueStart;
    this.#end = end;
  }

  /** The raw value: continuation lines joined with CRLF (as they appear, bare LF or CRLF). */
  get value(): string {
    if (this.#value === undefined) {
      const text = this.#block.slice(this.#valueStart, this.#end);
      this.#value = text.includes('\n') ? text.replace(/\r?\n/g, '\r\n') : text;
    }
    return this.#value;
  }

  /** Octets of the field's lines, each counted with a CRLF line end. */
  get octets(): number {
    const text = this.#block.slice(this.#start, this.#end);
    let bareLf = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) {
      if (i === 0 || text.charCodeAt(i - 1) !== 0x0d) bareLf++;
    }
    return (isAsciiText(text) ? text.length : Buffer.byteLength(text)) + bareLf + 2;
  }

  /** Plain data for JSON.stringify (value and octets are getters, not own properties). */
  toJSON(): { name: string; value: string; octets: number } {
    return { name: this.name, value: this.value, octets: this.octets };
  }

  get lowerName(): string {
    this.#lower ??= this.name.toLowerCase();
    return this.#lower;
  }

  get decodedValue(): string {
    this.#decoded ??= decodeHeaderValue(this.value);
    return this.#decoded;
  }

  get addresses(): readonly SieveAddress[] {
    this.#addresses ??= addressesInValue(this.decodedValue);
    return this.#addresses;
  }
}

const NON_ASCII = /[^\x00-\x7f]/;

function isAsciiText(s: string): boolean {
  return !NON_ASCII.test(s);
}

/** The lower-cased name of a field (cached for parsed fields). */
export function headerFieldLowerName(field: SieveHeaderField): string {
  return field instanceof ParsedHeaderField ? field.lowerName : field.name.toLowerCase();
}

/** A field's value unfolded, RFC 2047-decoded and trimmed (cached for parsed fields). */
export function headerFieldDecodedValue(field: SieveHeaderField): string {
  return field instanceof ParsedHeaderField ? field.decodedValue : decodeHeaderValue(field.value);
}

/**
 * The addresses in a field's decoded value, as the address test sees them (cached for parsed
 * fields): the valid prefix of the address list, or, when none parses, one address holding
 * only the raw text. The returned list must not be changed.
 */
export function headerFieldAddresses(field: SieveHeaderField): readonly SieveAddress[] {
  return field instanceof ParsedHeaderField
    ? field.addresses
    : addressesInValue(decodeHeaderValue(field.value));
}

function addressesInValue(decoded: string): readonly SieveAddress[] {
  const { addresses } = parseAddressListPrefix(decoded);
  // Pigeonhole: a value yielding no address at all (even an empty group such as
  // "undisclosed-recipients:;") counts as one unparsable address with its raw text.
  return addresses.length > 0 ? addresses : [{ localPart: decoded, domain: null }];
}

/** Parses a raw message (CRLF or LF line ends; a leading mbox "From " line is skipped). */
export function parseSieveMessage(raw: Uint8Array | string): SieveMessage {
  let bytes = typeof raw === 'string' ? new TextEncoder().encode(raw) : raw;
  if (
    bytes.length >= 5 &&
    bytes[0] === 0x46 &&
    bytes[1] === 0x72 &&
    bytes[2] === 0x6f &&
    bytes[3] === 0x6d &&
    bytes[4] === 0x20
  ) {
    const nl = bytes.indexOf(LF);
    bytes = nl < 0 ? new Uint8Array(0) : bytes.subarray(nl + 1);
  }
  const headers: SieveHeaderField[] = [];
  // Find the end of the header block (first empty line), then decode it once.
  let bodyStart = bytes.length;
  let headerEnd = bytes.length;
  if (bytes[0] === LF || (bytes[0] === CR && bytes[1] === LF)) {
    headerEnd = 0;
    bodyStart = bytes[0] === LF ? 1 : 2;
  } else {
    for (let i = bytes.indexOf(LF); i >= 0; i = bytes.indexOf(LF, i + 1)) {
      const next = bytes[i + 1];
      if (next === LF) {
        headerEnd = i + 1;
        bodyStart = i + 2;
        break;
      }
      if (next === CR && bytes[i + 2] === LF) {
        headerEnd = i + 1;
        bodyStart = i + 3;
        break;
      }
    }
  }
  const block = utf8(bytes.subarray(0, headerEnd));
  // The field being read: where it starts, its name, where its value starts, and the end of
  // its last line so far (continuation lines extend it).
  let start = -1;
  let name = '';
  let valueStart = 0;
  let fieldEnd = 0;
  let colonAt = -1;
  let pos = 0;
  while (pos < block.length) {
    let end = block.indexOf('\n', pos);
    if (end < 0) end = block.length;
    const lineEnd = end > pos && block.charCodeAt(end - 1) === 0x0d ? end - 1 : end;
    const first = block.charCodeAt(pos);
    if ((first === 0x20 || first === 0x09) && start >= 0) {
      fieldEnd = lineEnd;
    } else {
      if (start >= 0) headers.push(new ParsedHeaderField(block, start, name, valueStart, fieldEnd));
      start = -1;
      // One search finds the colon for this line and any colon-less lines before it, so a
      // block of lines without colons stays linear.
      if (colonAt < pos) {
        colonAt = block.indexOf(':', pos);
        if (colonAt < 0) colonAt = block.length;
      }
      const colon = colonAt;
      if (colon > pos && colon < lineEnd) {
        start = pos;
        name = block.slice(pos, colon).trimEnd();
        valueStart = colon + 1;
        while (valueStart < lineEnd) {
          const c = block.charCodeAt(valueStart);
          if (c !== 0x20 && c !== 0x09) break;
          valueStart++;
        }
        fieldEnd = lineEnd;
      }
    }
    pos = end + 1;
  }
  if (start >= 0) headers.push(new ParsedHeaderField(block, start, name, valueStart, fieldEnd));
  return new ParsedSieveMessage(headers, bytes.subarray(Math.min(bodyStart, bytes.length)), bytes);
}

/**
 * Octets of a header field added by editheader: "Name: value" CRLF, the value encoded the way
 * Dovecot encodes 8-bit header text (RFC 2047, Q unless B is clearly shorter; single line).
 */
export function addedHeaderOctets(name: string, value: string): number {
  return Buffer.byteLength(name) + 2 + encodedHeaderLength(Buffer.from(value, 'utf8')) + 2;
}

function needsEncoding(b: Uint8Array, i: number): boolean {
  const c = b[i] ?? 0;
  if (c === 0x3d) return (i === 0 || b[i - 1] === 0x20 || b[i - 1] === 0x09) && b[i + 1] === 0x3f;
  if (c === 0x09) return false;
  return c >= 0x80 || c < 0x20;
}

function encodedHeaderLength(b: Uint8Array): number {
  let first = 0;
  while (first < b.length && !needsEncoding(b, first)) first++;
  if (first === b.length) return b.length;
  while (first > 0 && b[first - 1] !== 0x20 && b[first - 1] !== 0x09) first--;
  let last = first;
  let encChars = 0;
  for (let i = first; i < b.length; i++) {
    if (needsEncoding(b, i)) {
      last = i + 1;
      encChars++;
    }
  }
  while (last < b.length && b[last] !== 0x20 && b[last] !== 0x09) last++;
  const enc = b.subarray(first, last);
  const base64Len = Math.ceil(enc.length / 3) * 4;
  const qLen = enc.length + encChars * 3;
  let encoded: number;
  if (Math.floor((qLen * 2) / 3) <= base64Len) {
    encoded = 12;
    for (const c of enc)
      encoded += c < 0x20 || c >= 0x80 || c === 0x3d || c === 0x3f || c === 0x5f ? 3 : 1;
  } else {
    encoded = 12 + base64Len;
  }
  return first + encoded + (b.length - last);
}

/** Values of every field called `name` (case-insensitive), raw. */
export function headerRawValues(msg: SieveMessage, name: string): string[] {
  const key = name.toLowerCase();
  const out: string[] = [];
  for (const h of msg.headers) if (headerFieldLowerName(h) === key) out.push(h.value);
  return out;
}

/** Every field called `name` (case-insensitive), in message order. */
export function headerFieldsNamed(msg: SieveMessage, name: string): SieveHeaderField[] {
  const key = name.toLowerCase();
  const out: SieveHeaderField[] = [];
  for (const h of msg.headers) if (headerFieldLowerName(h) === key) out.push(h);
  return out;
}

/** True when the message has a field called `name` (case-insensitive). */
export function hasHeaderField(msg: SieveMessage, name: string): boolean {
  const key = name.toLowerCase();
  for (const h of msg.headers) if (headerFieldLowerName(h) === key) return true;
  return false;
}

/** Unfolds (RFC 5322 §2.2.3), decodes encoded words (RFC 2047) and trims a header value. */
export function decodeHeaderValue(raw: string): string {
  // Dovecot unfolds CRLF + WSP into a single space (a folded tab becomes a space).
  const unfolded = raw.includes('\n') ? raw.replace(/\r?\n[ \t]/g, ' ') : raw;
  const decoded = decodeEncodedWords(unfolded);
  const last = decoded.charCodeAt(decoded.length - 1);
  const first = decoded.charCodeAt(0);
  if (first !== 0x20 && first !== 0x09 && last !== 0x20 && last !== 0x09) return decoded;
  return decoded.replace(/^[ \t]+|[ \t]+$/g, '');
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

/** Decodes RFC 2047 encoded words; whitespace between adjacent encoded words is dropped. */
export function decodeEncodedWords(text: string): string {
  if (!text.includes('=?')) return text;
  let out = '';
  let last = 0;
  let prevEncodedEnd = -1;
  ENCODED_WORD.lastIndex = 0;
  for (let m = ENCODED_WORD.exec(text); m !== null; m = ENCODED_WORD.exec(text)) {
    const between = text.slice(last, m.index);
    const decoded = decodeWord(m[1] ?? '', m[2] ?? '', m[3] ?? '');
    if (decoded === null) continue;
    if (!(
      prevEncodedEnd === m.index - between.length &&
      /^[ \t\r\n]*$/.test(between) &&
      prevEncodedEnd >= 0
    )) {
      out += between;
    }
    out += decoded;
    last = m.index + m[0].length;
    prevEncodedEnd = last;
  }
  return out + text.slice(last);
}

function decodeWord(charset: string, enc: string, data: string): string | null {
  let bytes: Uint8Array;
  if (enc === 'b' || enc === 'B') {
    // Dovecot decodes the valid base64 prefix and ignores the rest.
    const valid = /^[A-Za-z0-9+/]*/.exec(data)?.[0] ?? '';
    bytes = Uint8Array.from(Buffer.from(valid, 'base64'));
  } else {
    const arr: number[] = [];
    for (let i = 0; i < data.length; i++) {
      const c = data.charAt(i);
      if (c === '_') arr.push(0x20);
      else if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(data.slice(i + 1, i + 3))) {
        arr.push(parseInt(data.slice(i + 1, i + 3), 16));
        i += 2;
      } else arr.push(c.charCodeAt(0) & 0xff);
    }
    bytes = Uint8Array.from(arr);
  }
  const cs = charset.replace(/\*.*$/, '').toLowerCase();
  // An incomplete UTF-8 sequence at the end of one encoded word is dropped (Dovecot).
  if (cs === 'utf-8' || cs === 'utf8')
    return new TextDecoder('utf-8').decode(bytes, { stream: true });
  return decodeCharset(cs, bytes);
}

const CP1252: readonly number[] = [
  0x20ac, 0xfffd, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039,
  0x0152, 0xfffd, 0x017d, 0xfffd, 0xfffd, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
  0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0xfffd, 0x017e, 0x0178,
];

/** Decodes bytes in a MIME charset; unknown charsets fall back to UTF-8 with replacement. */
export function decodeCharset(charset: string, bytes: Uint8Array): string {
  const cs = charset.toLowerCase();
  // Node's small ICU decodes windows-1252 as ISO-8859-1; iconv (Dovecot) maps 0x80–0x9f.
  if (cs === 'windows-1252' || cs === 'cp1252' || cs === 'x-cp1252') {
    let out = '';
    for (const b of bytes)
      out += String.fromCharCode(b >= 0x80 && b <= 0x9f ? (CP1252[b - 0x80] ?? 0xfffd) : b);
    return out;
  }
  let decoder = decoders.get(cs);
  if (decoder === undefined) {
    try {
      decoder = new TextDecoder(cs);
    } catch {
      decoder = UTF8;
    }
    if (decoders.size >= 256) decoders.clear();
    decoders.set(cs, decoder);
  }
  return decoder.decode(bytes);
}

/** TextDecoders by charset label (a decoder is stateless between non-streaming calls). */
const decoders = new Map<string, InstanceType<typeof TextDecoder>>();

/** One address of an address list; `raw` is set instead of parts when it did not parse. */
export interface SieveAddress {
  readonly localPart: string;
  readonly domain: string | null;
}

/**
 * Parses an RFC 5322 address-list leniently: display names, comments, quoted local parts,
 * groups and route-addrs. Returns null when the value is not a valid address list.
 */
export function parseAddressList(value: string): SieveAddress[] | null {
  const p = new AddressParser(value);
  const r = p.parseList();
  return r.failed ? null : r.addresses;
}

/**
 * Exactly one mailbox (no group, no list), as redirect and vacation :from require; the domain
 * is returned lower-cased as Pigeonhole normalizes it. Null when invalid.
 */
export function parseSingleMailbox(value: string): SieveAddress | null {
  const p = new AddressParser(value);
  const r = p.parseList();
  const a = r.addresses[0];
  if (r.failed || p.sawGroup || r.addresses.length !== 1 || a === undefined) return null;
  return { localPart: a.localPart, domain: a.domain === null ? null : a.domain.toLowerCase() };
}

/**
 * Like {@link parseAddressList}, but keeps the addresses parsed before the first invalid one
 * (Pigeonhole's behaviour for the address test).
 */
export function parseAddressListPrefix(value: string): {
  addresses: SieveAddress[];
  failed: boolean;
} {
  return new AddressParser(value).parseList();
}

const ATOM = /[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\uffff]+/y;

class AddressParser {
  readonly #s: string;
  #i = 0;
  #junk = false;
  /** Set when the list used group syntax. */
  sawGroup = false;
  constructor(s: string) {
    this.#s = s;
  }

  #skipCfws(): void {
    const s = this.#s;
    for (;;) {
      while (this.#i < s.length) {
        const c = s.charCodeAt(this.#i);
        if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) break;
        this.#i++;
      }
      if (s.charAt(this.#i) !== '(') return;
      let depth = 0;
      while (this.#i < s.length) {
        const c = s.charAt(this.#i);
        if (c === '\\') this.#i++;
        else if (c === '(') depth++;
        else if (c === ')') {
          depth--;
          if (depth === 0) {
            this.#i++;
            break;
          }
        }
        this.#i++;
      }
      if (depth !== 0) return;
    }
  }

  #peek(): string {
    return this.#s.charAt(this.#i);
  }

  #atom(): string | null {
    ATOM.lastIndex = this.#i;
    const m = ATOM.exec(this.#s);
    if (m === null) return null;
    this.#i += m[0].length;
    return m[0];
  }

  #quoted(): string | null {
    if (this.#peek() !== '"') return null;
    let out = '';
    this.#i++;
    while (this.#i < this.#s.length) {
      const c = this.#s.charAt(this.#i);
      if (c === '\\') {
        out += this.#s.charAt(this.#i + 1);
        this.#i += 2;
        continue;
      }
      if (c === '"') {
        this.#i++;
        return out;
      }
      if (c !== '\r' && c !== '\n') out += c;
      this.#i++;
    }
    return null;
  }

  /** word *("." word) for local-part; returns text. */
  /** Words and dots; like Dovecot, leading, trailing and doubled dots are tolerated. */
  #localPart(): string | null {
    let out = '';
    let afterDot = true;
    for (;;) {
      this.#skipCfws();
      if (this.#peek() === '.') {
        out += '.';
        this.#i++;
        afterDot = true;
        continue;
      }
      if (!afterDot) break;
      const w = this.#peek() === '"' ? this.#quoted() : this.#atom();
      if (w === null) break;
      out += w;
      afterDot = false;
    }
    return out === '' ? null : out;
  }

  #domain(): string | null {
    this.#skipCfws();
    if (this.#peek() === '[') {
      const end = this.#s.indexOf(']', this.#i);
      if (end < 0) return null;
      const lit = this.#s.slice(this.#i, end + 1);
      this.#i = end + 1;
      return lit;
    }
    let out = '';
    for (;;) {
      const a = this.#atom();
      if (a === null) return null;
      out += a;
      this.#skipCfws();
      if (this.#peek() !== '.') return out;
      this.#i++;
      out += '.';
      this.#skipCfws();
    }
  }

  #addrSpec(): SieveAddress | null {
    const local = this.#localPart();
    if (local === null) return null;
    this.#skipCfws();
    if (this.#peek() !== '@') return null;
    this.#i++;
    const domain = this.#domain();
    if (domain === null) return null;
    return { localPart: local, domain };
  }

  #angleAddr(): SieveAddress | null {
    if (this.#peek() !== '<') return null;
    this.#i++;
    this.#skipCfws();
    if (this.#peek() === '@') {
      // obs-route: skip up to ':'
      const colon = this.#s.indexOf(':', this.#i);
      if (colon < 0) return null;
      this.#i = colon + 1;
    }
    const a = this.#addrSpec();
    this.#skipCfws();
    if (a === null || this.#peek() !== '>') return null;
    this.#i++;
    return a;
  }

  /** mailbox / group; pushes addresses into out. */
  #address(out: SieveAddress[]): boolean {
    this.#skipCfws();
    const start = this.#i;
    if (this.#peek() === '<') {
      const a = this.#angleAddr();
      if (a === null) return false;
      out.push(a);
      return true;
    }
    // Try addr-spec first.
    const spec = this.#addrSpec();
    if (spec !== null) {
      this.#skipCfws();
      const c = this.#peek();
      out.push(spec);
      // Dovecot keeps an address followed by junk ("a@b@c", "a@b <c@d>") and stops there.
      if (c !== '' && c !== ',' && c !== ';') this.#junk = true;
      return true;
    }
    this.#i = start;
    // display-name (phrase) then angle-addr or ':' group
    let words = 0;
    for (;;) {
      this.#skipCfws();
      const c = this.#peek();
      if (c === '"') {
        if (this.#quoted() === null) return false;
        words++;
        continue;
      }
      if (c === '.' && words > 0) {
        this.#i++;
        continue;
      }
      const a = this.#atom();
      if (a === null) break;
      words++;
    }
    this.#skipCfws();
    const c = this.#peek();
    if (c === '<') {
      const a = this.#angleAddr();
      if (a === null) return false;
      out.push(a);
      return true;
    }
    if (c === ':' && words > 0) {
      this.sawGroup = true;
      this.#i++;
      this.#skipCfws();
      if (this.#peek() === ';') {
        this.#i++;
        return true;
      }
      for (;;) {
        if (!this.#address(out)) return false;
        this.#skipCfws();
        const d = this.#peek();
        if (d === ',') {
          this.#i++;
          continue;
        }
        if (d === ';') {
          this.#i++;
          return true;
        }
        return false;
      }
    }
    return false;
  }

  parseList(): { addresses: SieveAddress[]; failed: boolean } {
    const out: SieveAddress[] = [];
    for (;;) {
      this.#skipCfws();
      if (this.#i >= this.#s.length) return { addresses: out, failed: false };
      if (this.#peek() === ',') {
        this.#i++;
        continue;
      }
      const before = out.length;
      if (!this.#address(out)) {
        out.length = before;
        return { addresses: out, failed: true };
      }
      if (this.#junk) return { addresses: out, failed: true };
      this.#skipCfws();
      if (this.#i >= this.#s.length) return { addresses: out, failed: false };
      if (this.#peek() !== ',') return { addresses: out, failed: true };
      this.#i++;
    }
  }
}

/** A MIME part of the body (RFC 2045/2046). */
export interface SieveMimePart {
  /** Lower-cased "type/subtype" (default text/plain, or message/rfc822 in digests). */
  readonly contentType: string;
  readonly charset: string;
  readonly transferEncoding: string;
  /** Raw (undecoded) body bytes of this part. */
  readonly raw: Uint8Array;
  /** Child parts for multipart/*. */
  readonly children: readonly SieveMimePart[];
  /** For multipart/*: the preamble and (when present) the epilogue (RFC 2046 §5.1.1). */
  readonly prologue: readonly Uint8Array[];
}

const paramRegexes = new Map<string, RegExp>();

function headerParam(value: string, param: string): string | null {
  let re = paramRegexes.get(param);
  if (re === undefined) {
    re = new RegExp(`;\\s*${param}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]+))`, 'i');
    paramRegexes.set(param, re);
  }
  const m = re.exec(value);
  if (m === null) return null;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? null);
}

/** Builds the MIME tree of a message body given its header fields. */
export function parseMimeTree(
  headers: readonly SieveHeaderField[],
  body: Uint8Array,
  defaultType = 'text/plain',
  depth = 0,
): SieveMimePart {
  const get = (name: string): string | null => {
    const h = headers.find((f) => headerFieldLowerName(f) === name);
    return h === undefined ? null : h.value.replace(/\r?\n(?=[ \t])/g, '');
  };
  const ctHeader = get('content-type');
  let contentType = defaultType;
  if (ctHeader !== null) {
    const m = /^\s*([^\s;/]+)\s*\/\s*([^\s;]+)/.exec(ctHeader);
    if (m !== null) contentType = `${(m[1] ?? '').toLowerCase()}/${(m[2] ?? '').toLowerCase()}`;
  }
  const charset = (ctHeader !== null ? headerParam(ctHeader, 'charset') : null) ?? 'us-ascii';
  const cte = (get('content-transfer-encoding') ?? '7bit').trim().toLowerCase();
  const children: SieveMimePart[] = [];
  const prologue: Uint8Array[] = [];
  if (depth < 32 && contentType.startsWith('multipart/') && ctHeader !== null) {
    const boundary = headerParam(ctHeader, 'boundary');
    if (boundary !== null) {
      const childDefault = contentType === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
      const split = splitMultipart(body, boundary);
      prologue.push(split.preamble);
      if (split.epilogue !== null) prologue.push(split.epilogue);
      for (const partBytes of split.parts) {
        const part = parseSieveMessage(partBytes);
        children.push(parseMimeTree(part.headers, part.body, childDefault, depth + 1));
      }
    }
  } else if (depth < 32 && contentType === 'message/rfc822') {
    const inner = parseSieveMessage(body);
    children.push(parseMimeTree(inner.headers, inner.body, 'text/plain', depth + 1));
  }
  return { contentType, charset, transferEncoding: cte, raw: body, children, prologue };
}

interface MultipartSplit {
  readonly parts: Uint8Array[];
  /** Text before the first delimiter (without the CRLF that belongs to the delimiter). */
  readonly preamble: Uint8Array;
  /** Text after the close delimiter line, or null when there is none. */
  readonly epilogue: Uint8Array | null;
}

function splitMultipart(body: Uint8Array, boundary: string): MultipartSplit {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
  const delim = '--' + boundary;
  const parts: Uint8Array[] = [];
  let partStart = -1;
  let preamble: Uint8Array | null = null;
  const beforeDelimiter = (end: number, start: number): number => {
    // The CRLF before the delimiter belongs to the delimiter.
    let e = end;
    if (e > start && text.charCodeAt(e - 1) === 0x0a) e--;
    if (e > start && text.charCodeAt(e - 1) === 0x0d) e--;
    return e;
  };
  // Only lines that start with the delimiter can be one: find those with indexOf.
  for (let at = text.indexOf(delim); at >= 0; at = text.indexOf(delim, at + 1)) {
    if (at > 0 && text.charCodeAt(at - 1) !== 0x0a) continue;
    const nl = text.indexOf('\n', at);
    const lineEnd = nl < 0 ? text.length : nl + 1;
    // The line without its line end and trailing blanks, as the delimiter is compared.
    let e = nl < 0 ? text.length : nl;
    if (nl >= 0 && e > at && text.charCodeAt(e - 1) === 0x0d) e--;
    while (e > at && (text.charCodeAt(e - 1) === 0x20 || text.charCodeAt(e - 1) === 0x09)) e--;
    const len = e - at;
    const close = len === delim.length + 2 && text.startsWith('--', at + delim.length);
    if (len !== delim.length && !close) continue;
    if (partStart >= 0) parts.push(body.subarray(partStart, beforeDelimiter(at, partStart)));
    else preamble = body.subarray(0, beforeDelimiter(at, 0));
    if (close) {
      return {
        parts,
        preamble: preamble ?? body.subarray(0, 0),
        epilogue: lineEnd < body.length ? body.subarray(lineEnd) : null,
      };
    }
    partStart = lineEnd;
  }
  if (partStart >= 0 && partStart < body.length) parts.push(body.subarray(partStart));
  return { parts, preamble: preamble ?? body, epilogue: null };
}

/** Decodes a part's body by its Content-Transfer-Encoding and charset into text. */
export function decodePartText(part: SieveMimePart): string {
  let bytes = part.raw;
  if (part.transferEncoding === 'base64') {
    const clean = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      .toString('latin1')
      .replace(/[^A-Za-z0-9+/=]/g, '');
    bytes = Buffer.from(clean, 'base64');
  } else if (part.transferEncoding === 'quoted-printable') {
    bytes = decodeQuotedPrintable(bytes);
  }
  const cs = part.charset.toLowerCase();
  return decodeCharset(cs === 'us-ascii' ? 'utf-8' : cs, bytes);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Quoted-printable: soft line breaks ("=" CRLF or "=" LF) are removed first, then "=XX" hex
 * pairs decoded; anything else (a lone "=", bad hex) stays as it is.
 */
function decodeQuotedPrintable(raw: Uint8Array): Uint8Array {
  const joined = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] ?? 0;
    if (c === 0x3d) {
      if (raw[i + 1] === LF) {
        i++;
        continue;
      }
      if (raw[i + 1] === CR && raw[i + 2] === LF) {
        i += 2;
        continue;
      }
    }
    joined[n++] = c;
  }
  const out = new Uint8Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const c = joined[i] ?? 0;
    if (c === 0x3d && i + 2 < n) {
      const hi = hexValue(joined[i + 1] ?? 0);
      const lo = hexValue(joined[i + 2] ?? 0);
      if (hi >= 0 && lo >= 0) {
        out[m++] = hi * 16 + lo;
        i += 2;
        continue;
      }
    }
    out[m++] = c;
  }
  return out.subarray(0, m);
}

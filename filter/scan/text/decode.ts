/**
 * The text decoders the rules and the Bayes tokenizer share, without a full MIME parse:
 * transfer encodings (RFC 2045 §6.7 quoted-printable, §6.8 base64), charsets through the
 * platform's TextDecoder, RFC 2047 encoded words and HTML character references. Every function
 * accepts any input and never throws: broken encodings decode to something, and what could not
 * be decoded is reported in `problems` when the caller passes an array.
 */
import { TextDecoder } from 'node:util';

const decoders = new Map<string, TextDecoder | null>();

/** A cached TextDecoder for a charset label, or null when the platform does not know it. */
function decoderFor(label: string): TextDecoder | null {
  let decoder = decoders.get(label);
  if (decoder === undefined) {
    try {
      decoder = new TextDecoder(label, { fatal: false });
    } catch {
      decoder = null;
    }
    // Labels come from mail: bound the cache so odd labels cannot grow it without end.
    if (decoders.size < 256) decoders.set(label, decoder);
  }
  return decoder;
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/**
 * Bytes in a charset to text. No charset or US-ASCII reads as UTF-8 (mislabelled 8-bit mail is
 * mostly UTF-8); a charset the platform does not know reads as latin1 and is reported.
 */
export function decodeCharset(
  bytes: Uint8Array,
  charset: string | null,
  problems?: string[],
): string {
  let label = (charset ?? '').trim().toLowerCase();
  if (label === '' || label === 'us-ascii' || label === 'ascii') label = 'utf-8';
  const decoder = decoderFor(label);
  if (decoder === null) {
    problems?.push(`unknown charset ${label.slice(0, 40)}`);
    return latin1(bytes);
  }
  return decoder.decode(bytes);
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/**
 * RFC 2045 §6.7 over bytes or a latin1 string: `=XX` escapes and `=` soft line breaks;
 * malformed escapes stay as they are. `underscoreIsSpace` for RFC 2047 "Q" words.
 */
export function decodeQuotedPrintable(input: Buffer | string, underscoreIsSpace = false): Buffer {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const out = Buffer.allocUnsafe(bytes.length);
  let o = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] ?? 0;
    if (c === 0x3d) {
      const h1 = bytes[i + 1] ?? -1;
      const h2 = bytes[i + 2] ?? -1;
      if (h1 === 0x0d && h2 === 0x0a) {
        i += 2;
        continue;
      }
      if (h1 === 0x0a || h1 === 0x0d) {
        i += 1;
        continue;
      }
      const hi = hexValue(h1);
      const lo = hexValue(h2);
      if (hi >= 0 && lo >= 0) {
        out[o++] = hi * 16 + lo;
        i += 2;
        continue;
      }
    }
    out[o++] = underscoreIsSpace && c === 0x5f ? 0x20 : c;
  }
  return out.subarray(0, o);
}

/**
 * RFC 2045 §6.8, lenient as mail readers are: characters outside the alphabet are skipped
 * (and reported when `problems` is given).
 */
export function decodeBase64(input: Buffer | string, problems?: string[]): Buffer {
  const text = typeof input === 'string' ? input : input.toString('latin1');
  const junk = /[^A-Za-z0-9+/=\s]/.test(text);
  if (junk) problems?.push('junk in base64');
  const clean = junk ? text.replace(/[^A-Za-z0-9+/=]/g, '') : text;
  // Node's decoder skips whitespace but stops at the first padding: concatenated encodings
  // ("…==" then more) are decoded piece by piece, so nothing hides after a padding.
  if (!/=[\s=]*[A-Za-z0-9+/]/.test(clean)) return Buffer.from(clean, 'base64');
  return Buffer.concat(clean.split(/=+/).map((piece) => Buffer.from(piece, 'base64')));
}

/** Decodes a part body by its Content-Transfer-Encoding (7bit/8bit/binary pass through). */
export function decodeTransfer(body: Buffer, encoding: string, problems?: string[]): Buffer {
  switch (encoding) {
    case 'base64':
      return decodeBase64(body, problems);
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return body;
  }
}

const ENCODED_WORD = /=\?([^?\s]{1,40})\?([BbQq])\?([^?\s]{0,2000})\?=/g;

/** RFC 2047 encoded words in an unfolded header value; whitespace between two words dropped. */
export function decodeEncodedWords(value: string): string {
  if (!value.includes('=?')) return value;
  return value
    .replace(/(\?=)\s+(?==\?)/g, '$1')
    .replace(ENCODED_WORD, (_all, charset: string, kind: string, text: string) => {
      const bytes =
        kind === 'b' || kind === 'B' ? decodeBase64(text) : decodeQuotedPrintable(text, true);
      // RFC 2231 language suffix: "utf-8*en".
      return decodeCharset(bytes, charset.replace(/\*.*$/, ''));
    });
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  nbsp: ' ',
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  copy: '©',
  reg: '®',
  trade: '™',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
  mdash: '—',
  ndash: '–',
  hellip: '…',
  rsquo: '’',
  lsquo: '‘',
  rdquo: '”',
  ldquo: '“',
  bull: '•',
  middot: '·',
  zwnj: '\u200c',
  zwj: '\u200d',
  shy: '\u00ad',
};

/** HTML character references (a named subset, decimal, hex); unknown names stay as written. */
export function decodeHtmlEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(
    /&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,8});?/g,
    (all, ref: string) => {
      if (ref.startsWith('#')) {
        const code =
          ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : Number(ref.slice(1));
        if (!Number.isFinite(code) || code <= 0 || code > 0x10ffff) return ' ';
        return String.fromCodePoint(code);
      }
      return NAMED_ENTITIES[ref.toLowerCase()] ?? all;
    },
  );
}

/**
 * The small decoders the Bayes tokenizer needs, without a full MIME parse: transfer encodings
 * (RFC 2045 §6.7 quoted-printable, §6.8 base64), charsets through the platform's TextDecoder,
 * RFC 2047 encoded words, and HTML reduced to its text and link targets. Every function accepts
 * any input and never throws: broken encodings decode to something, never to an error.
 */

import { TextDecoder } from 'node:util';

const decoders = new Map<string, TextDecoder | null>();

/** A cached TextDecoder for a charset label, or null when the platform does not know it. */
function decoderFor(charset: string): TextDecoder | null {
  const label = charset.trim().toLowerCase();
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

/** Bytes in a charset to text; unknown charsets read as latin1, which never fails. */
export function decodeCharset(bytes: Uint8Array, charset: string | null): string {
  if (charset === null || charset === '' || /^(us-)?ascii$/i.test(charset)) {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
  const decoder = decoderFor(charset);
  if (decoder === null) {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
  return decoder.decode(bytes);
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** RFC 2045 §6.7: `=XX` escapes and `=` soft line breaks; malformed escapes stay as they are. */
export function decodeQuotedPrintable(input: Buffer, underscoreIsSpace = false): Buffer {
  const out = Buffer.allocUnsafe(input.length);
  let o = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input[i] ?? 0;
    if (c === 0x3d) {
      const h1 = input[i + 1] ?? -1;
      const h2 = input[i + 2] ?? -1;
      if (h1 === 0x0d && h2 === 0x0a) {
        i += 2;
        continue;
      }
      if (h1 === 0x0a) {
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

/** RFC 2045 §6.8; Node's decoder skips characters outside the alphabet, as the RFC asks. */
export function decodeBase64(input: Buffer): Buffer {
  return Buffer.from(input.toString('latin1'), 'base64');
}

/** Decodes a part body by its Content-Transfer-Encoding (7bit/8bit/binary pass through). */
export function decodeTransfer(body: Buffer, encoding: string): Buffer {
  switch (encoding) {
    case 'base64':
      return decodeBase64(body);
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return body;
  }
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

/** RFC 2047 encoded words in a header value, decoded; whitespace between adjacent words dropped. */
export function decodeEncodedWords(value: string): string {
  if (!value.includes('=?')) return value;
  return value
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(ENCODED_WORD, (_all, charset: string, kind: string, text: string) => {
      const raw = Buffer.from(text, 'latin1');
      const bytes =
        kind === 'b' || kind === 'B' ? decodeBase64(raw) : decodeQuotedPrintable(raw, true);
      // RFC 2231 language suffix: "utf-8*en".
      return decodeCharset(bytes, charset.split('*')[0] ?? null);
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
  euro: '€',
  pound: '£',
};

/** The common HTML character references; unknown names are left as they are. */
export function decodeHtmlEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,8});?/gi, (all, ref: string) => {
    if (ref.startsWith('#')) {
      const code =
        ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : ' ';
    }
    return NAMED_ENTITIES[ref.toLowerCase()] ?? all;
  });
}

/** What an HTML part contributes: visible text, link targets and the tag names used. */
export interface HtmlParts {
  readonly text: string;
  readonly urls: string[];
  readonly tags: Set<string>;
}

const LINK_ATTRIBUTE = /\b(?:href|src|action)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi;

/**
 * Reduces HTML to text (tags become spaces, comments vanish so `vi<!-- -->agra` reads as one
 * word, script and style bodies are dropped) and collects link targets and tag names.
 */
export function reduceHtml(html: string): HtmlParts {
  const urls: string[] = [];
  const tags = new Set<string>();
  const stripped = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ');
  const text = stripped.replace(
    /<\/?([a-z][a-z0-9]*)\b([^>]*)>/gi,
    (_all, tag: string, attributes: string) => {
      if (tags.size < 64) tags.add(tag.toLowerCase());
      if (attributes.length > 0 && urls.length < 64) {
        for (const m of attributes.matchAll(LINK_ATTRIBUTE)) {
          const url = m[1] ?? m[2] ?? m[3];
          if (url !== undefined && url !== '') urls.push(decodeHtmlEntities(url));
        }
      }
      return ' ';
    },
  );
  return { text: decodeHtmlEntities(text), urls, tags };
}

/**
 * RFC 5173 body: match the body as :raw octets, the decoded text of MIME parts by
 * :content type, or the :text of text parts (default). Like Pigeonhole, :matches sets no
 * match variables here.
 */
import { validateRegexKeys } from '../compiler.js';
import type { SieveExtension } from '../extension-api.js';
import { decodePartText, parseMimeTree, type SieveMimePart } from '../message-view.js';
import type { SieveRuntime } from '../runtime.js';

function collectParts(part: SieveMimePart, out: SieveMimePart[]): void {
  out.push(part);
  for (const c of part.children) collectParts(c, out);
}

function typeMatches(contentType: string, want: string): boolean {
  const w = want.toLowerCase();
  if (w === '') return true;
  if (!w.includes('/')) return contentType.split('/')[0] === w;
  return contentType === w;
}

/** Named HTML entities htmlToText decodes (as Dovecot does; unknown ones vanish). */
export const HTML_ENTITIES: Readonly<Record<string, number>> = {
  nbsp: 0xa0,
  amp: 0x26,
  lt: 0x3c,
  gt: 0x3e,
  quot: 0x22,
  apos: 0x27,
  copy: 0xa9,
  reg: 0xae,
  trade: 0x2122,
  euro: 0x20ac,
  pound: 0xa3,
  yen: 0xa5,
  cent: 0xa2,
  sect: 0xa7,
  deg: 0xb0,
  middot: 0xb7,
  hellip: 0x2026,
  mdash: 0x2014,
  ndash: 0x2013,
  lsquo: 0x2018,
  rsquo: 0x2019,
  ldquo: 0x201c,
  rdquo: 0x201d,
  bull: 0x2022,
  laquo: 0xab,
  raquo: 0xbb,
  times: 0xd7,
  divide: 0xf7,
  auml: 0xe4,
  ouml: 0xf6,
  uuml: 0xfc,
  szlig: 0xdf,
  eacute: 0xe9,
  egrave: 0xe8,
  aacute: 0xe1,
  agrave: 0xe0,
};

/**
 * HTML to text as Dovecot's mail-html2text does it for body :text: tags vanish, and the end of
 * a tag adds one space unless the text so far is empty or already ends in a space; comments,
 * script, style are dropped, CDATA kept; entities decode (unknown ones vanish).
 */
export function htmlToText(html: string): string {
  let out = '';
  // Last UTF-16 unit of `out`, or -1 while it is empty: asking `out` itself would flatten the
  // string being built at every tag.
  let last = -1;
  let i = 0;
  const n = html.length;
  let lower: string | null = null;
  // Next position of these characters at or after the last search (n: none); searching with
  // indexOf and remembering the result keeps the scan linear.
  let nextLt = -1;
  let nextAmp = -1;
  let nextGt = -1;
  let nextDq = -1;
  let nextSq = -1;
  // No closures in here: V8 inlines a closure created per call as that call's target and
  // throws the optimized code away when the next call brings a new one.
  while (i < n) {
    const c = html.charAt(i);
    if (c === '&') {
      let k = i + 1;
      while (k < n && html.charAt(k) !== ';' && !isSpace(html.charAt(k)) && k - i - 1 < 10) k++;
      if (html.charAt(k) !== ';') {
        i++;
        continue;
      }
      const name = html.slice(i + 1, k);
      const known = HTML_ENTITIES[name.toLowerCase()];
      let cp: number | undefined = known;
      if (cp === undefined && name.startsWith('#x')) cp = parseInt(name.slice(2), 16);
      else if (cp === undefined && name.startsWith('#')) cp = parseInt(name.slice(1), 10);
      if (cp !== undefined && Number.isInteger(cp) && cp >= 0 && cp <= 0x10ffff) {
        const text = String.fromCodePoint(cp);
        out += text;
        last = text.charCodeAt(text.length - 1);
      }
      i = k + 1;
      continue;
    }
    if (c !== '<') {
      // Copy the run of plain text up to the next tag or entity in one piece.
      if (nextLt < i) nextLt = indexOrEnd(html, '<', i);
      if (nextAmp < i) nextAmp = indexOrEnd(html, '&', i);
      const k = Math.min(nextLt, nextAmp);
      out += html.slice(i, k);
      last = html.charCodeAt(k - 1);
      i = k;
      continue;
    }
    const rest = i + 1;
    if (html.startsWith('!--', rest)) {
      const end = html.indexOf('--', rest + 3);
      const close = end < 0 ? -1 : html.indexOf('>', end + 2);
      i = close < 0 ? n : close + 1;
      continue;
    }
    const first = html.charCodeAt(rest);
    if (
      (first === 0x73 || first === 0x53) &&
      startsWithCi(html, rest, 'script') &&
      (isSpace(html.charAt(rest + 6)) || html.charAt(rest + 6) === '>')
    ) {
      lower ??= html.toLowerCase();
      const end = lower.indexOf('</script>', rest);
      if (end < 0) break;
      if (last !== -1 && last !== 0x20) {
        out += ' ';
        last = 0x20;
      }
      i = end + 9;
      continue;
    }
    if (
      (first === 0x73 || first === 0x53) &&
      startsWithCi(html, rest, 'style') &&
      (isSpace(html.charAt(rest + 5)) || html.charAt(rest + 5) === '>')
    ) {
      lower ??= html.toLowerCase();
      const end = lower.indexOf('</style>', rest);
      if (end < 0) break;
      if (last !== -1 && last !== 0x20) {
        out += ' ';
        last = 0x20;
      }
      i = end + 8;
      continue;
    }
    if (first === 0x21 && startsWithCi(html, rest, '![cdata[')) {
      const end = html.indexOf(']]>', rest);
      const text = end < 0 ? html.slice(rest + 8) : html.slice(rest + 8, end);
      if (text !== '') {
        out += text;
        last = text.charCodeAt(text.length - 1);
      }
      i = end < 0 ? n : end + 3;
      continue;
    }
    // A tag: skip to '>' outside quotes (a backslash in quotes escapes), then one space.
    let k = rest;
    for (;;) {
      if (nextGt < k) nextGt = indexOrEnd(html, '>', k);
      if (nextDq < k) nextDq = indexOrEnd(html, '"', k);
      if (nextSq < k) nextSq = indexOrEnd(html, "'", k);
      const q = Math.min(nextDq, nextSq);
      if (nextGt < q || q >= n) {
        k = nextGt;
        break;
      }
      const quote = html.charCodeAt(q);
      k = q + 1;
      while (k < n) {
        const d = html.charCodeAt(k);
        if (d === 0x5c) k += 2;
        else {
          k++;
          if (d === quote) break;
        }
      }
      if (k >= n) break;
    }
    if (k >= n) break;
    if (last !== -1 && last !== 0x20) {
      out += ' ';
      last = 0x20;
    }
    i = k + 1;
  }
  return out;
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

/** True when `text` (lower case) is at `at` in `html`, compared after lower-casing. */
function startsWithCi(html: string, at: number, text: string): boolean {
  return html.slice(at, at + text.length).toLowerCase() === text;
}

function indexOrEnd(text: string, ch: string, from: number): number {
  const at = text.indexOf(ch, from);
  return at < 0 ? text.length : at;
}

const UTF8 = new TextDecoder('utf-8');

function bodyValues(rt: SieveRuntime, transform: string, types: readonly string[]): string[] {
  const msg = rt.message;
  if (transform === 'raw') return [UTF8.decode(msg.body)];
  const parts: SieveMimePart[] = [];
  collectParts(parseMimeTree(msg.headers, msg.body), parts);
  const out: string[] = [];
  for (const p of parts) {
    if (p.contentType.startsWith('multipart/')) {
      // RFC 5173 §5: :content "multipart" matches the preamble and epilogue.
      if (transform === 'content' && types.some((t) => typeMatches(p.contentType, t))) {
        for (const chunk of p.prologue) out.push(UTF8.decode(chunk));
      }
      continue;
    }
    if (p.children.length > 0) continue;
    if (transform === 'content') {
      if (types.some((t) => typeMatches(p.contentType, t))) out.push(decodePartText(p));
    } else if (p.contentType === 'text/html') {
      out.push(htmlToText(decodePartText(p)));
    } else if (p.contentType.startsWith('text/')) {
      out.push(decodePartText(p));
    }
  }
  return out;
}

/** The body extension. */
export const bodyExtension: SieveExtension = {
  capabilities: ['body'],
  commands: [
    {
      name: 'body',
      kind: 'test',
      capability: 'body',
      positional: [['string-list']],
      matching: true,
      tags: [
        { name: 'raw', group: 'transform' },
        { name: 'content', arg: 'string-list', group: 'transform' },
        { name: 'text', group: 'transform' },
      ],
      validate: (node, ctx) => {
        validateRegexKeys(node, node.args[0], ctx);
      },
      test: (node, rt) => {
        const transform = node.tags.has('raw')
          ? 'raw'
          : node.tags.has('content')
            ? 'content'
            : 'text';
        const values = bodyValues(rt, transform, rt.stringList(node.tags.get('content')));
        rt.step(
          node,
          values.reduce((n, v) => n + (v.length >> 10), 0),
        );
        return rt.matchValuesAgainst(node, values, rt.stringList(node.args[0]), {
          setMatchVariables: false,
        });
      },
    },
  ],
};

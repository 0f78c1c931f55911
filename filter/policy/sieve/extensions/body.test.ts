import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HTML_ENTITIES, htmlToText } from './body.js';

// htmlToText scans with indexOf and remembers the last character it wrote; this holds it to
// the straightforward character-by-character version (the engine's earlier code) that the
// conformance test checked against Pigeonhole.

function referenceHtmlToText(html: string): string {
  let out = '';
  let i = 0;
  const n = html.length;
  const addSpace = (): void => {
    if (out !== '' && !out.endsWith(' ')) out += ' ';
  };
  const ws = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
  const startsWithCi = (at: number, text: string): boolean =>
    html.slice(at, at + text.length).toLowerCase() === text;
  while (i < n) {
    const c = html.charAt(i);
    if (c === '&') {
      let k = i + 1;
      while (k < n && html.charAt(k) !== ';' && !ws(html.charAt(k)) && k - i - 1 < 10) k++;
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
        out += String.fromCodePoint(cp);
      }
      i = k + 1;
      continue;
    }
    if (c !== '<') {
      out += c;
      i++;
      continue;
    }
    const rest = i + 1;
    if (html.startsWith('!--', rest)) {
      const end = html.indexOf('--', rest + 3);
      const close = end < 0 ? -1 : html.indexOf('>', end + 2);
      i = close < 0 ? n : close + 1;
      continue;
    }
    if (
      startsWithCi(rest, 'script') &&
      (ws(html.charAt(rest + 6)) || html.charAt(rest + 6) === '>')
    ) {
      const end = html.toLowerCase().indexOf('</script>', rest);
      if (end < 0) break;
      addSpace();
      i = end + 9;
      continue;
    }
    if (
      startsWithCi(rest, 'style') &&
      (ws(html.charAt(rest + 5)) || html.charAt(rest + 5) === '>')
    ) {
      const end = html.toLowerCase().indexOf('</style>', rest);
      if (end < 0) break;
      addSpace();
      i = end + 8;
      continue;
    }
    if (startsWithCi(rest, '![cdata[')) {
      const end = html.indexOf(']]>', rest);
      out += end < 0 ? html.slice(rest + 8) : html.slice(rest + 8, end);
      i = end < 0 ? n : end + 3;
      continue;
    }
    // A tag: skip to '>' outside quotes, then one space.
    let k = rest;
    let quote = '';
    while (k < n) {
      const d = html.charAt(k);
      if (quote !== '') {
        if (d === '\\') k++;
        else if (d === quote) quote = '';
      } else if (d === '"' || d === "'") quote = d;
      else if (d === '>') break;
      k++;
    }
    if (k >= n) break;
    addSpace();
    i = k + 1;
  }
  return out;
}

test('htmlToText equals the character-by-character reference', () => {
  const piece = fc.constantFrom(
    '<',
    '>',
    '<b>',
    '</p>',
    '<a href="x>y">',
    "<i title='a\\'b'>",
    '"',
    "'",
    '\\',
    '&amp;',
    '&nbsp;',
    '&#65;',
    '&#x20AC;',
    '&bogus;',
    '&',
    ';',
    '<!-- c -->',
    '<!--',
    '-->',
    '<script>x<y</script>',
    '<SCRIPT >',
    '</script>',
    '<style>p{}</style>',
    '<![CDATA[q]]>',
    ' ',
    '\n',
    'text',
    'Ünï',
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 50 }), (parts) => {
      const html = parts.join('');
      assert.equal(htmlToText(html), referenceHtmlToText(html));
    }),
    { numRuns: 1000, seed: 3 },
  );
});

test('htmlToText on a small page', () => {
  assert.equal(
    htmlToText('<html><body><p class="a>b">Hello&nbsp;<b>world</b></p><!-- x --></body></html>'),
    'Hello\u00a0 world ',
  );
});

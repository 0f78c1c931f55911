import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodePartText,
  headerFieldAddresses,
  headerFieldDecodedValue,
  headerRawValues,
  messageSizeOver,
  messageSizeUnder,
  parseAddressListPrefix,
  parseMimeTree,
  parseSieveMessage,
  decodeHeaderValue,
  type SieveMimePart,
} from './message-view.js';

// The message view parses header fields lazily and splits MIME bodies with indexOf; these
// tests hold it to straightforward eager implementations (the engine's earlier code) on
// generated input, so the faster code cannot drift from the behaviour the conformance test
// pinned down.

/** Eager reference: every field's name, raw value and octets, line by line. */
function referenceFields(raw: string): { name: string; value: string; octets: number }[] {
  const bytes = new TextEncoder().encode(raw);
  let headerEnd = bytes.length;
  if (bytes[0] === 0x0a || (bytes[0] === 0x0d && bytes[1] === 0x0a)) headerEnd = 0;
  else {
    for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) {
      if (bytes[i + 1] === 0x0a || (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a)) {
        headerEnd = i + 1;
        break;
      }
    }
  }
  const block = new TextDecoder().decode(bytes.subarray(0, headerEnd));
  const out: { name: string; value: string; octets: number }[] = [];
  let current: { name: string; value: string; octets: number } | null = null;
  let pos = 0;
  while (pos < block.length) {
    let end = block.indexOf('\n', pos);
    if (end < 0) end = block.length;
    const lineEnd = end > pos && block.charCodeAt(end - 1) === 0x0d ? end - 1 : end;
    const line = block.slice(pos, lineEnd);
    const octets = Buffer.byteLength(line) + 2;
    const first = block.charCodeAt(pos);
    if ((first === 0x20 || first === 0x09) && current !== null) {
      current.value += '\r\n' + line;
      current.octets += octets;
    } else {
      if (current !== null) out.push(current);
      current = null;
      const colon = line.indexOf(':');
      if (colon > 0) {
        current = {
          name: line.slice(0, colon).trimEnd(),
          value: line.slice(colon + 1).replace(/^[ \t]+/, ''),
          octets,
        };
      }
    }
    pos = end + 1;
  }
  if (current !== null) out.push(current);
  return out;
}

const headerPiece = fc.constantFrom(
  'Subject',
  'from',
  'X-A',
  ' Folded',
  ':',
  ': ',
  ':\t',
  ' ',
  '\t',
  '\r\n',
  '\n',
  '\r',
  '\r\n ',
  '\n\t',
  'a@b.c',
  'ä€',
  '=?utf-8?q?x?=',
  'no colon here',
  '\uFFFD',
);
const headerText = fc.array(headerPiece, { maxLength: 40 }).map((p) => p.join(''));

test('lazy header fields equal the eager reference on generated header blocks', () => {
  fc.assert(
    fc.property(headerText, fc.boolean(), (text, withBody) => {
      const raw = withBody ? `${text}\r\n\r\nbody` : text;
      const msg = parseSieveMessage(raw);
      const got = msg.headers.map((h) => ({ name: h.name, value: h.value, octets: h.octets }));
      assert.deepEqual(got, referenceFields(raw));
      for (const h of msg.headers) {
        assert.equal(headerFieldDecodedValue(h), decodeHeaderValue(h.value));
        const addresses = parseAddressListPrefix(decodeHeaderValue(h.value)).addresses;
        assert.deepEqual(
          headerFieldAddresses(h),
          addresses.length > 0
            ? addresses
            : [{ localPart: decodeHeaderValue(h.value), domain: null }],
        );
      }
    }),
    { numRuns: 400, seed: 20261122 },
  );
});

test('header lookup is case-insensitive and sees editheader-style additions', () => {
  const msg = parseSieveMessage('Subject: a\r\nSUBJECT: b\r\n\r\n');
  msg.headers.push({ name: 'subject', value: 'c', octets: 12 });
  assert.deepEqual(headerRawValues(msg, 'Subject'), ['a', 'b', 'c']);
  assert.equal(JSON.stringify(msg.headers[0]), '{"name":"Subject","value":"a","octets":12}');
});

test('size bounds agree with the exact size', () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom('a', '\n', '\r\n', 'é', ' '), { maxLength: 60 }),
      fc.integer({ min: 0, max: 200 }),
      fc.integer({ min: -20, max: 20 }),
      (parts, limit, delta) => {
        const msg = parseSieveMessage(`X: 1\n\n${parts.join('')}`);
        msg.adjustSize(delta);
        const over = messageSizeOver(msg, limit);
        const under = messageSizeUnder(msg, limit);
        assert.equal(over, msg.size > limit);
        assert.equal(under, msg.size < limit);
      },
    ),
    { numRuns: 300, seed: 7 },
  );
});

/** Reference quoted-printable decoding (soft breaks removed first, then =XX). */
function referenceQuotedPrintable(raw: string): number[] {
  const text = raw.replace(/=\r?\n/g, '');
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(c.charCodeAt(0) & 0xff);
  }
  return out;
}

test('quoted-printable decoding equals the reference', () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom('=', '=\r\n', '=\n', '3D', 'a', 'F', 'g', '\r\n', '=4', '==', ' '), {
        maxLength: 40,
      }),
      (parts) => {
        const raw = parts.join('');
        const part: SieveMimePart = {
          contentType: 'text/plain',
          charset: 'iso-8859-1',
          transferEncoding: 'quoted-printable',
          raw: Buffer.from(raw, 'latin1'),
          children: [],
          prologue: [],
        };
        assert.equal(
          decodePartText(part),
          Buffer.from(referenceQuotedPrintable(raw)).toString('latin1'),
        );
      },
    ),
    { numRuns: 400, seed: 11 },
  );
});

/** Reference multipart split: line by line. */
function referenceSplit(body: string, boundary: string) {
  const delim = '--' + boundary;
  const parts: string[] = [];
  const lines = body.split(/(?<=\n)/);
  let offset = 0;
  let partStart = -1;
  let preamble: string | null = null;
  const cut = (end: number, start: number): number => {
    let e = end;
    if (e > start && body.charAt(e - 1) === '\n') e--;
    if (e > start && body.charAt(e - 1) === '\r') e--;
    return e;
  };
  for (const line of lines) {
    const bare = line.replace(/\r?\n$/, '').replace(/[ \t]+$/, '');
    if (bare === delim || bare === delim + '--') {
      if (partStart >= 0) parts.push(body.slice(partStart, cut(offset, partStart)));
      else preamble = body.slice(0, cut(offset, 0));
      if (bare === delim + '--') {
        const rest = offset + line.length;
        return {
          parts,
          preamble: preamble ?? '',
          epilogue: rest < body.length ? body.slice(rest) : null,
        };
      }
      partStart = offset + line.length;
    }
    offset += line.length;
  }
  if (partStart >= 0 && partStart < body.length) parts.push(body.slice(partStart));
  return { parts, preamble: preamble ?? body, epilogue: null };
}

test('multipart splitting equals the line-by-line reference', () => {
  const piece = fc.constantFrom(
    '--b',
    '--b--',
    '--bb',
    'x--b',
    '\r\n',
    '\n',
    ' ',
    '\t',
    '\r',
    'text',
    '--',
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
      const body = parts.join('');
      const msg = parseSieveMessage(`Content-Type: multipart/mixed; boundary="b"\r\n\r\n${body}`);
      const tree = parseMimeTree(msg.headers, msg.body);
      const want = referenceSplit(body, 'b');
      const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
      assert.deepEqual(
        tree.children.map((c) => latin1(c.raw)),
        want.parts.map((p) => latin1(parseSieveMessage(Buffer.from(p, 'latin1')).body)),
      );
      assert.deepEqual(
        tree.prologue.map(latin1),
        want.epilogue === null ? [want.preamble] : [want.preamble, want.epilogue],
      );
    }),
    { numRuns: 400, seed: 5 },
  );
});

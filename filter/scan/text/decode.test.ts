import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeBase64,
  decodeCharset,
  decodeEncodedWords,
  decodeHtmlEntities,
  decodeQuotedPrintable,
  decodeTransfer,
} from './decode.js';

test('quoted-printable: escapes, soft breaks, malformed escapes kept, bytes or string', () => {
  assert.equal(
    decodeQuotedPrintable(Buffer.from('caf=C3=A9 =\r\nau =XY lait')).toString(),
    'café au =XY lait',
  );
  assert.equal(decodeQuotedPrintable('a=\nb').toString(), 'ab');
  assert.equal(decodeQuotedPrintable('a_b', true).toString(), 'a b');
});

test('base64 skips junk and reports it', () => {
  const problems: string[] = [];
  assert.equal(decodeBase64('aGVs!bG8=', problems).toString(), 'hello');
  assert.deepEqual(problems, ['junk in base64']);
  assert.equal(decodeTransfer(Buffer.from('aGVsbG8='), 'base64').toString(), 'hello');
  // Padding in the middle does not end the decoding: concatenated encodings read in full.
  assert.equal(decodeBase64('aGVsbA==\r\nd29ybGQ=').toString(), 'hellworld');
  assert.equal(decodeTransfer(Buffer.from('x=41'), '7bit').toString(), 'x=41');
});

test('charsets: known labels decode, ascii reads as UTF-8, unknown falls back to latin1', () => {
  assert.equal(decodeCharset(Buffer.from([0xe9]), 'iso-8859-1'), 'é');
  assert.equal(decodeCharset(Buffer.from('é'), 'us-ascii'), 'é');
  assert.equal(decodeCharset(Buffer.from('é'), null), 'é');
  const problems: string[] = [];
  assert.equal(decodeCharset(Buffer.from([0xe9]), 'x-no-such', problems), 'é');
  assert.deepEqual(problems, ['unknown charset x-no-such']);
});

test('RFC 2047 words: B and Q, adjacent words joined, language suffix ignored', () => {
  assert.equal(decodeEncodedWords('=?utf-8?B?w6k=?= =?UTF-8*en?Q?t=C3=A9_x?= end'), 'été x end');
  assert.equal(decodeEncodedWords('plain'), 'plain');
});

test('HTML references: named, decimal, hex; unknown and out of range', () => {
  assert.equal(
    decodeHtmlEntities('&lt;a&gt; &#86;&#x49;agra &bogus; &#0;'),
    '<a> VIagra &bogus;  ',
  );
});

test('decoders never throw on arbitrary input', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 200 }), (bytes, text) => {
      const buf = Buffer.from(bytes);
      decodeQuotedPrintable(buf);
      decodeBase64(buf, []);
      decodeCharset(buf, text.slice(0, 20), []);
      decodeEncodedWords(text);
      decodeHtmlEntities(text);
    }),
    { numRuns: 300 },
  );
});

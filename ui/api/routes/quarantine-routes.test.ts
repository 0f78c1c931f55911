/**
 * The pure parts of the quarantine routes: the message view's parsing of stored (hostile)
 * messages, HTML flattened to text, symbol lists of either stored shape, and the mapping of
 * appliance errors to ui codes. Property tests: no input makes them throw.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ParapetError } from '../../../filter/index.js';
import { asUiError, htmlToText, messageContent, symbolViews } from './quarantine-routes.js';

test('messageContent: headers in order, unfolded, and the text part', async () => {
  const raw = Buffer.from(
    [
      'Received: from a\r\n\tby b',
      'Subject: =?utf-8?q?caf=C3=A9?=',
      'Content-Type: multipart/alternative; boundary=xx',
      '',
      '--xx',
      'Content-Type: text/plain',
      '',
      'plain words',
      '--xx',
      'Content-Type: text/html',
      '',
      '<p>html words</p>',
      '--xx--',
      '',
    ].join('\r\n'),
  );
  const c = await messageContent(raw);
  assert.deepEqual(
    c.headers.map((h) => h.name),
    ['Received', 'Subject', 'Content-Type'],
  );
  assert.equal(c.headers[0]?.value, 'from a\tby b');
  assert.equal(c.fromHtml, false);
  assert.match(c.text, /plain words/);
  assert.doesNotMatch(c.text, /html words/);
});

test('htmlToText drops scripts, styles, comments and tags, and decodes the usual entities', () => {
  const text = htmlToText(
    '<html><head><style>p{}</style><script>evil()</script></head><body><!-- x --><p>a &amp; b</p><br>c&lt;d&gt;<img src=x onerror=y></body></html>',
  );
  assert.equal(text, 'a & b\n\nc<d>');
});

test('symbolViews reads names with scores (database rows) and bare names (files), best first', () => {
  assert.deepEqual(symbolViews([{ name: 'A', score: 1 }, 'B', { name: 'C', score: 3 }, 7, null]), [
    { name: 'C', score: 3 },
    { name: 'A', score: 1 },
    { name: 'B', score: null },
  ]);
});

test('asUiError maps appliance codes and hides anything unexpected', () => {
  const code = (err: unknown): string | undefined =>
    err instanceof ParapetError ? err.code : undefined;
  assert.equal(code(asUiError(new ParapetError('ERR_NOT_FOUND', 'x'))), 'ERR_UI_NOT_FOUND');
  assert.equal(code(asUiError(new ParapetError('ERR_QUEUE_INVALID', 'x'))), 'ERR_UI_BAD_REQUEST');
  assert.equal(code(asUiError(new ParapetError('ERR_DB_UNAVAILABLE', 'x'))), 'ERR_UI_UNAVAILABLE');
  const hidden = asUiError(new ParapetError('ERR_DB_QUERY_FAILED', 'relation secret_table'));
  assert.equal(code(hidden), 'ERR_UI_INTERNAL');
  assert.doesNotMatch((hidden as Error).message, /secret_table/);
});

test('messageContent and htmlToText never throw on arbitrary input (fast-check)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 2000 }),
        fc
          .array(
            fc.constantFrom(
              'Subject: x\r\n',
              'Content-Type: multipart/mixed; boundary=b\r\n',
              'Content-Type: text/html\r\n',
              '\r\n',
              '--b\r\n',
              '--b--\r\n',
              '<p>',
              '<script>',
              '=?utf-8?b?AAAA?=',
              '\n',
              ' folded\r\n',
            ),
            { maxLength: 40 },
          )
          .map((parts) => new TextEncoder().encode(parts.join(''))),
      ),
      async (bytes) => {
        const c = await messageContent(Buffer.from(bytes));
        assert.ok(Array.isArray(c.headers));
        assert.equal(typeof c.text, 'string');
      },
    ),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 500 }), (html) => {
      assert.equal(typeof htmlToText(html), 'string');
    }),
  );
});

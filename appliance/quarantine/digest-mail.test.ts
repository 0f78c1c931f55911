// The digest mail: well-formed MIME (CRLF, short lines, both parts), hostile subjects and
// senders escaped in HTML and flattened to one line in text (fuzzed); the preferences file
// parser refuses what it cannot use and never throws anything but a TypeError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ParapetError } from '../../filter/index.js';
import { buildDigestMail, displayText, escapeHtml, type DigestListing } from './digest-mail.js';
import {
  DEFAULT_DIGEST_PREFERENCE,
  digestPreferenceOf,
  parseDigestPreferences,
  readDigestPreferences,
} from './digest-preferences.js';

const listing = (subject: string | null, from: string | null): DigestListing => ({
  id: 'q1',
  from,
  subject,
  time: new Date('2026-01-02T03:04:05Z'),
  reason: 'spam',
  url: 'https://h.example:28443/api/v1/session/link?token=v1.a.b',
});

function parts(raw: string): { text: string; html: string } {
  const found = [
    ...raw.matchAll(/Content-Type: (text\/\w+); charset=utf-8\r\n.*\r\n\r\n([A-Za-z0-9+/=\r\n]+)/g),
  ];
  const decode = (type: string): string =>
    Buffer.from(found.find((p) => p[1] === type)?.[2] ?? '', 'base64').toString('utf8');
  return { text: decode('text/plain'), html: decode('text/html') };
}

const mail = (listings: DigestListing[], more = 0): string =>
  buildDigestMail({
    from: 'quarantine@corp.example',
    to: 'alice@corp.example',
    listings,
    more,
    quarantineUrl: 'https://h.example:28443/api/v1/session/link?token=v1.a.b',
    now: new Date('2026-01-03T00:00:00Z'),
    hostname: 'gw.corp.example',
  }).toString('utf8');

test('the digest is MIME with a text and an HTML part, CRLF and short lines', () => {
  const raw = mail([listing('Grüße <b>', 'x@y.example')], 3);
  assert.ok(!/[^\r]\n/.test(raw), 'bare LF');
  for (const line of raw.split('\r\n')) assert.ok(line.length <= 998, line.slice(0, 80));
  assert.match(raw, /^Subject: Quarantine digest: 4 new message\(s\) held for you\r$/m);
  assert.match(raw, /^Auto-Submitted: auto-generated\r$/m);
  const { text, html } = parts(raw);
  assert.match(text, /Subject: Grüße <b>/);
  assert.match(text, /…and 3 more/);
  assert.match(html, /Grüße &#60;b&#62;/);
});

test('hostile subjects and senders cannot inject markup or lines (fuzzed)', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.option(fc.string({ maxLength: 100 })), (s, f) => {
      const { text, html } = parts(mail([listing(s, f)]));
      const subjectLine = text.split('\r\n').find((l) => l.startsWith('Subject: '));
      assert.equal(subjectLine, `Subject: ${displayText(s) || '(no subject)'}`);
      assert.ok(html.includes(`<td>${escapeHtml(displayText(s) || '(no subject)')}</td>`));
      // Every '<' in the HTML is the template's own markup.
      const tags = html.match(/<[^>]*>/g) ?? [];
      for (const tag of tags)
        assert.match(
          tag,
          /^<\/?(!DOCTYPE html|html|head|meta charset="utf-8"|title|body|h1|p|table[^>]*|tr|th|td|a|a href="[^"<>]*")>$/,
        );
    }),
    { numRuns: 300 },
  );
});

test('preferences: defaults, lookup by lower-case address, bad files refused', async () => {
  assert.deepEqual(digestPreferenceOf({}, 'A@B.example'), DEFAULT_DIGEST_PREFERENCE);
  const stored = parseDigestPreferences({
    version: 1,
    addresses: { 'a@b.example': { enabled: false, frequency: 'weekly' } },
  }).addresses;
  assert.deepEqual(digestPreferenceOf(stored, 'A@B.example'), {
    enabled: false,
    frequency: 'weekly',
  });
  for (const bad of [
    null,
    [],
    { addresses: [] },
    { addresses: { a: { enabled: 'no', frequency: 'daily' } } },
    { addresses: { a: { enabled: true, frequency: 'hourly' } } },
    { addresses: { a: null } },
  ]) {
    assert.throws(() => parseDigestPreferences(bad), TypeError, JSON.stringify(bad));
  }
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      try {
        parseDigestPreferences(v);
      } catch (err) {
        assert.ok(err instanceof TypeError);
      }
    }),
  );
  const dir = await mkdtemp(join(tmpdir(), 'parapet-digest-pref-'));
  try {
    assert.deepEqual(await readDigestPreferences(dir), {});
    await writeFile(join(dir, 'digest-preferences.json'), '{"version":1,');
    await assert.rejects(
      readDigestPreferences(dir),
      (err: unknown) => err instanceof ParapetError && err.code === 'ERR_CONFIG_INVALID',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

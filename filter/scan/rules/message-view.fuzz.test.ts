import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { messageFromRaw } from '../../test-support.js';
import { createMessageView, DEFAULT_VIEW_LIMITS } from './message-view.js';
import { createRuleScanner } from './index.js';
import { BUILTIN_RULES } from './catalogue.js';

const TESTDATA = join(import.meta.dirname, 'testdata');
const scanner = createRuleScanner({ now: () => new Date('2025-06-03T12:00:00Z') });
const signal = new AbortController().signal;

/** Touches every lazy accessor of the view, then runs the whole rule set. */
async function exercise(raw: Buffer): Promise<void> {
  const message = await messageFromRaw(raw);
  const view = await createMessageView(message, { ...DEFAULT_VIEW_LIMITS, maxParts: 40 });
  view.parts();
  view.mimeProblems();
  view.textParts();
  view.html();
  view.bodyText();
  view.rawBody();
  view.uris();
  view.full();
  assert.equal(typeof view.from.address, 'string');
  assert.equal(typeof view.subject, 'string');
  const context = { now: new Date('2025-06-03T12:00:00Z') };
  for (const rule of BUILTIN_RULES) rule.test?.(view, context);
  const out = await scanner.scan(message, signal);
  for (const f of out.findings) assert.ok(Number.isFinite(f.score), f.symbol);
}

const seeds = async (): Promise<Buffer[]> => {
  const files = (await readdir(TESTDATA)).filter((f) => f.endsWith('.eml')).sort();
  return Promise.all(files.map((f) => readFile(join(TESTDATA, f))));
};

test('fuzz: random bytes never make the view or the rules throw', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (bytes) => {
      await exercise(Buffer.from(bytes));
    }),
    { numRuns: 300 },
  );
});

test('fuzz: MIME-shaped text (boundaries, encodings, HTML fragments) never throws', async () => {
  const token = fc.constantFrom(
    'Content-Type: multipart/mixed; boundary="b"\r\n',
    'Content-Type: multipart/alternative; boundary=b\r\n',
    'Content-Type: text/html; charset=utf-8\r\n',
    'Content-Type: text/plain; charset=x-unknown\r\n',
    'Content-Type: message/rfc822\r\n',
    'Content-Transfer-Encoding: base64\r\n',
    'Content-Transfer-Encoding: quoted-printable\r\n',
    'Content-Disposition: attachment; filename*0*=utf-8\'\'a%E2; filename*1=".exe"\r\n',
    'Subject: =?utf-8?B?w6k=?= =?iso-8859-1?Q?=E9?= =?bogus?X?zz?=\r\n',
    'From: "x" <@>\r\n',
    '\r\n',
    '--b\r\n',
    '--b--\r\n',
    '<a href="http://0x7f.1/',
    '<a href=http://user@[::1]:8080/x>t</a>',
    '<div style="display:none">',
    '</div>',
    '<!-- ',
    ' -->',
    '&#x110000;&#0;&amp;',
    '=\r\n=4',
    'QUJD\r\n===',
    'https://xn--80ak6aa92e.com/ www.',
    '\u200b\u00ad',
    'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq ',
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(token, fc.string({ maxLength: 20 })), { maxLength: 60 }),
      async (parts) => {
        await exercise(Buffer.from(parts.join(''), 'utf8'));
      },
    ),
    { numRuns: 300 },
  );
});

test('fuzz: mutated real messages (byte flips, truncation, splices) never throw', async () => {
  const corpus = await seeds();
  await fc.assert(
    fc.asyncProperty(
      fc.nat({ max: corpus.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 20 }),
      fc.nat(),
      fc.nat({ max: corpus.length - 1 }),
      async (which, flips, cut, other) => {
        const base = Buffer.from(corpus[which] ?? Buffer.alloc(0));
        for (const [at, byte] of flips) if (base.length > 0) base[at % base.length] = byte;
        const donor = corpus[other] ?? Buffer.alloc(0);
        const spliced = Buffer.concat([
          base.subarray(0, base.length === 0 ? 0 : cut % base.length),
          donor.subarray(donor.length === 0 ? 0 : cut % donor.length),
        ]);
        await exercise(spliced);
      },
    ),
    { numRuns: 200 },
  );
});

test('limits bound the work on a huge hostile message', async () => {
  const many = Array.from(
    { length: 500 },
    () => '--b\r\nContent-Type: text/html\r\n\r\n<a href="http://x.example/">x</a>\r\n',
  ).join('');
  const raw = Buffer.from(
    `Content-Type: multipart/mixed; boundary=b\r\nFrom: a@b.example\r\n\r\n${many}--b--\r\n${'<'.repeat(200000)}`,
  );
  const message = await messageFromRaw(raw);
  const view = await createMessageView(message, {
    ...DEFAULT_VIEW_LIMITS,
    maxParts: 50,
    maxUris: 20,
  });
  assert.ok(view.parts().length <= 50);
  assert.ok(view.mimeProblems().includes('too many parts'));
  assert.ok(view.uris().length <= 20);
  assert.ok(view.body.length <= DEFAULT_VIEW_LIMITS.maxBodyBytes);
});

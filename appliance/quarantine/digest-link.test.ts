import { strict as assert } from 'node:assert';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { linkKey, linkKeyPath, signDigestLink, verifyDigestLink } from './digest-link.js';

const NOW = new Date('2026-11-22T10:00:00Z');
const LATER = new Date('2026-11-23T10:00:00Z');

test('the link key is made once, mode 0600, and read back the same', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'parapet-link-'));
  try {
    const [a, b] = await Promise.all([linkKey(dir), linkKey(dir)]);
    assert.equal(a.length, 32);
    assert.deepEqual(a, b);
    assert.deepEqual(await linkKey(dir), a);
    assert.equal((await stat(linkKeyPath(dir))).mode & 0o777, 0o600);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a signed link verifies to its address until it expires', () => {
  const key = Buffer.alloc(32, 7);
  const token = signDigestLink(key, ' Alice@Example.COM ', LATER);
  const ok = verifyDigestLink(key, token, NOW);
  assert.deepEqual(ok, { ok: true, address: 'alice@example.com', expiresAt: LATER });
  assert.deepEqual(verifyDigestLink(key, token, LATER), { ok: false, reason: 'expired' });
});

test('a tampered payload, a wrong key or garbage is refused', () => {
  const key = Buffer.alloc(32, 7);
  const token = signDigestLink(key, 'alice@example.com', LATER);
  const [v, payload = '', sig = ''] = token.split('.');
  const forged = Buffer.from(JSON.stringify({ a: 'bob@example.com', e: 4102444800 })).toString(
    'base64url',
  );
  assert.deepEqual(verifyDigestLink(key, `${v}.${forged}.${sig}`, NOW), {
    ok: false,
    reason: 'signature',
  });
  assert.deepEqual(verifyDigestLink(Buffer.alloc(32, 8), token, NOW), {
    ok: false,
    reason: 'signature',
  });
  assert.equal(verifyDigestLink(key, `${v}.${payload}.${sig.slice(1)}x`, NOW).ok, false);
  assert.deepEqual(verifyDigestLink(key, '', NOW), { ok: false, reason: 'malformed' });
  assert.throws(() => signDigestLink(key, 'not an address', LATER));
});

test('no input crashes the verifier or verifies without the key', () => {
  const key = Buffer.alloc(32, 7);
  fc.assert(
    fc.property(fc.string({ maxLength: 1200 }), (s) => {
      const r = verifyDigestLink(key, s, NOW);
      assert.equal(r.ok, false);
      const r2 = verifyDigestLink(key, `v1.${s}`, NOW);
      assert.equal(r2.ok, false);
    }),
    { numRuns: 500 },
  );
});

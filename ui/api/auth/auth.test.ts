import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { AccountStore } from './account-store.js';
import { LoginThrottle } from './login-throttle.js';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.js';
import { SessionStore } from './sessions.js';
import { currentTotp, newTotpSecret, verifyTotp } from './totp.js';
import {
  checkCertificatePair,
  ensureCertificate,
  makeSelfSignedCertificate,
  tlsPaths,
} from '../tls-certificate.js';
import { redact } from '../audit-log.js';

test('scrypt hashes verify, differ per salt, and malformed or tampered hashes fail closed', async () => {
  const h1 = await hashPassword('correct horse battery');
  const h2 = await hashPassword('correct horse battery');
  assert.notEqual(h1, h2);
  assert.match(h1, /^scrypt\$32768\$8\$1\$/);
  assert.equal(await verifyPassword('correct horse battery', h1), true);
  assert.equal(await verifyPassword('correct horse batterY', h1), false);
  const parts = h1.split('$');
  parts[1] = String(1 << 30); // a cost that would exhaust memory
  assert.equal(await verifyPassword('correct horse battery', parts.join('$')), false);
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 200 }), async (junk) => {
      assert.equal(await verifyPassword('x', junk), false);
    }),
    { numRuns: 200 },
  );
  assert.match(passwordProblem('short') ?? '', /at least 10/);
  assert.equal(passwordProblem('long enough password'), null);
});

test('sessions expire when idle and at their maximum age, and are bounded in number', () => {
  let now = 1_000_000;
  const store = new SessionStore({ idleMs: 1000, maxMs: 5000, maxSessions: 3 }, () => now);
  const base = {
    username: 'a',
    role: 'admin',
    secondFactor: false,
    mustEnrolTotp: false,
    addresses: null,
  } as const;
  const s = store.create(base);
  assert.equal(store.get(s.id)?.username, 'a');
  now += 900;
  assert.ok(store.get(s.id));
  now += 900;
  assert.ok(store.get(s.id), 'touched, so still alive');
  now += 1001;
  assert.equal(store.get(s.id), undefined, 'idle too long');
  const t = store.create(base);
  for (let i = 0; i < 6; i++) {
    now += 900;
    store.get(t.id);
  }
  assert.equal(store.get(t.id), undefined, 'past the maximum age');
  for (let i = 0; i < 5; i++) store.create({ ...base, username: `u${i}` });
  assert.equal(store.size, 3);
  assert.equal(store.get('not-a-session'), undefined);
  const x = store.create({ ...base, username: 'x' });
  const y = store.create({ ...base, username: 'x' });
  assert.equal(store.destroyFor('x', y.id), 1);
  assert.equal(store.get(x.id), undefined);
  assert.ok(store.get(y.id));
});

test('the sign-in throttle counts per account and per address within its window', () => {
  let now = 0;
  const th = new LoginThrottle(
    { windowMs: 60_000, maxPerAccount: 3, maxPerAddress: 5, maxKeys: 100 },
    () => now,
  );
  for (let i = 0; i < 3; i++) th.recordFailure('10.0.0.1', 'bob');
  assert.ok(th.retryAfter('10.0.0.2', 'bob') > 0, 'the account is locked from any address');
  assert.equal(th.retryAfter('10.0.0.1', 'carol'), 0, 'another account from that address is not');
  th.recordFailure('10.0.0.1', 'carol');
  th.recordFailure('10.0.0.1', 'dave');
  assert.ok(th.retryAfter('10.0.0.1', 'erin') > 0, 'the address is locked after 5');
  now += 60_001;
  assert.equal(th.retryAfter('10.0.0.1', 'bob'), 0, 'the window moved on');
  for (let i = 0; i < 500; i++) th.recordFailure(`10.1.${i >> 8}.${i & 255}`, `user${i}`);
});

test('accounts and API tokens persist in a 0600 file; tokens resolve only when valid', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'parapet-accounts-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'config', 'users.json');
  const store = new AccountStore(path);
  const base = { role: 'user', passwordHash: 'scrypt$x', totp: null, disabled: false } as const;
  await store.add({ ...base, username: 'Alice@Example.com', addresses: ['Alice@Example.com'] });
  await assert.rejects(
    store.add({ ...base, username: 'alice@example.com', addresses: [] }),
    /exists/,
  );
  await assert.rejects(
    store.add({ ...base, username: 'bad name', addresses: [] }),
    /invalid user name/,
  );
  await assert.rejects(
    store.add({ ...base, username: 'ok', addresses: ['not an address'] }),
    /invalid mail address/,
  );
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  const other = new AccountStore(path);
  assert.deepEqual((await other.get('alice@example.com'))?.addresses, ['alice@example.com']);
  const { token, secret } = await store.createToken('alice@example.com', 'script', 'read', null);
  assert.ok(!(await readFile(path, 'utf8')).includes(secret), 'the secret is not stored');
  assert.equal((await other.resolveToken(secret))?.token.id, token.id);
  assert.equal(await other.resolveToken(`${secret.slice(0, -1)}A`), undefined);
  assert.equal(await other.resolveToken('ppt_zzz'), undefined);
  const expired = await store.createToken(
    'alice@example.com',
    'old',
    'write',
    new Date(Date.now() - 1000),
  );
  assert.equal(await store.resolveToken(expired.secret), undefined);
  await store.update('alice@example.com', (a) => ({ ...a, disabled: true }));
  assert.equal(await other.resolveToken(secret), undefined, 'a disabled account’s tokens stop');
  assert.equal(await store.remove('alice@example.com'), true);
  assert.equal((await other.listTokens()).length, 0, 'tokens go with their account');
  assert.equal(await store.remove('alice@example.com'), false);
});

test('TOTP codes verify within one period of drift only', () => {
  const secret = newTotpSecret();
  const now = Date.now();
  assert.equal(verifyTotp(secret, currentTotp(secret, now)), true);
  assert.equal(verifyTotp(secret, currentTotp(secret, now - 30_000)), true);
  assert.equal(verifyTotp(secret, currentTotp(secret, now - 120_000)), false);
  assert.equal(verifyTotp(secret, 'abcdef'), false);
  assert.equal(verifyTotp(secret, ''), false);
});

test('the node certificate is made once with a 0600 key; a mismatched pair is refused', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'parapet-tls-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  await import('node:fs/promises').then((fs) => fs.mkdir(join(home, 'config')));
  const a = await ensureCertificate(home);
  const b = await ensureCertificate(home);
  assert.equal(a.cert, b.cert);
  assert.equal((await stat(tlsPaths(home).key)).mode & 0o777, 0o600);
  assert.match(checkCertificatePair(a).subject, /CN=/);
  const other = makeSelfSignedCertificate(['example.test']);
  assert.throws(() => checkCertificatePair({ key: other.key, cert: a.cert }), {
    code: 'ERR_UI_TLS',
  });
  assert.throws(() => checkCertificatePair({ key: 'junk', cert: 'junk' }), { code: 'ERR_UI_TLS' });
});

test('audit details never keep secrets', () => {
  assert.deepEqual(
    redact({ user: 'a', password: 'p', nested: { apiToken: 't', list: [{ secret: 's' }] } }),
    {
      user: 'a',
      password: '[redacted]',
      nested: { apiToken: '[redacted]', list: [{ secret: '[redacted]' }] },
    },
  );
});

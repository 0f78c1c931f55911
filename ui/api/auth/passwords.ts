/**
 * Password hashing with scrypt (node:crypto). Encoded as
 * `scrypt$N$r$p$salt$hash` (base64url) so the cost can be raised later without breaking
 * stored hashes: verification reads the parameters from the hash itself.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const scrypt = (pw: string, salt: Buffer, len: number, opts: ScryptOptions): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    scryptCb(pw, salt, len, opts, (err, key) => {
      if (err) reject(err);
      else resolve(key);
    });
  });

/** N = 2^15, r = 8: ~32 MiB and ~50–100 ms per hash here; slow enough to hurt guessing. */
const COST = { N: 32768, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
/** Upper bounds for parameters read back from a stored hash (a tampered file must not DoS). */
const MAX_N = 1 << 20;

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 1024;

/** Why a password is not acceptable, or null. */
export function passwordProblem(password: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) {
    return `a password needs at least ${MIN_PASSWORD_LENGTH} characters`;
  }
  if (password.length > MAX_PASSWORD_LENGTH) return 'the password is too long';
  return null;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_BYTES, {
    ...COST,
    maxmem: 128 * COST.N * COST.r * 2,
  });
  return [
    'scrypt',
    COST.N,
    COST.r,
    COST.p,
    salt.toString('base64url'),
    key.toString('base64url'),
  ].join('$');
}

/** Constant-time check against an encoded hash; false for any malformed hash. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (
    ![N, r, p].every(Number.isInteger) ||
    N < 2 ||
    N > MAX_N ||
    r < 1 ||
    r > 32 ||
    p < 1 ||
    p > 16
  ) {
    return false;
  }
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const expected = Buffer.from(parts[5] ?? '', 'base64url');
  if (salt.length < 8 || expected.length < 16 || password.length > MAX_PASSWORD_LENGTH)
    return false;
  const key = await scrypt(password, salt, expected.length, { N, r, p, maxmem: 128 * N * r * 2 });
  return timingSafeEqual(key, expected);
}

/** A hash of a random password: compared against when the account does not exist, so that
 * an unknown user name takes as long as a wrong password. */
let decoy: Promise<string> | null = null;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(24).toString('base64url'));
  return decoy;
}

/**
 * Parapet message ids: 20 characters, time-ordered (48-bit milliseconds, then 52 random bits),
 * lower-case Crockford base32 so they sort by arrival and are safe in file names and headers.
 * The id is the key of the message-log record, the X-Parapet-Id header and the quarantine entry.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** Random bytes drawn in batches: one CSPRNG call per 409 ids instead of one per id. */
const RANDOM_POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolAt = 0;

function randomTen(): Buffer {
  if (poolAt + 10 > pool.length) {
    pool = randomBytes(RANDOM_POOL_BYTES);
    poolAt = 0;
  }
  const out = pool.subarray(poolAt, poolAt + 10);
  poolAt += 10;
  return out;
}

export function newParapetId(nowMs: number = Date.now()): string {
  let out = '';
  let t = nowMs;
  for (let i = 0; i < 10; i++) {
    out = (ALPHABET[t % 32] ?? '0') + out;
    t = Math.floor(t / 32);
  }
  const rand = randomTen();
  for (let i = 0; i < 10; i++) out += ALPHABET[(rand[i] ?? 0) % 32] ?? '0';
  return out;
}

export function isParapetId(text: string): boolean {
  return /^[0-9a-hjkmnp-tv-z]{20}$/.test(text);
}

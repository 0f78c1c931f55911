/**
 * Token ids: a 53-bit hash of the token text, so a store keys tokens by a number that fits a
 * JavaScript number exactly and a PostgreSQL `bigint`, and never holds the text itself (no
 * message words at rest, fixed-size rows). With a million tokens in a store the chance that any
 * two collide is about 1e-4, and a collision only merges two tokens' counts.
 */

/** A token's key in a {@link TokenStore}: an integer in [0, 2^53). */
export type TokenId = number;

/**
 * Hashes a token to its id: two 32-bit multiply-xorshift lanes over the UTF-16 code units,
 * mixed at the end and folded to 53 bits. Not cryptographic: an attacker who could force
 * collisions would only blur two tokens' statistics.
 */
export function tokenId(token: string): TokenId {
  let a = 0x9e3779b9 ^ token.length;
  let b = 0x85ebca6b ^ token.length;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
  a = Math.imul(a ^ (a >>> 13), 0xc2b2ae35);
  a ^= a >>> 16;
  b = Math.imul(b ^ (b >>> 16), 0x27d4eb2f);
  b = Math.imul(b ^ (b >>> 13), 0x165667b1);
  b ^= b >>> 16;
  // 21 bits of b above 32 bits of a: 53 bits, always a safe integer.
  return (b >>> 11) * 0x1_0000_0000 + (a >>> 0);
}

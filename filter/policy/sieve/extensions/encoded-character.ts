/**
 * RFC 5228 §2.4.2.4 encoded-character: `${hex:…}` and `${unicode:…}` in strings. The decoding
 * itself runs in the compiler when this capability is required.
 */
import type { SieveExtension } from '../extension-api.js';

/** The encoded-character extension. */
export const encodedCharacterExtension: SieveExtension = {
  capabilities: ['encoded-character'],
};

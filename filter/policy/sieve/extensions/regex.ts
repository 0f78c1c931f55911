/**
 * draft-ietf-sieve-regex: the :regex match type with POSIX extended expressions, run on re2js
 * (linear time) after translation in match.ts.
 */
import type { SieveExtension } from '../extension-api.js';

/** The regex extension. */
export const regexExtension: SieveExtension = {
  capabilities: ['regex'],
  matchTypes: ['regex'],
};

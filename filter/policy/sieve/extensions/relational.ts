/**
 * RFC 5231 relational: the :count and :value match types (resolved in the compiler and run in
 * runtime.ts) and the i;ascii-numeric comparator (RFC 4790 §9.1).
 */
import type { SieveExtension } from '../extension-api.js';

/** The relational extension and the i;ascii-numeric comparator capability. */
export const relationalExtension: SieveExtension = {
  capabilities: ['relational', 'comparator-i;ascii-numeric'],
  matchTypes: ['count', 'value'],
};

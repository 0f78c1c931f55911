/**
 * How a virus result is shown to the outside: the X-Parapet-Virus header value (CONTRACTS.md
 * "Headers Parapet adds") and the RFC 5235 virustest level Sieve sees.
 */
import type { VirusResult } from '../scanner.js';

/** The header name of CONTRACTS.md. */
export const VIRUS_HEADER = 'X-Parapet-Virus';

// The header value formatter lives with the other verdict headers (filter/pipeline).
export { formatVirusHeader } from '../../pipeline/verdict-headers.js';

/**
 * RFC 5235 §3.2 virustest levels: 0 not tested, 1 tested and clean, 4 "definitely infected,
 * no cleaning attempted" (Parapet never cleans).
 */
export function virusTestLevel(result: VirusResult | null): 0 | 1 | 4 {
  if (result === null) return 0;
  switch (result.status) {
    case 'clean':
      return 1;
    case 'infected':
      return 4;
    case 'unscanned':
      return 0;
  }
}

/**
 * How a virus result is shown to the outside: the X-Parapet-Virus header value (CONTRACTS.md
 * "Headers Parapet adds") and the RFC 5235 virustest level Sieve sees.
 */
import type { VirusResult } from '../scanner.js';

/** The header name of CONTRACTS.md. */
export const VIRUS_HEADER = 'X-Parapet-Virus';

/**
 * `clean`, `infected (<names>)` or `unscanned`. Signature names come from clamd and the
 * databases it loaded, so they are reduced to printable ASCII without parentheses or commas
 * (no header injection, and the list stays parseable).
 */
export function formatVirusHeader(result: VirusResult): string {
  switch (result.status) {
    case 'clean':
      return 'clean';
    case 'unscanned':
      return 'unscanned';
    case 'infected': {
      const names = result.names
        .map((n) => n.replace(/[^\x21-\x7e]|[(),]/g, '_').slice(0, 200))
        .filter((n) => n !== '');
      return `infected (${names.length === 0 ? 'unknown' : names.join(', ')})`;
    }
  }
}

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

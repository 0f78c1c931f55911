/**
 * The verdict headers Parapet adds to an accepted message (CONTRACTS.md "Headers Parapet
 * adds"), in one place: their names, how their values are formatted, and the modifications
 * that put them on a message. filter/scan/virus re-exports formatVirusHeader for its users.
 */
import type { Modification } from '../actions/verdict.js';
import type { Message } from '../message/message.js';
import type { ScanResult, VirusResult } from '../scan/scanner.js';

export const SPAM_HEADER = 'X-Parapet-Spam';
export const VIRUS_RESULT_HEADER = 'X-Parapet-Virus';

/** `score=<float>; threshold=<float>; symbols=<NAME,...>` (CONTRACTS.md). */
export function formatSpamHeader(scan: ScanResult): string {
  const symbols = [...new Set(scan.findings.filter((f) => f.score !== 0).map((f) => f.symbol))];
  return `score=${scan.score.toFixed(2)}; threshold=${scan.threshold.toFixed(2)}; symbols=${symbols.join(',')}`;
}

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
 * X-Parapet-Spam (when anything scanned) and X-Parapet-Virus (when a virus scanner ran) on an
 * accepted message; copies the sender forged are removed first, last occurrence first.
 */
export function scanHeaders(message: Message, scan: ScanResult, scanned: boolean): Modification[] {
  const out: Modification[] = [];
  const own: [string, string | null][] = [
    [SPAM_HEADER, scanned ? formatSpamHeader(scan) : null],
    [VIRUS_RESULT_HEADER, scan.virus === null ? null : formatVirusHeader(scan.virus)],
  ];
  for (const [name, value] of own) {
    if (value === null) continue;
    for (let n = message.headers.getAll(name).length; n >= 1; n--) {
      out.push({ kind: 'changeHeader', name, occurrence: n, value: null });
    }
    out.push({ kind: 'addHeader', name, value });
  }
  return out;
}

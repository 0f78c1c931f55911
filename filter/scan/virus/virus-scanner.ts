/**
 * The virus scanner: sends the whole message to clamd with INSTREAM (clamd decodes MIME and
 * archives itself) and reports facts.virus. It never throws for clamd trouble: clamd down, a
 * timeout, a message over the stream limit or a clamd ERROR reply give status 'unscanned' with a
 * reason and a VIRUS_UNSCANNED finding, and policy decides (the default policy tempfails).
 */
import type { Message } from '../../message/message.js';
import { ParapetError } from '../../errors.js';
import { symbolMap, type SymbolDefinition } from '../symbols.js';
import type { Finding, Scanner, ScannerOutput, VirusResult } from '../scanner.js';
import { ClamdClient, type ClamdClientOptions } from './clamd-client.js';

/** Symbols of this scanner: group, default score, description. */
export const VIRUS_SYMBOL_TABLE = {
  VIRUS_FOUND: {
    group: 'virus',
    defaultScore: 0,
    description: 'clamd found a virus signature (policy acts on the virus status, not the score)',
  },
  VIRUS_UNSCANNED: {
    group: 'virus',
    defaultScore: 0,
    description: 'the message could not be virus-scanned (clamd down, timeout, limits)',
  },
} as const;

/** The same, as catalogue entries (filter/scan/symbols.ts), for the symbol catalogue. */
export const VIRUS_SYMBOLS: ReadonlyMap<string, SymbolDefinition> = symbolMap(VIRUS_SYMBOL_TABLE);

export type VirusSymbol = keyof typeof VIRUS_SYMBOL_TABLE;

export interface VirusScannerOptions {
  /** A client, or options to build one. */
  readonly clamd: ClamdClient | ClamdClientOptions;
  /**
   * The scanner's budget in the pipeline. clamd gets this minus a small margin, so a slow clamd
   * ends as 'unscanned' from this scanner rather than as the pipeline's SCANNER_TIMEOUT.
   * Default: the client's commandTimeoutMs + 250 ms.
   */
  readonly timeoutMs?: number;
  /** Default 'tempfail' (STYLE.md B5.4): a scanner that crashes must not let mail through. */
  readonly onError?: 'tempfail' | 'skip';
  /** Configured scores by symbol; the rest keep their defaults. */
  readonly scores?: Readonly<Partial<Record<VirusSymbol, number>>>;
}

const MARGIN_MS = 250;

export function createVirusScanner(options: VirusScannerOptions): Scanner {
  const client =
    options.clamd instanceof ClamdClient ? options.clamd : new ClamdClient(options.clamd);
  const timeoutMs = options.timeoutMs ?? client.commandTimeoutMs + MARGIN_MS;
  const clamdBudgetMs = Math.max(1, Math.min(client.commandTimeoutMs, timeoutMs - MARGIN_MS));
  const score = (symbol: VirusSymbol): number =>
    options.scores?.[symbol] ?? VIRUS_SYMBOL_TABLE[symbol].defaultScore;
  return {
    name: 'virus',
    phase: 'content',
    timeoutMs,
    onError: options.onError ?? 'tempfail',
    scan: async (message: Message, signal: AbortSignal): Promise<ScannerOutput> => {
      const virus = await scanMessageForViruses(client, message, signal, clamdBudgetMs);
      const findings: Finding[] = [];
      if (virus.status === 'infected') {
        findings.push({
          symbol: 'VIRUS_FOUND',
          score: score('VIRUS_FOUND'),
          evidence: virus.names.join(', '),
        });
      } else if (virus.status === 'unscanned') {
        findings.push({
          symbol: 'VIRUS_UNSCANNED',
          score: score('VIRUS_UNSCANNED'),
          evidence: virus.reason ?? 'unscanned',
        });
      }
      return { findings, facts: { virus } };
    },
  };
}

/** One message through clamd, as a VirusResult; never rejects. */
export async function scanMessageForViruses(
  client: ClamdClient,
  message: Message,
  signal: AbortSignal,
  budgetMs: number = client.commandTimeoutMs,
): Promise<VirusResult> {
  if (message.size > client.maxStreamBytes) {
    return unscanned(
      `message of ${String(message.size)} bytes is over the scan limit of ${String(client.maxStreamBytes)}`,
    );
  }
  const local = new AbortController();
  const timer = setTimeout(() => {
    local.abort();
  }, budgetMs);
  const onAbort = (): void => {
    local.abort();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const pieces = message.memoryPieces() ?? message.toStream();
    const reply = await client.scan(
      pieces as Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
      local.signal,
    );
    switch (reply.kind) {
      case 'clean':
        return { status: 'clean', names: [] };
      case 'infected':
        return { status: 'infected', names: reply.names };
      case 'error':
        return unscanned(`clamd: ${reply.message}`);
    }
  } catch (err) {
    if (local.signal.aborted) {
      return unscanned(
        signal.aborted ? 'scan aborted' : `clamd timeout after ${String(budgetMs)} ms`,
      );
    }
    if (err instanceof ParapetError) return unscanned(`${err.code}: ${err.message}`);
    return unscanned(`clamd: ${String(err)}`);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

function unscanned(reason: string): VirusResult {
  return { status: 'unscanned', names: [], reason };
}

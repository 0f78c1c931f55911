/**
 * The scanner seam (STYLE.md B1.3): a scanner looks at a message and reports Findings — named
 * symbols with evidence. It never decides; scores come from configuration (score.ts, a later
 * issue) and the verdict from policy.
 */
import type { Message } from '../message/message.js';

export interface Finding {
  /** UPPER_SNAKE symbol name registered in the symbol catalog. */
  readonly symbol: string;
  /** Score contribution (configured, or the symbol's default). */
  readonly score: number;
  /** Short evidence a human can read in the log ("matched 'viagra' in Subject"). */
  readonly evidence?: string;
}

export type ScannerPhase = 'connection' | 'headers' | 'content';

export interface Scanner {
  readonly name: string;
  readonly phase: ScannerPhase;
  /** Budget for one scan; a scanner over it yields SCANNER_TIMEOUT. */
  readonly timeoutMs: number;
  /** What a failure or timeout means: tempfail the message, or record it and go on. */
  readonly onError: 'tempfail' | 'skip';
  /** Must honour `signal`; must not write to the message. */
  scan(message: Message, signal: AbortSignal): Promise<readonly Finding[]>;
}

/** Findings and the total, as policy sees them. */
export interface ScanResult {
  readonly score: number;
  readonly findings: readonly Finding[];
  /** Scanners that failed with onError 'skip' (recorded, not fatal). */
  readonly skipped: readonly string[];
}

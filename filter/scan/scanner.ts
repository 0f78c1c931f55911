/**
 * The scanner seam (STYLE.md B1.3): a scanner looks at a message and reports Findings — named
 * symbols with evidence — and, for the scanners that establish facts policy tests directly
 * (virus, attachments, authentication), those facts. It never decides; scores come from
 * configuration and the verdict from policy.
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

/** The virus scanner's answer (CONTRACTS.md X-Parapet-Virus). */
export interface VirusResult {
  readonly status: 'clean' | 'infected' | 'unscanned';
  /** Signature names when infected; empty otherwise. */
  readonly names: readonly string[];
  /** Why the message could not be scanned (clamd down, timeout, limits), when unscanned. */
  readonly reason?: string;
}

/** One attachment or archive member, as the attachment scanner saw it. */
export interface AttachmentInfo {
  /** File name as given (Content-Disposition/Content-Type name, or archive member path). */
  readonly filename: string | null;
  /** Declared MIME type, lower case ("" for archive members). */
  readonly declaredType: string;
  /** Type sniffed from content ("application/zip", "application/x-dosexec"), null if unknown. */
  readonly detectedType: string | null;
  readonly sizeBytes: number;
  /** Archive nesting depth: 0 for a MIME part, 1 for a member of an attached archive, … */
  readonly depth: number;
  /** Encrypted archive member (or encrypted archive), so its content is unknown. */
  readonly encrypted: boolean;
}

/** Result keywords of RFC 8601 Authentication-Results. */
export type AuthResultValue =
  'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror' | 'policy';

/** SPF/DKIM/DMARC/ARC verdicts of the authentication scanner. */
export interface AuthResults {
  readonly spf: AuthResultValue;
  readonly dkim: AuthResultValue;
  readonly dmarc: AuthResultValue;
  readonly arc: AuthResultValue;
  /** The DMARC policy of the From domain when known ("reject", "quarantine", "none"). */
  readonly dmarcPolicy?: string | null;
}

/** Facts a scanner establishes besides findings; the pipeline merges them (last one wins). */
export interface ScanFacts {
  readonly virus?: VirusResult;
  readonly attachments?: readonly AttachmentInfo[];
  readonly auth?: AuthResults;
  /** The message could not be inspected fully (unparseable MIME, limits): hold it for policy. */
  readonly unscannable?: string;
}

/** What one scanner returns. */
export interface ScannerOutput {
  readonly findings: readonly Finding[];
  readonly facts?: ScanFacts;
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
  scan(message: Message, signal: AbortSignal): Promise<ScannerOutput>;
}

/** Findings, the total and the facts, as policy sees them. */
export interface ScanResult {
  readonly score: number;
  /** The configured spam threshold; `spam` is `score >= threshold`. */
  readonly threshold: number;
  readonly spam: boolean;
  readonly findings: readonly Finding[];
  /** Scanners that failed with onError 'skip' (recorded, not fatal). */
  readonly skipped: readonly string[];
  /** Null when no virus scanner is configured. */
  readonly virus: VirusResult | null;
  readonly attachments: readonly AttachmentInfo[];
  /** Null when no authentication scanner is configured. */
  readonly auth: AuthResults | null;
  /** Why the message could not be inspected fully, or null. */
  readonly unscannable: string | null;
}

/** The spam threshold when configuration gives none (SpamAssassin's customary 5). */
export const DEFAULT_SPAM_THRESHOLD = 5;

/** A scan result with nothing found (no scanners). */
export function emptyScanResult(threshold = DEFAULT_SPAM_THRESHOLD): ScanResult {
  return {
    score: 0,
    threshold,
    spam: false,
    findings: [],
    skipped: [],
    virus: null,
    attachments: [],
    auth: null,
    unscannable: null,
  };
}

/** Folds scanner outputs into one result: scores add up, facts merge (later ones win). */
export function combineScanOutputs(
  outputs: readonly ScannerOutput[],
  skipped: readonly string[],
  threshold = DEFAULT_SPAM_THRESHOLD,
): ScanResult {
  const findings: Finding[] = [];
  let score = 0;
  let virus: VirusResult | null = null;
  let auth: AuthResults | null = null;
  let unscannable: string | null = null;
  const attachments: AttachmentInfo[] = [];
  for (const output of outputs) {
    for (const finding of output.findings) {
      findings.push(finding);
      score += finding.score;
    }
    const facts = output.facts;
    if (facts === undefined) continue;
    if (facts.virus !== undefined) virus = facts.virus;
    if (facts.auth !== undefined) auth = facts.auth;
    if (facts.attachments !== undefined) attachments.push(...facts.attachments);
    if (facts.unscannable !== undefined) unscannable = facts.unscannable;
  }
  // Scores are sums of decimals: round so 4.999999 does not miss a threshold of 5.
  score = Math.round(score * 1000) / 1000;
  return {
    score,
    threshold,
    spam: score >= threshold,
    findings,
    skipped,
    virus,
    attachments,
    auth,
    unscannable,
  };
}

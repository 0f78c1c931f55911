/**
 * Limits of the Sieve engine (STYLE.md B1.7, B5.6). Every limit is named with its unit; the
 * compiler enforces the static ones, the interpreter the run-time ones. Going over a limit is a
 * positioned {@link SieveError} (ERR_SIEVE_LIMIT at compile time, ERR_SIEVE_CPU_LIMIT or
 * ERR_SIEVE_RUNTIME at run time), never a crash or a stall.
 */

/** Tunable limits; every field carries its unit. */
export interface SieveLimits {
  /** Largest script accepted by the compiler, in UTF-16 code units. */
  readonly maxScriptChars: number;
  /** Deepest nesting of blocks (if/elsif/else bodies). */
  readonly maxBlockNesting: number;
  /** Deepest nesting of tests (not/allof/anyof). */
  readonly maxTestNesting: number;
  /** Longest string literal, in UTF-16 code units. */
  readonly maxStringChars: number;
  /** Most entries in one string list. */
  readonly maxStringListItems: number;
  /** Longest variable value; longer values are truncated (RFC 5229 §3). */
  readonly maxVariableChars: number;
  /** Most distinct variables one script may set. */
  readonly maxVariables: number;
  /** Match variables kept (${0} … ${N-1}); RFC 5229 requires at least 10; Pigeonhole keeps more. */
  readonly maxMatchVariables: number;
  /** Interpreter steps (commands and tests run, plus matching work units) per evaluation. */
  readonly maxSteps: number;
  /** Most actions a result may hold. */
  readonly maxActions: number;
  /** Most redirects a result may hold. */
  readonly maxRedirects: number;
  /** Deepest include chain. */
  readonly maxIncludeDepth: number;
  /** Most included scripts per evaluation. */
  readonly maxIncludes: number;
  /** Most header edits (addheader/deleteheader) per evaluation. */
  readonly maxHeaderEdits: number;
}

/** The defaults, close to Pigeonhole's (sieve_max_actions 32, sieve_max_redirects 4). */
export const DEFAULT_SIEVE_LIMITS: SieveLimits = Object.freeze({
  maxScriptChars: 1024 * 1024,
  maxBlockNesting: 32,
  maxTestNesting: 32,
  maxStringChars: 64 * 1024,
  maxStringListItems: 1024,
  maxVariableChars: 4096,
  maxVariables: 255,
  maxMatchVariables: 64,
  maxSteps: 1_000_000,
  maxActions: 32,
  maxRedirects: 4,
  maxIncludeDepth: 10,
  maxIncludes: 255,
  maxHeaderEdits: 1024,
});

/** Fills unspecified limits with the defaults. */
export function resolveSieveLimits(partial: Partial<SieveLimits> | undefined): SieveLimits {
  return Object.freeze({ ...DEFAULT_SIEVE_LIMITS, ...partial });
}

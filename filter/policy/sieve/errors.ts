/**
 * Error catalog of the Sieve engine (STYLE.md B4/B5). Compile errors carry the line and column
 * of the offending token; run-time faults carry the position of the command that failed.
 * Outcomes of a script (reject, discard) are never errors: they are actions in the result.
 */
import { ParapetError } from '../../errors.js';

/** Every code a {@link SieveError} can carry, with a one-line description. */
export const SieveErrorCode = {
  ERR_SIEVE_LEXICAL: 'the script contains a character sequence that is not a Sieve token',
  ERR_SIEVE_UNTERMINATED: 'a string or bracket comment is not terminated before end of script',
  ERR_SIEVE_NUMBER_TOO_LARGE: 'a number does not fit the engine number range',
  ERR_SIEVE_SYNTAX: 'the token sequence does not follow the Sieve grammar (RFC 5228 §8.2)',
  ERR_SIEVE_UNKNOWN_CAPABILITY: 'require names a capability the engine does not offer',
  ERR_SIEVE_REQUIRE_PLACEMENT: 'require appears after other commands or inside a block',
  ERR_SIEVE_UNKNOWN_COMMAND: 'a command is not defined by the base spec or a required extension',
  ERR_SIEVE_UNKNOWN_TEST: 'a test is not defined by the base spec or a required extension',
  ERR_SIEVE_UNKNOWN_TAG: 'a tagged argument is not valid for this command or test',
  ERR_SIEVE_DUPLICATE_TAG: 'a tagged argument (or two from one exclusive group) appears twice',
  ERR_SIEVE_TAG_CONFLICT: 'two tagged arguments exclude each other',
  ERR_SIEVE_ARGUMENT: 'a positional argument is missing, extra or of the wrong type',
  ERR_SIEVE_TEST_EXPECTED: 'a command needs a test (or test list) it does not have',
  ERR_SIEVE_BLOCK: 'a block is missing where required or present where not allowed',
  ERR_SIEVE_ELSE_WITHOUT_IF: 'elsif or else does not follow if or elsif',
  ERR_SIEVE_COMPARATOR: 'a comparator is unknown, not required or cannot serve the match type',
  ERR_SIEVE_MATCH_TYPE: 'a match type argument is invalid (relational operator, regex)',
  ERR_SIEVE_INVALID_VALUE:
    'an argument value is invalid (header name, address, flag, variable name)',
  ERR_SIEVE_LIMIT: 'the script exceeds a compile-time limit (size, nesting, strings, includes)',
  ERR_SIEVE_CPU_LIMIT: 'the script ran more interpreter steps than allowed',
  ERR_SIEVE_RUNTIME: 'the script failed at run time (action conflict, error command, include)',
  ERR_SIEVE_HOST: 'the host did not answer an interpreter request as required',
} as const;

/** A code from {@link SieveErrorCode}. */
export type SieveErrorCodeName = keyof typeof SieveErrorCode;

/** A compile or run-time fault of the Sieve engine, positioned in the script text. */
export class SieveError extends ParapetError {
  /** 1-based line of the offending token (0 when no position applies). */
  readonly line: number;
  /** 1-based column (in UTF-16 code units) of the offending token (0 when none applies). */
  readonly column: number;
  /** The script name (include) the position refers to; "" for the main script. */
  readonly script: string;

  constructor(
    code: SieveErrorCodeName,
    message: string,
    line: number,
    column: number,
    options?: { cause?: unknown; script?: string },
  ) {
    super(code, message, options);
    this.name = 'SieveError';
    this.line = line;
    this.column = column;
    this.script = options?.script ?? '';
  }

  /** "line:column: message", the form printed by `parapet policy check`. */
  toPositionedString(): string {
    const where = this.script === '' ? '' : `${this.script}:`;
    return `${where}${this.line}:${this.column}: ${this.message}`;
  }
}

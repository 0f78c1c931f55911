/**
 * Error catalog for filter/ (STYLE.md B5). Every fault thrown inside the data plane is a
 * ParapetError carrying one of these codes; outcomes (reject, spam, virus) are values, never
 * errors. The catalog is kept in sync with filter/ERRORS.md by errors.test.ts.
 */

export const FilterErrorCode = {
  ERR_MILTER_FRAME_TOO_LARGE: 'a milter frame announced a length over maxFrameBytes',
  ERR_MILTER_FRAME_INVALID:
    'a milter frame is malformed (bad length, unknown command or bad payload)',
  ERR_MILTER_PROTOCOL: 'a milter command arrived out of order or negotiation failed',
  ERR_MILTER_TIMEOUT: 'the MTA did not send the next milter command in time',
  ERR_MILTER_ACTION_NOT_ALLOWED: 'the verdict needs an edit the MTA did not allow in negotiation',
  ERR_MILTER_CONFIG: 'the milter server was given no TCP and no unix-socket listener',
  ERR_MILTER_LISTEN: 'a milter listener could not bind (address in use, live socket, not a socket)',
  ERR_SMTP_LINE_TOO_LONG: 'an SMTP command line is longer than maxLineBytes',
  ERR_SMTP_PROTOCOL: 'the SMTP client broke the protocol',
  ERR_SMTP_TIMEOUT: 'the SMTP client was idle for longer than idleTimeoutMs',
  ERR_REINJECT_FAILED: 'the re-injection MTA did not accept the message',
  ERR_SMTP_LISTEN: 'the content-filter listener could not bind its address',
  ERR_MODIFICATION_INVALID: 'a modification from policy is invalid (bad header name, injection)',
  ERR_SPOOL_IO: 'the body spool could not be written or read',
  ERR_SPOOL_SEALED: 'a body spool was written after it was sealed',
  ERR_MESSAGE_LIMIT: 'a message exceeded a configured limit (size, headers, recipients)',
  ERR_PIPELINE_DEADLINE: 'a message was not decided within its per-message deadline',
  ERR_PIPELINE_FAILED: 'a scanner, the policy or an action failed for this message',
  ERR_QUARANTINE_WRITE_FAILED: 'a quarantined message could not be stored durably',
  ERR_MESSAGE_LOG_IO: 'the local message log could not be appended',
  ERR_MODULE_FAILED: 'a filter module callback threw',
  ERR_SCAN_RULE_INVALID:
    'an administrator rule is malformed (symbol, type, pattern or meta expression)',
  ERR_BAYES_STORE_IO: 'the Bayes token store could not be read or written',
  ERR_BAYES_STORE_INVALID: 'the Bayes token store file is not a valid snapshot',
  ERR_CLAMD_UNAVAILABLE: 'clamd could not be reached (no socket, refused, connect timeout)',
  ERR_CLAMD_TIMEOUT: 'clamd did not answer within its command timeout, or the scan was aborted',
  ERR_CLAMD_PROTOCOL: 'clamd sent an unexpected or oversized reply, or closed without one',
  ERR_CLAMD_LIMIT: 'a message is larger than the stream limit for clamd (maxStreamBytes)',
} as const;

export type FilterErrorCodeName = keyof typeof FilterErrorCode;

/** The one error type of Parapet: a catalog code, a message and the wrapped cause. */
export class ParapetError extends Error {
  readonly code: string;
  constructor(
    code: FilterErrorCodeName | (string & {}),
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.name = 'ParapetError';
  }
}

/** Wraps a foreign error (net, fs, pg) with a catalog code, keeping ParapetErrors as they are. */
export function toParapetError(code: FilterErrorCodeName, err: unknown): ParapetError {
  if (err instanceof ParapetError) return err;
  const text = err instanceof Error ? err.message : String(err);
  return new ParapetError(code, text, { cause: err });
}

/**
 * Compares an error catalog with its reference page (codes written as `ERR_…` in backticks):
 * codes missing from the page, and codes on the page that no longer exist. Used by each
 * folder's docs-sync test (STYLE.md B6).
 */
export function errorCatalogDrift(
  catalog: Readonly<Record<string, string>>,
  doc: string,
): { undocumented: string[]; stale: string[] } {
  const documented = new Set([...doc.matchAll(/`(ERR_[A-Z0-9_]+)`/g)].map((m) => m[1] ?? ''));
  const inCode = Object.keys(catalog);
  return {
    undocumented: inCode.filter((c) => !documented.has(c)),
    stale: [...documented].filter((c) => !(c in catalog)),
  };
}

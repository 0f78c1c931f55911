/**
 * Postfix's policy delegation protocol (SMTPD_POLICY_README), pure: no sockets, no timers.
 * A request is `name=value` lines ended by an empty line; the answer is `action=…` and an
 * empty line. The decoder is fed raw bytes in any chunking and bounds everything before it
 * buffers it, because the peer is only trusted to be Postfix.
 */

export interface PolicyRequestLimits {
  /** Longest attribute line, without its LF. Postfix's own lines are far below. */
  readonly maxLineBytes: number;
  /** Most attributes in one request (Postfix 3.7 sends ~30). */
  readonly maxAttributes: number;
}

export const DEFAULT_POLICY_LIMITS: PolicyRequestLimits = {
  maxLineBytes: 8192,
  maxAttributes: 128,
};

/** One decoded request: attribute names are as sent (lower case by Postfix). */
export type PolicyRequest = ReadonlyMap<string, string>;

export type PolicyDecodeEvent =
  | { readonly kind: 'request'; readonly attributes: PolicyRequest }
  | { readonly kind: 'error'; readonly message: string };

/**
 * Incremental decoder. After an 'error' event the stream is unusable: the caller answers
 * and closes the connection.
 */
export class PolicyRequestDecoder {
  readonly #limits: PolicyRequestLimits;
  #partial: Buffer[] = [];
  #partialBytes = 0;
  #attributes = new Map<string, string>();
  #failed = false;

  constructor(limits: PolicyRequestLimits = DEFAULT_POLICY_LIMITS) {
    this.#limits = limits;
  }

  /** Feeds bytes; returns the requests (and at most one error) they completed. */
  push(chunk: Buffer): PolicyDecodeEvent[] {
    const events: PolicyDecodeEvent[] = [];
    if (this.#failed) return events;
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(0x0a, start);
      if (lf === -1) {
        this.#partialBytes += chunk.length - start;
        if (this.#partialBytes > this.#limits.maxLineBytes) {
          return this.#fail(events, `attribute line longer than ${this.#limits.maxLineBytes}`);
        }
        this.#partial.push(chunk.subarray(start));
        break;
      }
      let line: Buffer = chunk.subarray(start, lf);
      if (this.#partial.length > 0) {
        line = Buffer.concat([...this.#partial, line]);
        this.#partial = [];
        this.#partialBytes = 0;
      }
      start = lf + 1;
      if (line.length > this.#limits.maxLineBytes) {
        return this.#fail(events, `attribute line longer than ${this.#limits.maxLineBytes}`);
      }
      // Postfix sends LF; tolerate CRLF from hand-written clients.
      const text = line.toString('utf8', 0, line.at(-1) === 0x0d ? line.length - 1 : line.length);
      if (text === '') {
        events.push({ kind: 'request', attributes: this.#attributes });
        this.#attributes = new Map();
        continue;
      }
      const eq = text.indexOf('=');
      if (eq <= 0) return this.#fail(events, 'attribute line without name=value');
      if (this.#attributes.size >= this.#limits.maxAttributes) {
        return this.#fail(events, `more than ${this.#limits.maxAttributes} attributes`);
      }
      this.#attributes.set(text.slice(0, eq), text.slice(eq + 1));
    }
    return events;
  }

  #fail(events: PolicyDecodeEvent[], message: string): PolicyDecodeEvent[] {
    this.#failed = true;
    this.#partial = [];
    this.#attributes = new Map();
    events.push({ kind: 'error', message });
    return events;
  }
}

/** An answer to one request (access(5) actions that a policy server may return). */
export type PolicyAction =
  | { readonly kind: 'dunno' }
  | { readonly kind: 'ok' }
  | {
      readonly kind: 'reject';
      readonly code: number;
      readonly enhanced: string;
      readonly text: string;
    }
  | {
      readonly kind: 'defer';
      readonly code: number;
      readonly enhanced: string;
      readonly text: string;
    };

/** Formats an answer as the bytes Postfix expects. Text is flattened to one safe line. */
export function formatPolicyAction(action: PolicyAction): string {
  switch (action.kind) {
    case 'dunno':
      return 'action=DUNNO\n\n';
    case 'ok':
      return 'action=OK\n\n';
    case 'reject':
    case 'defer':
      return `action=${action.code} ${action.enhanced} ${safeText(action.text)}\n\n`;
  }
}

/** Keeps reply text printable ASCII on one line (it ends up in an SMTP reply). */
function safeText(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 400);
}

/**
 * Run-time state of one evaluation: variables, match variables, the internal flag variable,
 * the message view and the result being built. Extension commands act on this object; the
 * result rules (duplicate merging, implicit keep, conflicts) follow Pigeonhole's `sieve-test`.
 */
import type { CompiledNode, CompiledString, CompiledArg, SieveMatchSpec } from './extension-api.js';
import { SieveError } from './errors.js';
import type { SieveLimits } from './limits.js';
import {
  comparatorCompare,
  comparatorEquals,
  compileSieveRegex,
  lowerAscii,
  regexMatch,
  relationHolds,
  SieveRegexError,
  wildcardMatchText,
  wildcardText,
} from './match.js';
import type { SieveMessage } from './message-view.js';

/** One action of a Sieve result, in the CONTRACTS.md "Sieve evaluation output" shape. */
export type SieveResultAction =
  | { readonly type: 'keep'; readonly flags: readonly string[] }
  | { readonly type: 'discard' }
  | {
      readonly type: 'fileinto';
      readonly mailbox: string;
      readonly copy: boolean;
      readonly flags: readonly string[];
    }
  | { readonly type: 'redirect'; readonly address: string; readonly copy: boolean }
  | { readonly type: 'reject'; readonly reason: string }
  | {
      readonly type: 'vacation';
      readonly seconds: number;
      readonly subject: string | null;
      readonly from: string | null;
      readonly reason: string;
    }
  | { readonly type: 'addheader'; readonly name: string; readonly value: string }
  | { readonly type: 'deleteheader'; readonly name: string; readonly deleted: number };

/** A result action plus the script position of the command that first produced it. */
export interface SieveDecidedAction {
  readonly action: SieveResultAction;
  /** Line of the command (0 for the implicit keep). */
  readonly line: number;
}

/** Inputs of one evaluation that are not the message itself. */
export interface SieveEnvironment {
  /** Envelope sender (MAIL FROM), "" for the null sender. */
  readonly envelopeFrom: string;
  /** Envelope recipient (RCPT TO). */
  readonly envelopeTo: string;
  /** Spam score from the scanner, or null when the message was not scanned. */
  readonly spamScore: number | null;
  /** The score at which the message counts as fully spam (the spamtest scale maximum). */
  readonly spamMax: number;
  /** RFC 5235 virustest level 0–5 (0: not tested), or null for not tested. */
  readonly virusLevel: number | null;
  /** Subaddress separator (RFC 5233); default "+". */
  readonly subaddressSeparator: string;
  /** Clock for date/currentdate, ms since the epoch. */
  readonly nowMs: number;
  /** Time zone offset of the local zone in minutes east of UTC (date without :zone). */
  readonly localZoneMinutes: number | null;
}

type StoreAction = {
  kind: 'store';
  mailbox: string;
  copy: boolean;
  flags: string[];
  line: number;
};
type InternalAction =
  | StoreAction
  | { kind: 'redirect'; address: string; key: string; copy: boolean; line: number }
  | { kind: 'discard'; line: number }
  | { kind: 'reject'; reason: string; line: number }
  | {
      kind: 'vacation';
      seconds: number;
      subject: string | null;
      from: string | null;
      reason: string;
      line: number;
    };

const SYSTEM_FLAGS = new Set(['\\answered', '\\flagged', '\\deleted', '\\seen', '\\draft']);

/** Splits flag strings on spaces and removes case-insensitive duplicates (RFC 5232 §3). */
export function normalizeFlagList(values: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const v of values) {
    for (const f of v.split(' ')) {
      if (f === '') continue;
      const k = f.toLowerCase();
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(f);
    }
  }
  return out;
}

/** Flags as stored with a message: invalid system flags dropped, system flags lower-cased. */
export function storableFlags(flags: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of flags) {
    if (f.startsWith('\\')) {
      const k = f.toLowerCase();
      if (SYSTEM_FLAGS.has(k)) out.push(k);
    } else if (/^[\x21-\x7e]+$/.test(f) && !/[(){%*"\\\]]/.test(f)) {
      out.push(f);
    }
  }
  return out;
}

/** Normalizes a redirect address for duplicate detection (domain case-insensitive). */
function redirectKey(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address : address.slice(0, at) + '@' + address.slice(at + 1).toLowerCase();
}

/** The interpreter's mutable state for one run. */
export class SieveRuntime {
  readonly message: SieveMessage;
  readonly env: SieveEnvironment;
  readonly limits: SieveLimits;
  /** Named variables of the running script (lower-cased names). */
  variables = new Map<string, string>();
  /** Names declared global in the running script (RFC 6609 §3.3). */
  globalNames = new Set<string>();
  /** Values of global variables, shared by all scripts of one evaluation. */
  readonly globals = new Map<string, string>();
  /** Match variables ${0}…; replaced after each successful match when variables is in use. */
  matchValues: string[] = [];
  /** Whether match variables should be recorded (variables required). */
  recordMatches = false;
  /** The internal imap4flags variable. */
  flags: string[] = [];
  /** Whether imap4flags is in use (implicit flags apply to keep/fileinto). */
  flagsInUse = false;
  /** Steps used so far. */
  steps = 0;
  implicitKeep = true;
  readonly headerEdits: SieveDecidedAction[] = [];
  readonly #actions: InternalAction[] = [];
  #actionCount = 0;
  #redirects = 0;
  /** Set by the `duplicate` test and consumed by the host after the run. */
  readonly duplicateMarks: { id: string; seconds: number | null }[] = [];

  constructor(message: SieveMessage, env: SieveEnvironment, limits: SieveLimits) {
    this.message = message;
    this.env = env;
    this.limits = limits;
  }

  /** Counts interpreter work; throws ERR_SIEVE_CPU_LIMIT past the step limit. */
  step(at: { line: number; column: number }, units = 1): void {
    this.steps += units;
    if (this.steps > this.limits.maxSteps) {
      throw new SieveError(
        'ERR_SIEVE_CPU_LIMIT',
        'execution exceeded the CPU step limit',
        at.line,
        at.column,
      );
    }
  }

  /** Expands variable references in a compiled string. */
  expand(s: CompiledString): string {
    if (s.parts === null) return s.raw;
    let out = '';
    for (const p of s.parts) {
      if (typeof p === 'string') out += p;
      else if (p.index >= 0) out += this.matchValues[p.index] ?? '';
      else out += this.getVariable(p.name);
      if (out.length > this.limits.maxStringChars * 4) break;
    }
    return out;
  }

  /** Expands a string or string-list argument to a list of strings. */
  expandList(arg: CompiledArg | null | undefined): string[] {
    if (arg === null || arg === undefined) return [];
    if (arg.kind === 'string') return [this.expand(arg.value)];
    if (arg.kind === 'string-list') return arg.values.map((v) => this.expand(v));
    return [String(arg.value)];
  }

  /**
   * Like {@link expandList}, but a constant argument gives its list prepared at compile time
   * (no allocation). The result must not be changed.
   */
  stringList(arg: CompiledArg | null | undefined): readonly string[] {
    if (arg !== null && arg !== undefined && arg.kind !== 'number' && arg.constant !== undefined)
      return arg.constant;
    return this.expandList(arg);
  }

  /** Expands a single-string argument. */
  expandString(arg: CompiledArg | null | undefined): string {
    if (arg === null || arg === undefined) return '';
    if (arg.kind === 'string') return this.expand(arg.value);
    if (arg.kind === 'string-list')
      return arg.values[0] === undefined ? '' : this.expand(arg.values[0]);
    return String(arg.value);
  }

  /** The value of a variable ("" when unset). */
  getVariable(name: string): string {
    const key = name.toLowerCase();
    return (this.globalNames.has(key) ? this.globals.get(key) : this.variables.get(key)) ?? '';
  }

  /** Sets a variable, truncating to the limit (RFC 5229 §3). */
  setVariable(name: string, value: string, at: { line: number; column: number }): void {
    const key = name.toLowerCase();
    const map = this.globalNames.has(key) ? this.globals : this.variables;
    if (!map.has(key) && map.size >= this.limits.maxVariables) {
      throw new SieveError('ERR_SIEVE_RUNTIME', 'too many variables', at.line, at.column);
    }
    map.set(key, truncateChars(value, this.limits.maxVariableChars));
  }

  /**
   * Matches values against keys with the node's comparator and match type (RFC 5228 §2.7).
   * On success with :matches or :regex, updates the match variables (RFC 5229 §3.2).
   * `count` overrides the value count used by :count.
   */
  matchValuesAgainst(
    node: CompiledNode,
    values: readonly string[],
    keys: readonly string[],
    options: { setMatchVariables?: boolean; count?: number } = {},
  ): boolean {
    const spec: SieveMatchSpec = node.match;
    const setVars = (options.setMatchVariables ?? true) && this.recordMatches;
    const budget = { steps: 0 };
    try {
      switch (spec.type) {
        case 'count': {
          const count = String(options.count ?? values.length);
          for (const k of keys) {
            if (relationHolds(spec.relation ?? 'eq', comparatorCompare(spec.comparator, count, k)))
              return true;
          }
          return false;
        }
        case 'value':
          for (const v of values) {
            for (const k of keys) {
              budget.steps++;
              if (relationHolds(spec.relation ?? 'eq', comparatorCompare(spec.comparator, v, k)))
                return true;
            }
          }
          return false;
        case 'is':
          for (const v of values) {
            for (const k of keys) {
              budget.steps++;
              // Pigeonhole's :is short-cut: an empty value equals only an empty key, before the
              // comparator is asked (so an empty value is not i;ascii-numeric "infinity").
              if (v === '') {
                if (k === '') return true;
                continue;
              }
              if (comparatorEquals(spec.comparator, v, k)) return true;
            }
          }
          return false;
        case 'contains': {
          if (keys.length === 0) return false;
          // Fold each value and key once, not once per (value, key) pair.
          const fold = spec.comparator === 'i;ascii-casemap';
          const needles = fold ? keys.map(lowerAscii) : keys;
          for (const v of values) {
            const hay = fold ? lowerAscii(v) : v;
            for (const k of needles) {
              budget.steps += 1 + (v.length >> 6);
              if (hay.includes(k)) return true;
            }
          }
          return false;
        }
        case 'matches':
          for (const v of values) {
            // Prepared once per value, not once per (value, key) pair.
            const text = wildcardText(v);
            for (const k of keys) {
              const caps = wildcardMatchText(spec.comparator, text, k, budget);
              this.step(node, budget.steps >> 4);
              budget.steps = 0;
              if (caps !== null) {
                if (setVars)
                  this.matchValues = [v, ...caps].slice(0, this.limits.maxMatchVariables);
                return true;
              }
            }
          }
          return false;
        case 'regex':
          for (const k of keys) {
            const re = compileSieveRegex(k, spec.comparator === 'i;ascii-casemap');
            // Pigeonhole skips a key that does not compile at run time (no error, no match).
            if (re instanceof SieveRegexError) continue;
            for (const v of values) {
              budget.steps += 1 + (v.length >> 6);
              const groups = regexMatch(re, v);
              if (groups !== null) {
                if (setVars) this.matchValues = groups.slice(0, this.limits.maxMatchVariables);
                return true;
              }
            }
          }
          return false;
      }
    } finally {
      this.step(node, budget.steps >> 4);
    }
  }

  /** Current flags for an action: the :flags argument if given, else the internal variable. */
  actionFlags(node: CompiledNode): string[] {
    const tag = node.tags.get('flags');
    if (tag !== undefined && tag !== null)
      return storableFlags(normalizeFlagList(this.expandList(tag)));
    return this.flagsInUse ? storableFlags(this.flags) : [];
  }

  #countAction(node: CompiledNode): void {
    this.#actionCount++;
    if (this.#actionCount > this.limits.maxActions) {
      throw new SieveError(
        'ERR_SIEVE_RUNTIME',
        'total number of actions exceeds policy limit',
        node.line,
        node.column,
      );
    }
  }

  #conflict(node: CompiledNode, message: string): never {
    throw new SieveError('ERR_SIEVE_RUNTIME', message, node.line, node.column);
  }

  #hasReject(): boolean {
    return this.#actions.some((a) => a.kind === 'reject');
  }

  /** keep / fileinto: stores into a mailbox ("INBOX" case-insensitive is the keep). */
  addStore(node: CompiledNode, mailbox: string, copy: boolean, flags: string[]): void {
    const box = mailbox.toUpperCase() === 'INBOX' ? 'INBOX' : mailbox;
    if (this.#hasReject())
      this.#conflict(
        node,
        'reject/ereject action conflicts with other action: the store action tries to deliver the message',
      );
    const dup = this.#actions.find(
      (a): a is StoreAction => a.kind === 'store' && a.mailbox === box,
    );
    if (dup !== undefined) {
      dup.flags = flags;
      return;
    }
    this.#countAction(node);
    this.#actions.push({ kind: 'store', mailbox: box, copy, flags, line: node.line });
    if (!copy) this.implicitKeep = false;
  }

  /** redirect. */
  addRedirect(node: CompiledNode, address: string, copy: boolean): void {
    if (this.#hasReject())
      this.#conflict(
        node,
        'reject/ereject action conflicts with other action: the redirect action tries to deliver the message',
      );
    const key = redirectKey(address);
    if (this.#actions.some((a) => a.kind === 'redirect' && a.key === key)) return;
    this.#redirects++;
    if (this.#redirects > this.limits.maxRedirects) {
      this.#conflict(node, 'total number of redirect actions exceeds policy limit');
    }
    this.#countAction(node);
    this.#actions.push({ kind: 'redirect', address, key, copy, line: node.line });
    if (!copy) this.implicitKeep = false;
  }

  /** discard. */
  addDiscard(node: CompiledNode): void {
    if (this.#actions.some((a) => a.kind === 'discard')) return;
    this.#countAction(node);
    this.#actions.push({ kind: 'discard', line: node.line });
    this.implicitKeep = false;
  }

  /** reject / ereject. */
  addReject(node: CompiledNode, reason: string): void {
    for (const a of this.#actions) {
      if (a.kind === 'reject') this.#conflict(node, 'duplicate reject/ereject action not allowed');
      if (a.kind === 'store' || a.kind === 'redirect') {
        this.#conflict(
          node,
          'reject/ereject action conflicts with other action: it tries to deliver the message',
        );
      }
      if (a.kind === 'vacation')
        this.#conflict(
          node,
          'reject/ereject action conflicts with other action: the vacation action also sends a response to the sender',
        );
    }
    this.#countAction(node);
    this.#actions.push({ kind: 'reject', reason, line: node.line });
    this.implicitKeep = false;
  }

  /** vacation. */
  addVacation(
    node: CompiledNode,
    v: { seconds: number; subject: string | null; from: string | null; reason: string },
  ): void {
    for (const a of this.#actions) {
      if (a.kind === 'vacation') this.#conflict(node, 'duplicate vacation action not allowed');
      if (a.kind === 'reject')
        this.#conflict(
          node,
          'vacation action conflicts with other action: the reject action also sends a response to the sender',
        );
    }
    this.#countAction(node);
    this.#actions.push({ kind: 'vacation', ...v, line: node.line });
  }

  /** The final action list: header edits, then other actions, then the implicit keep. */
  finalActions(): SieveDecidedAction[] {
    const out: SieveDecidedAction[] = [...this.headerEdits];
    for (const a of this.#actions) {
      switch (a.kind) {
        case 'store':
          out.push({
            action:
              a.mailbox === 'INBOX'
                ? { type: 'keep', flags: [...a.flags] }
                : { type: 'fileinto', mailbox: a.mailbox, copy: a.copy, flags: [...a.flags] },
            line: a.line,
          });
          break;
        case 'redirect':
          out.push({
            action: { type: 'redirect', address: a.address, copy: a.copy },
            line: a.line,
          });
          break;
        case 'discard':
          out.push({ action: { type: 'discard' }, line: a.line });
          break;
        case 'reject':
          out.push({ action: { type: 'reject', reason: a.reason }, line: a.line });
          break;
        case 'vacation':
          out.push({
            action: {
              type: 'vacation',
              seconds: a.seconds,
              subject: a.subject,
              from: a.from,
              reason: a.reason,
            },
            line: a.line,
          });
          break;
      }
    }
    if (this.implicitKeep) {
      out.push({
        action: { type: 'keep', flags: this.flagsInUse ? storableFlags(this.flags) : [] },
        line: 0,
      });
    }
    return out;
  }
}

/** Truncates to at most `max` UTF-16 units without splitting a surrogate pair. */
export function truncateChars(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = max;
  const c = s.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--;
  return s.slice(0, cut);
}

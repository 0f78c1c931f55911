/**
 * Shared state of Parapet's gateway Sieve extensions (capabilities "vnd.parapet.*"). The Sieve
 * core has a closed set of result actions and no hook for host facts, so each evaluation run by
 * {@link import('./run.js').runGatewayPolicy} binds a {@link GatewayState} to its SieveRuntime:
 * the gateway tests read the facts (scan result, client, recipients, lists and maps) from it and
 * the gateway commands record their actions in it. Nothing here does I/O.
 */
import { SieveError, type CompiledNode, type SieveRuntime } from '../sieve/index.js';
import type { PolicyData } from '../lists/index.js';
import type { ScanResult } from '../../scan/scanner.js';

/** Facts the gateway tests read, fixed for one evaluation. */
export interface GatewayFacts {
  /** The scan result, or null when the message was not scanned at all. */
  readonly scan: ScanResult | null;
  /** The connecting client's IP address, or null when unknown. */
  readonly clientAddress: string | null;
  /** Every envelope recipient (the evaluation's envelope "to" is the first). */
  readonly recipients: readonly string[];
  /** Named lists and maps. */
  readonly data: PolicyData;
  /** Subaddress separator used when matching addresses against lists and maps (default "+"). */
  readonly subaddressSeparator?: string;
}

/** One action of a gateway extension, in its CONTRACTS.md JSON shape (see README.md). */
export type GatewayAction =
  | { readonly type: 'quarantine'; readonly reason: string }
  | { readonly type: 'tempfail'; readonly reason: string }
  | { readonly type: 'setheader'; readonly name: string; readonly value: string }
  | { readonly type: 'appendheader'; readonly name: string; readonly value: string }
  | { readonly type: 'removeheader'; readonly name: string }
  | { readonly type: 'marksubject'; readonly prefix: string }
  | { readonly type: 'addrecipient'; readonly address: string }
  | { readonly type: 'removerecipient'; readonly address: string }
  | { readonly type: 'setsender'; readonly address: string }
  | {
      readonly type: 'notice';
      readonly to: readonly string[];
      readonly template: string | null;
      readonly subject: string | null;
      readonly from: string | null;
      readonly text: string;
    }
  | { readonly type: 'copyto'; readonly address: string }
  | { readonly type: 'logmark'; readonly name: string };

/** A gateway action with the line of the command that produced it. */
export interface GatewayDecidedAction {
  readonly action: GatewayAction;
  readonly line: number;
}

/** Most gateway actions one evaluation may record (beyond it: run-time error). */
export const MAX_GATEWAY_ACTIONS = 256;

/** Longest reason, text or header value a gateway action keeps, in characters. */
export const MAX_GATEWAY_TEXT_CHARS = 4096;

/** Mutable per-evaluation state. */
export class GatewayState {
  readonly facts: GatewayFacts;
  readonly actions: GatewayDecidedAction[] = [];
  /** Non-fatal problems (unknown list or map names), for the log. */
  readonly warnings: string[] = [];
  /** Line of the `accept` command that ended the run, or null. */
  acceptedAt: number | null = null;

  constructor(facts: GatewayFacts) {
    this.facts = facts;
  }

  /** Records an action; identical actions merge into the first (like Sieve's duplicates). */
  record(node: CompiledNode, action: GatewayAction): void {
    const mergeable =
      action.type === 'quarantine' ||
      action.type === 'tempfail' ||
      action.type === 'logmark' ||
      action.type === 'copyto' ||
      action.type === 'addrecipient' ||
      action.type === 'removerecipient';
    if (mergeable) {
      const same = this.actions.find(
        (a) =>
          a.action.type === action.type &&
          (action.type === 'quarantine' ||
            action.type === 'tempfail' ||
            JSON.stringify(a.action) === JSON.stringify(action)),
      );
      if (same !== undefined) return;
    }
    if (this.actions.length >= MAX_GATEWAY_ACTIONS) {
      throw gatewayError(node, 'too many gateway actions');
    }
    this.actions.push({ action, line: node.line });
  }
}

const states = new WeakMap<SieveRuntime, GatewayState>();

/** Binds the state to a runtime before the run (called by runGatewayPolicy only). */
export function bindGatewayState(rt: SieveRuntime, state: GatewayState): void {
  states.set(rt, state);
}

/** The state of the running evaluation; a run-time error outside runGatewayPolicy. */
export function gatewayState(node: CompiledNode, rt: SieveRuntime): GatewayState {
  const state = states.get(rt);
  if (state === undefined) {
    throw gatewayError(node, `${node.name}: gateway extensions need the Parapet policy host`);
  }
  return state;
}

/** A run-time error positioned at the command (the run falls back to keep). */
export function gatewayError(node: CompiledNode, message: string): SieveError {
  return new SieveError('ERR_SIEVE_RUNTIME', message, node.line, node.column);
}

/** Thrown by `accept` to end the run at once; caught by runGatewayPolicy (not a fault). */
export class GatewayStop extends Error {
  readonly line: number;
  constructor(line: number) {
    // Control flow, not a fault: skip capturing a stack trace (costly, once per accepted message).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super('accept');
    Error.stackTraceLimit = limit;
    this.name = 'GatewayStop';
    this.line = line;
  }
}

/** Shortens text to the gateway limit. */
export function clampText(text: string): string {
  return text.length > MAX_GATEWAY_TEXT_CHARS ? text.slice(0, MAX_GATEWAY_TEXT_CHARS) : text;
}

/** The constant value of a string argument, or null when it holds variables or is absent. */
export function constantString(node: CompiledNode, index: number): string | null {
  const a = node.args[index];
  return a?.kind === 'string' && a.value.parts === null ? a.value.raw : null;
}

/** Constant strings of a string or string-list argument (variable ones skipped). */
export function constantStrings(node: CompiledNode, index: number): string[] {
  const a = node.args[index];
  if (a?.kind === 'string') return a.value.parts === null ? [a.value.raw] : [];
  if (a?.kind === 'string-list') return a.values.filter((v) => v.parts === null).map((v) => v.raw);
  return [];
}

/** RFC 5322 §3.6.8 field name. */
export function isHeaderName(name: string): boolean {
  return /^[\x21-\x39\x3b-\x7e]{1,128}$/.test(name);
}

/** A header value that cannot inject a field: no CR, LF or NUL. */
export function isSafeHeaderText(value: string): boolean {
  return !/[\r\n\0]/.test(value);
}

/** A plausible mailbox for envelope use: local@domain without spaces or brackets. */
export function isEnvelopeAddress(address: string): boolean {
  return /^[^\s<>@"]+@[^\s<>@"]+$/.test(address) && address.length <= 320;
}

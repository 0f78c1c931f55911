/**
 * Serializes a Sieve evaluation to the CONTRACTS.md "Sieve evaluation output" JSON shape, with
 * keys in the documented order.
 */
import type { SieveError } from './errors.js';
import type { SieveOutcome } from './interpreter.js';
import type { SieveResultAction } from './runtime.js';

/** The contract shape of one action (key order as documented). */
export type SieveContractAction = SieveResultAction;

/** `{"valid":true,"runtime_error":…,"actions":[…]}` or `{"valid":false,"errors":[…]}`. */
export type SieveContractResult =
  | {
      readonly valid: true;
      readonly runtime_error: boolean;
      readonly actions: readonly SieveContractAction[];
    }
  | {
      readonly valid: false;
      readonly errors: readonly {
        readonly line: number;
        readonly column: number;
        readonly code: string;
        readonly message: string;
      }[];
    };

function orderedAction(a: SieveResultAction): SieveContractAction {
  switch (a.type) {
    case 'keep':
      return { type: 'keep', flags: [...a.flags] };
    case 'discard':
      return { type: 'discard' };
    case 'fileinto':
      return { type: 'fileinto', mailbox: a.mailbox, copy: a.copy, flags: [...a.flags] };
    case 'redirect':
      return { type: 'redirect', address: a.address, copy: a.copy };
    case 'reject':
      return { type: 'reject', reason: a.reason };
    case 'vacation':
      return {
        type: 'vacation',
        seconds: a.seconds,
        subject: a.subject,
        from: a.from,
        reason: a.reason,
      };
    case 'addheader':
      return { type: 'addheader', name: a.name, value: a.value };
    case 'deleteheader':
      return { type: 'deleteheader', name: a.name, deleted: a.deleted };
  }
}

/** The contract object for a completed evaluation. */
export function sieveOutcomeToContract(outcome: SieveOutcome): SieveContractResult {
  return {
    valid: true,
    runtime_error: outcome.runtimeError !== null,
    actions: outcome.actions.map((d) => orderedAction(d.action)),
  };
}

/** The contract object for a script that did not compile. */
export function sieveErrorsToContract(errors: readonly SieveError[]): SieveContractResult {
  return {
    valid: false,
    errors: errors.map((e) => ({
      line: e.line,
      column: e.column,
      code: e.code,
      message: e.message,
    })),
  };
}

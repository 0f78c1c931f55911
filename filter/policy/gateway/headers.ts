/**
 * "vnd.parapet.headers": header changes of the delivered message. See README.md.
 *   setheader <name> <value>     replace every field <name> by one with <value> (or add it)
 *   appendheader <name> <value>  add a field at the end of the header block
 *   removeheader <name>          remove every field <name>
 *   marksubject <prefix>         prefix the Subject ("<prefix> <subject>") unless it already
 *                                starts with the prefix; adds a Subject when there is none
 * Unlike editheader (RFC 5293) these change only the delivered message: later tests in the
 * script do not see them. Received, Return-Path and X-Parapet-Id cannot be changed.
 */
import type { CompiledNode, SieveExtension, SieveRuntime } from '../sieve/index.js';
import type { SieveCommandDef, SieveValidateContext } from '../sieve/extension-api.js';
import {
  clampText,
  constantString,
  gatewayError,
  gatewayState,
  isHeaderName,
  isSafeHeaderText,
} from './context.js';

const CAP = 'vnd.parapet.headers';
const PROTECTED = new Set(['received', 'return-path', 'x-parapet-id']);

function checkName(node: CompiledNode, ctx: SieveValidateContext): void {
  const name = constantString(node, 0);
  if (name === null) return;
  if (!isHeaderName(name)) {
    throw ctx.error('ERR_SIEVE_INVALID_VALUE', `${node.name}: invalid header name '${name}'`, node);
  }
  if (PROTECTED.has(name.toLowerCase())) {
    throw ctx.error('ERR_SIEVE_INVALID_VALUE', `${node.name}: header '${name}' is protected`, node);
  }
}

function runtimeName(node: CompiledNode, rt: SieveRuntime): string {
  const name = rt.expandString(node.args[0]);
  if (!isHeaderName(name) || PROTECTED.has(name.toLowerCase())) {
    throw gatewayError(node, `${node.name}: invalid or protected header name '${name}'`);
  }
  return name;
}

function runtimeValue(node: CompiledNode, rt: SieveRuntime, index: number): string {
  const value = rt.expandString(node.args[index]);
  if (!isSafeHeaderText(value))
    throw gatewayError(node, `${node.name}: value contains a line break`);
  return clampText(value);
}

/** setheader and appendheader: the same arguments and checks, a different action. */
function headerValueCommand(name: 'setheader' | 'appendheader'): SieveCommandDef {
  return {
    name,
    kind: 'command',
    capability: CAP,
    positional: [['string', 'string']],
    validate: checkName,
    execute: (node, rt) => {
      gatewayState(node, rt).record(node, {
        type: name,
        name: runtimeName(node, rt),
        value: runtimeValue(node, rt, 1),
      });
    },
  };
}

/** The vnd.parapet.headers extension. */
export const gatewayHeadersExtension: SieveExtension = {
  capabilities: [CAP],
  commands: [
    headerValueCommand('setheader'),
    headerValueCommand('appendheader'),
    {
      name: 'removeheader',
      kind: 'command',
      capability: CAP,
      positional: [['string']],
      validate: checkName,
      execute: (node, rt) => {
        gatewayState(node, rt).record(node, { type: 'removeheader', name: runtimeName(node, rt) });
      },
    },
    {
      name: 'marksubject',
      kind: 'command',
      capability: CAP,
      positional: [['string']],
      execute: (node, rt) => {
        const prefix = runtimeValue(node, rt, 0);
        if (prefix === '') return;
        const state = gatewayState(node, rt);
        // Marking twice with the same prefix would give "[SPAM] [SPAM] …".
        if (
          state.actions.some((a) => a.action.type === 'marksubject' && a.action.prefix === prefix)
        )
          return;
        state.record(node, { type: 'marksubject', prefix });
      },
    },
  ],
};

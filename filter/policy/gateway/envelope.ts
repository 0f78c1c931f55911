/**
 * "vnd.parapet.envelope": changes to the SMTP envelope of the delivered message. See README.md.
 *   addrecipient <address>      deliver to this address too
 *   removerecipient <address>   do not deliver to this address
 *   setsender <address>         change the envelope sender ("" is the null sender <>)
 */
import type { CompiledNode, SieveExtension, SieveRuntime } from '../sieve/index.js';
import type { SieveValidateContext } from '../sieve/extension-api.js';
import { constantString, gatewayError, gatewayState, isEnvelopeAddress } from './context.js';

const CAP = 'vnd.parapet.envelope';

function checkAddress(allowEmpty: boolean) {
  return (node: CompiledNode, ctx: SieveValidateContext): void => {
    const a =
      constantString(node, 0)
        ?.trim()
        .replace(/^<(.*)>$/, '$1') ?? null;
    if (a === null || (allowEmpty && a === '')) return;
    if (!isEnvelopeAddress(a)) {
      throw ctx.error('ERR_SIEVE_INVALID_VALUE', `${node.name}: invalid address '${a}'`, node);
    }
  };
}

function address(node: CompiledNode, rt: SieveRuntime, allowEmpty: boolean): string {
  let a = rt.expandString(node.args[0]).trim();
  if (a.startsWith('<') && a.endsWith('>')) a = a.slice(1, -1);
  if ((allowEmpty && a === '') || isEnvelopeAddress(a)) return a;
  throw gatewayError(node, `${node.name}: invalid address '${a}'`);
}

/** The vnd.parapet.envelope extension. */
export const gatewayEnvelopeExtension: SieveExtension = {
  capabilities: [CAP],
  commands: [
    {
      name: 'addrecipient',
      kind: 'command',
      capability: CAP,
      positional: [['string']],
      validate: checkAddress(false),
      execute: (node, rt) => {
        gatewayState(node, rt).record(node, {
          type: 'addrecipient',
          address: address(node, rt, false),
        });
      },
    },
    {
      name: 'removerecipient',
      kind: 'command',
      capability: CAP,
      positional: [['string']],
      validate: checkAddress(false),
      execute: (node, rt) => {
        gatewayState(node, rt).record(node, {
          type: 'removerecipient',
          address: address(node, rt, false),
        });
      },
    },
    {
      name: 'setsender',
      kind: 'command',
      capability: CAP,
      positional: [['string']],
      validate: checkAddress(true),
      execute: (node, rt) => {
        gatewayState(node, rt).record(node, {
          type: 'setsender',
          address: address(node, rt, true),
        });
      },
    },
  ],
};

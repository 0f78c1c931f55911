/**
 * "vnd.parapet.envelope": changes to the SMTP envelope of the delivered message. See README.md.
 *   addrecipient <address>      deliver to this address too
 *   removerecipient <address>   do not deliver to this address
 *   setsender <address>         change the envelope sender ("" is the null sender <>)
 */
import type { CompiledNode, SieveExtension, SieveRuntime } from '../sieve/index.js';
import type { SieveCommandDef, SieveValidateContext } from '../sieve/extension-api.js';
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

/** Each command records one address; only the sender may be the null address "". */
const ADDRESS_COMMANDS = [
  { name: 'addrecipient', allowEmpty: false },
  { name: 'removerecipient', allowEmpty: false },
  { name: 'setsender', allowEmpty: true },
] as const;

type AddressCommand = (typeof ADDRESS_COMMANDS)[number];

function addressCommand({ name, allowEmpty }: AddressCommand): SieveCommandDef {
  return {
    name,
    kind: 'command',
    capability: CAP,
    positional: [['string']],
    validate: checkAddress(allowEmpty),
    execute: (node, rt) => {
      gatewayState(node, rt).record(node, { type: name, address: address(node, rt, allowEmpty) });
    },
  };
}

/** The vnd.parapet.envelope extension. */
export const gatewayEnvelopeExtension: SieveExtension = {
  capabilities: [CAP],
  commands: ADDRESS_COMMANDS.map(addressCommand),
};

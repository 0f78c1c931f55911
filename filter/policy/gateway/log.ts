/**
 * "vnd.parapet.log": marks in the message log that reports count. See README.md.
 *   logmark <name>    name: 1–64 of [A-Za-z0-9_.-]; each name is recorded once per message
 */
import type { SieveExtension } from '../sieve/index.js';
import { constantString, gatewayError, gatewayState } from './context.js';

const MARK = /^[A-Za-z0-9_.-]{1,64}$/;

/** The vnd.parapet.log extension. */
export const gatewayLogExtension: SieveExtension = {
  capabilities: ['vnd.parapet.log'],
  commands: [
    {
      name: 'logmark',
      kind: 'command',
      capability: 'vnd.parapet.log',
      positional: [['string']],
      validate: (node, ctx) => {
        const v = constantString(node, 0);
        if (v !== null && !MARK.test(v)) {
          throw ctx.error('ERR_SIEVE_INVALID_VALUE', `logmark: invalid mark name '${v}'`, node);
        }
      },
      execute: (node, rt) => {
        const name = rt.expandString(node.args[0]);
        if (!MARK.test(name)) throw gatewayError(node, `logmark: invalid mark name '${name}'`);
        gatewayState(node, rt).record(node, { type: 'logmark', name });
      },
    },
  ],
};

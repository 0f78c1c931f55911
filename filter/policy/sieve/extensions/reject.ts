/**
 * RFC 5429 reject and ereject: refuse the message with a reason. Together with keep, fileinto,
 * redirect or vacation it is a run-time error (Pigeonhole), which falls back to the keep.
 */
import type { SieveExtension } from '../extension-api.js';

/** The reject and ereject extensions. */
export const rejectExtension: SieveExtension = {
  capabilities: ['reject', 'ereject'],
  commands: [
    {
      name: 'reject',
      kind: 'command',
      capability: 'reject',
      positional: [['string']],
      execute: (node, rt) => {
        rt.addReject(node, rt.expandString(node.args[0]));
      },
    },
    {
      name: 'ereject',
      kind: 'command',
      capability: 'ereject',
      positional: [['string']],
      execute: (node, rt) => {
        rt.addReject(node, rt.expandString(node.args[0]));
      },
    },
  ],
};

/**
 * RFC 5463 ihave: the ihave test (true when every named capability is offered; the block it
 * guards is not validated when one is missing) and the error command (a run-time error).
 */
import type { SieveExtension } from '../extension-api.js';
import { rtError } from './core.js';

const NOT_VIA_IHAVE = new Set(['variables', 'encoded-character']);

/** The ihave extension. */
export const ihaveExtension: SieveExtension = {
  capabilities: ['ihave'],
  commands: [
    {
      name: 'ihave',
      kind: 'test',
      capability: 'ihave',
      positional: [['string-list']],
      constantArgs: [0],
      validate: (node, ctx) => {
        const a = node.args[0];
        const caps =
          a?.kind === 'string'
            ? [a.value.raw]
            : a?.kind === 'string-list'
              ? a.values.map((v) => v.raw)
              : [];
        // Pigeonhole cannot load variables or encoded-character through ihave: they change how
        // strings are compiled, so ihave reports them as absent.
        const known = caps.every((c) => ctx.isSupported(c) && !NOT_VIA_IHAVE.has(c));
        node.data = { known, caps };
      },
      test: (node) => (node.data as { known: boolean }).known,
    },
    {
      name: 'error',
      kind: 'command',
      capability: 'ihave',
      positional: [['string']],
      execute: (node, rt) => {
        throw rtError(node, `error command: ${rt.expandString(node.args[0])}`);
      },
    },
  ],
};

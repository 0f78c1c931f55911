/**
 * RFC 6609 include: include (the host supplies the script text by name through an interpreter
 * request, or at compile time through SieveCompileOptions.resolveInclude as Pigeonhole does),
 * return, and global (variables are local to each script unless declared global).
 */
import type { SieveExtension } from '../extension-api.js';

/** The include extension. */
export const includeExtension: SieveExtension = {
  capabilities: ['include'],
  commands: [
    {
      name: 'include',
      kind: 'command',
      capability: 'include',
      positional: [['string']],
      tags: [
        { name: 'personal', group: 'location' },
        { name: 'global', group: 'location' },
        { name: 'once' },
        { name: 'optional' },
      ],
      validate: (node, ctx) => {
        const a = node.args[0];
        if (
          a?.kind === 'string' &&
          a.value.parts === null &&
          (a.value.raw === '' || a.value.raw.includes('/'))
        ) {
          throw ctx.error(
            'ERR_SIEVE_INVALID_VALUE',
            `include: invalid script name '${a.value.raw}'`,
            a.value,
          );
        }
      },
    },
    { name: 'return', kind: 'command', capability: 'include', positional: [[]] },
    {
      name: 'global',
      kind: 'command',
      capability: 'include',
      positional: [['string-list']],
      validate: (node, ctx) => {
        if (!ctx.hasCapability('variables')) {
          throw ctx.error(
            'ERR_SIEVE_UNKNOWN_COMMAND',
            'the global command requires the variables extension',
            node,
          );
        }
      },
      execute: (node, rt) => {
        for (const name of rt.expandList(node.args[0])) rt.globalNames.add(name.toLowerCase());
      },
    },
  ],
};

/**
 * RFC 5228 §4.1 fileinto: store the message in a named mailbox. `fileinto "INBOX"` is the keep.
 * Takes :copy (RFC 3894) and :flags (RFC 5232) when those are required.
 */
import type { SieveExtension } from '../extension-api.js';
import { hasInvalidUtf8 } from '../match.js';
import { rtError } from './core.js';

/** The fileinto extension. */
export const fileintoExtension: SieveExtension = {
  capabilities: ['fileinto'],
  commands: [
    {
      name: 'fileinto',
      kind: 'command',
      capability: 'fileinto',
      positional: [['string']],
      validate: (node, ctx) => {
        const a = node.args[0];
        if (a?.kind === 'string' && a.value.parts === null && !isValidMailboxName(a.value.raw)) {
          throw ctx.error(
            'ERR_SIEVE_INVALID_VALUE',
            `invalid folder name '${a.value.raw}'`,
            a.value,
          );
        }
      },
      execute: (node, rt) => {
        const box = rt.expandString(node.args[0]);
        if (!isValidMailboxName(box)) {
          throw rtError(node, `invalid mailbox name '${box}'`);
        }
        rt.addStore(node, box, node.tags.has('copy'), rt.actionFlags(node));
      },
    },
  ],
};

/** A mailbox name Pigeonhole accepts: any valid UTF-8 (even empty). */
export function isValidMailboxName(name: string): boolean {
  return !hasInvalidUtf8(name);
}

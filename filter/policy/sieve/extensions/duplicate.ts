/**
 * RFC 7352 duplicate: asks the host whether a message id (Message-ID, another header, or a
 * :uniqueid) was seen within :seconds; the id is marked for tracking when the test runs.
 */
import type { SieveExtension } from '../extension-api.js';
import { decodeHeaderValue, headerRawValues } from '../message-view.js';
import { rtError } from './core.js';

/** The duplicate extension. */
export const duplicateExtension: SieveExtension = {
  capabilities: ['duplicate'],
  commands: [
    {
      name: 'duplicate',
      kind: 'test',
      capability: 'duplicate',
      positional: [[]],
      tags: [
        { name: 'handle', arg: 'string' },
        { name: 'header', arg: 'string', group: 'id' },
        { name: 'uniqueid', arg: 'string', group: 'id' },
        { name: 'seconds', arg: 'number' },
        { name: 'last' },
      ],
      test: (node, rt) => {
        const unique = node.tags.get('uniqueid');
        let id: string | null;
        if (unique !== undefined) id = rt.expandString(unique);
        else {
          const header = node.tags.get('header');
          const name = header === undefined ? 'message-id' : rt.expandString(header);
          const v = headerRawValues(rt.message, name)[0];
          id = v === undefined ? null : decodeHeaderValue(v);
        }
        if (id === null) return false;
        const handleTag = node.tags.get('handle');
        const handle = handleTag === undefined ? '' : rt.expandString(handleTag);
        const secs = node.tags.get('seconds');
        const seconds = secs?.kind === 'number' ? secs.value : null;
        const key = `${handle}\u0000${id}`;
        // Pigeonhole: testing the same id (and handle) twice in one run is a run-time error.
        if (rt.duplicateMarks.some((m) => m.id === key)) {
          throw rtError(node, 'duplicate test: the same id was already tested in this run');
        }
        const request = {
          kind: 'duplicate' as const,
          id,
          handle,
          seconds,
          last: node.tags.has('last'),
        };
        return {
          request,
          resume: (answer) => {
            rt.duplicateMarks.push({ id: key, seconds });
            return answer.kind === 'duplicate' && answer.duplicate;
          },
        };
      },
    },
  ],
};

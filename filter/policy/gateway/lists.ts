/**
 * "vnd.parapet.lists": membership of the sender, recipients, From header addresses, client IP
 * or any value in named policy lists (filter/policy/lists). See README.md.
 *   listed [:sender | :recipient | :from | :ip | :value <strings>] [:recipientmap] <names>
 * Default source :sender. True when any value is in any of the lists. An unknown list name is
 * not an error (the list may arrive with the next configuration): it matches nothing and is
 * reported as a warning in the evaluation.
 * With :recipientmap the names are maps from a recipient to that recipient's own list (the
 * end users' approved and blocked senders): true when, for EVERY recipient of the message,
 * a value is in that recipient's list. "Every" because one message is one verdict: a sender
 * one recipient blocks must not be dropped for the others, nor one recipient's approval let
 * spam through to the rest.
 */
import { headerFieldsAddresses } from '../sieve/address.js';
import type { SieveExtension } from '../sieve/index.js';
import { headerFieldsNamed } from '../sieve/message-view.js';
import { gatewayState } from './context.js';

const CAP = 'vnd.parapet.lists';

/** The vnd.parapet.lists extension. */
export const gatewayListsExtension: SieveExtension = {
  capabilities: [CAP],
  commands: [
    {
      name: 'listed',
      kind: 'test',
      capability: CAP,
      positional: [['string-list']],
      tags: [
        { name: 'sender', group: 'source' },
        { name: 'recipient', group: 'source' },
        { name: 'from', group: 'source' },
        { name: 'ip', group: 'source' },
        { name: 'value', group: 'source', arg: 'string-list' },
        { name: 'recipientmap' },
      ],
      test: (node, rt) => {
        const state = gatewayState(node, rt);
        const facts = state.facts;
        const sep = facts.subaddressSeparator ?? '+';
        let values: string[];
        if (node.tags.has('recipient')) {
          values = facts.recipients.length > 0 ? [...facts.recipients] : [rt.env.envelopeTo];
        } else if (node.tags.has('from')) {
          // The cached parse of the From fields (message-view keeps it on the field).
          values = headerFieldsAddresses(headerFieldsNamed(rt.message, 'from'))
            .filter((a) => a.domain !== null)
            .map((a) => `${a.localPart}@${a.domain ?? ''}`);
        } else if (node.tags.has('ip')) {
          values = facts.clientAddress === null ? [] : [facts.clientAddress];
        } else if (node.tags.has('value')) {
          values = rt.expandList(node.tags.get('value'));
        } else {
          values = [rt.env.envelopeFrom];
        }
        values = values.filter((v) => v !== '');
        rt.step(node, values.length);
        if (node.tags.has('recipientmap')) {
          const recipients = facts.recipients.length > 0 ? facts.recipients : [rt.env.envelopeTo];
          rt.step(node, recipients.length);
          for (const name of rt.expandList(node.args[0])) {
            const map = facts.data.maps.get(name);
            if (map === undefined) {
              state.warnings.push(`line ${node.line}: unknown map '${name}'`);
              continue;
            }
            const everyone = recipients.every((r) => {
              const own = r === '' ? null : map.listFor(r, sep);
              return own !== null && values.some((v) => own.has(v, sep));
            });
            if (recipients.length > 0 && everyone) return true;
          }
          return false;
        }
        for (const name of rt.expandList(node.args[0])) {
          const list = facts.data.lists.get(name);
          if (list === undefined) {
            state.warnings.push(`line ${node.line}: unknown list '${name}'`);
            continue;
          }
          if (node.tags.has('ip')) {
            if (values.some((v) => list.hasIp(v))) return true;
          } else if (values.some((v) => list.has(v, sep))) return true;
        }
        return false;
      },
    },
  ],
};

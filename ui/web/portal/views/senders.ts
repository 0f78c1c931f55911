/**
 * Allowed & blocked senders: each of the user's addresses has an approved list (its mail skips
 * the spam checks) and a blocked list (refused), of addresses, domains or *.domain entries.
 * The same editor serves a group administrator for one of their group's users (groups.ts).
 */
import { api } from '../../shared/api.js';
import { clear, h, notice } from '../../shared/dom.js';
import type { View } from '../views.js';
import { errorText } from './messages.js';

interface SenderLists {
  readonly address: string;
  readonly allow: readonly string[];
  readonly block: readonly string[];
}

const KINDS = [
  ['allow', 'Approved senders', 'Mail from these senders is not held as spam.'],
  ['block', 'Blocked senders', 'Mail from these senders is refused.'],
] as const;

/** Editors for one address's two lists; `path(kind)` is the PUT endpoint. */
export function senderListsEditor(
  lists: SenderLists,
  path: (kind: 'allow' | 'block') => string,
  idPrefix: string,
): HTMLElement {
  const section = h('section', {
    class: 'panel senders',
    'aria-label': `Senders for ${lists.address}`,
  });
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const current = { allow: [...lists.allow], block: [...lists.block] };
  const draw = (): void => {
    clear(section);
    section.append(h('h2', {}, lists.address));
    for (const [kind, title, help] of KINDS) {
      const inputId = `${idPrefix}-${kind}`;
      const input = h('input', {
        id: inputId,
        name: `${kind}-sender`,
        placeholder: 'name@example.com or example.com',
        autocomplete: 'off',
        required: true,
      });
      const change = (body: { add?: string[]; remove?: string[] }, done: string): void => {
        api<{ entries: string[] }>('PUT', path(kind), { address: lists.address, ...body })
          .then((r) => {
            current[kind] = r.entries;
            // Adding to one list takes the entry off the other: read both back.
            const other = kind === 'allow' ? 'block' : 'allow';
            if (body.add !== undefined) {
              current[other] = current[other].filter((e) => !(body.add ?? []).includes(e));
            }
            draw();
            clear(status);
            status.append(notice(done));
            section.append(status);
            document.getElementById(inputId)?.focus();
          })
          .catch((err: unknown) => {
            clear(status);
            status.append(notice(errorText(err), 'error'));
          });
      };
      const form = h(
        'form',
        { class: 'toolbar' },
        h('p', {}, h('label', { for: inputId }, `Add to ${title.toLowerCase()}`), input),
        h('p', {}, h('button', { type: 'submit' }, 'Add')),
      );
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const entry = input.value.trim().toLowerCase();
        if (entry !== '') change({ add: [entry] }, `Added ${entry} to ${title.toLowerCase()}.`);
      });
      const entries = current[kind];
      section.append(
        h('h3', {}, title),
        h('p', { class: 'muted' }, help),
        entries.length === 0
          ? h('p', { class: 'muted' }, 'None yet.')
          : h(
              'ul',
              { class: 'sender-list', 'aria-label': `${title} for ${lists.address}` },
              entries.map((e) => {
                const remove = h(
                  'button',
                  {
                    type: 'button',
                    class: 'secondary',
                    'aria-label': `Remove ${e} from ${title.toLowerCase()}`,
                  },
                  'Remove',
                );
                remove.addEventListener('click', () => {
                  change({ remove: [e] }, `Removed ${e} from ${title.toLowerCase()}.`);
                });
                return h('li', {}, h('span', {}, e), remove);
              }),
            ),
        form,
      );
    }
    section.append(status);
  };
  draw();
  return section;
}

export const sendersView: View = {
  id: 'senders',
  title: 'Allowed & blocked senders',
  roles: ['user'],
  render: async (root) => {
    document.title = 'Allowed & blocked senders · Parapet';
    root.append(h('h1', {}, 'Allowed & blocked senders'));
    const { lists } = await api<{ lists: SenderLists[] }>('GET', 'portal/senders');
    if (lists.length === 0) {
      root.append(notice('Your account has no mail addresses.'));
      return undefined;
    }
    lists.forEach((l, i) => {
      root.append(senderListsEditor(l, (kind) => `portal/senders/${kind}`, `senders-${String(i)}`));
    });
    return undefined;
  },
};

/**
 * My quarantine: the mail held for the signed-in user's own addresses, with the actions the
 * administrator allows (approve, approve and allow the sender, delete, delete and block the
 * sender, report as spam / not spam, or only request a release).
 */
import { api } from '../../shared/api.js';
import { h, notice } from '../../shared/dom.js';
import type { View } from '../views.js';
import { errorText, messageList, pageLoader, subjectOf, type MessageAction } from './messages.js';

interface Me {
  readonly username: string;
  readonly addresses: readonly string[];
  readonly may: {
    readonly release: 'release' | 'request' | 'none';
    readonly view: boolean;
    readonly delete: boolean;
    readonly allowSender: boolean;
    readonly blockSender: boolean;
    readonly reportSpam: boolean;
    readonly reportNotSpam: boolean;
  };
}

export const myQuarantineView: View = {
  id: 'quarantine',
  title: 'My quarantine',
  roles: ['user', 'admin'],
  render: async (root, _session, params) => {
    document.title = 'My quarantine · Parapet';
    const me = await api<Me>('GET', 'portal/me');
    root.append(h('h1', {}, 'My quarantine'));
    if (me.addresses.length === 0) {
      root.append(notice('Your account has no mail addresses, so there is nothing to show.'));
      return undefined;
    }
    root.append(h('p', { class: 'muted' }, `Mail held for ${me.addresses.join(', ')}.`));
    const subject = h('input', { id: 'q-subject', type: 'search', name: 'subject' });
    const sender = h('input', { id: 'q-sender', type: 'search', name: 'sender' });
    const status = h(
      'select',
      { id: 'q-status', name: 'status' },
      h('option', { value: 'held' }, 'Held'),
      h('option', { value: 'released' }, 'Released'),
      h('option', { value: 'deleted' }, 'Deleted'),
    );
    const address =
      me.addresses.length > 1
        ? h(
            'select',
            { id: 'q-address', name: 'address' },
            h('option', { value: '' }, 'All my addresses'),
            me.addresses.map((a) => h('option', { value: a }, a)),
          )
        : null;
    const form = h(
      'form',
      { class: 'toolbar', role: 'search', 'aria-label': 'Search my quarantine' },
      h('p', {}, h('label', { for: 'q-subject' }, 'Subject contains'), subject),
      h('p', {}, h('label', { for: 'q-sender' }, 'Sender'), sender),
      h('p', {}, h('label', { for: 'q-status' }, 'Show'), status),
      address === null ? null : h('p', {}, h('label', { for: 'q-address' }, 'Address'), address),
      h('p', {}, h('button', { type: 'submit' }, 'Search')),
    );
    root.append(form);

    const act = (path: string, body?: unknown, method: 'POST' | 'DELETE' = 'POST') =>
      api(method, path, body);
    const may = me.may;
    const actions: MessageAction[] = [];
    if (may.release === 'release') {
      actions.push({
        label: 'Approve',
        removes: true,
        run: async (m) => {
          await act(`portal/messages/${m.id}/approve`, {});
          return `Released “${subjectOf(m)}” to you.`;
        },
      });
      if (may.allowSender) {
        actions.push({
          label: 'Approve and always allow sender',
          kind: 'secondary',
          removes: true,
          run: async (m) => {
            await act(`portal/messages/${m.id}/approve`, { allowSender: true });
            return `Released “${subjectOf(m)}”; ${m.from ?? 'the sender'} is now allowed.`;
          },
        });
      }
    } else if (may.release === 'request') {
      actions.push({
        label: 'Request release',
        run: async (m) => {
          await act(`portal/messages/${m.id}/request-release`);
          return `Asked for “${subjectOf(m)}” to be released.`;
        },
      });
    }
    if (may.delete) {
      actions.push({
        label: 'Delete',
        kind: 'danger',
        removes: true,
        run: async (m) => {
          await act(`portal/messages/${m.id}`, undefined, 'DELETE');
          return `Deleted “${subjectOf(m)}”.`;
        },
      });
      if (may.blockSender) {
        actions.push({
          label: 'Delete and block sender',
          kind: 'danger',
          removes: true,
          run: async (m) => {
            await act(`portal/messages/${m.id}?blockSender=true`, undefined, 'DELETE');
            return `Deleted “${subjectOf(m)}”; ${m.from ?? 'the sender'} is now blocked.`;
          },
        });
      }
    }
    if (may.reportSpam) {
      actions.push({
        label: 'Report spam',
        kind: 'secondary',
        run: async (m) => {
          await act(`portal/messages/${m.id}/report`, { as: 'spam' });
          return `Reported “${subjectOf(m)}” as spam. Thank you.`;
        },
      });
    }
    if (may.reportNotSpam) {
      actions.push({
        label: 'Not spam',
        kind: 'secondary',
        run: async (m) => {
          await act(`portal/messages/${m.id}/report`, { as: 'ham' });
          return `Reported “${subjectOf(m)}” as not spam. Thank you.`;
        },
      });
    }
    const list = messageList(root, {
      label: 'Quarantined messages',
      load: pageLoader('portal/messages', () => {
        const p: Record<string, string> = { status: status.value };
        if (subject.value.trim() !== '') p['subject'] = subject.value.trim();
        if (sender.value.trim() !== '') p['sender'] = sender.value.trim();
        if (address !== null && address.value !== '') p['address'] = address.value;
        return p;
      }),
      actions,
      ...(may.view
        ? {
            detail: (m) => api<{ headers: string; text: string }>('GET', `portal/messages/${m.id}`),
          }
        : {}),
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      list.reload().catch((err: unknown) => {
        root.append(notice(errorText(err), 'error'));
      });
    });
    await list.reload();
    // A digest's per-message link (#/quarantine?message=ID): bring that message into view.
    const wanted = params.get('message');
    if (wanted !== null) {
      const item = [...root.querySelectorAll<HTMLElement>('li.msg')].find(
        (li) => li.dataset['id'] === wanted,
      );
      if (item !== undefined) {
        item.classList.add('highlight');
        item.scrollIntoView({ block: 'center' });
        item.querySelector('button')?.focus();
      } else {
        root.append(notice('That message is no longer held for you.'));
      }
    }
    return undefined;
  },
};

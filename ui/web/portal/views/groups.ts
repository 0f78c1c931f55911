/**
 * Groups: a group administrator works on the groups delegated to them — the group's held mail
 * (approve, delete), its users' release requests, their sender lists and a short report; the
 * global administrator also makes groups and delegates them. Only what each group's
 * permissions allow is shown (the API checks it again).
 */
import { api } from '../../shared/api.js';
import { clear, h, notice, table } from '../../shared/dom.js';
import type { View } from '../views.js';
import { errorText, messageList, pageLoader, subjectOf } from './messages.js';
import { senderListsEditor } from './senders.js';

const PERMISSIONS = [
  ['quarantine', 'Quarantine'],
  ['reports', 'Reports'],
  ['lists', 'Sender lists'],
  ['policySettings', 'Policy settings'],
] as const;
type Permission = (typeof PERMISSIONS)[number][0];

interface Group {
  readonly name: string;
  readonly domains: readonly string[];
  readonly addresses: readonly string[];
  readonly admins: readonly string[];
  readonly permissions: Readonly<Record<Permission, boolean>>;
}

interface ReleaseRequest {
  readonly id: string;
  readonly username: string;
  readonly addresses: readonly string[];
  readonly subject: string | null;
  readonly from: string | null;
  readonly requestedAt: string;
}

interface Report {
  readonly days: number;
  readonly held: number;
  readonly categories: readonly { category: string; messages: number; bytes: number }[];
}

const words = (text: string): string[] =>
  text
    .split(/[\s,;]+/)
    .map((w) => w.trim().toLowerCase())
    .filter((w) => w !== '');

function groupEditor(onSaved: () => void): { form: HTMLFormElement; edit: (g: Group) => void } {
  const name = h('input', {
    id: 'g-name',
    name: 'name',
    required: true,
    pattern: '[a-z0-9][a-z0-9._\\-]{0,63}',
  });
  const domains = h('input', {
    id: 'g-domains',
    name: 'domains',
    placeholder: 'example.com, example.org',
  });
  const addresses = h('input', { id: 'g-addresses', name: 'addresses' });
  const admins = h('input', {
    id: 'g-admins',
    name: 'admins',
    placeholder: 'group administrator user names',
  });
  const boxes = PERMISSIONS.map(([key, label]) => {
    const box = h('input', { id: `g-perm-${key}`, type: 'checkbox', name: key });
    return {
      key,
      box,
      row: h('p', { class: 'check' }, box, h('label', { for: `g-perm-${key}` }, label)),
    };
  });
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'panel', 'aria-labelledby': 'g-edit-title' },
    h('h2', { id: 'g-edit-title' }, 'Make or change a group'),
    h('p', {}, h('label', { for: 'g-name' }, 'Group name'), name),
    h('p', {}, h('label', { for: 'g-domains' }, 'Domains'), domains),
    h('p', {}, h('label', { for: 'g-addresses' }, 'Addresses'), addresses),
    h('p', {}, h('label', { for: 'g-admins' }, 'Group administrators'), admins),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Delegated'),
      boxes.map((b) => b.row),
    ),
    h('button', { type: 'submit' }, 'Save group'),
    status,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clear(status);
    const permissions = Object.fromEntries(boxes.map((b) => [b.key, b.box.checked]));
    api<Group>('PUT', `groups/${encodeURIComponent(name.value.trim())}`, {
      domains: words(domains.value),
      addresses: words(addresses.value),
      admins: words(admins.value),
      permissions,
    })
      .then((g) => {
        status.append(notice(`Saved group ${g.name}.`));
        onSaved();
      })
      .catch((err: unknown) => {
        status.append(notice(errorText(err), 'error'));
      });
  });
  const edit = (g: Group): void => {
    name.value = g.name;
    domains.value = g.domains.join(', ');
    addresses.value = g.addresses.join(', ');
    admins.value = g.admins.join(', ');
    for (const b of boxes) b.box.checked = g.permissions[b.key];
    name.focus();
  };
  return { form, edit };
}

const USER_PERMISSIONS = [
  ['view', 'View messages'],
  ['delete', 'Delete'],
  ['allowSender', 'Approve and always allow sender'],
  ['blockSender', 'Delete and block sender'],
  ['reportSpam', 'Report spam'],
  ['reportNotSpam', 'Report not spam'],
  ['senderLists', 'Edit their sender lists'],
  ['digestPreferences', 'Change digest preferences'],
] as const;
type UserPermission = (typeof USER_PERMISSIONS)[number][0];
type PortalSettings = Record<UserPermission, boolean> & { release: 'release' | 'request' | 'none' };

/** The administrator's settings of what end users may do (checked by the API on every action). */
async function portalSettingsForm(): Promise<HTMLFormElement> {
  const current = await api<PortalSettings>('GET', 'portal/settings');
  const release = h(
    'select',
    { id: 'ps-release', name: 'release' },
    h('option', { value: 'release' }, 'Release it themselves'),
    h('option', { value: 'request' }, 'Ask an administrator'),
    h('option', { value: 'none' }, 'Neither'),
  );
  release.value = current.release;
  const boxes = USER_PERMISSIONS.map(([key, label]) => {
    const box = h('input', { id: `ps-${key}`, type: 'checkbox', name: key });
    box.checked = current[key];
    return {
      key,
      box,
      row: h('p', { class: 'check' }, box, h('label', { for: `ps-${key}` }, label)),
    };
  });
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'panel', 'aria-labelledby': 'ps-title' },
    h('h2', { id: 'ps-title' }, 'What end users may do'),
    h(
      'p',
      {},
      h('label', { for: 'ps-release' }, 'To get a message out of the quarantine, users'),
      release,
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Users may'),
      boxes.map((b) => b.row),
    ),
    h('button', { type: 'submit' }, 'Save settings'),
    status,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clear(status);
    const body: Record<string, unknown> = { release: release.value };
    for (const b of boxes) body[b.key] = b.box.checked;
    api('PUT', 'portal/settings', body)
      .then(() => {
        status.append(notice('Saved.'));
      })
      .catch((err: unknown) => {
        status.append(notice(errorText(err), 'error'));
      });
  });
  return form;
}

async function workspace(root: HTMLElement, g: Group): Promise<void> {
  clear(root);
  const base = `groups/${encodeURIComponent(g.name)}`;
  root.append(
    h(
      'p',
      { class: 'muted' },
      `Domains: ${g.domains.join(', ') || 'none'} · Addresses: ${g.addresses.join(', ') || 'none'}`,
    ),
  );
  if (g.permissions.quarantine) {
    const held = h(
      'section',
      { 'aria-labelledby': 'g-held' },
      h('h2', { id: 'g-held' }, 'Held mail'),
    );
    root.append(held);
    const list = messageList(held, {
      label: `Held mail of ${g.name}`,
      showRecipients: true,
      load: pageLoader(`${base}/messages`, () => ({})),
      actions: [
        {
          label: 'Approve',
          removes: true,
          run: async (m) => {
            await api('POST', `${base}/messages/${m.id}/approve`);
            return `Released “${subjectOf(m)}” to the group’s recipients.`;
          },
        },
        {
          label: 'Delete',
          kind: 'danger',
          removes: true,
          run: async (m) => {
            await api('DELETE', `${base}/messages/${m.id}`);
            return `Deleted “${subjectOf(m)}”.`;
          },
        },
      ],
    });
    await list.reload();

    const requests = h(
      'section',
      { 'aria-labelledby': 'g-requests' },
      h('h2', { id: 'g-requests' }, 'Release requests'),
    );
    root.append(requests);
    const { requests: pending } = await api<{ requests: ReleaseRequest[] }>(
      'GET',
      `${base}/requests`,
    );
    if (pending.length === 0) requests.append(h('p', { class: 'muted' }, 'No pending requests.'));
    const rstatus = h('div', { role: 'status', 'aria-live': 'polite' });
    const ul = h('ul', { class: 'msg-list', 'aria-label': 'Pending release requests' });
    for (const r of pending) {
      const subject = r.subject ?? '(no subject)';
      const li = h('li', { class: 'msg' });
      const decide = (decision: 'approve' | 'refuse'): void => {
        api('POST', `${base}/requests/${r.id}`, { username: r.username, decision })
          .then(() => {
            li.remove();
            clear(rstatus);
            rstatus.append(
              notice(`${decision === 'approve' ? 'Released' : 'Refused'} “${subject}”.`),
            );
          })
          .catch((err: unknown) => {
            clear(rstatus);
            rstatus.append(notice(errorText(err), 'error'));
          });
      };
      const approve = h(
        'button',
        { type: 'button', 'aria-label': `Approve request: ${subject}` },
        'Approve',
      );
      approve.addEventListener('click', () => {
        decide('approve');
      });
      const refuse = h(
        'button',
        { type: 'button', class: 'secondary', 'aria-label': `Refuse request: ${subject}` },
        'Refuse',
      );
      refuse.addEventListener('click', () => {
        decide('refuse');
      });
      li.append(
        h('h3', { class: 'msg-subject' }, subject),
        h(
          'p',
          { class: 'msg-meta' },
          h('span', {}, `From ${r.from ?? '(none)'}`),
          h('span', {}, `For ${r.addresses.join(', ')} (${r.username})`),
        ),
        h('div', { class: 'msg-actions' }, approve, refuse),
      );
      ul.append(li);
    }
    requests.append(rstatus, ul);
  }
  if (g.permissions.reports) {
    const report = await api<Report>('GET', `${base}/report?days=7`);
    root.append(
      h(
        'section',
        { 'aria-labelledby': 'g-report' },
        h('h2', { id: 'g-report' }, 'Last 7 days'),
        h('p', {}, `Held in the quarantine now: ${String(report.held)}`),
        report.categories.length === 0
          ? h('p', { class: 'muted' }, 'No mail counted yet.')
          : h(
              'div',
              { class: 'table-wrap' },
              table(
                report.categories,
                [
                  ['Category', (c) => c.category],
                  ['Messages', (c) => c.messages],
                ],
                `Mail of ${g.name} by category`,
              ),
            ),
      ),
    );
  }
  if (g.permissions.lists) {
    const address = h('input', { id: 'g-list-address', type: 'email', required: true });
    const holder = h('div', {});
    const form = h(
      'form',
      { class: 'toolbar' },
      h('p', {}, h('label', { for: 'g-list-address' }, 'User address'), address),
      h('p', {}, h('button', { type: 'submit' }, 'Show lists')),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      clear(holder);
      const q = new URLSearchParams({ address: address.value.trim() });
      api<{ address: string; allow: string[]; block: string[] }>(
        'GET',
        `${base}/senders?${q.toString()}`,
      )
        .then((lists) => {
          holder.append(senderListsEditor(lists, (kind) => `${base}/senders/${kind}`, 'g-senders'));
        })
        .catch((err: unknown) => {
          holder.append(notice(errorText(err), 'error'));
        });
    });
    root.append(
      h(
        'section',
        { 'aria-labelledby': 'g-lists' },
        h('h2', { id: 'g-lists' }, 'Users’ sender lists'),
        form,
        holder,
      ),
    );
  }
}

export const groupsView: View = {
  id: 'groups',
  title: 'Groups',
  roles: ['groupadmin', 'admin'],
  render: async (root, session, params) => {
    document.title = 'Groups · Parapet';
    root.append(h('h1', {}, 'Groups'));
    const area = h('div', {});
    const pickerHolder = h('div', {});
    const draw = async (): Promise<void> => {
      const { groups } = await api<{ groups: Group[] }>('GET', 'groups');
      clear(pickerHolder);
      clear(area);
      if (groups.length === 0) {
        pickerHolder.append(notice('No groups are delegated to you.'));
        return;
      }
      const picker = h(
        'select',
        { id: 'g-pick', name: 'group' },
        groups.map((g) => h('option', { value: g.name }, g.name)),
      );
      const wanted = params.get('group');
      if (wanted !== null && groups.some((g) => g.name === wanted)) picker.value = wanted;
      const open = (): void => {
        const g = groups.find((x) => x.name === picker.value);
        if (g !== undefined) {
          workspace(area, g).catch((err: unknown) => {
            area.append(notice(errorText(err), 'error'));
          });
        }
      };
      picker.addEventListener('change', open);
      if (session.role === 'admin') {
        pickerHolder.append(
          h(
            'div',
            { class: 'table-wrap' },
            table(
              groups,
              [
                ['Group', (g) => g.name],
                ['Domains', (g) => g.domains.join(', ')],
                ['Administrators', (g) => g.admins.join(', ')],
                [
                  'Delegated',
                  (g) =>
                    PERMISSIONS.filter(([k]) => g.permissions[k])
                      .map(([, label]) => label)
                      .join(', '),
                ],
                [
                  'Change',
                  (g) => {
                    const edit = h(
                      'button',
                      { type: 'button', class: 'secondary', 'aria-label': `Edit group ${g.name}` },
                      'Edit',
                    );
                    edit.addEventListener('click', () => {
                      editor?.edit(g);
                    });
                    const remove = h(
                      'button',
                      { type: 'button', class: 'danger', 'aria-label': `Remove group ${g.name}` },
                      'Remove',
                    );
                    remove.addEventListener('click', () => {
                      if (!window.confirm(`Remove group ${g.name}?`)) return;
                      api('DELETE', `groups/${encodeURIComponent(g.name)}`)
                        .then(() => draw())
                        .catch((err: unknown) => {
                          area.append(notice(errorText(err), 'error'));
                        });
                    });
                    return h('span', { class: 'msg-actions' }, edit, remove);
                  },
                ],
              ],
              'All groups',
            ),
          ),
        );
      }
      pickerHolder.append(
        h('p', { class: 'toolbar' }, h('label', { for: 'g-pick' }, 'Group'), picker),
      );
      open();
    };
    const editor =
      session.role === 'admin'
        ? groupEditor(() => {
            draw().catch((err: unknown) => {
              area.append(notice(errorText(err), 'error'));
            });
          })
        : null;
    root.append(pickerHolder, area);
    if (editor !== null) root.append(editor.form, await portalSettingsForm());
    await draw();
    return undefined;
  },
};

/**
 * The Users & roles tab: the web accounts (role, addresses, TOTP, disabled) and the API
 * tokens. Administrators add, change (role, addresses, disable, reset TOTP, new password) and
 * remove accounts, and create and revoke tokens (a new token's secret is shown once);
 * viewers see the lists.
 */
import { api, type SessionInfo } from '../../shared/api.js';
import { clear, h, notice, table } from '../../shared/dom.js';
import type { Tab } from '../tab.js';

interface Account {
  readonly username: string;
  readonly role: string;
  readonly addresses: readonly string[];
  readonly disabled: boolean;
  readonly totpEnabled: boolean;
  readonly createdAt: string;
  readonly passwordChangedAt: string;
}

interface Token {
  readonly id: string;
  readonly name: string;
  readonly owner: string;
  readonly scope: 'read' | 'write';
  readonly createdAt: string;
  readonly expiresAt: string | null;
}

const ROLES: readonly (readonly [string, string])[] = [
  ['admin', 'Administrator (Manager)'],
  ['viewer', 'Viewer (Manager, read-only)'],
  ['groupadmin', 'Group administrator (28443)'],
  ['user', 'End user (28443)'],
];

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const day = (iso: string | null): string => (iso === null ? 'never' : iso.slice(0, 10));
const splitAddresses = (text: string): string[] =>
  text
    .split(/[\s,;]+/)
    .map((a) => a.trim())
    .filter((a) => a !== '');

function roleSelect(id: string, value: string): HTMLSelectElement {
  return h(
    'select',
    { id },
    ROLES.map(([r, label]) => h('option', { value: r, selected: r === value }, label)),
  );
}

/** A button that asks once more before it acts (no blocking browser dialogs). */
function confirmButton(
  label: string,
  confirmLabel: string,
  onConfirm: () => void,
): HTMLButtonElement {
  const b = h(
    'button',
    { type: 'button', class: 'danger', 'aria-label': label },
    label.split(' ')[0] ?? label,
  );
  let armed = false;
  b.addEventListener('click', () => {
    if (!armed) {
      armed = true;
      b.textContent = confirmLabel;
      b.setAttribute('aria-label', confirmLabel);
      return;
    }
    onConfirm();
  });
  b.addEventListener('blur', () => {
    armed = false;
    b.textContent = label.split(' ')[0] ?? label;
    b.setAttribute('aria-label', label);
  });
  return b;
}

export const usersTab: Tab = {
  id: 'users',
  title: 'Users & roles',
  render: async (root, session: SessionInfo) => {
    const isAdmin = session.role === 'admin';
    const status = h('div', { 'aria-live': 'polite' });
    const accountsBox = h('div', { class: 'table-wrap' });
    const tokensBox = h('div', { class: 'table-wrap' });
    const secretBox = h('div', { 'aria-live': 'polite' });
    const say = (text: string, kind: 'ok' | 'error' = 'ok'): void => {
      clear(status);
      status.append(notice(text, kind));
    };
    const run = (what: () => Promise<string>): void => {
      what()
        .then((text) => {
          say(text);
        })
        .catch((err: unknown) => {
          say(message(err), 'error');
        })
        .finally(() => void refresh());
    };
    const change = (a: Account, body: Record<string, unknown>, done: string): void => {
      run(async () => {
        await api('PATCH', `users/${encodeURIComponent(a.username)}`, body);
        return `${a.username}: ${done}`;
      });
    };

    const accountActions = (a: Account, i: number): HTMLElement => {
      const role = roleSelect(`role-${String(i)}`, a.role);
      const saveRole = h(
        'button',
        { type: 'button', class: 'secondary', 'aria-label': `Save role of ${a.username}` },
        'Save role',
      );
      saveRole.addEventListener('click', () => {
        change(a, { role: role.value }, `role ${role.value}`);
      });
      const addresses = h('input', {
        id: `addr-${String(i)}`,
        value: a.addresses.join(', '),
        placeholder: 'mail addresses',
        size: 24,
      });
      const saveAddresses = h(
        'button',
        { type: 'button', class: 'secondary', 'aria-label': `Save addresses of ${a.username}` },
        'Save',
      );
      saveAddresses.addEventListener('click', () => {
        change(a, { addresses: splitAddresses(addresses.value) }, 'addresses saved');
      });
      const disable = h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          'aria-label': `${a.disabled ? 'Enable' : 'Disable'} ${a.username}`,
        },
        a.disabled ? 'Enable' : 'Disable',
      );
      disable.addEventListener('click', () => {
        change(a, { disabled: !a.disabled }, a.disabled ? 'enabled' : 'disabled');
      });
      const resetTotp = h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          'aria-label': `Reset TOTP of ${a.username}`,
          disabled: !a.totpEnabled,
        },
        'Reset TOTP',
      );
      resetTotp.addEventListener('click', () => {
        change(a, { resetTotp: true }, 'TOTP reset; enrols again at next sign-in');
      });
      const password = h('input', {
        id: `pw-${String(i)}`,
        type: 'password',
        autocomplete: 'new-password',
        placeholder: 'new password',
        size: 14,
      });
      const setPassword = h(
        'button',
        { type: 'button', class: 'secondary', 'aria-label': `Set password of ${a.username}` },
        'Set',
      );
      setPassword.addEventListener('click', () => {
        if (password.value === '') return;
        change(a, { password: password.value }, 'password changed; signed out everywhere');
        password.value = '';
      });
      const remove = confirmButton(`Remove ${a.username}`, `Really remove ${a.username}?`, () => {
        run(async () => {
          await api('DELETE', `users/${encodeURIComponent(a.username)}`);
          return `${a.username}: removed`;
        });
      });
      return h(
        'div',
        { class: 'users-actions' },
        h(
          'span',
          {},
          h('label', { for: `role-${String(i)}` }, `Role of ${a.username}`),
          role,
          saveRole,
        ),
        h(
          'span',
          {},
          h('label', { for: `addr-${String(i)}` }, `Addresses of ${a.username}`),
          addresses,
          saveAddresses,
        ),
        h(
          'span',
          {},
          h('label', { for: `pw-${String(i)}` }, `New password for ${a.username}`),
          password,
          setPassword,
        ),
        h('span', {}, disable, resetTotp, remove),
      );
    };

    const drawAccounts = (accounts: readonly Account[]): void => {
      clear(accountsBox);
      accountsBox.append(
        table(
          accounts,
          [
            ['User', (a) => h('strong', {}, a.username)],
            ['Role', (a) => ROLES.find(([r]) => r === a.role)?.[1] ?? a.role],
            ['Addresses', (a) => (a.addresses.length === 0 ? '–' : a.addresses.join(', '))],
            ['TOTP', (a) => (a.totpEnabled ? 'on' : 'off')],
            [
              'Status',
              (a) =>
                a.disabled ? h('span', { class: 'status status-stopped' }, 'disabled') : 'active',
            ],
            ['Password changed', (a) => day(a.passwordChangedAt)],
            ...(isAdmin
              ? [['Change', (a: Account) => accountActions(a, accounts.indexOf(a))] as const]
              : []),
          ],
          `${String(accounts.length)} accounts`,
        ),
      );
    };

    const drawTokens = (tokens: readonly Token[]): void => {
      clear(tokensBox);
      tokensBox.append(
        tokens.length === 0
          ? h('p', { class: 'muted' }, 'No API tokens.')
          : table(tokens, [
              ['Name', (t) => t.name],
              ['Owner', (t) => t.owner],
              ['Scope', (t) => t.scope],
              ['Created', (t) => day(t.createdAt)],
              ['Expires', (t) => day(t.expiresAt)],
              ...(isAdmin
                ? [
                    [
                      'Revoke',
                      (t: Token) =>
                        confirmButton(`Revoke token ${t.name}`, `Really revoke ${t.name}?`, () => {
                          run(async () => {
                            await api('DELETE', `tokens/${encodeURIComponent(t.id)}`);
                            return `token ${t.name}: revoked`;
                          });
                        }),
                    ] as const,
                  ]
                : []),
            ]),
      );
    };

    const addForm = (): HTMLElement => {
      const username = h('input', {
        id: 'new-username',
        required: true,
        autocomplete: 'off',
        maxlength: 128,
      });
      const role = roleSelect('new-role', 'user');
      const password = h('input', {
        id: 'new-password',
        type: 'password',
        required: true,
        autocomplete: 'new-password',
      });
      const addresses = h('input', {
        id: 'new-addresses',
        placeholder: 'a@example.com, b@example.com',
      });
      const form = h(
        'form',
        { class: 'toolbar', 'aria-label': 'Add an account' },
        h('p', {}, h('label', { for: 'new-username' }, 'User name'), username),
        h('p', {}, h('label', { for: 'new-role' }, 'Role'), role),
        h('p', {}, h('label', { for: 'new-password' }, 'Password'), password),
        h('p', {}, h('label', { for: 'new-addresses' }, 'Mail addresses (end users)'), addresses),
        h('button', { type: 'submit' }, 'Add account'),
      );
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        run(async () => {
          const list = splitAddresses(addresses.value);
          const created = await api<Account>('POST', 'users', {
            username: username.value,
            role: role.value,
            password: password.value,
            ...(list.length === 0 ? {} : { addresses: list }),
          });
          form.reset();
          return `${created.username}: added`;
        });
      });
      return form;
    };

    const tokenForm = (): HTMLElement => {
      const name = h('input', { id: 'token-name', required: true, maxlength: 100 });
      const scope = h(
        'select',
        { id: 'token-scope' },
        h('option', { value: 'read' }, 'read only'),
        h('option', { value: 'write' }, 'read and write'),
      );
      const days = h('input', {
        id: 'token-days',
        type: 'number',
        min: 1,
        max: 3650,
        placeholder: 'never',
      });
      const form = h(
        'form',
        { class: 'toolbar', 'aria-label': 'Create an API token' },
        h('p', {}, h('label', { for: 'token-name' }, 'Token name'), name),
        h('p', {}, h('label', { for: 'token-scope' }, 'Scope'), scope),
        h('p', {}, h('label', { for: 'token-days' }, 'Expires after days'), days),
        h('button', { type: 'submit' }, 'Create token'),
      );
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        run(async () => {
          const created = await api<Token & { secret: string }>('POST', 'tokens', {
            name: name.value,
            scope: scope.value,
            ...(days.value === '' ? {} : { expiresDays: Number(days.value) }),
          });
          form.reset();
          clear(secretBox);
          secretBox.append(
            h(
              'div',
              { class: 'notice ok' },
              h('p', {}, `Token ${created.name} — copy it now, it is not shown again:`),
              h('code', { class: 'secret', 'data-token-secret': '' }, created.secret),
            ),
          );
          return `token ${created.name}: created`;
        });
      });
      return form;
    };

    root.append(
      h('h1', {}, 'Users & roles'),
      status,
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'users-accounts' },
        h('h2', { id: 'users-accounts' }, 'Accounts'),
        isAdmin ? addForm() : null,
        accountsBox,
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'users-tokens' },
        h('h2', { id: 'users-tokens' }, 'API tokens'),
        h(
          'p',
          { class: 'muted' },
          'Scripts call the API with “Authorization: Bearer <token>”. A token acts as the account that made it.',
        ),
        isAdmin ? tokenForm() : null,
        secretBox,
        tokensBox,
      ),
    );

    const refresh = async (): Promise<void> => {
      const [users, tokens] = await Promise.allSettled([
        api<{ users: Account[] }>('GET', 'users'),
        api<{ tokens: Token[] }>('GET', 'tokens'),
      ]);
      if (users.status === 'fulfilled') drawAccounts(users.value.users);
      else say(message(users.reason), 'error');
      if (tokens.status === 'fulfilled') drawTokens(tokens.value.tokens);
    };
    await refresh();
    return undefined;
  },
};

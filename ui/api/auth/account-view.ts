/** What the API shows of an account: never the password hash or the TOTP secret. */
import type { Account, ApiToken } from './account-store.js';

export interface AccountView {
  readonly username: string;
  readonly role: string;
  readonly addresses: readonly string[];
  readonly disabled: boolean;
  readonly totpEnabled: boolean;
  readonly createdAt: string;
  readonly passwordChangedAt: string;
}

export const accountView = (a: Account): AccountView => ({
  username: a.username,
  role: a.role,
  addresses: a.addresses,
  disabled: a.disabled,
  totpEnabled: a.totp?.enabled === true,
  createdAt: a.createdAt,
  passwordChangedAt: a.passwordChangedAt,
});

export const tokenView = (t: ApiToken): Omit<ApiToken, 'hash'> => ({
  id: t.id,
  name: t.name,
  owner: t.owner,
  scope: t.scope,
  createdAt: t.createdAt,
  expiresAt: t.expiresAt,
});

export const ACCOUNT_VIEW_SCHEMA = {
  type: 'object',
  properties: {
    username: { type: 'string' },
    role: { type: 'string' },
    addresses: { type: 'array', items: { type: 'string' } },
    disabled: { type: 'boolean' },
    totpEnabled: { type: 'boolean' },
    createdAt: { type: 'string' },
    passwordChangedAt: { type: 'string' },
  },
} as const;

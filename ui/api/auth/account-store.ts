/**
 * Web accounts and API tokens in `$PARAPET_HOME/config/users.json` (mode 0600): read by the
 * Manager and rpcui services, written by them and by `parapet user`. Writes go through a
 * temporary file and rename, so a reader never sees half a file; the file is re-read when its
 * mtime changes, so a change made by one process is seen by the others.
 * (Issue 5 moves users into the versioned configuration in the database; the shape stays.)
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chown, mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ParapetError } from '../../../filter/index.js';
import { isRole, type Role } from './roles.js';

export interface TotpState {
  /** Base32 secret. */
  readonly secret: string;
  /** False while enrolment waits for the first valid code. */
  readonly enabled: boolean;
}

export interface Account {
  readonly username: string;
  readonly role: Role;
  readonly passwordHash: string;
  /** Mail addresses whose quarantine the account sees (end users). */
  readonly addresses: readonly string[];
  readonly totp: TotpState | null;
  readonly disabled: boolean;
  readonly createdAt: string;
  readonly passwordChangedAt: string;
}

export type TokenScope = 'read' | 'write';

export interface ApiToken {
  readonly id: string;
  readonly name: string;
  readonly owner: string;
  readonly scope: TokenScope;
  /** sha256 of the secret part; the secret itself is shown once, at creation. */
  readonly hash: string;
  readonly createdAt: string;
  readonly expiresAt: string | null;
}

interface UsersFile {
  readonly version: 1;
  readonly accounts: Account[];
  readonly tokens: ApiToken[];
}

const USERNAME = /^[a-z0-9][a-z0-9._@+-]{0,127}$/;
const ADDRESS = /^[^\s@<>]{1,64}@[a-z0-9.-]{1,253}$/i;

export function normalizeUsername(name: string): string {
  const n = name.trim().toLowerCase();
  if (!USERNAME.test(n)) {
    throw new ParapetError(
      'ERR_UI_ACCOUNT_INVALID',
      `invalid user name '${name.slice(0, 80)}' (letters, digits and . _ @ + -, up to 128)`,
    );
  }
  return n;
}

export function normalizeAddress(address: string): string {
  const a = address.trim().toLowerCase();
  if (!ADDRESS.test(a)) {
    throw new ParapetError(
      'ERR_UI_ACCOUNT_INVALID',
      `invalid mail address '${address.slice(0, 80)}'`,
    );
  }
  return a;
}

const tokenHash = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export class AccountStore {
  readonly #path: string;
  #cache: { mtimeMs: number; size: number; data: UsersFile } | null = null;

  constructor(path: string) {
    this.#path = path;
  }

  get path(): string {
    return this.#path;
  }

  async list(): Promise<readonly Account[]> {
    return (await this.#read()).accounts;
  }

  async get(username: string): Promise<Account | undefined> {
    const name = username.toLowerCase();
    return (await this.#read()).accounts.find((a) => a.username === name);
  }

  async add(account: Omit<Account, 'createdAt' | 'passwordChangedAt'>): Promise<Account> {
    const now = new Date().toISOString();
    const created: Account = {
      ...account,
      username: normalizeUsername(account.username),
      addresses: account.addresses.map(normalizeAddress),
      createdAt: now,
      passwordChangedAt: now,
    };
    if (!isRole(created.role)) throw new ParapetError('ERR_UI_ACCOUNT_INVALID', 'unknown role');
    await this.#mutate((data) => {
      if (data.accounts.some((a) => a.username === created.username)) {
        throw new ParapetError(
          'ERR_UI_ACCOUNT_INVALID',
          `user '${created.username}' exists already`,
        );
      }
      return { ...data, accounts: [...data.accounts, created] };
    });
    return created;
  }

  /** Applies `change` to one account; throws when it does not exist. */
  async update(username: string, change: (a: Account) => Account): Promise<Account> {
    const name = username.toLowerCase();
    let updated: Account | undefined;
    await this.#mutate((data) => {
      const accounts = data.accounts.map((a) => {
        if (a.username !== name) return a;
        updated = change(a);
        return updated;
      });
      if (updated === undefined) {
        throw new ParapetError('ERR_UI_NOT_FOUND', `no user '${username.slice(0, 80)}'`);
      }
      return { ...data, accounts };
    });
    if (updated === undefined) throw new ParapetError('ERR_UI_NOT_FOUND', `no user '${username}'`);
    return updated;
  }

  /** Removes an account and its API tokens; false when there was none. */
  async remove(username: string): Promise<boolean> {
    const name = username.toLowerCase();
    let removed = false;
    await this.#mutate((data) => {
      removed = data.accounts.some((a) => a.username === name);
      return {
        ...data,
        accounts: data.accounts.filter((a) => a.username !== name),
        tokens: data.tokens.filter((t) => t.owner !== name),
      };
    });
    return removed;
  }

  async listTokens(owner?: string): Promise<readonly ApiToken[]> {
    const tokens = (await this.#read()).tokens;
    return owner === undefined ? tokens : tokens.filter((t) => t.owner === owner);
  }

  /** Creates a token; the returned `secret` (`ppt_<id>_<random>`) is never stored. */
  async createToken(
    owner: string,
    name: string,
    scope: TokenScope,
    expiresAt: Date | null,
  ): Promise<{ token: ApiToken; secret: string }> {
    const id = randomBytes(6).toString('hex');
    const secret = `ppt_${id}_${randomBytes(24).toString('base64url')}`;
    const token: ApiToken = {
      id,
      name: name.slice(0, 100),
      owner: owner.toLowerCase(),
      scope,
      hash: tokenHash(secret),
      createdAt: new Date().toISOString(),
      expiresAt: expiresAt === null ? null : expiresAt.toISOString(),
    };
    await this.#mutate((data) => {
      if (!data.accounts.some((a) => a.username === token.owner)) {
        throw new ParapetError('ERR_UI_NOT_FOUND', `no user '${owner.slice(0, 80)}'`);
      }
      return { ...data, tokens: [...data.tokens, token] };
    });
    return { token, secret };
  }

  async revokeToken(id: string): Promise<boolean> {
    let found = false;
    await this.#mutate((data) => {
      found = data.tokens.some((t) => t.id === id);
      return { ...data, tokens: data.tokens.filter((t) => t.id !== id) };
    });
    return found;
  }

  /** The token and its owner for a presented secret, or undefined (unknown, expired, disabled). */
  async resolveToken(secret: string): Promise<{ token: ApiToken; account: Account } | undefined> {
    const m = /^ppt_([0-9a-f]{12})_[A-Za-z0-9_-]{20,64}$/.exec(secret);
    if (m === null) return undefined;
    const data = await this.#read();
    const token = data.tokens.find((t) => t.id === m[1]);
    if (token === undefined) return undefined;
    const a = Buffer.from(token.hash, 'hex');
    const b = Buffer.from(tokenHash(secret), 'hex');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
    if (token.expiresAt !== null && Date.parse(token.expiresAt) <= Date.now()) return undefined;
    const account = data.accounts.find((x) => x.username === token.owner);
    if (account === undefined || account.disabled) return undefined;
    return { token, account };
  }

  async #read(): Promise<UsersFile> {
    let st;
    try {
      st = await stat(this.#path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return { version: 1, accounts: [], tokens: [] };
      }
      throw err;
    }
    if (this.#cache?.mtimeMs === st.mtimeMs && this.#cache.size === st.size) {
      return this.#cache.data;
    }
    let data: UsersFile;
    try {
      const parsed = JSON.parse(await readFile(this.#path, 'utf8')) as Partial<UsersFile>;
      data = {
        version: 1,
        accounts: Array.isArray(parsed.accounts)
          ? parsed.accounts.filter((a) => isRole(a.role))
          : [],
        tokens: Array.isArray(parsed.tokens) ? parsed.tokens : [],
      };
    } catch (err) {
      throw new ParapetError('ERR_UI_ACCOUNT_INVALID', `${this.#path}: ${String(err)}`, {
        cause: err,
      });
    }
    this.#cache = { mtimeMs: st.mtimeMs, size: st.size, data };
    return data;
  }

  async #mutate(change: (data: UsersFile) => UsersFile): Promise<void> {
    this.#cache = null;
    const next = change(await this.#read());
    const dir = dirname(this.#path);
    await mkdir(dir, { recursive: true, mode: 0o750 });
    const tmp = `${this.#path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(next, null, 2)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    // Owned like its folder: `parapet user` run as root must leave a file the services'
    // own user (who owns $PARAPET_HOME/config) can read.
    const owner = await stat(dir);
    if (process.getuid?.() === 0 && owner.uid !== 0) await chown(tmp, owner.uid, owner.gid);
    await rename(tmp, this.#path);
    this.#cache = null;
  }
}

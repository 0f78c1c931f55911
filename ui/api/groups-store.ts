/**
 * Groups for the Groups Web Interface, in `$PARAPET_HOME/config/groups.json`: the global
 * administrator makes a group of domains and/or addresses and delegates it to group
 * administrators (account names) with permissions. A group administrator's scope is the
 * union of the domains and addresses of the groups that name them, limited per permission.
 */
import type { NodeConfig } from '../../appliance/index.js';
import { JsonConfigFile } from './json-config-file.js';

export const GROUP_PERMISSIONS = ['quarantine', 'reports', 'lists', 'policySettings'] as const;
export type GroupPermission = (typeof GROUP_PERMISSIONS)[number];

export interface Group {
  readonly name: string;
  /** Lower-case domains; a recipient in one (exactly, not its subdomains) is in the group. */
  readonly domains: readonly string[];
  /** Lower-case addresses in the group whatever their domain. */
  readonly addresses: readonly string[];
  /** User names of the group's administrators (role groupadmin). */
  readonly admins: readonly string[];
  readonly permissions: Readonly<Record<GroupPermission, boolean>>;
}

interface GroupsFile {
  readonly version: 1;
  readonly groups: readonly Group[];
}

export const GROUP_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const DOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)+$/;
export const ADDRESS = /^[^\s@<>]{1,64}@[a-z0-9.-]{1,253}$/;

function checkGroup(raw: unknown): Group {
  const g = raw as Partial<Group> | null;
  if (g === null || typeof g !== 'object') throw new TypeError('a group must be an object');
  if (typeof g.name !== 'string' || !GROUP_NAME.test(g.name)) throw new TypeError('group name');
  const strings = (v: unknown, re: RegExp, what: string): string[] => {
    if (!Array.isArray(v)) throw new TypeError(`${what} of ${String(g.name)}`);
    return v.map((x) => {
      if (typeof x !== 'string' || !re.test(x.toLowerCase())) {
        throw new TypeError(`${what} of ${String(g.name)}: ${String(x).slice(0, 80)}`);
      }
      return x.toLowerCase();
    });
  };
  const perms = (g.permissions ?? {}) as Partial<Record<GroupPermission, unknown>>;
  return {
    name: g.name,
    domains: strings(g.domains ?? [], DOMAIN, 'domains'),
    addresses: strings(g.addresses ?? [], ADDRESS, 'addresses'),
    admins: strings(g.admins ?? [], /^[a-z0-9][a-z0-9._@+-]{0,127}$/, 'admins'),
    permissions: Object.fromEntries(GROUP_PERMISSIONS.map((p) => [p, perms[p] === true])) as Record<
      GroupPermission,
      boolean
    >,
  };
}

function checkFile(raw: unknown): GroupsFile {
  const r = raw as { groups?: unknown } | null;
  if (r === null || typeof r !== 'object' || !Array.isArray(r.groups)) {
    throw new TypeError('groups: { "version": 1, "groups": [...] }');
  }
  return { version: 1, groups: r.groups.map(checkGroup) };
}

/** Whether a recipient address lies in a group (its domain or the address itself). */
export function groupCovers(group: Group, address: string): boolean {
  const a = address.toLowerCase();
  if (group.addresses.includes(a)) return true;
  const at = a.lastIndexOf('@');
  return at > 0 && group.domains.includes(a.slice(at + 1));
}

/** The quarantine search terms of groups: `@domain` and whole addresses. */
export function groupTerms(groups: readonly Group[]): string[] {
  const terms = new Set<string>();
  for (const g of groups) {
    for (const d of g.domains) terms.add(`@${d}`);
    for (const a of g.addresses) terms.add(a);
  }
  return [...terms].sort();
}

export class GroupsStore {
  readonly #file: JsonConfigFile<GroupsFile>;

  constructor(configDir: string) {
    this.#file = new JsonConfigFile(
      configDir,
      'groups.json',
      () => ({ version: 1, groups: [] }),
      checkFile,
    );
  }

  async list(): Promise<readonly Group[]> {
    return (await this.#file.read()).groups;
  }

  async get(name: string): Promise<Group | undefined> {
    return (await this.list()).find((g) => g.name === name);
  }

  /** The groups a user name administers. */
  async administeredBy(username: string): Promise<Group[]> {
    return (await this.list()).filter((g) => g.admins.includes(username));
  }

  /** Adds or replaces a group (validated); returns it. */
  async put(raw: unknown): Promise<Group> {
    const group = checkGroup(raw);
    await this.#file.update((f) => ({
      version: 1,
      groups: [...f.groups.filter((g) => g.name !== group.name), group].sort((a, b) =>
        a.name.localeCompare(b.name),
      ),
    }));
    return group;
  }

  /** Removes a group; false when there was none. */
  async remove(name: string): Promise<boolean> {
    let found = false;
    await this.#file.update((f) => {
      found = f.groups.some((g) => g.name === name);
      return { version: 1, groups: f.groups.filter((g) => g.name !== name) };
    });
    return found;
  }
}

const stores = new Map<string, GroupsStore>();

export function groupsStore(config: NodeConfig): GroupsStore {
  let s = stores.get(config.paths.config);
  if (s === undefined) {
    s = new GroupsStore(config.paths.config);
    stores.set(config.paths.config, s);
  }
  return s;
}

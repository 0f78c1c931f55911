/**
 * What the End User and Groups Web Interfaces keep besides the quarantine itself, each in a
 * JSON file under `$PARAPET_HOME/config/`:
 * - `portal.json`: what end users may do (set by the administrator, checked on every action);
 * - `digest-preferences.json`: each address's digest choice (read by the digest job);
 * - `release-requests.json`: release requests of end users who may only ask, which an
 *   administrator or the group administrator of the address approves or refuses.
 */
import {
  DEFAULT_DIGEST_PREFERENCE,
  DIGEST_PREFERENCES_FILE,
  parseDigestPreferences,
  type DigestPreference,
  type DigestPreferencesFile,
  type NodeConfig,
} from '../../appliance/index.js';
import { JsonConfigFile } from './json-config-file.js';

/** How an end user gets a message out of the quarantine. */
export type ReleaseMode = 'release' | 'request' | 'none';

export interface PortalSettings {
  /** 'release': at once; 'request': asks, a (group) administrator approves; 'none': neither. */
  readonly release: ReleaseMode;
  readonly view: boolean;
  readonly delete: boolean;
  /** Approve and always allow the sender (needs release 'release'). */
  readonly allowSender: boolean;
  /** Delete and block the sender (needs delete). */
  readonly blockSender: boolean;
  readonly reportSpam: boolean;
  readonly reportNotSpam: boolean;
  /** Edit their own approved and blocked senders lists. */
  readonly senderLists: boolean;
  readonly digestPreferences: boolean;
}

export const PORTAL_SETTING_KEYS = [
  'view',
  'delete',
  'allowSender',
  'blockSender',
  'reportSpam',
  'reportNotSpam',
  'senderLists',
  'digestPreferences',
] as const satisfies readonly (keyof PortalSettings)[];

export const DEFAULT_PORTAL_SETTINGS: PortalSettings = Object.freeze({
  release: 'release',
  view: true,
  delete: true,
  allowSender: true,
  blockSender: true,
  reportSpam: true,
  reportNotSpam: true,
  senderLists: true,
  digestPreferences: true,
});

const RELEASE_MODES: readonly ReleaseMode[] = ['release', 'request', 'none'];

function checkSettings(raw: unknown): PortalSettings {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new TypeError('portal settings must be an object');
  }
  const r = raw as Record<string, unknown>;
  const out: Record<string, unknown> = { ...DEFAULT_PORTAL_SETTINGS };
  if (r['release'] !== undefined) {
    if (!RELEASE_MODES.includes(r['release'] as ReleaseMode)) throw new TypeError('release');
    out['release'] = r['release'];
  }
  for (const key of PORTAL_SETTING_KEYS) {
    if (r[key] === undefined) continue;
    if (typeof r[key] !== 'boolean') throw new TypeError(`${key} must be true or false`);
    out[key] = r[key];
  }
  return out as unknown as PortalSettings;
}

export type { DigestFrequency, DigestPreference } from '../../appliance/index.js';
export { DEFAULT_DIGEST_PREFERENCE } from '../../appliance/index.js';

export interface ReleaseRequest {
  /** Quarantine id. */
  readonly id: string;
  readonly username: string;
  /** The requester's addresses among the message's recipients (the release goes to these). */
  readonly addresses: readonly string[];
  readonly subject: string | null;
  readonly from: string | null;
  readonly requestedAt: string;
  readonly state: 'pending' | 'approved' | 'refused';
  readonly decidedBy: string | null;
  readonly decidedAt: string | null;
}

interface ReleaseRequestsFile {
  readonly version: 1;
  readonly requests: readonly ReleaseRequest[];
}

/** Decided requests beyond this many are dropped, oldest first (pending ones are kept). */
const MAX_DECIDED_REQUESTS = 5000;

function checkRequests(raw: unknown): ReleaseRequestsFile {
  const r = raw as { requests?: unknown } | null;
  if (r === null || typeof r !== 'object' || !Array.isArray(r.requests)) {
    throw new TypeError('release requests: { "version": 1, "requests": [...] }');
  }
  return { version: 1, requests: r.requests as ReleaseRequest[] };
}

export class PortalStore {
  readonly #settings: JsonConfigFile<PortalSettings>;
  readonly #digest: JsonConfigFile<DigestPreferencesFile>;
  readonly #requests: JsonConfigFile<ReleaseRequestsFile>;

  constructor(configDir: string) {
    this.#settings = new JsonConfigFile(
      configDir,
      'portal.json',
      () => DEFAULT_PORTAL_SETTINGS,
      checkSettings,
    );
    this.#digest = new JsonConfigFile(
      configDir,
      DIGEST_PREFERENCES_FILE,
      () => ({ version: 1, addresses: {} }),
      parseDigestPreferences,
    );
    this.#requests = new JsonConfigFile(
      configDir,
      'release-requests.json',
      () => ({ version: 1, requests: [] }),
      checkRequests,
    );
  }

  settings(): Promise<PortalSettings> {
    return this.#settings.read();
  }

  setSettings(change: Partial<PortalSettings>): Promise<PortalSettings> {
    return this.#settings.update((s) => checkSettings({ ...s, ...change }));
  }

  async digestPreference(address: string): Promise<DigestPreference> {
    const file = await this.#digest.read();
    return file.addresses[address.toLowerCase()] ?? DEFAULT_DIGEST_PREFERENCE;
  }

  /** Every stored preference (the digest job reads these). */
  async digestPreferences(): Promise<Readonly<Record<string, DigestPreference>>> {
    return (await this.#digest.read()).addresses;
  }

  async setDigestPreference(
    addresses: readonly string[],
    preference: DigestPreference,
  ): Promise<void> {
    await this.#digest.update((f) => {
      const next = { ...f.addresses };
      for (const a of addresses) next[a.toLowerCase()] = preference;
      return { version: 1, addresses: next };
    });
  }

  async requests(): Promise<readonly ReleaseRequest[]> {
    return (await this.#requests.read()).requests;
  }

  /** Adds a pending request (or returns the pending one for the same message and user). */
  async addRequest(
    request: Omit<ReleaseRequest, 'requestedAt' | 'state' | 'decidedBy' | 'decidedAt'>,
  ): Promise<ReleaseRequest> {
    let made: ReleaseRequest | undefined;
    await this.#requests.update((f) => {
      const same = f.requests.find(
        (r) => r.id === request.id && r.username === request.username && r.state === 'pending',
      );
      if (same !== undefined) {
        made = same;
        return f;
      }
      made = {
        ...request,
        requestedAt: new Date().toISOString(),
        state: 'pending',
        decidedBy: null,
        decidedAt: null,
      };
      return { version: 1, requests: [...f.requests, made] };
    });
    if (made === undefined) throw new TypeError('unreachable');
    return made;
  }

  /** Decides the pending requests for a message (those of `username` only when given). */
  async decide(
    id: string,
    state: 'approved' | 'refused',
    by: string,
    username?: string,
  ): Promise<ReleaseRequest[]> {
    const decided: ReleaseRequest[] = [];
    const at = new Date().toISOString();
    await this.#requests.update((f) => {
      let requests = f.requests.map((r) => {
        if (r.id !== id || r.state !== 'pending') return r;
        if (username !== undefined && r.username !== username) return r;
        const d: ReleaseRequest = { ...r, state, decidedBy: by, decidedAt: at };
        decided.push(d);
        return d;
      });
      const old = requests.filter((r) => r.state !== 'pending');
      if (old.length > MAX_DECIDED_REQUESTS) {
        const drop = new Set(old.slice(0, old.length - MAX_DECIDED_REQUESTS));
        requests = requests.filter((r) => !drop.has(r));
      }
      return { version: 1, requests };
    });
    return decided;
  }
}

const stores = new Map<string, PortalStore>();

/** One store per node home (so the in-process locks are shared by both modules). */
export function portalStore(config: NodeConfig): PortalStore {
  let s = stores.get(config.paths.config);
  if (s === undefined) {
    s = new PortalStore(config.paths.config);
    stores.set(config.paths.config, s);
  }
  return s;
}

/**
 * End users' quarantine digest choices, `$PARAPET_HOME/config/digest-preferences.json`:
 * `{ "version": 1, "addresses": { "<lower-case address>": { "enabled", "frequency" } } }`.
 * The End User Web Interface writes the file (ui/api/portal-store.ts); the digest job reads
 * it here. An address not in the file gets the default: on, daily.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ParapetError } from '../../filter/index.js';

export type DigestFrequency = 'daily' | 'weekly';

export interface DigestPreference {
  readonly enabled: boolean;
  readonly frequency: DigestFrequency;
}

export interface DigestPreferencesFile {
  readonly version: 1;
  /** By lower-case address; an address not here gets DEFAULT_DIGEST_PREFERENCE. */
  readonly addresses: Readonly<Record<string, DigestPreference>>;
}

export const DEFAULT_DIGEST_PREFERENCE: DigestPreference = Object.freeze({
  enabled: true,
  frequency: 'daily',
});

export const DIGEST_PREFERENCES_FILE = 'digest-preferences.json';

/** Checks parsed JSON; throws a TypeError naming the problem. */
export function parseDigestPreferences(raw: unknown): DigestPreferencesFile {
  const r = raw as { addresses?: unknown } | null;
  if (
    r === null ||
    typeof r !== 'object' ||
    typeof r.addresses !== 'object' ||
    r.addresses === null ||
    Array.isArray(r.addresses)
  ) {
    throw new TypeError('digest preferences: { "version": 1, "addresses": {…} }');
  }
  const addresses: Record<string, DigestPreference> = {};
  for (const [address, p] of Object.entries(r.addresses as Record<string, unknown>)) {
    const v = p as Partial<DigestPreference> | null;
    if (
      v === null ||
      typeof v !== 'object' ||
      typeof v.enabled !== 'boolean' ||
      (v.frequency !== 'daily' && v.frequency !== 'weekly')
    ) {
      throw new TypeError(`digest preference of ${address}`);
    }
    addresses[address] = { enabled: v.enabled, frequency: v.frequency };
  }
  return { version: 1, addresses };
}

/**
 * The stored preferences of `configDir` (none when the file is absent). A file that does not
 * parse is ERR_CONFIG_INVALID: the job must not mail users who turned digests off.
 */
export async function readDigestPreferences(
  configDir: string,
): Promise<Readonly<Record<string, DigestPreference>>> {
  const path = join(configDir, DIGEST_PREFERENCES_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ParapetError('ERR_CONFIG_INVALID', `cannot read ${path}`, { cause: err });
  }
  try {
    return parseDigestPreferences(JSON.parse(text)).addresses;
  } catch (err) {
    throw new ParapetError('ERR_CONFIG_INVALID', `${path}: ${String(err)}`, { cause: err });
  }
}

/** The preference of one address among `stored`. */
export function digestPreferenceOf(
  stored: Readonly<Record<string, DigestPreference>>,
  address: string,
): DigestPreference {
  return stored[address.toLowerCase()] ?? DEFAULT_DIGEST_PREFERENCE;
}

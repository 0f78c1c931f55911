/**
 * What the quarantine digest has listed, per address (`$PARAPET_HOME/state/quarantine-digest.json`):
 * the ids listed (with their quarantine time, to prune) and when the last digest went out
 * (weekly digests). Written whole through a synced temporary file and rename, so a crash
 * leaves the old or the new state, never half of one.
 */
import { mkdir, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ParapetError, fsyncDirectory, writeFileSynced } from '../../filter/index.js';

export interface DigestAddressState {
  /** When the last digest for this address was queued (ISO), null before the first. */
  readonly lastSentAt: string | null;
  /** Quarantine id → quarantine time (ISO) of every message listed so far. */
  readonly listed: Readonly<Record<string, string>>;
}

export interface DigestState {
  readonly version: 1;
  readonly addresses: Readonly<Record<string, DigestAddressState>>;
}

export const digestStatePath = (home: string): string =>
  join(home, 'state', 'quarantine-digest.json');

const EMPTY: DigestState = { version: 1, addresses: {} };

function check(raw: unknown): DigestState {
  const r = raw as { addresses?: unknown } | null;
  if (
    r === null ||
    typeof r !== 'object' ||
    typeof r.addresses !== 'object' ||
    r.addresses === null
  ) {
    throw new TypeError('expected { "version": 1, "addresses": {…} }');
  }
  const addresses: Record<string, DigestAddressState> = {};
  for (const [address, value] of Object.entries(r.addresses as Record<string, unknown>)) {
    const v = value as { lastSentAt?: unknown; listed?: unknown } | null;
    if (v === null || typeof v !== 'object') throw new TypeError(`state of ${address}`);
    const listed: Record<string, string> = {};
    if (typeof v.listed === 'object' && v.listed !== null) {
      for (const [id, at] of Object.entries(v.listed as Record<string, unknown>)) {
        if (typeof at === 'string') listed[id] = at;
      }
    }
    addresses[address] = {
      lastSentAt: typeof v.lastSentAt === 'string' ? v.lastSentAt : null,
      listed,
    };
  }
  return { version: 1, addresses };
}

/** The state (empty when absent). A corrupt file is ERR_CONFIG_INVALID, not a fresh start. */
export async function readDigestState(home: string): Promise<DigestState> {
  const path = digestStatePath(home);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY;
    throw new ParapetError('ERR_CONFIG_INVALID', `cannot read ${path}`, { cause: err });
  }
  try {
    return check(JSON.parse(text));
  } catch (err) {
    // Starting over would send every user every message again.
    throw new ParapetError('ERR_CONFIG_INVALID', `${path}: ${String(err)}`, { cause: err });
  }
}

export async function writeDigestState(home: string, state: DigestState): Promise<void> {
  const path = digestStatePath(home);
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  const tmp = `${path}.${String(process.pid)}.tmp`;
  await writeFileSynced(tmp, `${JSON.stringify(state)}\n`, 0o640);
  await rename(tmp, path);
  await fsyncDirectory(dirname(path));
}

/** Drops listed ids quarantined before `before` (they have expired from the quarantine). */
export function pruneDigestState(state: DigestState, before: Date): DigestState {
  const cut = before.getTime();
  const addresses: Record<string, DigestAddressState> = {};
  for (const [address, s] of Object.entries(state.addresses)) {
    const listed = Object.fromEntries(
      Object.entries(s.listed).filter(([, at]) => Date.parse(at) >= cut),
    );
    addresses[address] = { lastSentAt: s.lastSentAt, listed };
  }
  return { version: 1, addresses };
}

/**
 * Each end user's approved and blocked senders, kept where the policy service reads its data:
 * two policy maps in `$PARAPET_HOME/config/lists/`, `user-allow-senders` and
 * `user-block-senders`, keyed by the recipient address, each value the space-separated sender
 * entries (addresses, domains, `*.domain`, as in a policy list). One map per kind keeps the
 * node's list directory small however many users there are.
 *
 * The default policy does not consult these yet: it needs a per-recipient test, e.g.
 * `listed :sender :recipientmap "user-block-senders"` = the sender is in the entry list that
 * the map holds for a recipient of the message (see the report of issue 6).
 */
import {
  policyListsDir,
  readPolicyList,
  writePolicyList,
  type NodeConfig,
} from '../../appliance/index.js';
import { ParapetError, policy } from '../../filter/index.js';

export type SenderListKind = 'allow' | 'block';
export const USER_SENDER_MAPS: Readonly<Record<SenderListKind, string>> = {
  allow: 'user-allow-senders',
  block: 'user-block-senders',
};
/** Entries one address may keep per list (a map value stays well under a megabyte). */
export const MAX_USER_LIST_ENTRIES = 1000;

let lock: Promise<unknown> = Promise.resolve();

async function readMap(config: NodeConfig, kind: SenderListKind): Promise<Record<string, string>> {
  const stored = await readPolicyList(policyListsDir(config.home), USER_SENDER_MAPS[kind]);
  if (stored === null) return {};
  if (stored.kind !== 'map') {
    throw new ParapetError('ERR_UI_CONFLICT', `${USER_SENDER_MAPS[kind]} is a list, not a map`);
  }
  return { ...stored.data.entries };
}

/** A sender entry as stored (lower case), or ERR_UI_BAD_REQUEST. */
export function senderEntry(text: string): string {
  const c = policy.classifyListEntry(text);
  if (c === null || c.kind === 'cidr') {
    throw new ParapetError(
      'ERR_UI_BAD_REQUEST',
      `'${text.slice(0, 80)}' is not an address, a domain or *.domain`,
    );
  }
  return c.kind === 'subdomains' ? `*.${c.key}` : c.key;
}

/** The entries of one address's list. */
export async function userSenders(
  config: NodeConfig,
  kind: SenderListKind,
  address: string,
): Promise<string[]> {
  const value = (await readMap(config, kind))[address.toLowerCase()] ?? '';
  return value.split(/\s+/).filter((e) => e !== '');
}

/** Changes one address's list (adds and removes entries); returns the new entries. */
export function changeUserSenders(
  config: NodeConfig,
  kind: SenderListKind,
  address: string,
  change: { add?: readonly string[]; remove?: readonly string[] },
): Promise<string[]> {
  const run = lock.then(async () => {
    const key = address.toLowerCase();
    const map = await readMap(config, kind);
    const add = (change.add ?? []).map(senderEntry);
    const remove = new Set((change.remove ?? []).map((e) => e.trim().toLowerCase()));
    const current = (map[key] ?? '').split(/\s+/).filter((e) => e !== '' && !remove.has(e));
    const next = [...new Set([...current, ...add])];
    if (next.length > MAX_USER_LIST_ENTRIES) {
      throw new ParapetError(
        'ERR_UI_CONFLICT',
        `a list holds at most ${MAX_USER_LIST_ENTRIES} senders`,
      );
    }
    const entries = Object.fromEntries(Object.entries(map).filter(([k]) => k !== key));
    if (next.length > 0) entries[key] = next.join(' ');
    await writePolicyList(policyListsDir(config.home), {
      kind: 'map',
      data: {
        name: USER_SENDER_MAPS[kind],
        description: `per-recipient ${kind === 'allow' ? 'approved' : 'blocked'} senders (28443)`,
        entries,
      },
    });
    return next;
  });
  lock = run.catch(() => undefined);
  return run;
}

/** Allowing a sender takes it off the address's blocked list, and the other way round. */
export async function changeSenderLists(
  config: NodeConfig,
  kind: SenderListKind,
  address: string,
  change: { add?: readonly string[]; remove?: readonly string[] },
): Promise<string[]> {
  const entries = await changeUserSenders(config, kind, address, change);
  if (change.add !== undefined && change.add.length > 0) {
    await changeUserSenders(config, kind === 'allow' ? 'block' : 'allow', address, {
      remove: change.add.map((e) => senderEntry(e)),
    });
  }
  return entries;
}

/**
 * The node's named policy lists and maps, stored as JSON, one file per name, under
 * `$PARAPET_HOME/config/lists/NAME.json` (`{"name","entries":[…]}` for a list,
 * `{"name","entries":{…}}` for a map). Writes are atomic (temp file + rename), so the policy
 * service never reads half a file. Used by `parapet list`, the policy service and qman.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ParapetError, policy } from '../../filter/index.js';
import { resolveParapetHome } from './node-config.js';

/** A stored list or map. */
export type StoredPolicyList =
  | { readonly kind: 'list'; readonly data: policy.PolicyListData }
  | { readonly kind: 'map'; readonly data: policy.PolicyMapData };

/** The directory holding the lists of the node at `home`. */
export function policyListsDir(home: string = resolveParapetHome()): string {
  return join(home, 'config', 'lists');
}

/** Throws ERR_LIST_INVALID for a name that cannot be a list. */
export function checkName(name: string): void {
  if (!policy.isValidPolicyListName(name)) {
    throw new ParapetError(
      'ERR_LIST_INVALID',
      `invalid list name '${name}' (1-64 of A-Z a-z 0-9 . _ -)`,
    );
  }
}

/** Reads one stored list or map; null when it does not exist. */
export async function readPolicyList(dir: string, name: string): Promise<StoredPolicyList | null> {
  checkName(name);
  const file = join(dir, `${name}.json`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ParapetError('ERR_INPUT_UNREADABLE', `${file}: ${String(err)}`, { cause: err });
  }
  try {
    return policy.parsePolicyListJson(text);
  } catch (err) {
    throw new ParapetError('ERR_LIST_INVALID', `${file}: ${String(err)}`, { cause: err });
  }
}

/** Writes a list or map atomically (temp file in the same directory, then rename). */
export async function writePolicyList(dir: string, stored: StoredPolicyList): Promise<void> {
  checkName(stored.data.name);
  await mkdir(dir, { recursive: true, mode: 0o750 });
  const file = join(dir, `${stored.data.name}.json`);
  const temp = join(dir, `.${stored.data.name}.${randomUUID()}.tmp`);
  try {
    await writeFile(temp, `${JSON.stringify(stored.data, null, 2)}\n`, { flag: 'wx' });
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw new ParapetError('ERR_INPUT_UNREADABLE', `${file}: cannot write: ${String(err)}`, {
      cause: err,
    });
  }
}

/** Every stored list and map, compiled for the policy host (a bad file is an error). */
export async function loadPolicyData(dir: string = policyListsDir()): Promise<policy.PolicyData> {
  const lists: policy.PolicyListData[] = [];
  const maps: policy.PolicyMapData[] = [];
  for (const name of await listNames(dir)) {
    const stored = await readPolicyList(dir, name);
    if (stored?.kind === 'list') lists.push(stored.data);
    else if (stored?.kind === 'map') maps.push(stored.data);
  }
  return policy.compilePolicyData(lists, maps);
}

/** The list and map names stored in `dir`. */
export async function listNames(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  try {
    return (await readdir(dir))
      .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
      .map((f) => f.slice(0, -'.json'.length))
      .filter((n) => policy.isValidPolicyListName(n))
      .sort();
  } catch (err) {
    throw new ParapetError('ERR_INPUT_UNREADABLE', `${dir}: ${String(err)}`, { cause: err });
  }
}

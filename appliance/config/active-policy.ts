/**
 * The node's active Sieve policy: `$PARAPET_HOME/config/policy.sieve` when an administrator
 * wrote one, else the default policy that ships; lists and maps from
 * `$PARAPET_HOME/config/lists/`. Compiled once per version (a change of either), never per
 * message. A reload that does not compile keeps the running policy (mail keeps its rules);
 * at start-up an invalid policy is an error, not a silent fallback.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ParapetError, policy, type PolicyHook } from '../../filter/index.js';
import { loadPolicyData } from '../config/policy-lists.js';
import type { NodeConfig } from './node-config.js';

export interface ActivePolicy {
  readonly hook: PolicyHook;
  /** "policy.sieve" or "default.sieve", for the log. */
  readonly source: string;
  /** Change stamp of the script and lists it was built from. */
  readonly stamp: string;
}

export function policyScriptPath(config: NodeConfig): string {
  return join(config.paths.config, 'policy.sieve');
}

export function policyListsPath(config: NodeConfig): string {
  return join(config.paths.config, 'lists');
}

/** A cheap stamp that changes whenever the script or any list file changes. */
export async function policyStamp(config: NodeConfig): Promise<string> {
  const parts: string[] = [];
  const add = async (path: string): Promise<void> => {
    try {
      const s = await stat(path);
      parts.push(`${path}:${String(s.mtimeMs)}:${String(s.size)}`);
    } catch {
      parts.push(`${path}:-`);
    }
  };
  await add(policyScriptPath(config));
  const lists = policyListsPath(config);
  if (existsSync(lists)) {
    for (const name of (await readdir(lists)).sort()) await add(join(lists, name));
  }
  return parts.join('|');
}

/** Compiles the active policy; throws ERR_POLICY_INVALID with FILE:LINE:COLUMN errors. */
export async function loadActivePolicy(
  config: NodeConfig,
  options: Omit<policy.SievePolicyOptions, 'script' | 'scriptName' | 'data'> = {},
): Promise<ActivePolicy> {
  const stamp = await policyStamp(config);
  const path = policyScriptPath(config);
  const own = existsSync(path);
  const text = own ? await readFile(path, 'utf8') : policy.DEFAULT_POLICY_TEXT;
  const source = own ? 'policy.sieve' : 'default.sieve';
  const compiled = policy.compilePolicy(text);
  if (!compiled.ok) {
    const where = own ? path : 'default.sieve';
    const lines = compiled.errors.map(
      (e) => `${where}:${String(e.line)}:${String(e.column)}: ${e.message}`,
    );
    throw new ParapetError('ERR_POLICY_INVALID', lines.join('\n'));
  }
  const data = await loadPolicyData(policyListsPath(config));
  const hook = policy.createSievePolicy({
    ...options,
    script: compiled.script,
    scriptName: source,
    data,
  });
  return { hook, source, stamp };
}

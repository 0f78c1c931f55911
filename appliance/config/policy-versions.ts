/**
 * Versions of the node's Sieve policy, as the Manager saves them (issue 6):
 * `$PARAPET_HOME/config/policy-versions/NNNN.sieve` holds the text of version N and
 * `NNNN.json` its metadata (version, author, time, comment, size, SHA-256). Saving a version
 * validates the script, records it, then replaces `config/policy.sieve` atomically (temp file,
 * fsync, rename, fsync of the directory); the policy service notices the new stamp within its
 * reload period (active-policy.ts). A version number is claimed by creating its `.sieve` file
 * exclusively, so two writers never share a number; a version whose metadata is missing (a
 * crash between the two writes) is not listed.
 *
 * Rollback is a new version holding an old text: history only grows.
 *
 * Also here: the recent messages the node still holds (its quarantine file store), for
 * replaying a draft policy against them.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  fsyncDirectory,
  ParapetError,
  policy,
  replaceFileSynced,
  type QuarantineMetadata,
} from '../../filter/index.js';
import { QuarantineStore } from '../quarantine/quarantine-store.js';
import { policyScriptPath } from './active-policy.js';
import type { NodeConfig } from './node-config.js';

/** Metadata of one saved policy version. */
export interface PolicyVersionMeta {
  readonly version: number;
  /** The account that saved it ("system" for a baseline recorded automatically). */
  readonly author: string;
  /** ISO 8601 time of the save. */
  readonly time: string;
  readonly comment: string;
  readonly sizeBytes: number;
  /** SHA-256 of the script text (UTF-8), hex. */
  readonly sha256: string;
  /** The version this one restored, or null. */
  readonly rollbackOf: number | null;
}

/** The text the policy service runs now, and which saved version it is. */
export interface ActivePolicyText {
  readonly script: string;
  /** "policy.sieve" when an administrator wrote one, else "default.sieve" (the shipped policy). */
  readonly source: 'policy.sieve' | 'default.sieve';
  /** The newest saved version with this exact text, or null (never saved, or edited by hand). */
  readonly version: number | null;
  /** The newest saved version, or null when none was saved yet. */
  readonly latest: number | null;
  readonly sha256: string;
}

/** Numbers tried past the highest one seen when other writers race for the next. */
const MAX_CLAIM_ATTEMPTS = 20;
const FILE = /^(\d{4,9})\.json$/;

export const policyVersionsDir = (config: NodeConfig): string =>
  join(config.paths.config, 'policy-versions');

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const fileBase = (dir: string, version: number): string =>
  join(dir, String(version).padStart(4, '0'));

/** The active policy text (the shipped default when no policy.sieve exists). */
export async function readActivePolicyText(config: NodeConfig): Promise<ActivePolicyText> {
  const path = policyScriptPath(config);
  let script: string = policy.DEFAULT_POLICY_TEXT;
  let source: ActivePolicyText['source'] = 'default.sieve';
  if (existsSync(path)) {
    try {
      script = await readFile(path, 'utf8');
      source = 'policy.sieve';
    } catch (err) {
      throw new ParapetError('ERR_INPUT_UNREADABLE', `${path}: ${String(err)}`, { cause: err });
    }
  }
  const hash = sha256(script);
  const versions = await listPolicyVersions(config);
  return {
    script,
    source,
    version: versions.find((v) => v.sha256 === hash)?.version ?? null,
    latest: versions[0]?.version ?? null,
    sha256: hash,
  };
}

function parseMeta(text: string, version: number): PolicyVersionMeta | null {
  try {
    const o = JSON.parse(text) as Partial<PolicyVersionMeta>;
    if (o.version !== version || typeof o.sha256 !== 'string') return null;
    return {
      version,
      author: typeof o.author === 'string' ? o.author : '',
      time: typeof o.time === 'string' ? o.time : '',
      comment: typeof o.comment === 'string' ? o.comment : '',
      sizeBytes: typeof o.sizeBytes === 'number' ? o.sizeBytes : 0,
      sha256: o.sha256,
      rollbackOf: typeof o.rollbackOf === 'number' ? o.rollbackOf : null,
    };
  } catch {
    return null;
  }
}

/** Every saved version, newest first (unreadable metadata files are skipped). */
export async function listPolicyVersions(config: NodeConfig): Promise<PolicyVersionMeta[]> {
  const dir = policyVersionsDir(config);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ParapetError('ERR_INPUT_UNREADABLE', `${dir}: ${String(err)}`, { cause: err });
  }
  const out: PolicyVersionMeta[] = [];
  for (const name of names) {
    const m = FILE.exec(name);
    if (m === null) continue;
    const version = Number(m[1]);
    const meta = parseMeta(await readFile(join(dir, name), 'utf8').catch(() => ''), version);
    if (meta !== null) out.push(meta);
  }
  return out.sort((a, b) => b.version - a.version);
}

/** One saved version with its text, or null when there is no such version. */
export async function readPolicyVersion(
  config: NodeConfig,
  version: number,
): Promise<{ meta: PolicyVersionMeta; script: string } | null> {
  if (!Number.isSafeInteger(version) || version < 1) return null;
  const base = fileBase(policyVersionsDir(config), version);
  try {
    const meta = parseMeta(await readFile(`${base}.json`, 'utf8'), version);
    if (meta === null) return null;
    return { meta, script: await readFile(`${base}.sieve`, 'utf8') };
  } catch {
    return null;
  }
}

/** Claims the next free version number by creating its script file exclusively. */
async function claimVersion(dir: string, after: number, script: string): Promise<number> {
  for (let i = 1; i <= MAX_CLAIM_ATTEMPTS; i++) {
    const version = after + i;
    let handle;
    try {
      handle = await open(`${fileBase(dir, version)}.sieve`, 'wx', 0o640);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
    try {
      await handle.writeFile(script, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    return version;
  }
  throw new ParapetError('ERR_INPUT_UNREADABLE', `${dir}: no free version number`);
}

async function recordVersion(
  config: NodeConfig,
  script: string,
  fields: Pick<PolicyVersionMeta, 'author' | 'comment' | 'rollbackOf'>,
): Promise<PolicyVersionMeta> {
  const dir = policyVersionsDir(config);
  await mkdir(dir, { recursive: true, mode: 0o750 });
  const highest = Math.max(
    0,
    ...(await readdir(dir))
      .map((n) => /^(\d{4,9})\.sieve$/.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number),
  );
  const version = await claimVersion(dir, highest, script);
  const meta: PolicyVersionMeta = {
    version,
    author: fields.author,
    time: new Date().toISOString(),
    comment: fields.comment,
    sizeBytes: Buffer.byteLength(script, 'utf8'),
    sha256: sha256(script),
    rollbackOf: fields.rollbackOf,
  };
  try {
    await replaceFileSynced(`${fileBase(dir, version)}.json`, async (tmp) => {
      await writeFile(tmp, `${JSON.stringify(meta)}\n`, { mode: 0o640 });
    });
    await fsyncDirectory(dir);
  } catch (err) {
    await rm(`${fileBase(dir, version)}.sieve`, { force: true });
    throw err;
  }
  return meta;
}

/** What {@link savePolicyVersion} did. */
export interface SavedPolicyVersion {
  readonly meta: PolicyVersionMeta;
  /** The text that was active before (for a diff in the audit log). */
  readonly previous: string;
  /** A baseline version recorded first for a text that was never saved, or null. */
  readonly baseline: PolicyVersionMeta | null;
}

/**
 * Validates `script` (ERR_POLICY_INVALID with LINE:COLUMN otherwise), records it as a new
 * version and makes it the active policy. When the active text was never saved as a version
 * (the shipped default, or policy.sieve edited by hand) it is recorded first, so that a
 * rollback can always return to it.
 */
export function savePolicyVersion(
  config: NodeConfig,
  input: {
    readonly script: string;
    readonly author: string;
    readonly comment: string;
    readonly rollbackOf?: number | null;
  },
): Promise<SavedPolicyVersion> {
  // One save at a time in this process: the baseline check and the activation belong together.
  const run = saving.then(
    () => saveNow(config, input),
    () => saveNow(config, input),
  );
  saving = run.catch(() => undefined);
  return run;
}

let saving: Promise<unknown> = Promise.resolve();

async function saveNow(
  config: NodeConfig,
  input: Parameters<typeof savePolicyVersion>[1],
): Promise<SavedPolicyVersion> {
  const compiled = policy.compilePolicy(input.script);
  if (!compiled.ok) {
    const e = compiled.errors[0];
    throw new ParapetError(
      'ERR_POLICY_INVALID',
      e === undefined ? 'invalid policy' : `${e.line}:${e.column}: ${e.message}`,
    );
  }
  const active = await readActivePolicyText(config);
  let baseline: PolicyVersionMeta | null = null;
  if (active.version === null) {
    baseline = await recordVersion(config, active.script, {
      author: 'system',
      comment:
        active.source === 'default.sieve'
          ? 'the shipped default policy, before the first saved version'
          : 'policy.sieve as found (changed outside the Manager)',
      rollbackOf: null,
    });
  }
  const meta = await recordVersion(config, input.script, {
    author: input.author,
    comment: input.comment,
    rollbackOf: input.rollbackOf ?? null,
  });
  const path = policyScriptPath(config);
  // A temp name of our own: another process (the CLI) may be replacing the file too.
  const tmp = `${path}.${randomUUID()}.tmp`;
  try {
    const handle = await open(tmp, 'wx', 0o640);
    try {
      await handle.writeFile(input.script, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    await fsyncDirectory(config.paths.config);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new ParapetError('ERR_INPUT_UNREADABLE', `${path}: cannot write: ${String(err)}`, {
      cause: err,
    });
  }
  return { meta, previous: active.script, baseline };
}

/** A message the node still holds, for replaying a policy against it. */
export interface HeldMessage {
  readonly meta: QuarantineMetadata;
  /** The stored message bytes. */
  readonly raw: Buffer;
}

/**
 * The newest messages of the node's quarantine file store, newest first, at most `limit`
 * (and at most `maxBytes` each: larger ones are skipped, not truncated).
 */
export async function* recentHeldMessages(
  config: NodeConfig,
  limit: number,
  maxBytes = 10 * 1024 * 1024,
): AsyncGenerator<HeldMessage> {
  const store = new QuarantineStore(config.paths.quarantine);
  let n = 0;
  for await (const entry of store.entries()) {
    if (n >= limit) return;
    if (entry.sizeBytes > maxBytes) continue;
    let raw: Buffer;
    try {
      raw = await readFile(entry.path);
    } catch {
      continue; // deleted or expired meanwhile
    }
    n++;
    const { status: _status, state: _state, path: _path, ...meta } = entry;
    yield { meta, raw };
  }
}

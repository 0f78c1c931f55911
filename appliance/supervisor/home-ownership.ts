/**
 * Gives `$PARAPET_HOME` to the service user when `parapet start` runs as root, without walking
 * all of it: a `chown -R` of the whole home took minutes with a large quarantine, at every
 * start that found the home owned by someone else.
 *
 * Why looking at the top is enough: what makes files foreign is Parapet having run as root
 * (before the service user existed, or while it could not read the code and the services fell
 * back to root) or an operator copying a folder in as root. Either way the folder at the top of
 * what was created is foreign too, so a folder already owned by the user is not descended into,
 * and a foreign one is handed over whole. Two folders get a closer look: `config/` (small; root
 * runs of the CLI write files into it) and `quarantine/` (one sub-folder per day, created by
 * whichever user ran the policy service that day).
 *
 * The database folders are left alone: PostgreSQL's data folder belongs to the database
 * server's user (the database service hands it over itself, appliance/db), must stay 0700 for
 * that user, and may be in use by a running server while `parapet start` runs again.
 */
import { execFile } from 'node:child_process';
import { chmod, lchown, lstat, readdir } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ParapetError } from '../../filter/index.js';
import { chownTree, type SystemUser } from '../system/service-user.js';

const run = promisify(execFile);

/** Entries of `$PARAPET_HOME` never handed over: the data folder and initdb's staging copy. */
export const HOME_ENTRIES_LEFT_ALONE: readonly string[] = ['db', 'db.initdb'];

/** How far an owned folder is examined: not at all, its direct entries, or its whole tree. */
type Depth = 'none' | 'entries' | 'tree';

/** Owned folders of the home that are examined anyway (see the file comment). */
const EXAMINED: ReadonlyMap<string, Depth> = new Map([
  ['config', 'tree'],
  ['quarantine', 'entries'],
]);

/**
 * Hands `home` to `user` (see the file comment for what is looked at). Resolves with the paths
 * whose owner changed, a folder standing for its whole tree; nothing changes when all is owned.
 * Throws ERR_SERVICE_USER when a path cannot be read or changed.
 */
export async function handHomeTo(user: SystemUser, home: string): Promise<string[]> {
  const changed: string[] = [];
  const st = await statOrNull(home);
  if (st === null) return changed;
  if (!ownedBy(st, user)) {
    // Only the folder itself: a recursive chown here would take the database folder too.
    await change(() => lchown(home, user.uid, user.gid), home, user);
    changed.push(home);
  }
  for (const name of await entriesOf(home)) {
    if (HOME_ENTRIES_LEFT_ALONE.includes(name)) continue;
    await visit(join(home, name), EXAMINED.get(name) ?? 'none', user, changed);
  }
  return changed;
}

async function visit(
  path: string,
  depth: Depth,
  user: SystemUser,
  changed: string[],
): Promise<void> {
  const st = await statOrNull(path);
  if (st === null) return;
  if (!ownedBy(st, user)) {
    // chown -R does not follow symbolic links; lchown changes a link, never its target.
    await change(
      () => (st.isDirectory() ? chownTree(user, path) : lchown(path, user.uid, user.gid)),
      path,
      user,
    );
    changed.push(path);
    return;
  }
  if (!st.isDirectory() || depth === 'none') return;
  for (const name of await entriesOf(path)) {
    await visit(join(path, name), depth === 'tree' ? 'tree' : 'none', user, changed);
  }
}

function ownedBy(st: Stats, user: SystemUser): boolean {
  return st.uid === user.uid && st.gid === user.gid;
}

async function statOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (err) {
    // Removed meanwhile (a spool file, a delivered queue item): nothing to hand over.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ParapetError('ERR_SERVICE_USER', `cannot examine ${path}`, { cause: err });
  }
}

async function entriesOf(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ParapetError('ERR_SERVICE_USER', `cannot list ${dir}`, { cause: err });
  }
}

async function change(op: () => Promise<void>, path: string, user: SystemUser): Promise<void> {
  try {
    await op();
  } catch (err) {
    if (err instanceof ParapetError) throw err;
    throw new ParapetError('ERR_SERVICE_USER', `cannot give ${path} to ${user.name}`, {
      cause: err,
    });
  }
}

/** The gid of the MTA's group `postfix`, or null where there is none. */
export async function mtaGroupId(group = 'postfix'): Promise<number | null> {
  try {
    const line = (await run('getent', ['group', group])).stdout.trim();
    const gid = Number(line.split(':')[2]);
    return Number.isInteger(gid) ? gid : null;
  } catch {
    return null;
  }
}

/**
 * Lets the MTA reach the node's unix sockets in `$PARAPET_HOME/run` (the re-injection witness;
 * a unix milter socket put there): Postfix's processes run as user postfix with group postfix
 * only (Postfix drops supplementary groups), so `run/` gets group postfix, mode 2750 (the setgid
 * bit makes sockets created inside inherit the group) and the home the search bit for others
 * (o+x: enter, not list — every file keeps its own mode). Resolves with the paths changed;
 * nothing happens without a `postfix` group. Throws ERR_SERVICE_USER when a change fails.
 */
export async function exposeRunDirToMta(
  user: SystemUser,
  home: string,
  gid: number | null,
): Promise<string[]> {
  if (gid === null) return [];
  const runDir = join(home, 'run');
  const homeStat = await statOrNull(home);
  const runStat = await statOrNull(runDir);
  if (homeStat === null || runStat === null || !runStat.isDirectory()) return [];
  const changed: string[] = [];
  if ((homeStat.mode & 0o001) === 0) {
    await change(() => chmod(home, (homeStat.mode & 0o7777) | 0o001), home, user);
    changed.push(home);
  }
  if (runStat.uid !== user.uid || runStat.gid !== gid || (runStat.mode & 0o7777) !== 0o2750) {
    await change(
      async () => {
        await lchown(runDir, user.uid, gid);
        await chmod(runDir, 0o2750);
      },
      runDir,
      user,
    );
    changed.push(runDir);
  }
  return changed;
}

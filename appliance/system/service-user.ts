/**
 * The dedicated system user services run as (SECURITY: never root). When Parapet is started as
 * root it makes sure the `parapet` user exists and owns `$PARAPET_HOME`; started as anyone
 * else it runs as that user and changes nothing.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ParapetError } from '../../filter/index.js';

const run = promisify(execFile);

export const SERVICE_USER = 'parapet';

export interface SystemUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** Looks a user up with `id`; null when it does not exist. */
export async function findSystemUser(name: string): Promise<SystemUser | null> {
  try {
    const uid = Number((await run('id', ['-u', name])).stdout.trim());
    const gid = Number((await run('id', ['-g', name])).stdout.trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { name, uid, gid } : null;
  } catch {
    return null;
  }
}

/**
 * Returns the service user, creating it (system account, no login shell, no home) when
 * running as root and it is missing. Not root: returns null (services run as the caller).
 */
export async function ensureServiceUser(name = SERVICE_USER): Promise<SystemUser | null> {
  if (process.getuid?.() !== 0) return null;
  const existing = await findSystemUser(name);
  if (existing !== null) return existing;
  try {
    await run('useradd', [
      '--system',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      '--user-group',
      name,
    ]);
  } catch (err) {
    // A concurrent start may have created it: look again before failing.
    const raced = await findSystemUser(name);
    if (raced !== null) return raced;
    throw new ParapetError('ERR_SERVICE_USER', `cannot create system user ${name}`, {
      cause: err,
    });
  }
  const created = await findSystemUser(name);
  if (created === null) {
    throw new ParapetError('ERR_SERVICE_USER', `system user ${name} missing after useradd`);
  }
  return created;
}

/** True when `user` can read `path` (and traverse every directory above it). */
export async function userCanRead(user: SystemUser, path: string): Promise<boolean> {
  try {
    await run('runuser', ['-u', user.name, '--', 'test', '-r', path]);
    return true;
  } catch {
    return false;
  }
}

/** Gives `user` ownership of a directory tree (chown -R), for `$PARAPET_HOME`. */
export async function chownTree(user: SystemUser, path: string): Promise<void> {
  try {
    await run('chown', ['-R', `${String(user.uid)}:${String(user.gid)}`, path]);
  } catch (err) {
    throw new ParapetError('ERR_SERVICE_USER', `cannot give ${path} to ${user.name}`, {
      cause: err,
    });
  }
}

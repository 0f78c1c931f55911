/**
 * Writes that survive a crash: a file counts as written only after fsync, and a name created,
 * renamed or removed in a directory only after that directory is fsync'd. Used wherever the MTA
 * or a user hears success only once the data is on disk (the quarantine, the outbound queue).
 * Errors are the file system's own; callers turn them into their error codes.
 */
import { open, rename } from 'node:fs/promises';

/**
 * Writes `data` to `path` (created with `mode`, or truncated) and fsyncs it. The directory entry
 * is not synced: call {@link fsyncDirectory} when the name itself must survive a crash.
 */
export async function writeFileSynced(
  path: string,
  data: Uint8Array | string,
  mode = 0o640,
): Promise<void> {
  const handle = await open(path, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` as a whole: `fill` writes `<path>.tmp`, which is fsync'd and renamed onto
 * `path`, so a reader (or a crash) sees the old file or the complete new one, never a part.
 * Resolves with what `fill` returned. The rename is durable once the directory is fsync'd
 * ({@link fsyncDirectory}); writers of several files in one directory do that once, at the end.
 */
export async function replaceFileSynced<T>(
  path: string,
  fill: (tmpPath: string) => Promise<T>,
): Promise<T> {
  const tmp = `${path}.tmp`;
  const result = await fill(tmp);
  const handle = await open(tmp, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  return result;
}

/** fsyncs a directory, so that the names created, renamed or removed in it survive a crash. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Consuming a spool directory of small files written atomically by one process and applied by
 * another (Bayes touches and auto-learn queues): read each, parse it, apply it, delete it.
 */
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ParapetError } from '../../filter/index.js';

/** Complete spool files (`*.json`) in `dir`, in name order; [] when there is no spool. */
export async function listSpoolFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir))
      .filter((n) => n.endsWith('.json'))
      .sort()
      .map((n) => join(dir, n));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ParapetError('ERR_BAYES_STORE_IO', `cannot list ${dir}`, { cause: err });
  }
}

/**
 * Writes `data` as JSON to `dir/name` (a `.json` name), complete before it gets its name: a
 * consumer never sees half a file. Throws ERR_BAYES_STORE_IO.
 */
export async function writeSpoolFile(dir: string, name: string, data: unknown): Promise<string> {
  const path = join(dir, name);
  const temp = `${path}.tmp`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o750 });
    await writeFile(temp, JSON.stringify(data), { mode: 0o640 });
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw new ParapetError('ERR_BAYES_STORE_IO', `cannot write ${path}`, { cause: err });
  }
  return path;
}

/** What {@link consumeSpoolFiles} did. */
export interface ConsumedSpool {
  /** Files parsed and applied. */
  readonly files: number;
  /** Files that did not parse (removed). */
  readonly bad: number;
}

/**
 * Applies `paths` in order and deletes each once applied (or when it does not parse). A file
 * that vanished meanwhile was taken by another consumer and is skipped. A failing `apply`
 * stops the run and leaves that file for the next one. Throws ERR_BAYES_STORE_IO when a file
 * cannot be read.
 */
export async function consumeSpoolFiles<T>(
  paths: readonly string[],
  parse: (text: string) => T | null,
  apply: (parsed: T) => Promise<void>,
): Promise<ConsumedSpool> {
  let files = 0;
  let bad = 0;
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new ParapetError('ERR_BAYES_STORE_IO', `cannot read ${path}`, { cause: err });
    }
    const parsed = parse(text);
    if (parsed === null) {
      bad++;
    } else {
      await apply(parsed);
      files++;
    }
    await unlink(path).catch(() => undefined);
  }
  return { files, bad };
}

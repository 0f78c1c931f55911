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

let sequence = 0;

/**
 * Writes `data` as JSON to a new file in `dir`, named `<prefix><ms>-<pid>-<seq>.json` (unique
 * across processes, sorting by prefix then time), complete before it gets its name: a consumer
 * never sees half a file. Returns its path. Throws ERR_BAYES_STORE_IO.
 */
export async function writeSpoolFile(dir: string, data: unknown, prefix = ''): Promise<string> {
  sequence = (sequence + 1) % 1_000_000;
  const name = `${prefix}${String(Date.now())}-${String(process.pid)}-${String(sequence).padStart(6, '0')}.json`;
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

/**
 * Throws ERR_BAYES_STORE_IO ("<n> <what>") when `dir` holds `maxFiles` spool files or more:
 * nobody is applying them, so the writer drops what it has rather than fill the disk.
 */
export async function ensureSpoolRoom(dir: string, maxFiles: number, what: string): Promise<void> {
  const queued = (await listSpoolFiles(dir)).length;
  if (queued >= maxFiles) {
    throw new ParapetError('ERR_BAYES_STORE_IO', `${String(queued)} ${what}`);
  }
}

/** What {@link consumeSpoolFiles} did. */
export interface ConsumedSpool {
  /** Files parsed and applied. */
  readonly files: number;
  /** Files that did not parse (removed). */
  readonly bad: number;
}

/**
 * Applies the first `maxFiles` spool files of `dir` in name order and deletes each once applied
 * (or when it does not parse). A file that vanished meanwhile was taken by another consumer and
 * is skipped. A failing `apply` stops the run and leaves that file for the next one. Throws
 * ERR_BAYES_STORE_IO when a file cannot be read.
 */
export async function consumeSpoolFiles<T>(
  dir: string,
  maxFiles: number,
  parse: (text: string) => T | null,
  apply: (parsed: T) => Promise<void>,
): Promise<ConsumedSpool> {
  let files = 0;
  let bad = 0;
  for (const path of (await listSpoolFiles(dir)).slice(0, maxFiles)) {
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

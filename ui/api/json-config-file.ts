/**
 * One small JSON document under `$PARAPET_HOME/config/` (portal settings, groups, digest
 * preferences, release requests): read on every use (files are small; a change by another
 * process is seen at once), changed under an in-process lock, written through a temporary
 * file and rename (mode 0600) so a reader never sees half a file. A file that does not parse
 * is an error, not an empty document: an administrator's settings are never silently reset.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ParapetError } from '../../filter/index.js';

export class JsonConfigFile<T> {
  readonly path: string;
  readonly #empty: () => T;
  readonly #check: (value: unknown) => T;
  #lock: Promise<unknown> = Promise.resolve();

  /** `check` turns parsed JSON into T or throws a TypeError naming the problem. */
  constructor(configDir: string, name: string, empty: () => T, check: (value: unknown) => T) {
    this.path = join(configDir, name);
    this.#empty = empty;
    this.#check = check;
  }

  async read(): Promise<T> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.#empty();
      throw new ParapetError('ERR_UI_INTERNAL', `cannot read ${this.path}`, { cause: err });
    }
    try {
      return this.#check(JSON.parse(text));
    } catch (err) {
      throw new ParapetError('ERR_UI_INTERNAL', `${this.path} is not valid`, { cause: err });
    }
  }

  /** Applies `change` to the current document and stores the result; returns it. */
  update(change: (current: T) => T): Promise<T> {
    const run = this.#lock.then(async () => {
      const next = change(await this.read());
      const temp = `${this.path}.${randomUUID()}.tmp`;
      try {
        await writeFile(temp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
        await rename(temp, this.path);
      } catch (err) {
        await rm(temp, { force: true });
        throw new ParapetError('ERR_UI_INTERNAL', `cannot write ${this.path}`, { cause: err });
      }
      return next;
    });
    this.#lock = run.catch(() => undefined);
    return run;
  }
}

/**
 * The IP Blocker's refusal log (`log/ipblock.jsonl`, one JSON line per refused client) with
 * size-based rotation: past `maxBytes` the file becomes `ipblock.jsonl.1`, the older
 * generations move up one and the oldest beyond `keep` is deleted. A refusal flood (a botnet
 * knocking) thus costs at most (keep + 1) × maxBytes of disk, and the daily report roll-up,
 * which reads every generation (refusalLogFiles), stays bounded too.
 */
import { appendFile, rename, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';

export const REFUSAL_LOG_DEFAULTS = Object.freeze({ maxBytes: 16 * 1024 * 1024, keep: 7 });

export interface RefusalLogOptions {
  /** Rotate once the current file reaches this size. Default 16 MiB. */
  readonly maxBytes?: number;
  /** Rotated generations kept (`.1` … `.keep`). Default 7. */
  readonly keep?: number;
}

/** Rotated generation `n` of the log at `path` (0 is the current file). */
const generation = (path: string, n: number): string => (n === 0 ? path : `${path}.${String(n)}`);

/** The log's files that exist, oldest first (`.keep` … `.1`, then the current file). */
export function refusalLogFiles(path: string, keep: number = REFUSAL_LOG_DEFAULTS.keep): string[] {
  return Array.from({ length: keep + 1 }, (_, i) => generation(path, keep - i)).filter((f) =>
    existsSync(f),
  );
}

export class RefusalLog {
  readonly #path: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  /** Appends and rotations run one after another, in call order. */
  #chain: Promise<void> = Promise.resolve();
  /** Size of the current file; null until first read. */
  #size: number | null = null;

  constructor(path: string, options: RefusalLogOptions = {}) {
    this.#path = path;
    this.#maxBytes = options.maxBytes ?? REFUSAL_LOG_DEFAULTS.maxBytes;
    this.#keep = Math.max(1, options.keep ?? REFUSAL_LOG_DEFAULTS.keep);
  }

  /** Appends one line (a newline is added). Rejects with the I/O error; later appends go on. */
  append(line: string): Promise<void> {
    const text = `${line}\n`;
    const next = this.#chain.then(async () => {
      this.#size ??= await sizeOf(this.#path);
      if (this.#size > 0 && this.#size + Buffer.byteLength(text) > this.#maxBytes) {
        await this.#rotate();
      }
      await appendFile(this.#path, text, { mode: 0o640 });
      this.#size += Buffer.byteLength(text);
    });
    // A failed append must not block the ones after it; the caller hears its own failure.
    this.#chain = next.catch(() => {
      this.#size = null;
    });
    return next;
  }

  /** Waits for the appends made so far. */
  async flush(): Promise<void> {
    await this.#chain;
  }

  async #rotate(): Promise<void> {
    await rm(generation(this.#path, this.#keep), { force: true });
    for (let n = this.#keep - 1; n >= 0; n--) {
      const from = generation(this.#path, n);
      if (existsSync(from)) await rename(from, generation(this.#path, n + 1));
    }
    this.#size = 0;
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

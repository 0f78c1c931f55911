/**
 * The body of one message: held in memory up to `spoolMemoryBytes`, then moved to a temp file
 * in `spoolDir`, so a large message never sits in the heap. Write it once, seal it, then read it
 * as often as needed (scanners, re-injection, quarantine). Always call dispose().
 */
import { createReadStream } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ParapetError, toParapetError } from '../errors.js';

export interface BodySpoolOptions {
  /** Bytes kept in memory before the body moves to a temp file. Default 1 MiB. */
  readonly spoolMemoryBytes?: number;
  /** Directory for temp files; default the OS temp dir. */
  readonly spoolDir?: string;
}

export class BodySpool {
  readonly #memoryLimit: number;
  readonly #dir: string;
  #chunks: Buffer[] = [];
  #size = 0;
  #file: FileHandle | null = null;
  #path: string | null = null;
  #sealed = false;
  #disposed = false;

  constructor(options: BodySpoolOptions = {}) {
    this.#memoryLimit = options.spoolMemoryBytes ?? 1024 * 1024;
    this.#dir = options.spoolDir ?? process.env['TMPDIR'] ?? '/tmp';
  }

  /** Total bytes written. */
  get size(): number {
    return this.#size;
  }

  /** True once the body lives in a temp file. */
  get onDisk(): boolean {
    return this.#path !== null;
  }

  /** Appends bytes; moves the body to disk when the memory limit is passed. */
  async write(chunk: Buffer): Promise<void> {
    if (this.#sealed) throw new ParapetError('ERR_SPOOL_SEALED', 'body spool already sealed');
    if (chunk.length === 0) return;
    this.#size += chunk.length;
    try {
      if (this.#file === null && this.#size <= this.#memoryLimit) {
        this.#chunks.push(chunk);
        return;
      }
      if (this.#file === null) await this.#moveToDisk();
      await this.#writeFile(chunk);
    } catch (err) {
      throw toParapetError('ERR_SPOOL_IO', err);
    }
  }

  /**
   * Appends `chunk` synchronously when the body stays in memory with it, and returns true;
   * returns false and stores nothing when the chunk has to go through write() (the memory
   * limit would be passed, the body is on disk, or the spool is sealed). The fast path of
   * adapters that receive a body in many small chunks (no promise per chunk).
   */
  appendInMemory(chunk: Buffer): boolean {
    if (this.#sealed || this.#file !== null || this.#path !== null) return false;
    if (this.#size + chunk.length > this.#memoryLimit) return false;
    if (chunk.length > 0) this.#chunks.push(chunk);
    this.#size += chunk.length;
    return true;
  }

  /** Marks the body complete; no more writes. Flushes the temp file handle. */
  async seal(): Promise<void> {
    if (this.#sealed) return;
    this.#sealed = true;
    if (this.#file !== null) {
      const file = this.#file;
      this.#file = null;
      await file.close().catch((err: unknown) => {
        throw toParapetError('ERR_SPOOL_IO', err);
      });
    }
  }

  /** The whole body as one Buffer. Only for bodies known to be small (tests, small scanners). */
  async toBuffer(): Promise<Buffer> {
    if (this.#path === null) return Buffer.concat(this.#chunks);
    const parts: Buffer[] = [];
    for await (const part of this.stream()) parts.push(part as Buffer);
    return Buffer.concat(parts);
  }

  /** At most the first `bytes` of the body (rules that look only at the start). */
  async head(bytes: number): Promise<Buffer> {
    if (this.#path === null) return Buffer.concat(this.#chunks).subarray(0, bytes);
    const parts: Buffer[] = [];
    let have = 0;
    for await (const part of createReadStream(this.#path, { end: Math.max(0, bytes - 1) })) {
      parts.push(part as Buffer);
      have += (part as Buffer).length;
      if (have >= bytes) break;
    }
    return Buffer.concat(parts).subarray(0, bytes);
  }

  /**
   * The sealed body's bytes when it never left memory (no copy), else null. Lets hot paths
   * (re-injection of a small message) skip stream machinery; read-only.
   */
  memoryChunks(): readonly Buffer[] | null {
    if (!this.#sealed || this.#path !== null) return null;
    return this.#chunks;
  }

  /** A fresh readable stream over the sealed body; can be called many times. */
  stream(): Readable {
    if (!this.#sealed) throw new ParapetError('ERR_SPOOL_IO', 'body spool read before seal');
    if (this.#path === null) return Readable.from(this.#chunks, { objectMode: false });
    return createReadStream(this.#path, { highWaterMark: 64 * 1024 });
  }

  /** Frees memory and removes the temp file. Safe to call more than once. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#chunks = [];
    if (this.#file !== null) await this.#file.close().catch(() => undefined);
    this.#file = null;
    if (this.#path !== null) await unlink(this.#path).catch(() => undefined);
  }

  async #moveToDisk(): Promise<void> {
    this.#path = join(this.#dir, `parapet-body-${process.pid}-${randomBytes(8).toString('hex')}`);
    this.#file = await open(this.#path, 'wx', 0o600);
    const held = this.#chunks;
    this.#chunks = [];
    for (const part of held) await this.#writeFile(part);
  }

  async #writeFile(chunk: Buffer): Promise<void> {
    const file = this.#file;
    if (file === null) throw new ParapetError('ERR_SPOOL_IO', 'no spool file');
    let offset = 0;
    while (offset < chunk.length) {
      const { bytesWritten } = await file.write(chunk, offset, chunk.length - offset);
      offset += bytesWritten;
    }
  }
}

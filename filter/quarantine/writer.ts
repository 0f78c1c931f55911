/**
 * Durable quarantine writes. A message counts as quarantined only after its file and its
 * metadata are on disk: each is written to a temp name, fsync'd, renamed into place, and the
 * directory fsync'd (so the rename itself survives a crash). Only then may the MTA hear success.
 * The quarantine id is the message's Parapet id, so writing the same message twice is harmless.
 */
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import type { Message } from '../message/message.js';
import { toParapetError } from '../errors.js';
import { fsyncDirectory, replaceFileSynced } from '../durable/durable-file.js';

/** Metadata stored next to each quarantined message (the row the central DB gets later). */
export interface QuarantineMetadata {
  readonly id: string;
  readonly time: string;
  readonly reason: string;
  readonly from: string | null;
  readonly to: readonly string[];
  readonly subject: string | null;
  readonly sizeBytes: number;
  readonly score: number | null;
  readonly symbols: readonly string[];
  readonly rule: string | null;
  readonly client: string | null;
}

export interface QuarantineWriterOptions {
  /** Root directory; messages go to <dir>/<yyyy-mm-dd>/<id>.eml + <id>.json. */
  readonly dir: string;
}

export class QuarantineWriter {
  readonly #dir: string;

  constructor(options: QuarantineWriterOptions) {
    this.#dir = options.dir;
  }

  /** Path of a stored message, for readers (qman). */
  pathsFor(id: string, time: Date): { eml: string; json: string } {
    const day = join(this.#dir, time.toISOString().slice(0, 10));
    return { eml: join(day, `${id}.eml`), json: join(day, `${id}.json`) };
  }

  /**
   * Stores the message and its metadata durably; resolves only after both are fsync'd and
   * their directory entries are fsync'd. Throws ERR_QUARANTINE_WRITE_FAILED on any failure.
   */
  async write(
    message: Message,
    meta: Omit<QuarantineMetadata, 'id' | 'time' | 'sizeBytes'>,
  ): Promise<QuarantineMetadata> {
    const now = new Date();
    const paths = this.pathsFor(message.id, now);
    const day = join(paths.eml, '..');
    try {
      await mkdir(day, { recursive: true, mode: 0o750 });
      const sizeBytes = await replaceFileSynced(paths.eml, async (tmp) => {
        const out = createWriteStream(tmp, { flags: 'w', mode: 0o640 });
        let bytes = 0;
        const counted = message.toStream();
        counted.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        await streamPipeline(counted, out);
        return bytes;
      });
      const full: QuarantineMetadata = {
        id: message.id,
        time: now.toISOString(),
        sizeBytes,
        ...meta,
      };
      await replaceFileSynced(paths.json, async (tmp) => {
        const handle = await open(tmp, 'w', 0o640);
        try {
          await handle.writeFile(`${JSON.stringify(full)}\n`);
        } finally {
          await handle.close();
        }
        return 0;
      });
      await fsyncDirectory(day);
      return full;
    } catch (err) {
      throw toParapetError('ERR_QUARANTINE_WRITE_FAILED', err);
    }
  }

  /** Reads back the metadata of a stored message (tests, qman). */
  async readMetadata(id: string, time: Date): Promise<QuarantineMetadata> {
    const text = await readFile(this.pathsFor(id, time).json, 'utf8');
    return JSON.parse(text) as QuarantineMetadata;
  }
}

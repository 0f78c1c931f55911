/**
 * The node's durable outbound queue (`$PARAPET_HOME/queue/`): released quarantine mail,
 * digests, notices, redirect and vacation copies. One item is `<id>.eml` (the message) and
 * `<id>.json` (envelope and delivery state); the JSON file exists only once the message is
 * on disk (each written with fsync, then the directory), so an item is either whole or absent.
 * Local files, not the database: the queue must keep working while the central database is
 * away, like the data plane.
 *
 * Exactly once: an enqueue with a `key` (e.g. "release:<quarantine id>") gets an id derived
 * from it and is a no-op the second time, so approving twice queues once. A delivery writes a
 * `<id>.sending` marker the moment the final "." reaches the kernel; after a crash an item
 * with that marker is not sent again (the MTA had it), it is reported as `uncertain`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ParapetError, fsyncDirectory, writeFileSynced } from '../../filter/index.js';

export type OutboundKind = 'release' | 'forward' | 'digest' | 'notice' | 'redirect' | 'vacation';

export interface OutboundItem {
  readonly id: string;
  readonly kind: OutboundKind;
  /** Envelope sender ("" = null sender). */
  readonly from: string;
  readonly to: readonly string[];
  /** What caused it (quarantine id, message id, job name). */
  readonly origin: string | null;
  readonly key: string | null;
  readonly createdAt: string;
  readonly sizeBytes: number;
  /**
   * queued: waiting or retrying; failed: refused permanently or expired; uncertain: see the
   * file header; delivered: only for keyed items, whose tombstone keeps the key used.
   */
  readonly status: 'queued' | 'failed' | 'uncertain' | 'delivered';
  readonly attempts: number;
  readonly nextAttemptAt: string;
  readonly lastAttemptAt: string | null;
  readonly lastError: string | null;
}

export interface EnqueueRequest {
  readonly kind: OutboundKind;
  readonly from: string;
  readonly to: readonly string[];
  /** The whole message, CRLF line ends. */
  readonly raw: Buffer;
  readonly origin?: string | null;
  /** Idempotency key: a second enqueue with the same key returns the first item. */
  readonly key?: string;
}

const ID = /^[a-z0-9-]{8,64}$/;

export class OutboundQueue {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  #path(id: string, ext: string): string {
    if (!ID.test(id)) throw new ParapetError('ERR_NOT_FOUND', `no queue item ${id}`);
    return join(this.dir, `${id}.${ext}`);
  }

  /** Stores a message durably; returns the item (the existing one for a repeated key). */
  async enqueue(
    request: EnqueueRequest,
    now = new Date(),
  ): Promise<{ item: OutboundItem; created: boolean }> {
    if (request.to.length === 0) {
      throw new ParapetError(
        'ERR_QUEUE_INVALID',
        'an outbound message needs at least one recipient',
      );
    }
    await mkdir(this.dir, { recursive: true, mode: 0o750 });
    const id =
      request.key === undefined
        ? `${now.getTime().toString(36)}-${randomBytes(6).toString('hex')}`
        : `k-${createHash('sha256').update(request.key).digest('hex').slice(0, 32)}`;
    if (request.key !== undefined) {
      const existing = (await this.get(id)) ?? (await this.tombstone(id));
      if (existing !== null) return { item: existing, created: false };
    }
    const item: OutboundItem = {
      id,
      kind: request.kind,
      from: request.from,
      to: [...request.to],
      origin: request.origin ?? null,
      key: request.key ?? null,
      createdAt: now.toISOString(),
      sizeBytes: request.raw.length,
      status: 'queued',
      attempts: 0,
      nextAttemptAt: now.toISOString(),
      lastAttemptAt: null,
      lastError: null,
    };
    await writeFileSynced(this.#path(id, 'eml'), request.raw);
    await this.#writeState(item, request.key !== undefined);
    return { item, created: true };
  }

  /** Writes the state file; with `exclusive`, fails quietly if it appeared meanwhile. */
  async #writeState(item: OutboundItem, exclusive = false): Promise<void> {
    const path = this.#path(item.id, 'json');
    const tmp = `${path}.${String(process.pid)}.${randomBytes(3).toString('hex')}.tmp`;
    await writeFileSynced(tmp, Buffer.from(`${JSON.stringify(item)}\n`));
    if (exclusive && (await this.get(item.id)) !== null) {
      await rm(tmp, { force: true });
      return;
    }
    await rename(tmp, path);
    await fsyncDirectory(this.dir);
  }

  async get(id: string): Promise<OutboundItem | null> {
    try {
      const item = JSON.parse(await readFile(this.#path(id, 'json'), 'utf8')) as OutboundItem;
      if (item.status === 'queued' && (await exists(this.#path(id, 'sending')))) {
        return { ...item, status: 'uncertain' };
      }
      return item;
    } catch (err) {
      if (err instanceof ParapetError) throw err;
      return null;
    }
  }

  /** The record of a delivered keyed item, or null. */
  async tombstone(id: string): Promise<OutboundItem | null> {
    try {
      return JSON.parse(await readFile(this.#path(id, 'done'), 'utf8')) as OutboundItem;
    } catch (err) {
      if (err instanceof ParapetError) throw err;
      return null;
    }
  }

  async message(id: string): Promise<Buffer> {
    try {
      return await readFile(this.#path(id, 'eml'));
    } catch (err) {
      throw new ParapetError('ERR_NOT_FOUND', `queue item ${id} has no message file`, {
        cause: err,
      });
    }
  }

  /** Every item, oldest first. */
  async list(): Promise<OutboundItem[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const items: OutboundItem[] = [];
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const item = await this.get(name.slice(0, -5));
      if (item !== null) items.push(item);
    }
    return items.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Queued items whose next attempt is due. */
  async due(now = new Date()): Promise<OutboundItem[]> {
    return (await this.list()).filter(
      (i) => i.status === 'queued' && Date.parse(i.nextAttemptAt) <= now.getTime(),
    );
  }

  /**
   * Synchronous, for the moment the final "." was handed to the kernel: from then on the MTA
   * may have the message even if this process dies.
   */
  markSending(id: string): void {
    const fd = openSync(this.#path(id, 'sending'), 'w', 0o640);
    try {
      writeSync(fd, new Date().toISOString());
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Claims an item for one delivery across processes (the service and `parapet queue run`);
   * false when another holds it. A claim older than `staleMs` (a crashed holder) is taken over.
   */
  async claim(id: string, staleMs = 600_000): Promise<boolean> {
    const path = this.#path(id, 'lock');
    try {
      const h = await open(path, 'wx', 0o640);
      await h.close();
      return true;
    } catch {
      try {
        const h = await open(path, 'r');
        const age = Date.now() - (await h.stat()).mtimeMs;
        await h.close();
        if (age < staleMs) return false;
        await rm(path, { force: true });
        return await this.claim(id, staleMs);
      } catch {
        return false;
      }
    }
  }

  async release(id: string): Promise<void> {
    await rm(this.#path(id, 'lock'), { force: true });
  }

  /**
   * Delivered: the item is gone. A keyed item leaves a small tombstone so that the same key
   * (approving a quarantined message again) never delivers a second time.
   */
  async complete(id: string, now = new Date()): Promise<void> {
    const item = await this.get(id);
    if (item?.key != null) {
      const done: OutboundItem = { ...item, status: 'delivered', lastAttemptAt: now.toISOString() };
      await writeFileSynced(this.#path(id, 'done'), Buffer.from(`${JSON.stringify(done)}\n`));
    }
    await rm(this.#path(id, 'json'), { force: true });
    await rm(this.#path(id, 'eml'), { force: true });
    await rm(this.#path(id, 'sending'), { force: true });
    await fsyncDirectory(this.dir);
  }

  /** Records a failed attempt: retry at `nextAttemptAt`, or give up (`failed`). */
  async recordFailure(
    item: OutboundItem,
    error: string,
    next: { retryAt: Date } | { giveUp: true },
    now = new Date(),
  ): Promise<OutboundItem> {
    await rm(this.#path(item.id, 'sending'), { force: true });
    const updated: OutboundItem = {
      ...item,
      status: 'giveUp' in next ? 'failed' : 'queued',
      attempts: item.attempts + 1,
      lastAttemptAt: now.toISOString(),
      lastError: error,
      nextAttemptAt: 'giveUp' in next ? item.nextAttemptAt : next.retryAt.toISOString(),
    };
    await this.#writeState(updated);
    return updated;
  }

  /** Makes an item due now (also a failed or uncertain one: an administrator's decision). */
  async retryNow(id: string, now = new Date()): Promise<OutboundItem> {
    const item = await this.get(id);
    if (item === null) throw new ParapetError('ERR_NOT_FOUND', `no queue item ${id}`);
    await rm(this.#path(id, 'sending'), { force: true });
    const updated: OutboundItem = { ...item, status: 'queued', nextAttemptAt: now.toISOString() };
    await this.#writeState(updated);
    return updated;
  }

  /** Deletes an item without delivering it. */
  async delete(id: string): Promise<void> {
    if ((await this.get(id)) === null)
      throw new ParapetError('ERR_NOT_FOUND', `no queue item ${id}`);
    await this.complete(id);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    const h = await open(path, 'r');
    await h.close();
    return true;
  } catch {
    return false;
  }
}

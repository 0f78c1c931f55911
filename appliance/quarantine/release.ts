/**
 * What qman (and later the web interfaces) do to a quarantined message: release it to its
 * original recipients, forward it elsewhere, allow its sender. A release goes through the
 * durable outbound queue keyed "release:<id>", so it is delivered exactly once however often
 * and from wherever it is approved; the Queue Runner delivers to the MTA's filter-free port.
 *
 * A released copy carries `X-Parapet-Released: <id>; by=<who>; sig=<hmac>` (HMAC-SHA256 with
 * the node's release key, `config/release.key`, mode 0600): it says which quarantine entry it
 * came from and lets a node that sees it again (a release routed through a filtering path)
 * recognise its own release instead of quarantining it a second time.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ParapetError } from '../../filter/index.js';
import type { NodeConfig } from '../config/node-config.js';
import { policyListsDir, readPolicyList, writePolicyList } from '../config/policy-lists.js';
import { OutboundQueue, type OutboundItem } from '../queue/outbound-queue.js';
import { QuarantineStore, type QuarantineEntry } from './quarantine-store.js';

export const RELEASE_HEADER = 'X-Parapet-Released';

/** The node's release key, created (32 random bytes, mode 0600) on first use. */
export async function releaseKey(config: NodeConfig): Promise<Buffer> {
  const path = join(config.paths.config, 'release.key');
  if (!existsSync(path)) {
    await writeFile(path, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' }).catch(
      () => undefined,
    );
  }
  return Buffer.from((await readFile(path, 'utf8')).trim(), 'hex');
}

export function signRelease(key: Buffer, id: string, by: string): string {
  return createHmac('sha256', key).update(`${id}\n${by}`).digest('base64url');
}

/** Checks an X-Parapet-Released value; returns the quarantine id when the signature holds. */
export function verifyRelease(key: Buffer, value: string): string | null {
  const m = /^\s*([A-Za-z0-9_-]+); by=([^;]*); sig=([A-Za-z0-9_-]+)\s*$/.exec(value);
  if (m === null) return null;
  const [, id = '', by = '', sig = ''] = m;
  const want = Buffer.from(signRelease(key, id, by));
  const got = Buffer.from(sig);
  return want.length === got.length && timingSafeEqual(want, got) ? id : null;
}

export interface QuarantineActions {
  readonly store: QuarantineStore;
  readonly queue: OutboundQueue;
  approve(
    id: string,
    by: string,
  ): Promise<{ entry: QuarantineEntry; item: OutboundItem; created: boolean }>;
  forward(id: string, to: string, by: string): Promise<{ item: OutboundItem; created: boolean }>;
  allowSender(id: string): Promise<string | null>;
}

/** Header-safe "by" text (it goes into a header field). */
function cleanBy(by: string): string {
  return by
    .replace(/[^\x21-\x7e]/g, '_')
    .replace(/;/g, '_')
    .slice(0, 100);
}

export async function quarantineActions(config: NodeConfig): Promise<QuarantineActions> {
  const store = new QuarantineStore(config.paths.quarantine);
  const queue = new OutboundQueue(config.paths.queue);
  const key = await releaseKey(config);
  return {
    store,
    queue,
    approve: async (id, rawBy) => {
      const by = cleanBy(rawBy);
      const entry = await store.get(id);
      if (entry.to.length === 0) {
        throw new ParapetError('ERR_QUEUE_INVALID', `quarantined message ${id} has no recipients`);
      }
      const original = await store.message(id);
      const header = `${RELEASE_HEADER}: ${id}; by=${by}; sig=${signRelease(key, id, by)}\r\n`;
      const { item, created } = await queue.enqueue({
        kind: 'release',
        from: entry.from ?? '',
        to: entry.to,
        raw: Buffer.concat([Buffer.from(header), original]),
        origin: id,
        key: `release:${id}`,
      });
      if (entry.state.releasedAt === null) {
        await store.setState(id, (s) => ({
          ...s,
          releasedAt: new Date().toISOString(),
          releasedBy: by,
          releaseItem: item.id,
        }));
      }
      return { entry: await store.get(id), item, created };
    },
    forward: async (id, to, rawBy) => {
      const by = cleanBy(rawBy);
      if (!/^[^\s@<>]+@[^\s@<>]+$/.test(to)) {
        throw new ParapetError('ERR_QUEUE_INVALID', `not an address: ${to}`);
      }
      const entry = await store.get(id);
      const result = await queue.enqueue({
        kind: 'forward',
        from: entry.from ?? '',
        to: [to],
        raw: await store.message(id),
        origin: id,
        key: `forward:${id}:${to.toLowerCase()}`,
      });
      await store.setState(id, (s) => ({
        ...s,
        forwards: [...s.forwards, { to, at: new Date().toISOString(), by }],
      }));
      return result;
    },
    allowSender: async (id) => {
      const entry = await store.get(id);
      const sender = entry.from;
      if (sender === null || sender === '') return null;
      const dir = policyListsDir(config.home);
      const stored = await readPolicyList(dir, 'allow-senders');
      if (stored !== null && stored.kind !== 'list') {
        throw new ParapetError('ERR_LIST_INVALID', "'allow-senders' is a map, not a list");
      }
      const entries = stored?.data.entries ?? [];
      if (!entries.some((e) => e.toLowerCase() === sender.toLowerCase())) {
        await writePolicyList(dir, {
          kind: 'list',
          data: { ...stored?.data, name: 'allow-senders', entries: [...entries, sender] },
        });
      }
      return sender;
    },
  };
}

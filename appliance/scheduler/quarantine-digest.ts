/**
 * `quarantine-digest`: mails each recipient address a list of the messages newly held for it,
 * each with a signed link that signs the user in to the End User Web Interface (28443).
 *
 * - New means: held, quarantined on this node within `digest.windowDays` (14), and not listed
 *   in an earlier digest to that address (digest-state.ts remembers the ids). Ids, not a
 *   time watermark: a row the log shipper brings to the database late is still listed once.
 * - Source: the database's quarantine table when it is reachable, else this node's file
 *   store (the job must not stop while the database is away).
 * - Preferences (config/digest-preferences.json): off → nothing; weekly → at most one digest
 *   per 7 days (the job itself runs daily); daily → every run.
 * - Nothing new → no mail. The mail goes through the outbound queue, keyed on the address
 *   and the ids it lists, so a run repeated after a crash before the state was saved queues
 *   the same digest only once.
 *
 * node.json key `digest`: `from` (postmaster@<hostname>), `windowDays` (14), `linkDays` (14),
 * `maxListed` (200 per mail); `web.publicUrl` is the link base (https://<hostname>:28443).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ParapetError } from '../../filter/index.js';
import type { NodeConfig } from '../config/node-config.js';
import { searchQuarantine, type Db } from '../db/index.js';
import { digestLinkUrl, linkKey, signDigestLink } from '../quarantine/digest-link.js';
import { buildDigestMail, type DigestListing } from '../quarantine/digest-mail.js';
import { digestPreferenceOf, readDigestPreferences } from '../quarantine/digest-preferences.js';
import {
  pruneDigestState,
  readDigestState,
  writeDigestState,
  type DigestAddressState,
} from '../quarantine/digest-state.js';
import { QuarantineStore } from '../quarantine/quarantine-store.js';
import { OutboundQueue } from '../queue/outbound-queue.js';

export interface DigestSettings {
  readonly from: string;
  readonly windowDays: number;
  readonly linkDays: number;
  readonly maxListed: number;
  /** Base of the links (no trailing slash needed). */
  readonly publicUrl: string;
}

/** A held message as the digest needs it, from either source. */
export interface HeldForDigest {
  readonly id: string;
  readonly time: Date;
  readonly from: string | null;
  readonly to: readonly string[];
  readonly subject: string | null;
  readonly reason: string;
}

export interface DigestRunResult {
  readonly source: 'database' | 'files';
  readonly digests: number;
  readonly messages: number;
  /** Addresses with new messages whose preference said no (off, or weekly not yet due). */
  readonly skipped: number;
}

const DAY_MS = 86_400_000;
const WEEKLY_MS = 7 * DAY_MS - 3_600_000;
/** What the link tokens accept (digest-link.ts); other recipients get no digest. */
const ADDRESS = /^[^\s@<>"]{1,64}@[a-z0-9.-]{1,253}$/;
/** Upper bound on rows read per run (keeps one run's memory bounded). */
const MAX_ROWS = 100_000;

type Config = Pick<NodeConfig, 'home' | 'nodeId' | 'paths' | 'web'>;

function wholeNumber(file: string, key: string, value: unknown, def: number, max: number): number {
  if (value === undefined) return def;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new ParapetError(
      'ERR_CONFIG_INVALID',
      `${file}: digest.${key} must be a whole number from 1 to ${String(max)}`,
    );
  }
  return value;
}

/** Reads node.json's `digest` key; throws ERR_CONFIG_INVALID on a bad value. */
export async function readDigestSettings(config: Config): Promise<DigestSettings> {
  const file = join(config.paths.config, 'node.json');
  let raw: unknown;
  try {
    raw = (JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>)['digest'];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ParapetError('ERR_CONFIG_INVALID', `${file}: ${String(err)}`, { cause: err });
    }
  }
  const given = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) {
    throw new ParapetError('ERR_CONFIG_INVALID', `${file}: digest must be an object`);
  }
  const host = hostname();
  const from = given['from'] ?? `postmaster@${host.includes('.') ? host : `${host}.localdomain`}`;
  if (typeof from !== 'string' || !ADDRESS.test(from.toLowerCase())) {
    throw new ParapetError('ERR_CONFIG_INVALID', `${file}: digest.from must be a mail address`);
  }
  return {
    from,
    windowDays: wholeNumber(file, 'windowDays', given['windowDays'], 14, 366),
    linkDays: wholeNumber(file, 'linkDays', given['linkDays'], 14, 366),
    maxListed: wholeNumber(file, 'maxListed', given['maxListed'], 200, 5000),
    publicUrl: config.web.publicUrl ?? `https://${host}:${String(config.web.rpcui.port)}`,
  };
}

/** Held messages of this node since `since`, from the database. */
export async function heldFromDatabase(
  db: Db,
  nodeId: string,
  since: Date,
): Promise<HeldForDigest[]> {
  const out: HeldForDigest[] = [];
  let after: string | null = null;
  do {
    const page = await searchQuarantine(
      db,
      { status: 'held', nodeId, since },
      { limit: 1000, after, plan: 'walk' },
    );
    for (const r of page.rows) {
      out.push({
        id: r.id,
        time: r.time,
        from: r.from,
        to: r.to,
        subject: r.subject,
        reason: r.reason,
      });
    }
    after = page.next;
  } while (after !== null && out.length < MAX_ROWS);
  return out;
}

/** Held messages since `since`, from the node's quarantine files. */
export async function heldFromFiles(dir: string, since: Date): Promise<HeldForDigest[]> {
  const entries = await new QuarantineStore(dir).search({
    since,
    status: 'quarantined',
    limit: MAX_ROWS,
  });
  return entries.map((e) => ({
    id: e.id,
    time: new Date(e.time),
    from: e.from,
    to: e.to,
    subject: e.subject,
    reason: e.reason,
  }));
}

/**
 * One digest run. `db` null: the database is away, the file store is read instead.
 * Returns what was queued; throws on a bad configuration or an unwritable queue or state.
 */
export async function runQuarantineDigest(
  config: Config,
  db: Db | null,
  now = new Date(),
): Promise<DigestRunResult> {
  const settings = await readDigestSettings(config);
  const preferences = await readDigestPreferences(config.paths.config);
  const since = new Date(now.getTime() - settings.windowDays * DAY_MS);
  const held =
    db === null
      ? await heldFromFiles(config.paths.quarantine, since)
      : await heldFromDatabase(db, config.nodeId, since);
  // Ids listed longer ago than the window can no longer come back as candidates.
  let state = pruneDigestState(
    await readDigestState(config.home),
    new Date(since.getTime() - DAY_MS),
  );

  const byAddress = new Map<string, HeldForDigest[]>();
  for (const m of held) {
    for (const rcpt of new Set(m.to.map((t) => t.trim().toLowerCase()))) {
      if (!ADDRESS.test(rcpt)) continue;
      if (state.addresses[rcpt]?.listed[m.id] !== undefined) continue;
      let list = byAddress.get(rcpt);
      if (list === undefined) byAddress.set(rcpt, (list = []));
      list.push(m);
    }
  }

  const queue = new OutboundQueue(config.paths.queue);
  let key: Buffer | null = null;
  let digests = 0;
  let messages = 0;
  let skipped = 0;
  const host = hostname();
  const addresses = new Map<string, DigestAddressState>(Object.entries(state.addresses));
  try {
    for (const [address, list] of [...byAddress].sort(([a], [b]) => a.localeCompare(b))) {
      const pref = digestPreferenceOf(preferences, address);
      const previous = addresses.get(address);
      const last =
        previous === undefined || previous.lastSentAt === null
          ? null
          : Date.parse(previous.lastSentAt);
      if (
        !pref.enabled ||
        (pref.frequency === 'weekly' && last !== null && now.getTime() - last < WEEKLY_MS)
      ) {
        skipped++;
        continue;
      }
      list.sort((a, b) => b.time.getTime() - a.time.getTime() || a.id.localeCompare(b.id));
      const listed = list.slice(0, settings.maxListed);
      key ??= await linkKey(config.paths.config);
      const token = signDigestLink(
        key,
        address,
        new Date(now.getTime() + settings.linkDays * DAY_MS),
      );
      const url = digestLinkUrl(settings.publicUrl, token);
      const listings: DigestListing[] = listed.map((m) => ({
        id: m.id,
        from: m.from,
        subject: m.subject,
        time: m.time,
        reason: m.reason,
        url: digestLinkUrl(settings.publicUrl, token, m.id),
      }));
      const raw = buildDigestMail({
        from: settings.from,
        to: address,
        listings,
        more: list.length - listed.length,
        quarantineUrl: url,
        now,
        hostname: host,
      });
      const ids = listed.map((m) => m.id).sort();
      await queue.enqueue(
        {
          kind: 'digest',
          from: settings.from,
          to: [address],
          raw,
          origin: 'quarantine-digest',
          key: `digest:${address}:${createHash('sha256').update(ids.join('\n')).digest('hex')}`,
        },
        now,
      );
      addresses.set(address, {
        lastSentAt: now.toISOString(),
        listed: {
          ...(previous?.listed ?? {}),
          ...Object.fromEntries(listed.map((m) => [m.id, m.time.toISOString()])),
        },
      });
      digests++;
      messages += listed.length;
    }
  } finally {
    // Also after a failure part-way: what was queued is remembered.
    state = { version: 1, addresses: Object.fromEntries(addresses) };
    await writeDigestState(config.home, state);
  }
  return { source: db === null ? 'files' : 'database', digests, messages, skipped };
}

/** The run log's line. */
export function describeDigestRun(r: DigestRunResult): string {
  return (
    `queued ${String(r.digests)} digest(s) listing ${String(r.messages)} message(s) ` +
    `(from the ${r.source === 'database' ? 'database' : 'quarantine files'}); ` +
    `${String(r.skipped)} address(es) skipped by their digest preference`
  );
}

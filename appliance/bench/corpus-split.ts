/**
 * The corpus protocol's split (CONTRACTS.md "Corpus evaluation protocol") of the SpamAssassin
 * public corpus, shared by the accuracy and scan benchmarks:
 * - TRAIN: easy-ham-1, spam-1, and hard-ham-1 messages whose 5-digit id is odd;
 * - TEST: easy-ham-2, spam-2, and hard-ham-1 messages whose id is even.
 *
 * Each message also carries its receipt time (the mbox `From ` line or the top Received), so benchmarks can pin
 * "now" to the moment the message arrived: the mail is from 2002 and date rules must not fire
 * merely because it is old today.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { corpusDataDir, type CorpusGroup } from '../test/e2e/support/corpus.js';

export type SplitName = 'train' | 'test';

/** What a message is, as the protocol reports it. */
export type SplitKind = 'spam' | 'easy-ham' | 'hard-ham';

export interface SplitMessage {
  /** `<group>/<file name>`. */
  readonly name: string;
  readonly group: CorpusGroup;
  /** The 5-digit id at the start of the file name. */
  readonly id: number;
  readonly kind: SplitKind;
  /** The file as shipped (mbox `From ` line, LF line ends). */
  readonly file: Buffer;
  /** When the message was received (see {@link corpusReceivedAt}), or null if unknown. */
  readonly receivedAt: Date | null;
}

/** The groups each split draws from, and which ids of the group it takes. */
const SPLIT: Readonly<
  Record<SplitName, readonly { group: CorpusGroup; ids: 'all' | 'odd' | 'even' }[]>
> = {
  train: [
    { group: 'easy-ham-1', ids: 'all' },
    { group: 'spam-1', ids: 'all' },
    { group: 'hard-ham-1', ids: 'odd' },
  ],
  test: [
    { group: 'easy-ham-2', ids: 'all' },
    { group: 'spam-2', ids: 'all' },
    { group: 'hard-ham-1', ids: 'even' },
  ],
};

function kindOf(group: CorpusGroup): SplitKind {
  if (group.startsWith('spam')) return 'spam';
  return group.startsWith('hard') ? 'hard-ham' : 'easy-ham';
}

/** The receipt time in an mbox `From sender  Tue Aug  6 11:01:33 2002` line (taken as UTC). */
export function mboxReceivedAt(file: Buffer): Date | null {
  if (file.subarray(0, 5).toString('latin1') !== 'From ') return null;
  const end = file.indexOf(0x0a);
  const line = file.subarray(0, end < 0 ? Math.min(file.length, 200) : end).toString('latin1');
  const m = /([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})\s*$/.exec(line);
  if (m === null) return null;
  const date = new Date(
    `${m[1] ?? ''} ${m[2] ?? ''} ${m[6] ?? ''} ${m[3] ?? ''}:${m[4] ?? ''}:${m[5] ?? ''} UTC`,
  );
  return Number.isNaN(date.getTime()) ? null : date;
}

/**
 * When the message reached its recipient: the mbox line's date, else the date stamped by the
 * topmost Received field (593 corpus files have no mbox line), else Delivery-Date or Date,
 * else null.
 */
export function corpusReceivedAt(file: Buffer): Date | null {
  const fromLine = mboxReceivedAt(file);
  if (fromLine !== null) return fromLine;
  const headerEnd = file.indexOf('\n\n');
  const head = file
    .subarray(0, headerEnd < 0 ? Math.min(file.length, 16_384) : headerEnd)
    .toString('latin1');
  const received = /^Received:((?:.*)(?:\n[ \t].*)*)/im.exec(head)?.[1];
  const candidates = [
    received?.slice(received.lastIndexOf(';') + 1),
    /^Delivery-Date:(.*)/im.exec(head)?.[1],
    /^Date:(.*)/im.exec(head)?.[1],
  ];
  for (const candidate of candidates) {
    if (candidate === undefined) continue;
    const stamp = candidate
      .replace(/\s+/g, ' ')
      .replace(/\s*\([^)]*\)\s*$/, '')
      .trim();
    const date = new Date(stamp);
    if (!Number.isNaN(date.getTime())) return date;
  }
  return null;
}

/** Loads one side of the split, in a fixed order (group by group, file name order). */
export async function loadCorpusSplit(split: SplitName): Promise<SplitMessage[]> {
  const dataDir = corpusDataDir();
  const out: SplitMessage[] = [];
  for (const { group, ids } of SPLIT[split]) {
    const names = (await readdir(join(dataDir, group))).filter((n) => n.endsWith('.txt')).sort();
    for (const name of names) {
      const id = Number(name.slice(0, 5));
      if (!Number.isInteger(id)) continue;
      if (ids === 'odd' && id % 2 === 0) continue;
      if (ids === 'even' && id % 2 === 1) continue;
      const file = await readFile(join(dataDir, group, name));
      out.push({
        name: `${group}/${name}`,
        group,
        id,
        kind: kindOf(group),
        file,
        receivedAt: corpusReceivedAt(file),
      });
    }
  }
  return out;
}

/** The latest receipt time in the corpus era, the fallback "now" for messages without one. */
export const CORPUS_ERA_END = new Date('2002-12-31T00:00:00Z');

/** Counts of a split by kind (for headers of benchmark output). */
export function countByKind(messages: readonly SplitMessage[]): Record<SplitKind, number> {
  const counts: Record<SplitKind, number> = { spam: 0, 'easy-ham': 0, 'hard-ham': 0 };
  for (const m of messages) counts[m.kind]++;
  return counts;
}

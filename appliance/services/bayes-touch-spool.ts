/**
 * The Bayes touch spool (`$PARAPET_HOME/bayes/touched/`): which tokens the policy service's
 * scans used on which day, so expiry keeps tokens still in use without the data plane writing
 * to the database. The policy service writes small files, each complete before it gets its name
 * (temp file + rename); the database service (bayes-sync.ts) or, on a node without a database,
 * the bayes-expiry job applies them to the store and deletes them. A file is
 * `{"day":<UTC day start, ms>,"tokens":[id,...]}`; applying one twice does no harm.
 */
import { consumeSpoolFiles, writeSpoolFile } from './spool-files.js';
import type { TokenId } from '../../filter/index.js';

const DAY_MS = 86_400_000;
/** Largest spool file read (a day of a million distinct tokens is ~17 MB). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/** Writes one spool file for `dayMs`; returns its path. */
export function writeTouchFile(
  dir: string,
  dayMs: number,
  tokens: readonly TokenId[],
): Promise<string> {
  return writeSpoolFile(dir, { day: dayMs, tokens }, `${String(dayMs)}-`);
}

/** One spool file's content, or null when it is not one (it is dropped then). */
export function parseTouchFile(text: string): { dayMs: number; tokens: TokenId[] } | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof data !== 'object' || data === null) return null;
  const { day, tokens } = data as { day?: unknown; tokens?: unknown };
  if (typeof day !== 'number' || !Number.isSafeInteger(day) || day < 0 || day % DAY_MS !== 0) {
    return null;
  }
  if (!Array.isArray(tokens)) return null;
  const ids: TokenId[] = [];
  for (const id of tokens as unknown[]) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) return null;
    ids.push(id);
  }
  return { dayMs: day, tokens: ids };
}

/** What {@link applyTouchSpool} did. */
export interface TouchSpoolResult {
  readonly files: number;
  readonly tokens: number;
  /** Files that were not spool files (removed). */
  readonly bad: number;
}

/**
 * Applies up to `maxFiles` spool files through `apply` and deletes each once applied. A failing
 * `apply` stops the run and leaves that file for the next one.
 */
export async function applyTouchSpool(
  dir: string,
  apply: (dayMs: number, tokens: readonly TokenId[]) => Promise<void>,
  maxFiles = 1000,
): Promise<TouchSpoolResult> {
  let tokens = 0;
  const { files, bad } = await consumeSpoolFiles(
    dir,
    maxFiles,
    (text) => (text.length > MAX_FILE_BYTES ? null : parseTouchFile(text)),
    async (parsed) => {
      await apply(parsed.dayMs, parsed.tokens);
      tokens += parsed.tokens.length;
    },
  );
  return { files, tokens, bad };
}

/**
 * `parapet learn --spam|--ham [--json] FILE|DIR...` (CONTRACTS.md): trains the node's Bayes
 * store. On a node with a database (an external `database.url`, or the embedded cluster
 * `parapet start` runs) that is the server group's PostgreSQL store, and the node's snapshot
 * (`$PARAPET_HOME/bayes/tokens.json`, which the policy service scans from) is refreshed right
 * after; a node-local tokens.json is imported first when the database store is still empty.
 * Without a database the JSON-file store at tokens.json is the store. Directories are read
 * recursively; files that do not start like a message (a header field or an mbox `From ` line)
 * are skipped and counted. Every path is checked before anything is learned, so a typo changes
 * nothing.
 *
 * Exit codes: 0 learned (or nothing new to learn), 1 a path is missing or unreadable or the
 * store cannot be read or written (the database is not running: ERR_DB_UNAVAILABLE), 2 usage
 * (neither or both of --spam and --ham, no path).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ParapetError } from '../../filter/index.js';
import {
  createBayesTrainer,
  messageFromFileBytes,
  openJsonFileTokenStore,
  type BayesClass,
  type TokenStore,
} from '../../filter/index.js';
import { loadNodeConfig, type NodeConfig } from '../config/node-config.js';
import { openDatabase } from '../db/db.js';
import { PgTokenStore } from '../db/bayes-token-store.js';
import { readSnapshotOrigin } from '../db/bayes-snapshot.js';
import {
  adoptLocalSnapshot,
  bayesPaths,
  refreshSnapshot,
  nodeUsesDatabase,
} from '../services/bayes-sync.js';

/** Files larger than this are skipped: no mail a gateway accepts is bigger. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Where a node keeps its JSON-file Bayes store. */
export function bayesStorePath(home: string): string {
  return bayesPaths(home).tokens;
}

function inputError(path: string, err: unknown): ParapetError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new ParapetError('ERR_NOT_FOUND', `${path}: no such file or directory`, { cause: err });
  }
  const text = err instanceof Error ? err.message : String(err);
  return new ParapetError('ERR_INPUT_UNREADABLE', `${path}: ${text}`, { cause: err });
}

/** Expands the paths to regular files (directories recursively, dot-files skipped), sorted. */
export async function collectMessageFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  const visit = async (path: string, depth: number): Promise<void> => {
    let info;
    try {
      info = await stat(path);
    } catch (err) {
      throw inputError(path, err);
    }
    if (info.isFile()) {
      files.push(path);
      return;
    }
    if (!info.isDirectory() || depth > 16) return;
    let names: string[];
    try {
      names = await readdir(path);
    } catch (err) {
      throw inputError(path, err);
    }
    for (const name of names.sort()) {
      if (!name.startsWith('.')) await visit(join(path, name), depth + 1);
    }
  };
  for (const path of paths) await visit(path, 0);
  return files;
}

/** True when the bytes start like a message: an mbox `From ` line or a header field. */
export function looksLikeMessage(bytes: Buffer): boolean {
  const head = bytes.subarray(0, 1000).toString('latin1');
  return head.startsWith('From ') || /^[A-Za-z][A-Za-z0-9-]*:/.test(head);
}

/** What one `learn` run did. */
export interface LearnSummary {
  readonly class: BayesClass;
  readonly store: string;
  readonly files: number;
  readonly learned: number;
  readonly relearned: number;
  readonly alreadyLearned: number;
  readonly skipped: number;
  readonly totals: { readonly spam: number; readonly ham: number };
}

/** Trains `store` with `files` (from {@link collectMessageFiles}); `label` names the store. */
export async function learnFilesInto(
  store: TokenStore,
  label: string,
  cls: BayesClass,
  files: readonly string[],
): Promise<LearnSummary> {
  const trainer = createBayesTrainer(store);
  let learned = 0;
  let relearned = 0;
  let alreadyLearned = 0;
  let skipped = 0;
  for (const file of files) {
    let bytes: Buffer;
    try {
      if ((await stat(file)).size > MAX_MESSAGE_BYTES) {
        skipped++;
        continue;
      }
      bytes = await readFile(file);
    } catch (err) {
      throw inputError(file, err);
    }
    if (!looksLikeMessage(bytes)) {
      skipped++;
      continue;
    }
    const message = await messageFromFileBytes(bytes);
    const outcome = await trainer.learn(message, cls);
    if (outcome === 'learned') learned++;
    else if (outcome === 'relearned') relearned++;
    else alreadyLearned++;
  }
  return {
    class: cls,
    store: label,
    files: files.length,
    learned,
    relearned,
    alreadyLearned,
    skipped,
    totals: await store.totals(),
  };
}

/**
 * Trains the JSON-file store at `storePath` with the files under `paths`. Refuses a snapshot
 * exported from the database (ERR_BAYES_STORE_IO): use {@link learnNodeFiles}, which picks the
 * node's store.
 */
export async function learnFiles(
  storePath: string,
  cls: BayesClass,
  paths: readonly string[],
  /** Train a database copy as the node's own store (a node that no longer has a database). */
  options: { adoptDatabaseCopy?: boolean } = {},
): Promise<LearnSummary> {
  const files = await collectMessageFiles(paths);
  const copy = (await readSnapshotOrigin(storePath))?.kind === 'database';
  if (copy && options.adoptDatabaseCopy !== true) {
    // Training the cache would be overwritten by the next export (or set aside as a node's
    // own store): the node's store is the database.
    throw new ParapetError(
      'ERR_BAYES_STORE_IO',
      `${storePath} is a copy of the database store: train through learnNodeFiles`,
    );
  }
  const store = await openJsonFileTokenStore(storePath);
  // The copy holds no learned keys; a message learned into the database before is counted
  // again here.
  try {
    return await learnFilesInto(store, storePath, cls, files);
  } finally {
    // What was learned before a failure is kept: each message is a complete step.
    await store.flush();
  }
}

/**
 * Trains the node's store (see the module comment) with the files under `paths`. The
 * database is never started here: a node whose database is down gets ERR_DB_UNAVAILABLE.
 */
export async function learnNodeFiles(
  config: Pick<NodeConfig, 'home' | 'database'>,
  cls: BayesClass,
  paths: readonly string[],
): Promise<LearnSummary> {
  const bayes = bayesPaths(config.home);
  if (!nodeUsesDatabase(config)) {
    return learnFiles(bayes.tokens, cls, paths, { adoptDatabaseCopy: true });
  }
  const files = await collectMessageFiles(paths);
  const { db } = await openDatabase(config.home, config.database, {
    applicationName: 'parapet-learn',
    start: false,
  });
  try {
    await adoptLocalSnapshot(db, bayes);
    let summary: LearnSummary;
    try {
      summary = await learnFilesInto(new PgTokenStore(db), 'database', cls, files);
    } catch (err) {
      // What was learned before the failure is committed: let the snapshot show it.
      await refreshSnapshot(db, bayes).catch(() => undefined);
      throw err;
    }
    // The policy service scans the snapshot: refresh it now rather than at the database
    // service's next step.
    await refreshSnapshot(db, bayes);
    return summary;
  } finally {
    await db.close();
  }
}

export function registerLearnCommand(program: Command): void {
  program
    .command('learn')
    .description("train the node's Bayes classifier with messages known to be spam or ham")
    .option('--spam', 'the messages are spam')
    .option('--ham', 'the messages are ham (not spam)')
    .option('--json', 'print the summary as one JSON object')
    .argument('<paths...>', 'message files or directories of message files')
    .action(
      async (
        paths: string[],
        options: { spam?: boolean; ham?: boolean; json?: boolean },
        command: Command,
      ) => {
        if (options.spam === options.ham) {
          command.error('error: give exactly one of --spam and --ham', {
            exitCode: 2,
            code: 'parapet.usage',
          });
        }
        const cls: BayesClass = options.spam === true ? 'spam' : 'ham';
        const summary = await learnNodeFiles(await loadNodeConfig(), cls, paths);
        if (options.json === true) {
          process.stdout.write(`${JSON.stringify(summary)}\n`);
          return;
        }
        const notes = [
          summary.relearned > 0 ? `${String(summary.relearned)} moved from the other class` : '',
          summary.alreadyLearned > 0 ? `${String(summary.alreadyLearned)} already learned` : '',
          summary.skipped > 0 ? `${String(summary.skipped)} skipped (not a message)` : '',
        ].filter((n) => n !== '');
        process.stdout.write(
          `learned ${String(summary.learned + summary.relearned)} of ${String(summary.files)} files as ${cls}` +
            `${notes.length > 0 ? ` (${notes.join(', ')})` : ''}; ` +
            `store: ${String(summary.totals.spam)} spam, ${String(summary.totals.ham)} ham\n`,
        );
      },
    );
}

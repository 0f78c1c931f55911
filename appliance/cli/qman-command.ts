/**
 * `parapet qman` — the quarantine manager (PureMessage's pmx-qman): list/search, show,
 * approve (release to the original recipients, exactly once), approve --allow-sender,
 * forward, delete, save as eml or mbox, expire. `--json` everywhere; `list --json` gives
 * objects with at least id, subject, from, to, reason, score (CONTRACTS.md).
 */
import { writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { loadNodeConfig } from '../config/node-config.js';
import { quarantineActions } from '../quarantine/release.js';
import type { QuarantineEntry } from '../quarantine/quarantine-store.js';

function dateArg(value: string): Date {
  const t = Date.parse(value);
  if (!Number.isFinite(t)) throw new InvalidArgumentError(`not a date: ${value}`);
  return new Date(t);
}

function numberArg(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`not a number: ${value}`);
  return n;
}

function countArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`not a positive count: ${value}`);
  return n;
}

/** "30d", "12h" → milliseconds. */
function ageArg(value: string): number {
  const m = /^(\d{1,6})([hd])$/.exec(value);
  if (m === null) throw new InvalidArgumentError(`not an age like 30d or 12h: ${value}`);
  return Number(m[1]) * (m[2] === 'd' ? 86_400_000 : 3_600_000);
}

/** The JSON shape of one entry (CONTRACTS.md fields first). */
function toJson(e: QuarantineEntry): Record<string, unknown> {
  return {
    id: e.id,
    subject: e.subject,
    from: e.from,
    to: e.to,
    reason: e.reason,
    score: e.score,
    time: e.time,
    status: e.status,
    sizeBytes: e.sizeBytes,
    symbols: e.symbols,
    rule: e.rule,
    client: e.client,
    releasedAt: e.state.releasedAt,
    releasedBy: e.state.releasedBy,
  };
}

function line(e: QuarantineEntry): string {
  const score = e.score === null ? '-' : e.score.toFixed(1);
  return `${e.id}  ${e.time.slice(0, 19).replace('T', ' ')}  ${e.status.padEnd(11)} ${score.padStart(6)}  ${(e.from ?? '<>').slice(0, 30).padEnd(30)}  ${(e.subject ?? '').slice(0, 50)}  [${e.reason}]`;
}

const who = (): string => `cli:${userInfo().username}`;

interface ListFlags {
  from?: string;
  to?: string;
  subject?: string;
  reason?: string;
  since?: Date;
  until?: Date;
  minScore?: number;
  maxScore?: number;
  virus?: string;
  status?: 'quarantined' | 'released';
  limit?: number;
  json?: boolean;
}

export function registerQmanCommands(program: Command): void {
  const qman = program.command('qman').description('the quarantine: search, release, delete');

  for (const verb of ['list', 'search'] as const) {
    qman
      .command(verb)
      .description('quarantined messages, newest first, filtered by the options')
      .option('--from <text>', 'sender contains')
      .option('--to <text>', 'a recipient contains')
      .option('--subject <text>', 'subject contains')
      .option('--reason <text>', 'reason contains')
      .option('--since <date>', 'quarantined at or after', dateArg)
      .option('--until <date>', 'quarantined before', dateArg)
      .option('--min-score <n>', 'score at least', numberArg)
      .option('--max-score <n>', 'score at most', numberArg)
      .option('--virus <name>', 'virus name or symbol contains')
      .option('--status <status>', 'quarantined or released')
      .option('--limit <n>', 'at most this many (default 100)', countArg)
      .option('--json', 'one JSON array')
      .action(async (flags: ListFlags) => {
        const config = await loadNodeConfig();
        const { store } = await quarantineActions(config);
        if (flags.status !== undefined && !['quarantined', 'released'].includes(flags.status)) {
          throw new InvalidArgumentError('status must be quarantined or released');
        }
        const { json, ...query } = flags;
        const found = await store.search(query);
        if (json === true) process.stdout.write(`${JSON.stringify(found.map(toJson))}\n`);
        else
          process.stdout.write(
            found.length === 0 ? 'no messages\n' : `${found.map(line).join('\n')}\n`,
          );
      });
  }

  qman
    .command('show')
    .description('one message: metadata, symbols, the deciding rule; --raw for the message')
    .argument('<id>', 'quarantine id')
    .option('--raw', 'print the stored message itself')
    .option('--json', 'metadata as JSON')
    .action(async (id: string, opts: { raw?: boolean; json?: boolean }) => {
      const config = await loadNodeConfig();
      const { store } = await quarantineActions(config);
      const e = await store.get(id);
      if (opts.raw === true) {
        process.stdout.write(await store.message(id));
        return;
      }
      if (opts.json === true) {
        process.stdout.write(`${JSON.stringify(toJson(e))}\n`);
        return;
      }
      process.stdout.write(
        [
          `id        ${e.id}`,
          `time      ${e.time}`,
          `status    ${e.status}${e.state.releasedAt === null ? '' : ` (${e.state.releasedAt} by ${e.state.releasedBy ?? '?'})`}`,
          `from      ${e.from ?? '<>'}`,
          `to        ${e.to.join(', ')}`,
          `subject   ${e.subject ?? ''}`,
          `client    ${e.client ?? '-'}`,
          `size      ${String(e.sizeBytes)} bytes`,
          `reason    ${e.reason}`,
          `rule      ${e.rule ?? '-'}`,
          `score     ${e.score === null ? '-' : String(e.score)}`,
          `symbols   ${e.symbols.join(', ')}`,
        ].join('\n') + '\n',
      );
    });

  qman
    .command('approve')
    .description('release to the original recipients (exactly once, however often approved)')
    .argument('<ids...>', 'quarantine ids')
    .option('--allow-sender', 'also add the sender to the allow-senders list')
    .option('--json', 'one JSON object per id')
    .action(async (ids: string[], opts: { allowSender?: boolean; json?: boolean }) => {
      const config = await loadNodeConfig();
      const actions = await quarantineActions(config);
      for (const id of ids) {
        const { entry, item, created } = await actions.approve(id, who());
        const allowed = opts.allowSender === true ? await actions.allowSender(id) : null;
        if (opts.json === true) {
          process.stdout.write(
            `${JSON.stringify({ id, queued: created, queueItem: item.id, queueStatus: item.status, to: entry.to, allowedSender: allowed })}\n`,
          );
        } else {
          process.stdout.write(
            `${id}: ${created ? 'released' : `already released (${item.status})`} to ${entry.to.join(', ')}${allowed === null ? '' : `; ${allowed} allowed`}\n`,
          );
        }
      }
    });

  qman
    .command('forward')
    .description('send a copy to another address')
    .argument('<id>', 'quarantine id')
    .requiredOption('--to <address>', 'recipient')
    .option('--json', 'print the queue item as JSON')
    .action(async (id: string, opts: { to: string; json?: boolean }) => {
      const config = await loadNodeConfig();
      const actions = await quarantineActions(config);
      const { item, created } = await actions.forward(id, opts.to, who());
      process.stdout.write(
        opts.json === true
          ? `${JSON.stringify({ id, queued: created, queueItem: item.id })}\n`
          : `${id}: ${created ? 'forwarded' : 'already forwarded'} to ${opts.to}\n`,
      );
    });

  qman
    .command('delete')
    .description('delete messages from the quarantine')
    .argument('<ids...>', 'quarantine ids')
    .action(async (ids: string[]) => {
      const config = await loadNodeConfig();
      const { store } = await quarantineActions(config);
      for (const id of ids) {
        await store.delete(id);
        process.stdout.write(`${id}: deleted\n`);
      }
    });

  qman
    .command('save')
    .description('write messages as .eml (one) or an mbox file (any number)')
    .argument('<ids...>', 'quarantine ids')
    .option('--format <format>', 'eml or mbox', 'eml')
    .option('--output <file>', 'file to write (default: standard output)')
    .action(async (ids: string[], opts: { format: string; output?: string }) => {
      if (opts.format !== 'eml' && opts.format !== 'mbox') {
        throw new InvalidArgumentError('format must be eml or mbox');
      }
      if (opts.format === 'eml' && ids.length !== 1) {
        throw new InvalidArgumentError('eml holds one message; use --format mbox for several');
      }
      const config = await loadNodeConfig();
      const { store } = await quarantineActions(config);
      const parts: Buffer[] = [];
      for (const id of ids) {
        const e = await store.get(id);
        const raw = await store.message(id);
        if (opts.format === 'eml') parts.push(raw);
        else parts.push(toMboxEntry(e, raw));
      }
      const data = Buffer.concat(parts);
      if (opts.output === undefined) process.stdout.write(data);
      else await writeFile(opts.output, data, { mode: 0o600 });
    });

  qman
    .command('expire')
    .description('delete messages older than an age (the Scheduler runs this daily)')
    .option('--older-than <age>', 'like 30d or 12h', ageArg, 30 * 86_400_000)
    .option('--dry-run', 'only list what would go')
    .option('--json', 'print the ids as JSON')
    .action(async (opts: { olderThan: number; dryRun?: boolean; json?: boolean }) => {
      const config = await loadNodeConfig();
      const { store } = await quarantineActions(config);
      const ids = await store.expire(new Date(Date.now() - opts.olderThan), opts.dryRun === true);
      process.stdout.write(
        opts.json === true
          ? `${JSON.stringify({ expired: ids, dryRun: opts.dryRun === true })}\n`
          : `${opts.dryRun === true ? 'would expire' : 'expired'} ${String(ids.length)} messages\n`,
      );
    });
}

/** One mboxrd entry: "From " line, LF line ends, ">From " quoting. */
function toMboxEntry(e: QuarantineEntry, raw: Buffer): Buffer {
  const date = new Date(e.time).toUTCString().replace(/,/g, '').replace(' GMT', '');
  const text = raw
    .toString('latin1')
    .replace(/\r\n/g, '\n')
    .replace(/^(>*From )/gm, '>$1');
  const body = text.endsWith('\n') ? text : `${text}\n`;
  return Buffer.from(
    `From ${e.from === null || e.from === '' ? 'MAILER-DAEMON' : e.from} ${date}\n${body}\n`,
    'latin1',
  );
}

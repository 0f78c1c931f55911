/**
 * `parapet scheduler list|enable|disable|run|add|remove|retime` — the node's scheduled jobs.
 * The running Scheduler picks changes up within two seconds.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { userInfo } from 'node:os';
import { loadNodeConfig } from '../config/node-config.js';
import { JobStore, nextRun } from '../scheduler/jobs.js';
import { runJob } from '../scheduler/run-job.js';

async function jobStore(): Promise<{ store: JobStore; home: string }> {
  const config = await loadNodeConfig();
  return { store: new JobStore(config.paths.config, `${config.home}/log`), home: config.home };
}

function cronArg(value: string): string {
  try {
    nextRun(value);
  } catch {
    throw new InvalidArgumentError(`not a cron schedule: ${value}`);
  }
  return value;
}

export function registerSchedulerCommands(program: Command): void {
  const scheduler = program.command('scheduler').description('scheduled jobs');

  scheduler
    .command('list')
    .description('every job: schedule, enabled, next run, last run')
    .option('--json', 'one JSON array')
    .action(async (opts: { json?: boolean }) => {
      const { store } = await jobStore();
      const last = await store.lastRuns();
      const rows = (await store.list()).map((j) => ({
        ...j,
        nextRun: j.enabled ? (nextRun(j.schedule)?.toISOString() ?? null) : null,
        lastRun: last.get(j.name) ?? null,
      }));
      if (opts.json === true) {
        process.stdout.write(`${JSON.stringify(rows)}\n`);
        return;
      }
      for (const r of rows) {
        const lastText =
          r.lastRun === null
            ? 'never run'
            : `last ${r.lastRun.startedAt} ${r.lastRun.ok ? 'ok' : `failed (${String(r.lastRun.exitCode)})`}`;
        process.stdout.write(
          `${r.name.padEnd(20)} ${(r.enabled ? 'enabled' : 'disabled').padEnd(9)} ${r.schedule.padEnd(15)} next ${r.nextRun ?? '-'}  ${lastText}\n    parapet ${r.command.join(' ')} — ${r.description}\n`,
        );
      }
    });

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    scheduler
      .command(verb)
      .description(`${verb} a job`)
      .argument('<name>', 'job name')
      .action(async (name: string) => {
        const { store } = await jobStore();
        await store.update(name, { enabled });
        process.stdout.write(`${name}: ${verb}d\n`);
      });
  }

  scheduler
    .command('retime')
    .description('give a job a new schedule')
    .argument('<name>', 'job name')
    .argument('<schedule>', 'cron expression, e.g. "15 3 * * *"', cronArg)
    .action(async (name: string, schedule: string) => {
      const { store } = await jobStore();
      const job = await store.update(name, { schedule });
      process.stdout.write(
        `${name}: ${job.schedule} (next ${nextRun(job.schedule)?.toISOString() ?? '-'})\n`,
      );
    });

  scheduler
    .command('run')
    .description('run a job now (logged like a scheduled run)')
    .argument('<name>', 'job name')
    .option('--json', 'print the run as JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const { store, home } = await jobStore();
      const run = await runJob(store, await store.get(name), {
        home,
        trigger: `cli:${userInfo().username}`,
      });
      process.stdout.write(
        opts.json === true
          ? `${JSON.stringify(run)}\n`
          : `${name}: ${run.ok ? 'ok' : `failed (${String(run.exitCode)})`}\n${run.output}\n`,
      );
      if (!run.ok) process.exitCode = 1;
    });

  scheduler
    .command('add')
    .description(
      'add a job that runs a parapet command: scheduler add NAME --schedule CRON -- ARGS…',
    )
    .argument('<name>', 'job name (lower-case letters, digits, -)')
    .argument('<args...>', 'the parapet command and its arguments')
    .requiredOption('--schedule <cron>', 'cron expression', cronArg)
    .option('--description <text>', 'what it does', '')
    .option('--disabled', 'add it disabled')
    .action(
      async (
        name: string,
        args: string[],
        opts: { schedule: string; description: string; disabled?: boolean },
      ) => {
        const { store } = await jobStore();
        const job = await store.add({
          name,
          schedule: opts.schedule,
          command: args,
          description: opts.description,
          enabled: opts.disabled !== true,
        });
        process.stdout.write(
          `${job.name}: added (parapet ${job.command.join(' ')}, ${job.schedule})\n`,
        );
      },
    );

  scheduler
    .command('remove')
    .description('remove a job an administrator added')
    .argument('<name>', 'job name')
    .action(async (name: string) => {
      const { store } = await jobStore();
      await store.remove(name);
      process.stdout.write(`${name}: removed\n`);
    });
}

/**
 * Scheduled jobs: each runs a `parapet` subcommand on a cron schedule (croner syntax, the
 * node's local time). Built-in jobs ship with defaults; administrators re-time, disable or
 * add jobs. Jobs live in `$PARAPET_HOME/config/jobs.json` (the versioned central
 * configuration takes them over with the server group); each run is appended to
 * `log/scheduler.jsonl` with its outcome.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Cron } from 'croner';
import { ParapetError } from '../../filter/index.js';

export interface JobDefinition {
  readonly name: string;
  readonly description: string;
  /** Cron expression (5 or 6 fields), in the node's local time. */
  readonly schedule: string;
  /** Arguments to `parapet` (the job runs `parapet ARGS…`). */
  readonly command: readonly string[];
  readonly enabled: boolean;
  readonly builtin: boolean;
}

/** A run, as logged. */
export interface JobRun {
  readonly job: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly ok: boolean;
  readonly exitCode: number | null;
  /** Last lines of output (stdout + stderr), for the log and Local Services. */
  readonly output: string;
  /** 'schedule' or who ran it by hand. */
  readonly trigger: string;
}

/** The jobs every node has; their schedule and enabled flag can be changed, not their command. */
export const BUILTIN_JOBS: readonly JobDefinition[] = [
  {
    name: 'quarantine-expire',
    description: 'delete quarantined messages older than 30 days',
    schedule: '15 3 * * *',
    command: ['qman', 'expire', '--older-than', '30d'],
    enabled: true,
    builtin: true,
  },
  // The next four run inside the Scheduler (builtin-tasks.ts); `command` is how to run
  // them by hand.
  {
    name: 'quarantine-digest',
    description:
      'mail each user the messages newly held for them, with signed links to the end-user interface',
    schedule: '0 7 * * *',
    command: ['scheduler', 'run', 'quarantine-digest'],
    enabled: true,
    builtin: true,
  },
  {
    name: 'message-log-rollup',
    description:
      'recompute the report roll-ups of yesterday and today (message log, IP Blocker, quarantine size)',
    schedule: '5 * * * *',
    command: ['scheduler', 'run', 'message-log-rollup'],
    enabled: true,
    builtin: true,
  },
  {
    name: 'db-maintenance',
    description:
      'delete message-log rows and roll-ups past their retention (node.json maintenance), ANALYZE',
    schedule: '40 3 * * *',
    command: ['scheduler', 'run', 'db-maintenance'],
    enabled: true,
    builtin: true,
  },
  {
    name: 'bayes-expiry',
    description: 'expire Bayes tokens not seen for maintenance.bayesTokenDays (180) days',
    schedule: '50 3 * * *',
    command: ['scheduler', 'run', 'bayes-expiry'],
    // On: the policy service spools the tokens its scans use (services/bayes-cache.ts) and
    // the job applies them as last-seen times before it expires anything.
    enabled: true,
    builtin: true,
  },
  {
    name: 'queue-run',
    description:
      'retry every queued outbound message now (the Queue Runner also retries on its own)',
    schedule: '0 */6 * * *',
    command: ['queue', 'run'],
    enabled: false,
    builtin: true,
  },
];

const NAME = /^[a-z][a-z0-9-]{0,47}$/;

/** Checks a cron expression with croner; returns its next run or throws ERR_CONFIG_INVALID. */
export function nextRun(schedule: string, from = new Date()): Date | null {
  try {
    return new Cron(schedule, { paused: true }).nextRun(from);
  } catch (err) {
    throw new ParapetError('ERR_CONFIG_INVALID', `not a cron schedule: '${schedule}'`, {
      cause: err,
    });
  }
}

interface StoredJobs {
  /** Overrides of built-in jobs. */
  readonly builtin: Record<string, { schedule?: string; enabled?: boolean }>;
  /** Jobs administrators added. */
  readonly custom: JobDefinition[];
}

export class JobStore {
  readonly path: string;
  readonly runLog: string;

  constructor(configDir: string, logDir: string) {
    this.path = join(configDir, 'jobs.json');
    this.runLog = join(logDir, 'scheduler.jsonl');
  }

  async #read(): Promise<StoredJobs> {
    if (!existsSync(this.path)) return { builtin: {}, custom: [] };
    try {
      const data = JSON.parse(await readFile(this.path, 'utf8')) as Partial<StoredJobs>;
      return { builtin: data.builtin ?? {}, custom: data.custom ?? [] };
    } catch (err) {
      throw new ParapetError('ERR_CONFIG_INVALID', `${this.path}: ${String(err)}`, { cause: err });
    }
  }

  async #write(data: StoredJobs): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o750 });
    const tmp = `${this.path}.${String(process.pid)}.tmp`;
    await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o640 });
    await rename(tmp, this.path);
  }

  /** Every job, built-in first, with overrides applied. */
  async list(): Promise<JobDefinition[]> {
    const data = await this.#read();
    const builtins = BUILTIN_JOBS.map((job) => ({ ...job, ...(data.builtin[job.name] ?? {}) }));
    return [...builtins, ...data.custom];
  }

  async get(name: string): Promise<JobDefinition> {
    const job = (await this.list()).find((j) => j.name === name);
    if (job === undefined) throw new ParapetError('ERR_NOT_FOUND', `no scheduled job '${name}'`);
    return job;
  }

  /** Changes the schedule and/or enabled flag of a job. */
  async update(
    name: string,
    change: { schedule?: string; enabled?: boolean },
  ): Promise<JobDefinition> {
    const job = await this.get(name);
    if (change.schedule !== undefined) nextRun(change.schedule);
    const data = await this.#read();
    if (job.builtin) {
      data.builtin[name] = { ...(data.builtin[name] ?? {}), ...change };
    } else {
      const i = data.custom.findIndex((j) => j.name === name);
      const current = data.custom[i];
      if (current !== undefined) data.custom[i] = { ...current, ...change };
    }
    await this.#write(data);
    return this.get(name);
  }

  async add(job: Omit<JobDefinition, 'builtin'>): Promise<JobDefinition> {
    if (!NAME.test(job.name)) {
      throw new ParapetError(
        'ERR_CONFIG_INVALID',
        `job name '${job.name}': lower-case letters, digits, -`,
      );
    }
    if (job.command.length === 0)
      throw new ParapetError('ERR_CONFIG_INVALID', 'a job needs a command');
    if (['start', 'stop', 'serve'].includes(job.command[0] ?? '')) {
      throw new ParapetError(
        'ERR_CONFIG_INVALID',
        `'parapet ${job.command[0] ?? ''}' cannot be a job`,
      );
    }
    nextRun(job.schedule);
    const data = await this.#read();
    if ((await this.list()).some((j) => j.name === job.name)) {
      throw new ParapetError('ERR_CONFIG_INVALID', `a job '${job.name}' exists already`);
    }
    data.custom.push({ ...job, builtin: false });
    await this.#write(data);
    return this.get(job.name);
  }

  async remove(name: string): Promise<void> {
    const job = await this.get(name);
    if (job.builtin) {
      throw new ParapetError('ERR_CONFIG_INVALID', `'${name}' is built in: disable it instead`);
    }
    const data = await this.#read();
    await this.#write({ ...data, custom: data.custom.filter((j) => j.name !== name) });
  }

  async logRun(run: JobRun): Promise<void> {
    await mkdir(dirname(this.runLog), { recursive: true, mode: 0o750 });
    await appendFile(this.runLog, `${JSON.stringify(run)}\n`, { mode: 0o640 });
  }

  /** The last run of each job (reads the run log's tail). */
  async lastRuns(): Promise<Map<string, JobRun>> {
    const last = new Map<string, JobRun>();
    if (!existsSync(this.runLog)) return last;
    const text = await readFile(this.runLog, 'utf8');
    for (const line of text.split('\n').slice(-5000)) {
      if (line === '') continue;
      try {
        const run = JSON.parse(line) as JobRun;
        last.set(run.job, run);
      } catch {
        // A torn line: skipped.
      }
    }
    return last;
  }
}

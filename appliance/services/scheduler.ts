/**
 * The Scheduler service: one croner timer per enabled job, never two runs of a job at once,
 * re-planned within two seconds when jobs.json changes (re-timed, enabled, added).
 */
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { Cron } from 'croner';
import { loadNodeConfig, type NodeConfig } from '../config/node-config.js';
import { createServiceLogger } from '../log/logger.js';
import { JobStore } from '../scheduler/jobs.js';
import { runJob } from '../scheduler/run-job.js';
import { signalReady, waitForStopSignal } from './signals.js';

export interface RunningScheduler {
  /** Jobs currently planned, by name. */
  planned(): string[];
  close(): Promise<void>;
}

export async function startSchedulerService(
  config: NodeConfig,
  logger: Logger,
): Promise<RunningScheduler> {
  const store = new JobStore(config.paths.config, `${config.home}/log`);
  let timers = new Map<string, Cron>();
  const running = new Set<Promise<unknown>>();
  const stampOf = async (): Promise<string> => {
    try {
      const s = await stat(store.path);
      return `${String(s.mtimeMs)}:${String(s.size)}`;
    } catch {
      return 'none';
    }
  };
  let stamp = '';
  const plan = async (): Promise<void> => {
    const now = await stampOf();
    if (now === stamp) return;
    stamp = now;
    for (const t of timers.values()) t.stop();
    const next = new Map<string, Cron>();
    for (const job of await store.list()) {
      if (!job.enabled) continue;
      const cron = new Cron(
        job.schedule,
        { protect: true, name: `parapet-${job.name}` },
        async () => {
          const work = runJob(store, job, { home: config.home, trigger: 'schedule' });
          running.add(work);
          try {
            const run = await work;
            (run.ok ? logger.info.bind(logger) : logger.error.bind(logger))(
              { job: job.name, exitCode: run.exitCode },
              `job ${job.name} ${run.ok ? 'done' : 'failed'}`,
            );
          } finally {
            running.delete(work);
          }
        },
      );
      next.set(job.name, cron);
    }
    timers = next;
    logger.info({ jobs: [...next.keys()] }, 'jobs planned');
  };
  await plan();
  const watch = setInterval(() => {
    plan().catch((err: unknown) => {
      logger.error({ err }, 'jobs.json not applied; the previous plan stays');
    });
  }, 2000);
  return {
    planned: () => [...timers.keys()],
    close: async () => {
      clearInterval(watch);
      for (const t of timers.values()) t.stop();
      await Promise.allSettled([...running]);
    },
  };
}

/** `parapet serve scheduler`: runs until SIGTERM/SIGINT (lets running jobs finish). */
export async function runSchedulerServiceUntilSignal(): Promise<void> {
  const config = await loadNodeConfig();
  const logger = createServiceLogger('scheduler');
  const service = await startSchedulerService(config, logger);
  logger.info({ jobs: service.planned() }, 'Scheduler ready');
  signalReady();
  const signal = await waitForStopSignal();
  logger.info({ signal }, 'Scheduler stopping');
  await service.close();
}

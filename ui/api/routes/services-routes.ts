/**
 * Local Services on the Manager: /api/v1/services (the node's pm2 services: status, pid,
 * uptime, restarts; start, stop, restart), /api/v1/health (CPU, memory, the disk of
 * $PARAPET_HOME, load average, from systeminformation) and /api/v1/jobs (the scheduled jobs:
 * schedule, next and last run; enable, disable, re-time, run now). Administrators change,
 * viewers read; every change is audited.
 */
import { join } from 'node:path';
import {
  controlService,
  JobStore,
  listServices,
  nextRun,
  readNodeHealth,
  runJob,
  SERVICES,
  supervisedServices,
  type JobDefinition,
  type JobRun,
  type NodeHealth,
  type ServiceName,
  type ServiceStatus,
} from '../../../appliance/index.js';
import { ParapetError } from '../../../filter/index.js';
import { ADMIN_ONLY, ADMIN_READ } from '../access.js';
import { principalOf } from '../guard.js';
import type { ApiModule } from '../modules.js';

/** A service row: pm2's view, or `not running` for a supervised service pm2 does not know. */
export interface ServiceView {
  readonly name: string;
  readonly description: string;
  readonly supervised: boolean;
  readonly status: string;
  readonly pid: number | null;
  readonly uptimeMs: number | null;
  readonly restarts: number;
  readonly cpuPercent: number;
  readonly memoryBytes: number;
}

const ACTIONS = ['start', 'stop', 'restart'] as const;
/** How long "run now" waits for a job before answering 202 (the run goes on and is logged). */
const RUN_WAIT_MS = 25_000;

const isServiceName = (name: string): name is ServiceName => Object.hasOwn(SERVICES, name);

/** Appliance faults as the API's codes: no internals in the reply. */
function asUiError(err: unknown): ParapetError {
  const raw = (err as { code?: unknown }).code;
  const code = typeof raw === 'string' ? raw : '';
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ParapetError && code.startsWith('ERR_UI_')) return err;
  switch (code) {
    case 'ERR_SERVICE_UNKNOWN':
    case 'ERR_NOT_FOUND':
      return new ParapetError('ERR_UI_NOT_FOUND', message, { cause: err });
    case 'ERR_NODE_NOT_RUNNING':
      return new ParapetError('ERR_UI_CONFLICT', message, { cause: err });
    case 'ERR_CONFIG_INVALID':
      return new ParapetError('ERR_UI_BAD_REQUEST', message, { cause: err });
    case 'ERR_SUPERVISOR':
      return new ParapetError('ERR_UI_UNAVAILABLE', 'the service supervisor (pm2) failed', {
        cause: err,
      });
    default:
      return new ParapetError('ERR_UI_INTERNAL', 'the operation failed', { cause: err });
  }
}

export function serviceViews(running: readonly ServiceStatus[]): ServiceView[] {
  const byName = new Map(running.map((s) => [s.name, s]));
  const names = [...new Set([...supervisedServices(), ...running.map((s) => s.name)])];
  return names.map((name) => {
    const s = byName.get(name);
    const entry = isServiceName(name) ? SERVICES[name] : undefined;
    return {
      name,
      description: entry?.description ?? '',
      supervised: entry?.supervised ?? false,
      status: s?.status ?? 'not running',
      pid: s?.pid ?? null,
      uptimeMs: s?.uptimeMs ?? null,
      restarts: s?.restarts ?? 0,
      cpuPercent: s?.cpuPercent ?? 0,
      memoryBytes: s?.memoryBytes ?? 0,
    };
  });
}

export interface JobView extends JobDefinition {
  readonly nextRun: string | null;
  readonly lastRun: JobRun | null;
  /** A run started from the Manager is still going. */
  readonly running: boolean;
}

const nameParam = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

export const servicesModule: ApiModule = {
  name: 'services',
  surfaces: ['manager'],
  register(app, ctx) {
    const config = ctx.config;
    const jobs = new JobStore(config.paths.config, join(config.home, 'log'));
    const runningJobs = new Map<string, Promise<JobRun>>();
    let health: { at: number; value: Promise<NodeHealth> } | null = null;

    const jobView = (j: JobDefinition, last: Map<string, JobRun>): JobView => {
      let next: string | null = null;
      try {
        next = j.enabled ? (nextRun(j.schedule)?.toISOString() ?? null) : null;
      } catch {
        next = null; // a hand-edited schedule croner refuses: shown without a next run
      }
      return {
        ...j,
        nextRun: next,
        lastRun: last.get(j.name) ?? null,
        running: runningJobs.has(j.name),
      };
    };

    app.get(
      '/api/v1/services',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary: 'the node’s services under pm2: status, pid, uptime, restarts, cpu, memory',
          tags: ['services'],
        },
      },
      async () => {
        try {
          const running = await listServices(config);
          return { running: running.length > 0, services: serviceViews(running) };
        } catch (err) {
          throw asUiError(err);
        }
      },
    );

    for (const action of ACTIONS) {
      app.post<{ Params: { name: string } }>(
        `/api/v1/services/:name/${action}`,
        {
          config: { access: ADMIN_ONLY },
          schema: { summary: `${action} one service (pm2)`, tags: ['services'], params: nameParam },
        },
        async (request, reply) => {
          const name = request.params.name;
          if (!isServiceName(name)) throw new ParapetError('ERR_UI_NOT_FOUND', 'no such service');
          if (name === ctx.surface && action === 'stop') {
            throw new ParapetError(
              'ERR_UI_CONFLICT',
              'the Manager cannot stop itself: use `parapet service stop manager`',
            );
          }
          if (name === ctx.surface) {
            // Restarting ourselves ends this request's process: answer first, then restart.
            await ctx.audited(request, `service.${action}`, name, {});
            const timer = setTimeout(() => {
              controlService(config, action, name).catch((err: unknown) => {
                ctx.logger.error({ err }, 'restarting the Manager failed');
              });
            }, 300);
            timer.unref();
            return reply.code(202).send({ name, status: 'restarting' });
          }
          const before = (await listServices(config).catch(() => [])).find((s) => s.name === name);
          let after: ServiceStatus | null;
          try {
            after = await controlService(config, action, name);
          } catch (err) {
            await ctx.audited(request, `service.${action}`, name, {}, 'failed');
            throw asUiError(err);
          }
          await ctx.audited(request, `service.${action}`, name, {
            pidBefore: before?.pid ?? null,
            pidAfter: after?.pid ?? null,
          });
          return serviceViews(after === null ? [] : [after]).find((s) => s.name === name);
        },
      );
    }

    app.get(
      '/api/v1/health',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary: 'node health: CPU load, memory, the disk of $PARAPET_HOME, load average',
          tags: ['services'],
        },
      },
      async () => {
        // systeminformation runs df and reads /proc: at most once every 3 s for all callers.
        if (health === null || Date.now() - health.at > 3000) {
          const value = readNodeHealth(config.home);
          health = { at: Date.now(), value };
          value.catch(() => {
            health = null;
          });
        }
        try {
          return await health.value;
        } catch (err) {
          throw new ParapetError('ERR_UI_UNAVAILABLE', 'node health cannot be read', {
            cause: err,
          });
        }
      },
    );

    app.get(
      '/api/v1/jobs',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary: 'scheduled jobs: schedule, enabled, next run, last run',
          tags: ['jobs'],
        },
      },
      async () => {
        try {
          const last = await jobs.lastRuns();
          return { jobs: (await jobs.list()).map((j) => jobView(j, last)) };
        } catch (err) {
          throw asUiError(err);
        }
      },
    );

    app.patch<{ Params: { name: string }; Body: { enabled?: boolean; schedule?: string } }>(
      '/api/v1/jobs/:name',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'enable, disable or re-time a job (the Scheduler picks it up within 2 s)',
          tags: ['jobs'],
          params: nameParam,
          body: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: {
              enabled: { type: 'boolean' },
              schedule: { type: 'string', minLength: 9, maxLength: 100 },
            },
          },
        },
      },
      async (request) => {
        const b = request.body;
        let job: JobDefinition;
        try {
          job = await jobs.update(request.params.name, {
            ...(b.enabled === undefined ? {} : { enabled: b.enabled }),
            ...(b.schedule === undefined ? {} : { schedule: b.schedule }),
          });
        } catch (err) {
          throw asUiError(err);
        }
        await ctx.audited(request, 'job.change', job.name, { ...b });
        return jobView(job, await jobs.lastRuns());
      },
    );

    app.post<{ Params: { name: string } }>(
      '/api/v1/jobs/:name/run',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'run a job now (logged like a scheduled run); 202 while it is still going',
          tags: ['jobs'],
          params: nameParam,
        },
      },
      async (request, reply) => {
        const me = principalOf(request);
        let job: JobDefinition;
        try {
          job = await jobs.get(request.params.name);
        } catch (err) {
          throw asUiError(err);
        }
        if (runningJobs.has(job.name)) {
          throw new ParapetError('ERR_UI_CONFLICT', `'${job.name}' is running already`);
        }
        await ctx.audited(request, 'job.run', job.name, {});
        const run = runJob(jobs, job, { home: config.home, trigger: `manager:${me.username}` });
        runningJobs.set(job.name, run);
        void run
          .catch((err: unknown) => {
            ctx.logger.error({ err, job: job.name }, 'job run failed');
          })
          .finally(() => {
            runningJobs.delete(job.name);
          });
        let timer: NodeJS.Timeout | undefined;
        const waited = await Promise.race([
          run.catch(() => null),
          new Promise<'later'>((resolve) => {
            timer = setTimeout(() => {
              resolve('later');
            }, RUN_WAIT_MS);
          }),
        ]);
        clearTimeout(timer);
        if (waited === 'later') return reply.code(202).send({ job: job.name, running: true });
        if (waited === null) throw new ParapetError('ERR_UI_INTERNAL', 'the job could not run');
        return { job: job.name, running: false, run: waited };
      },
    );
  },
};

/**
 * Runs one job: `parapet ARGS…` as a child process of the same installation and node home,
 * with a time limit, its outcome appended to the run log. Built-in tasks (builtin-tasks.ts)
 * run in this process instead, logged the same way.
 */
import { spawn } from 'node:child_process';
import { loadNodeConfig } from '../config/node-config.js';
import { parapetBinPath } from '../supervisor/node-supervisor.js';
import { BUILTIN_TASKS, runBuiltinTask } from './builtin-tasks.js';
import type { JobDefinition, JobRun, JobStore } from './jobs.js';

const OUTPUT_TAIL = 2000;

export async function runJob(
  store: JobStore,
  job: JobDefinition,
  options: { home: string; trigger: string; timeoutMs?: number },
): Promise<JobRun> {
  const startedAt = new Date().toISOString();
  const { exitCode, output } =
    job.builtin && BUILTIN_TASKS.has(job.name)
      ? await runInProcess(job.name, options.home)
      : await runChild(job, options);
  const run: JobRun = {
    job: job.name,
    startedAt,
    finishedAt: new Date().toISOString(),
    ok: exitCode === 0,
    exitCode,
    output: output.trim(),
    trigger: options.trigger,
  };
  await store.logRun(run);
  return run;
}

/** A built-in task: exit code 0 with its summary, or 1 with the error. */
async function runInProcess(
  name: string,
  home: string,
): Promise<{ exitCode: number; output: string }> {
  try {
    const config = await loadNodeConfig({ ...process.env, PARAPET_HOME: home });
    return { exitCode: 0, output: await runBuiltinTask(name, config) };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const text = err instanceof Error ? err.message : String(err);
    return { exitCode: 1, output: typeof code === 'string' ? `${code}: ${text}` : text };
  }
}

async function runChild(
  job: JobDefinition,
  options: { home: string; timeoutMs?: number },
): Promise<{ exitCode: number | null; output: string }> {
  return await new Promise<{ exitCode: number | null; output: string }>((resolve) => {
    let output = '';
    const child = spawn(process.execPath, [parapetBinPath(), ...job.command], {
      env: { ...process.env, PARAPET_HOME: options.home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer): void => {
      output = (output + d.toString('utf8')).slice(-OUTPUT_TAIL);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      output += '\n(killed: time limit)';
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 3_600_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ exitCode: null, output: `${output}\n${err.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, output });
    });
  });
}

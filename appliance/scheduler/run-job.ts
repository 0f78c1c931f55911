/**
 * Runs one job: `parapet ARGS…` as a child process of the same installation and node home,
 * with a time limit, its outcome appended to the run log.
 */
import { spawn } from 'node:child_process';
import { parapetBinPath } from '../supervisor/node-supervisor.js';
import type { JobDefinition, JobRun, JobStore } from './jobs.js';

const OUTPUT_TAIL = 2000;

export async function runJob(
  store: JobStore,
  job: JobDefinition,
  options: { home: string; trigger: string; timeoutMs?: number },
): Promise<JobRun> {
  const startedAt = new Date().toISOString();
  const { exitCode, output } = await new Promise<{ exitCode: number | null; output: string }>(
    (resolve) => {
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
    },
  );
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

/**
 * A quick look at one mode: sends 1,000 corpus messages through a private Postfix wired to
 * Parapet and prints msg/s and CPU ms per message of the policy service, of the Postfix
 * instance (master, its live children and the children it reaped) and of the whole machine
 * (from /proc; the machine figure includes whatever else runs). CPU per message is the steadier
 * guide on a shared machine: wall-clock rates swing with the neighbours' load.
 * With PARAPET_E2E_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" the service writes a CPU profile
 * (wall-clock samples: time the process spends preempted inside write() shows as write). For
 * on-CPU samples set PROFILE_PERF=FILE (with PARAPET_E2E_NODE_ARGS=--perf-basic-prof): `perf
 * record` follows the service during the run.
 * Usage: node --import tsx appliance/bench/profile-mode.ts [content-filter|milter-tcp|…] [count]
 * [warm-up]: `warm-up` other corpus messages (default 0) go through first, untimed, so that the
 * figures show the steady state rather than start-up (see mta-bench.ts).
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { loadCorpus } from '../test/e2e/support/corpus.js';
import { sendMessages } from '../test/e2e/support/smtp-send.js';
import { startScenario, type ScenarioMode } from '../test/e2e/support/scenario.js';

const mode = (process.argv[2] ?? 'content-filter') as ScenarioMode;
const count = Number(process.argv[3] ?? 1000);
const warmupCount = Number(process.argv[4] ?? 0);
const TICK_MS = 10;

/** Fields of /proc/PID/stat after the command name (index 0 = state), or null when gone. */
function statFields(pid: number): string[] | null {
  try {
    const text = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(') ') + 2).split(' ');
  } catch {
    return null;
  }
}

/** [user, system] CPU ms of a process; with `reaped`, including its waited-for children. */
function cpuMs(pid: number, reaped = false): [number, number] {
  const f = statFields(pid);
  if (f === null) return [0, 0];
  const n = (i: number): number => Number(f[i] ?? 0) * TICK_MS;
  return reaped ? [n(11) + n(13), n(12) + n(14)] : [n(11), n(12)];
}

/** CPU of a process tree: the root with its reaped children, plus live descendants. */
function treeCpuMs(root: number): [number, number] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const f = statFields(pid);
    if (f !== null) parentOf.set(pid, Number(f[1]));
  }
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid, hops = 0; p !== undefined && hops < 64; hops++) {
      if (p === root) return true;
      p = parentOf.get(p);
    }
    return false;
  };
  let user = 0;
  let system = 0;
  for (const pid of parentOf.keys()) {
    if (!inTree(pid)) continue;
    const [u, s] = cpuMs(pid, pid === root);
    user += u;
    system += s;
  }
  return [user, system];
}

/** Busy CPU ms of the whole machine (all cores), from /proc/stat. */
function machineBusyMs(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/) ?? [];
  const v = cpu.slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return (v.reduce((a, b) => a + b, 0) - idle) * TICK_MS;
}

const corpus = await loadCorpus(count + warmupCount);
const s = await startScenario(mode);
if (warmupCount > 0) {
  await sendMessages(
    corpus.slice(count).map((m) => ({ raw: m.raw, name: m.name })),
    { port: s.smtpPort, sessions: 8 },
  );
  await s.sink.waitForCount(warmupCount, 300000);
}
const pid = s.node?.pid();
const master = s.postfix.masterPid();
const sample = (): { node: [number, number]; postfix: [number, number]; machine: number } => ({
  node: pid === undefined ? [0, 0] : cpuMs(pid),
  postfix: master === undefined ? [0, 0] : treeCpuMs(master),
  machine: machineBusyMs(),
});
const perfOut = process.env['PROFILE_PERF'];
const perf =
  perfOut === undefined || pid === undefined
    ? null
    : spawn(
        'perf',
        ['record', '-e', 'cpu-clock', '-F', '1999', '-g', '-o', perfOut, '-p', String(pid)],
        {
          stdio: 'ignore',
        },
      );
if (perf !== null) await new Promise((r) => setTimeout(r, 500));
const c0 = sample();
const t0 = performance.now();
await sendMessages(
  corpus.slice(0, count).map((m) => ({ raw: m.raw, name: m.name })),
  { port: s.smtpPort, sessions: 8 },
);
await s.sink.waitForCount(count + warmupCount, 300000);
const t = (performance.now() - t0) / 1000;
const c1 = sample();
if (perf !== null) {
  const exited = new Promise((r) => perf.once('exit', r));
  perf.kill('SIGINT');
  await exited;
}
const per = (a: number, b: number): string => ((b - a) / count).toFixed(2);
console.log(
  `${mode}${warmupCount > 0 ? ` (after ${String(warmupCount)} warm-up)` : ''}: ${(count / t).toFixed(1)} msg/s; CPU ms per message: policy service ` +
    `user ${per(c0.node[0], c1.node[0])} sys ${per(c0.node[1], c1.node[1])}; ` +
    `postfix user ${per(c0.postfix[0], c1.postfix[0])} sys ${per(c0.postfix[1], c1.postfix[1])}; ` +
    `machine ${per(c0.machine, c1.machine)}`,
);
await s.node?.stop();
await s.stop();

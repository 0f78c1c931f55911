/**
 * A quick look at one mode: sends 1,000 corpus messages through a private Postfix wired to
 * Parapet and prints msg/s and the policy service's CPU ms per message (from /proc). With
 * PARAPET_E2E_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" the service writes a CPU profile.
 * Usage: node --import tsx appliance/bench/profile-mode.ts [content-filter|milter-tcp|…]
 */
import { readFileSync } from 'node:fs';
import { loadCorpus } from '../test/e2e/support/corpus.js';
import { sendMessages } from '../test/e2e/support/smtp-send.js';
import { startScenario, type ScenarioMode } from '../test/e2e/support/scenario.js';
const mode = (process.argv[2] ?? 'content-filter') as ScenarioMode;
/** [user, system] CPU ms of a process, from /proc/PID/stat (clock ticks of 10 ms). */
const cpuMs = (pid: number): [number, number] => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return [Number(f[11]) * 10, Number(f[12]) * 10];
};
const corpus = await loadCorpus(1000);
const s = await startScenario(mode);
const pid = s.node?.pid();
const c0 = pid === undefined ? [0, 0] : cpuMs(pid);
const t0 = performance.now();
await sendMessages(
  corpus.map((m) => ({ raw: m.raw, name: m.name })),
  { port: s.smtpPort, sessions: 8 },
);
await s.sink.waitForCount(1000, 300000);
const t = (performance.now() - t0) / 1000;
const c1 = pid === undefined ? [0, 0] : cpuMs(pid);
console.log(
  `${mode}: ${(1000 / t).toFixed(1)} msg/s; policy service CPU per message: ` +
    `user ${((c1[0]! - c0[0]!) / 1000).toFixed(2)} ms, system ${((c1[1]! - c0[1]!) / 1000).toFixed(2)} ms`,
);
await s.node?.stop();
await s.stop();

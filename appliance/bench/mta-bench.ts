/**
 * `npm run bench:mta` — a benchmark, not a test (issue 2). Sends the same corpus messages with
 * 8 concurrent SMTP sessions through a private Postfix in each mode, interleaved over several
 * rounds, and prints messages/second (median over rounds) and each mode's ratio to Postfix with
 * no filter, plus the content filter's ratio to a bare Node pass-through relay in the same run.
 *
 * A run is timed from the first connection until the sink holds every message. Each round
 * starts a fresh Postfix instance (and policy service) per mode, so queues and caches start
 * equal. Before the timed messages, every run sends BENCH_WARMUP other corpus messages the
 * same way and waits for their delivery: it measures the steady state a running gateway is in,
 * not process start-up (Postfix forking its smtpd/cleanup processes, V8 compiling the policy
 * service's hot code, which alone made the service's CPU per message 2–3 times its steady
 * value over the first 1,000 messages). BENCH_WARMUP=0 measures from cold.
 *
 * For modes with a policy service it also prints the service's CPU milliseconds per timed
 * message (user + system, from /proc): CPU per message stays comparable when other work shares
 * the cores, where messages/second does not.
 *
 * The milter modes also run against their floor: a milter in C (libmilter) that does nothing
 * but add one header, negotiating the same steps as ours on the same transport
 * (floor-milter.c). Its ratio to no filter is what Postfix's own milter work costs here; the
 * floor modes are left out, with a note, when gcc or libmilter-dev is missing.
 *
 * Options (environment): BENCH_MESSAGES (default 1000), BENCH_ROUNDS (default 3),
 * BENCH_SESSIONS (default 8), BENCH_WARMUP (default 300), BENCH_MODES (comma list; default all).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadCorpus } from '../test/e2e/support/corpus.js';
import { sendMessages, summarizeSendResults } from '../test/e2e/support/smtp-send.js';
import { postfixUnavailableReason } from '../test/e2e/support/postfix-instance.js';
import { parapetUnavailableReason } from '../test/e2e/support/parapet-node.js';
import { startScenario, type ScenarioMode } from '../test/e2e/support/scenario.js';
import { floorMilterUnavailableReason } from '../test/e2e/support/floor-milter.js';

const ALL_MODES: readonly ScenarioMode[] = [
  'no-filter',
  'passthrough-relay',
  'content-filter',
  'milter-floor-unix',
  'milter-unix',
  'milter-floor-tcp',
  'milter-tcp',
];

/** Each milter mode's floor: the do-nothing C milter on the same transport. */
const FLOOR_OF: Partial<Record<ScenarioMode, ScenarioMode>> = {
  'milter-unix': 'milter-floor-unix',
  'milter-tcp': 'milter-floor-tcp',
};

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? 0)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** CPU time (user + system) a process has used so far, in ms; null when unreadable. */
async function processCpuMs(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  try {
    const stat = await readFile(`/proc/${String(pid)}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    // Linux reports clock ticks of 1/100 s (USER_HZ) on every architecture Node runs on.
    return Number.isFinite(ticks) ? ticks * 10 : null;
  } catch {
    return null;
  }
}

interface RunResult {
  readonly rate: number;
  /** The policy service's CPU ms per timed message; null without a policy service. */
  readonly cpuMsPerMessage: number | null;
}

async function runOnce(
  mode: ScenarioMode,
  messages: readonly { raw: Buffer; name: string }[],
  warmup: readonly { raw: Buffer; name: string }[],
  sessions: number,
): Promise<RunResult> {
  const scenario = await startScenario(mode);
  try {
    if (warmup.length > 0) {
      const warm = summarizeSendResults(
        await sendMessages(warmup, { port: scenario.smtpPort, sessions, seqHeader: 'X-E2E-Seq' }),
      );
      if (warm.accepted !== warmup.length) {
        throw new Error(`${mode}: warm-up: only ${warm.accepted}/${warmup.length} accepted`);
      }
      await scenario.sink.waitForCount(warmup.length, 300_000);
    }
    const pid = scenario.node?.pid();
    const cpuBefore = await processCpuMs(pid);
    const started = performance.now();
    const results = await sendMessages(messages, {
      port: scenario.smtpPort,
      sessions,
      seqHeader: 'X-E2E-Seq',
    });
    const summary = summarizeSendResults(results);
    if (summary.accepted !== messages.length) {
      throw new Error(`${mode}: only ${summary.accepted}/${messages.length} accepted`);
    }
    await scenario.sink.waitForCount(warmup.length + messages.length, 300_000);
    const seconds = (performance.now() - started) / 1000;
    const cpuAfter = await processCpuMs(pid);
    const cpuMsPerMessage =
      cpuBefore === null || cpuAfter === null ? null : (cpuAfter - cpuBefore) / messages.length;
    return { rate: messages.length / seconds, cpuMsPerMessage };
  } finally {
    // SIGTERM first: a graceful exit lets --cpu-prof (PARAPET_E2E_NODE_ARGS) write its profile.
    await scenario.node?.stop();
    await scenario.stop();
  }
}

async function main(): Promise<void> {
  const unavailable = postfixUnavailableReason() ?? parapetUnavailableReason();
  if (unavailable !== undefined) {
    console.error(`bench:mta: ${unavailable}`);
    process.exit(1);
  }
  const count = envNumber('BENCH_MESSAGES', 1000);
  const rounds = envNumber('BENCH_ROUNDS', 3);
  const sessions = envNumber('BENCH_SESSIONS', 8);
  const warmupCount = process.env['BENCH_WARMUP'] === '0' ? 0 : envNumber('BENCH_WARMUP', 300);
  const floorUnavailable = floorMilterUnavailableReason();
  if (floorUnavailable !== undefined) {
    console.log(`bench:mta: no floor milter modes: ${floorUnavailable}`);
  }
  const modes = (process.env['BENCH_MODES']?.split(',') ?? ALL_MODES).filter(
    (m): m is ScenarioMode =>
      (ALL_MODES as readonly string[]).includes(m) &&
      (floorUnavailable === undefined || !m.startsWith('milter-floor-')),
  );
  const corpus = await loadCorpus(count + warmupCount);
  const messages = corpus.slice(0, count).map((m) => ({ raw: m.raw, name: m.name }));
  // Other messages than the timed ones, so every mode times exactly the same 1,000.
  const warmup = corpus.slice(count).map((m) => ({ raw: m.raw, name: m.name }));
  console.log(
    `bench:mta — ${messages.length} messages (after ${warmup.length} untimed warm-up messages), ${sessions} sessions, ${rounds} rounds, modes interleaved`,
  );
  const rates = new Map<ScenarioMode, number[]>(modes.map((m) => [m, []]));
  const cpu = new Map<ScenarioMode, number[]>(modes.map((m) => [m, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const mode of modes) {
      const { rate, cpuMsPerMessage } = await runOnce(mode, messages, warmup, sessions);
      rates.get(mode)?.push(rate);
      if (cpuMsPerMessage !== null) cpu.get(mode)?.push(cpuMsPerMessage);
      const cpuText =
        cpuMsPerMessage === null ? '' : `, policy service ${cpuMsPerMessage.toFixed(2)} CPU ms/msg`;
      console.log(`  round ${round} ${mode.padEnd(18)} ${rate.toFixed(1)} msg/s${cpuText}`);
    }
  }
  const med = new Map([...rates].map(([m, r]) => [m, median(r)]));
  const medCpu = new Map([...cpu].filter(([, c]) => c.length > 0).map(([m, c]) => [m, median(c)]));
  const base = med.get('no-filter');
  const relay = med.get('passthrough-relay');
  console.log(
    '\nmode                 median msg/s   vs no filter   vs pass-through relay   vs floor milter   CPU ms/msg',
  );
  const rows = modes.map((mode) => {
    const value = med.get(mode) ?? 0;
    const ratio = base === undefined ? null : value / base;
    const relayRatio = relay === undefined ? null : value / relay;
    const cpuMs = medCpu.get(mode) ?? null;
    const floorMode = FLOOR_OF[mode];
    const floorRate = floorMode === undefined ? undefined : med.get(floorMode);
    const floorRatio = floorRate === undefined ? null : value / floorRate;
    const cell = (x: number | null, width: number): string =>
      (x === null ? '-' : x.toFixed(2)).padStart(width);
    console.log(
      `${mode.padEnd(20)} ${value.toFixed(1).padStart(12)}   ${cell(ratio, 12)}   ${cell(relayRatio, 21)}   ${cell(floorRatio, 15)}   ${cell(cpuMs, 10)}`,
    );
    return {
      mode,
      medianMsgPerSec: value,
      rounds: rates.get(mode),
      ratioToNoFilter: ratio,
      ratioToRelay: relayRatio,
      ratioToFloorMilter: floorRatio,
      policyCpuMsPerMessage: cpuMs,
    };
  });
  await mkdir('bench-results', { recursive: true });
  const file = `bench-results/mta-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  await writeFile(
    file,
    JSON.stringify({ count, warmup: warmup.length, sessions, rounds, rows }, null, 2),
  );
  console.log(`\nwritten ${file}`);
}

await main();

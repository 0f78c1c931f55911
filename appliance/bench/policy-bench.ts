/**
 * `npm run bench:policy` — a benchmark, not a test (issue 3). Compiles a Sieve policy once and
 * evaluates it over the SpamAssassin corpus for several rounds on this one thread, then prints
 * µs per evaluation (median of the rounds, and p50/p99 of single evaluations), evaluations per
 * second and CPU time per evaluation. One evaluation is what the policy service does per
 * message after scanning: build the Sieve view of the raw message and run the script. Loading
 * the corpus and deriving the inputs are not timed.
 *
 * Options:
 *   --script FILE       the policy (default: filter/policy/default/default.sieve when it
 *                       exists, else the core-Sieve stand-in policy-bench-standin.sieve);
 *                       paths are relative to the repository root
 *   --extensions MODULE a module whose default export is `SieveExtension[]` (passed to
 *                       `compile` as extraExtensions); it may also export
 *                       `benchInput(message)` returning extra evaluation inputs for a message
 *   --rounds N          measured rounds after one warm-up round (default 5)
 *   --messages N        use the first N corpus messages (default: all 6,046)
 *   --json FILE         also write the figures as JSON
 *
 * A script that requires a `vnd.parapet.*` capability runs as the policy host runs it
 * (`policy.runGatewayPolicy` with the gateway extensions, a scan result and policy lists);
 * any other script through the core (`sieve.evaluateSync`).
 *
 * Inputs per message (nothing is scanned here, so they are derived deterministically): a spam
 * score from the corpus group (spam mostly above the threshold of 5, ham mostly below) plus a
 * hash of the file name; 1 in 50 messages infected, 1 in 100 not virus-scanned; envelope
 * sender from Return-Path (else From), recipient from Delivered-To (else To); client address
 * from the first Received line; the clock pinned to the corpus era (FIELD-NOTES.md).
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { policy, sieve, type ScanResult } from '../../filter/index.js';
import { CORPUS_GROUPS, corpusDataDir, type CorpusGroup } from '../test/e2e/support/corpus.js';

const DEFAULT_POLICY = 'filter/policy/default/default.sieve';
// Paths are relative to the repository root (npm runs scripts there; dist/ has no .sieve files).
const STANDIN_POLICY = 'appliance/bench/policy-bench-standin.sieve';
/** 2002-10-01T00:00:00Z: the corpus era, so date rules behave as they would have then. */
const CORPUS_NOW_MS = Date.UTC(2002, 9, 1);
const SPAM_THRESHOLD = 5;

type CoreInput = Parameters<typeof sieve.evaluateSync>[1];
type ExtraInput = Partial<Omit<CoreInput, 'message'>>;

/** One corpus message as the bench uses it. */
export interface BenchMessage {
  /** `<group>/<file name>`. */
  readonly name: string;
  readonly group: CorpusGroup;
  /** CRLF line ends, without the mbox `From ` line (as it arrives over SMTP). */
  readonly raw: Buffer;
}

interface ExtensionModule {
  readonly default: readonly sieve.SieveExtension[];
  readonly benchInput?: (message: BenchMessage) => ExtraInput;
}

function isExtensionModule(m: unknown): m is ExtensionModule {
  return typeof m === 'object' && m !== null && 'default' in m && Array.isArray(m.default);
}

/**
 * Reads the whole corpus in a fixed order (groups, then file names). Written with whole-buffer
 * operations rather than corpus.ts's per-byte copy, which leaves ~100 MB of garbage that the
 * collector would still be clearing during the timed rounds.
 */
async function loadMessages(limit: number): Promise<BenchMessage[]> {
  const dir = corpusDataDir();
  const out: BenchMessage[] = [];
  for (const group of [...CORPUS_GROUPS].sort()) {
    const files = (await readdir(join(dir, group))).filter((f) => f.endsWith('.txt')).sort();
    for (const file of files) {
      if (out.length >= limit) return out;
      let text = (await readFile(join(dir, group, file))).toString('latin1');
      if (text.startsWith('From ')) text = text.slice(text.indexOf('\n') + 1);
      text = text.replace(/\r?\n/g, '\r\n');
      if (!text.endsWith('\r\n')) text += '\r\n';
      out.push({ name: `${group}/${file}`, group, raw: Buffer.from(text, 'latin1') });
    }
  }
  return out;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? 0;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? 0)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** FNV-1a of a string, for deterministic per-message inputs. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** First value of a header in the raw message (unfolded), or null. */
function headerOf(raw: Buffer, name: string): string | null {
  const end = raw.indexOf('\r\n\r\n');
  const block = raw.subarray(0, end < 0 ? raw.length : end).toString('latin1');
  const m = new RegExp(`^${name}:[ \\t]*(.*(?:\\r\\n[ \\t].*)*)`, 'im').exec(block);
  return m?.[1]?.replace(/\r\n[ \t]/g, ' ') ?? null;
}

function addressIn(value: string | null): string {
  if (value === null) return '';
  const angle = /<([^<>]*)>/.exec(value);
  if (angle !== null) return angle[1] ?? '';
  return /[^\s"<>(),;]+@[^\s"<>(),;]+/.exec(value)?.[0] ?? '';
}

interface DerivedInput {
  readonly envelopeFrom: string;
  readonly envelopeTo: string;
  readonly spamScore: number;
  readonly virus: 'clean' | 'infected' | 'unscanned';
  readonly clientAddress: string | null;
}

function derive(message: BenchMessage): DerivedInput {
  const h = hash(message.name);
  const spam = message.group.startsWith('spam');
  const returnPath = headerOf(message.raw, 'Return-Path');
  return {
    envelopeFrom: addressIn(returnPath ?? headerOf(message.raw, 'From')),
    envelopeTo: addressIn(headerOf(message.raw, 'Delivered-To') ?? headerOf(message.raw, 'To')),
    // Ham mostly 0–5, spam mostly 4–16, with overlap; the threshold is 5.
    spamScore: spam ? 4 + (h % 1200) / 100 : -1 + ((h >>> 8) % 600) / 100,
    virus: h % 50 === 7 ? 'infected' : h % 100 === 11 ? 'unscanned' : 'clean',
    clientAddress:
      /\[(\d{1,3}(?:\.\d{1,3}){3})\]/.exec(headerOf(message.raw, 'Received') ?? '')?.[1] ?? null,
  };
}

/** Small lists in the shape the default policy reads; some entries match corpus senders. */
const POLICY_LISTS = [
  {
    name: 'block-senders',
    entries: ['insurancemail.net', 'newsletter.online.com', 'spammer.example', 'lotto.example'],
  },
  { name: 'block-ips', entries: ['192.0.2.0/24', '198.51.100.7', '10.66.0.0/16'] },
  { name: 'allow-senders', entries: ['perl.org', 'freshrpms.net', 'partner.example'] },
  { name: 'allow-ips', entries: ['203.0.113.0/24'] },
];

function scanResultOf(d: DerivedInput): ScanResult {
  return {
    score: d.spamScore,
    threshold: SPAM_THRESHOLD,
    spam: d.spamScore >= SPAM_THRESHOLD,
    findings: [],
    skipped: [],
    virus: {
      status: d.virus,
      names: d.virus === 'infected' ? ['Eicar-Test-Signature'] : [],
    },
    attachments: [],
    auth: null,
    unscannable: null,
  };
}

/**
 * Evaluates one message; with `describe`, also says which actions the policy decided (for the
 * summary, outside the measured rounds' work otherwise).
 */
type Evaluate = (index: number, describe: boolean) => Promise<string> | string;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      script: { type: 'string' },
      extensions: { type: 'string' },
      rounds: { type: 'string', default: '5' },
      messages: { type: 'string' },
      json: { type: 'string' },
    },
  });
  const rounds = Math.max(1, Number(values.rounds) || 5);
  const limit = values.messages === undefined ? Infinity : Math.max(1, Number(values.messages));
  const scriptPath =
    values.script ?? (existsSync(DEFAULT_POLICY) ? DEFAULT_POLICY : STANDIN_POLICY);
  const scriptText = await readFile(scriptPath, 'utf8');
  const gateway = /"vnd\.parapet\./.test(scriptText);

  let extensions: readonly sieve.SieveExtension[] = gateway ? policy.GATEWAY_EXTENSIONS : [];
  let benchInput: ExtensionModule['benchInput'];
  if (values.extensions !== undefined) {
    const mod: unknown = await import(pathToFileURL(resolve(values.extensions)).href);
    if (!isExtensionModule(mod)) {
      throw new Error(`${values.extensions}: the default export must be SieveExtension[]`);
    }
    extensions = [...extensions, ...mod.default];
    benchInput = mod.benchInput;
  }

  const compileStart = performance.now();
  const compiled = sieve.compile(scriptText, { extraExtensions: extensions });
  const compileMs = performance.now() - compileStart;
  if (!compiled.ok) {
    for (const e of compiled.errors) console.error(`${scriptPath}: ${e.toPositionedString()}`);
    process.exit(1);
  }
  const script = compiled.script;

  const corpus = await loadMessages(limit);
  const derived = corpus.map(derive);
  let evaluate: Evaluate;
  if (gateway) {
    const data = policy.compilePolicyData(POLICY_LISTS);
    const inputs: policy.GatewayEvaluationInput[] = corpus.map((m, i) => {
      const d = derived[i] as DerivedInput;
      return {
        message: m.raw,
        envelopeFrom: d.envelopeFrom,
        envelopeTo: d.envelopeTo,
        facts: {
          scan: scanResultOf(d),
          clientAddress: d.clientAddress,
          recipients: [d.envelopeTo],
          data,
        },
        nowMs: CORPUS_NOW_MS,
        localZoneMinutes: 0,
        ...(benchInput?.(m) ?? {}),
      };
    });
    evaluate = async (i, describe) => {
      const out = await policy.runGatewayPolicy(script, inputs[i] as policy.GatewayEvaluationInput);
      if (!describe) return '';
      const types = [
        ...out.sieve.actions.map((a) => a.action.type),
        ...out.gateway.map((a) => a.action.type),
      ];
      return types.join('+') + (out.sieve.runtimeError === null ? '' : ' (run-time error)');
    };
  } else {
    const inputs: CoreInput[] = corpus.map((m, i) => {
      const d = derived[i] as DerivedInput;
      return {
        message: m.raw,
        envelopeFrom: d.envelopeFrom,
        envelopeTo: d.envelopeTo,
        spamScore: d.spamScore,
        spamMax: 2 * SPAM_THRESHOLD,
        virusLevel: d.virus === 'infected' ? 5 : d.virus === 'unscanned' ? 0 : 1,
        nowMs: CORPUS_NOW_MS,
        localZoneMinutes: 0,
        ...(benchInput?.(m) ?? {}),
      };
    });
    evaluate = (i, describe) => {
      const out = sieve.evaluateSync(script, inputs[i] as CoreInput);
      if (!describe) return '';
      return (
        out.actions.map((a) => a.action.type).join('+') +
        (out.runtimeError === null ? '' : ' (run-time error)')
      );
    };
  }

  const bytes = corpus.reduce((n, m) => n + m.raw.length, 0);
  const n = corpus.length;
  console.log(
    `bench:policy — ${scriptPath} (${gateway ? 'gateway host' : 'core'}; compiled in ` +
      `${compileMs.toFixed(1)} ms), ${n} messages (${(bytes / 1048576).toFixed(1)} MiB), ` +
      `1 warm-up + ${rounds} rounds, node ${process.version}`,
  );

  // What the policy decided, so a change in speed can be told from a change in behaviour.
  const decisions = new Map<string, number>();
  const roundUs: number[] = [];
  const cpuUs: number[] = [];
  const single = new Float64Array(n * rounds);
  for (let round = 0; round <= rounds; round++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const s = performance.now();
      const decided = evaluate(i, round === 1);
      const key = typeof decided === 'string' ? decided : await decided;
      const e = performance.now();
      if (round > 0) single[(round - 1) * n + i] = (e - s) * 1000;
      if (round === 1) decisions.set(key, (decisions.get(key) ?? 0) + 1);
    }
    const wallUs = ((performance.now() - t0) * 1000) / n;
    const cpu = process.cpuUsage(cpu0);
    const cpuPerEval = (cpu.user + cpu.system) / n;
    const line = `${wallUs.toFixed(2)} µs/eval  ${Math.round(1e6 / wallUs).toLocaleString('en')} evals/s  cpu ${cpuPerEval.toFixed(2)} µs/eval`;
    if (round === 0) {
      console.log(`  warm-up  ${line}`);
      continue;
    }
    roundUs.push(wallUs);
    cpuUs.push(cpuPerEval);
    console.log(`  round ${round}  ${line}`);
  }
  single.sort();
  const medUs = median(roundUs);
  const summary = {
    script: scriptPath,
    mode: gateway ? 'gateway' : 'core',
    messages: n,
    rounds,
    node: process.version,
    compileMs,
    usPerEvalMedian: medUs,
    evalsPerSecond: 1e6 / medUs,
    p50Us: percentile(single, 50),
    p99Us: percentile(single, 99),
    maxUs: percentile(single, 100),
    cpuUsPerEvalMedian: median(cpuUs),
    decisions: Object.fromEntries([...decisions].sort((a, b) => b[1] - a[1])),
  };
  console.log(
    `\nmedian ${medUs.toFixed(2)} µs/eval = ${Math.round(summary.evalsPerSecond).toLocaleString('en')} evals/s on one core` +
      ` (target 50,000); single evaluations p50 ${summary.p50Us.toFixed(1)} µs, p99 ${summary.p99Us.toFixed(1)} µs;` +
      ` cpu ${summary.cpuUsPerEvalMedian.toFixed(2)} µs/eval (all threads, GC included)`,
  );
  console.log('decisions (first measured round):');
  for (const [k, v] of Object.entries(summary.decisions))
    console.log(`  ${String(v).padStart(6)}  ${k}`);
  if (values.json !== undefined) {
    await writeFile(values.json, JSON.stringify(summary, null, 2) + '\n');
    console.log(`written ${values.json}`);
  }
}

await main();

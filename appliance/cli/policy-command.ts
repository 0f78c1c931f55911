/**
 * `parapet policy check|eval|replay` (CONTRACTS.md "CLI"): validate a Sieve policy, evaluate it
 * over one message printing the "Sieve evaluation output" object, and replay a candidate policy
 * next to the active one over a folder of messages. Policies are compiled with Parapet's
 * gateway extensions; named lists come from `$PARAPET_HOME/config/lists` (list-command.ts).
 * Message files may start with an mbox "From " line and use LF line ends.
 * Exit codes: 0, 1 handled error (one line on stderr; `check` prints one line per error),
 * 2 usage error.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  BodySpool,
  createEnvelope,
  emptyScanResult,
  Message,
  newParapetId,
  ParapetError,
  parseHeaderBlock,
  policy,
  sieve,
  unfoldHeaderValue,
  type HeaderList,
  type ScanResult,
} from '../../filter/index.js';
import { resolveParapetHome } from '../config/node-config.js';
import { loadPolicyData } from './list-command.js';

/** A message file read for the CLI: CRLF bytes without the mbox line, and the mbox sender. */
export interface MessageFile {
  readonly raw: Buffer;
  /** The address of a leading mbox "From " line, or null. */
  readonly mboxSender: string | null;
}

/** Reads a message file: strips a leading mbox "From " line and turns bare LF into CRLF. */
export async function readMessageFile(file: string): Promise<MessageFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ParapetError('ERR_INPUT_UNREADABLE', `${file}: ${String(err)}`, { cause: err });
  }
  let mboxSender: string | null = null;
  if (bytes.subarray(0, 5).toString('latin1') === 'From ') {
    const nl = bytes.indexOf(0x0a);
    const line = bytes.subarray(5, nl < 0 ? bytes.length : nl).toString('latin1');
    const sender = line.trim().split(/\s+/)[0] ?? '';
    mboxSender = sender === 'MAILER-DAEMON' ? '' : sender;
    bytes = nl < 0 ? Buffer.alloc(0) : bytes.subarray(nl + 1);
  }
  const text = bytes.toString('latin1').replace(/\r?\n/g, '\r\n');
  return { raw: Buffer.from(text, 'latin1'), mboxSender };
}

/** Builds a Message the way an adapter would. */
export async function buildMessage(
  raw: Buffer,
  envelope: { from: string; to: readonly string[]; clientIp: string | null },
): Promise<Message> {
  const sep = raw.indexOf('\r\n\r\n');
  const headerEnd = sep < 0 ? raw.length : sep + 2;
  const headers = parseHeaderBlock(raw.subarray(0, headerEnd));
  const body = new BodySpool({ spoolMemoryBytes: 64 * 1024 * 1024 });
  if (sep >= 0) await body.write(raw.subarray(sep + 4));
  await body.seal();
  const env = createEnvelope({ address: envelope.clientIp });
  env.mailFrom = { address: envelope.from, args: {} };
  env.recipients = envelope.to.map((address) => ({ address, args: {} }));
  return new Message({ id: newParapetId(), envelope: env, headers, body });
}

const NUMBER = /-?[0-9]+(?:\.[0-9]+)?/;

/**
 * Scan facts recorded in a stored message: Parapet's own X-Parapet-Spam / X-Parapet-Virus
 * (CONTRACTS.md), else SpamAssassin's X-Spam-Status. Null when the message carries none.
 */
export function scanFromHeaders(headers: HeaderList): ScanResult | null {
  const spam = headers.getFirst('x-parapet-spam');
  const virus = headers.getFirst('x-parapet-virus');
  const sa = headers.getFirst('x-spam-status');
  let score: number | null = null;
  let threshold = 5;
  let symbols: string[] = [];
  const num = (text: string | undefined): number | null => {
    const m = text === undefined ? null : NUMBER.exec(text);
    return m === null ? null : Number(m[0]);
  };
  if (spam !== null) {
    score = num(/score=([^;]*)/.exec(spam)?.[1]);
    threshold = num(/threshold=([^;]*)/.exec(spam)?.[1]) ?? threshold;
    symbols = (/symbols=([^;]*)/.exec(spam)?.[1] ?? '').split(',').map((s) => s.trim());
  } else if (sa !== null) {
    const v = unfoldHeaderValue(sa);
    score = num(/score=(\S+)/.exec(v)?.[1]);
    threshold = num(/required=(\S+)/.exec(v)?.[1]) ?? threshold;
    symbols = (/tests=(\S*)/.exec(v)?.[1] ?? '').split(',').map((s) => s.trim());
  }
  if (score === null && virus === null) return null;
  const base = emptyScanResult(threshold);
  const s = score ?? 0;
  let virusResult: ScanResult['virus'] = null;
  if (virus !== null) {
    const v = virus.trim().toLowerCase();
    if (v.startsWith('infected')) {
      const names = /\((.*)\)/.exec(virus)?.[1] ?? '';
      virusResult = {
        status: 'infected',
        names: names
          .split(',')
          .map((n) => n.trim())
          .filter((n) => n !== ''),
      };
    } else virusResult = { status: v.startsWith('unscanned') ? 'unscanned' : 'clean', names: [] };
  }
  return {
    ...base,
    score: s,
    spam: s >= threshold,
    findings: symbols.filter((n) => n !== '').map((symbol) => ({ symbol, score: 0 })),
    virus: virusResult,
  };
}

function includeResolver(dir: string | undefined): ((name: string) => string | null) | undefined {
  if (dir === undefined) return undefined;
  return (name) => {
    // Script names are plain file names in the include directory (no paths).
    if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(name)) return null;
    try {
      return readFileSync(join(dir, `${name}.sieve`), 'utf8');
    } catch {
      return null;
    }
  };
}

async function readScript(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ParapetError('ERR_INPUT_UNREADABLE', `${file}: ${String(err)}`, { cause: err });
  }
}

function compileText(text: string, includeDir: string | undefined): sieve.SieveCompileResult {
  const resolveInclude = includeResolver(includeDir);
  return sieve.compile(text, {
    extraExtensions: policy.GATEWAY_EXTENSIONS,
    ...(resolveInclude === undefined ? {} : { resolveInclude }),
  });
}

function positioned(file: string, e: { line: number; column: number; message: string }): string {
  return `${file}:${e.line}:${e.column}: ${e.message}`;
}

async function compileFile(file: string, includeDir: string | undefined) {
  const result = compileText(await readScript(file), includeDir);
  if (!result.ok) {
    const first = result.errors[0];
    throw new ParapetError(
      'ERR_POLICY_INVALID',
      first === undefined ? `${file}: invalid` : positioned(file, first),
    );
  }
  return result.script;
}

interface CheckFlags {
  readonly includeDir?: string;
  readonly json?: boolean;
}

async function checkCommand(file: string, flags: CheckFlags): Promise<void> {
  const result = compileText(await readScript(file), flags.includeDir);
  if (flags.json === true) {
    console.log(
      JSON.stringify(
        result.ok ? { valid: true, warnings: result.warnings } : sieve.toContractJson(result),
      ),
    );
  }
  if (!result.ok) {
    for (const e of result.errors) process.stderr.write(`${positioned(file, e)}\n`);
    process.exitCode = 1;
    return;
  }
  for (const w of result.warnings) {
    process.stderr.write(`${file}:${w.line}:${w.column}: warning: ${w.message}\n`);
  }
}

interface EvalFlags {
  readonly script: string;
  readonly from: string;
  readonly to: string;
  readonly spamScore?: number;
  readonly spamMax?: number;
  readonly threshold?: number;
  readonly virusLevel?: number;
  readonly clientIp?: string;
  readonly includeDir?: string;
  readonly json?: boolean;
}

function parseNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n))
    throw new InvalidArgumentError(`not a number: ${value}`);
  return n;
}

function parseVirusLevel(value: string): number {
  const n = Number(value);
  if (!/^[0-5]$/.test(value) || !Number.isInteger(n)) throw new InvalidArgumentError('must be 0-5');
  return n;
}

/** The scan result `eval` gives the gateway tests, from --spam-score/--virus-level. */
function evalScan(flags: EvalFlags): ScanResult | null {
  if (flags.spamScore === undefined && flags.virusLevel === undefined) return null;
  const threshold = flags.threshold ?? 5;
  const score = flags.spamScore ?? 0;
  const level = flags.virusLevel;
  return {
    ...emptyScanResult(threshold),
    score,
    spam: flags.spamScore !== undefined && score >= threshold,
    virus:
      level === undefined
        ? null
        : level === 0
          ? { status: 'unscanned', names: [] }
          : level === 1
            ? { status: 'clean', names: [] }
            : { status: 'infected', names: [] },
  };
}

function formatAction(a: policy.GatewayContractAction): string {
  const { type, ...rest } = a;
  const parts = Object.entries(rest).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return [type, ...parts].join(' ');
}

async function evalCommand(messageFile: string, flags: EvalFlags): Promise<void> {
  const text = await readScript(flags.script);
  const compiled = compileText(text, flags.includeDir);
  if (!compiled.ok) {
    if (flags.json === true) console.log(JSON.stringify(sieve.toContractJson(compiled)));
    const first = compiled.errors[0];
    if (first !== undefined) process.stderr.write(`${positioned(flags.script, first)}\n`);
    process.exitCode = 1;
    return;
  }
  const message = await readMessageFile(messageFile);
  const outcome = await policy.runGatewayPolicy(compiled.script, {
    message: message.raw,
    envelopeFrom: flags.from,
    envelopeTo: flags.to,
    facts: {
      scan: evalScan(flags),
      clientAddress: flags.clientIp ?? null,
      recipients: [flags.to],
      data: await loadPolicyData(),
    },
    spamScore: flags.spamScore ?? null,
    spamMax: flags.spamMax ?? 10,
    virusLevel: flags.virusLevel ?? null,
  });
  const json = policy.gatewayContractJson(outcome);
  if (flags.json === true) {
    console.log(JSON.stringify(json));
    return;
  }
  if (!json.valid) return;
  if (json.runtime_error) {
    const e = outcome.sieve.runtimeError;
    console.log(`runtime error${e === null ? '' : `: ${positioned(flags.script, e)}`}`);
  }
  for (const a of json.actions) console.log(formatAction(a));
}

interface ReplayFlags {
  readonly script: string;
  readonly active?: string;
  readonly from?: string;
  readonly to?: string;
  readonly includeDir?: string;
  readonly json?: boolean;
}

/** What one policy did with one message, in replay. */
export interface ReplayVerdict {
  readonly kind: string;
  readonly rule: string;
  /** Reason (quarantine, discard) or reply text (reject, tempfail). */
  readonly detail: string;
  /** Modifications of an accept, as JSON (compared, not printed). */
  readonly modifications: string;
}

function verdictOf(d: policy.SievePolicyDecision): ReplayVerdict {
  switch (d.kind) {
    case 'accept':
      return {
        kind: 'accept',
        rule: d.rule ?? '',
        detail: d.modifications.length === 0 ? '' : `${d.modifications.length} changes`,
        modifications: JSON.stringify(d.modifications),
      };
    case 'discard':
    case 'quarantine':
      return { kind: d.kind, rule: d.rule ?? '', detail: d.reason, modifications: '' };
    case 'reject':
    case 'tempfail':
      return {
        kind: d.kind,
        rule: d.rule ?? '',
        detail: `${d.reply.code} ${d.reply.text}`,
        modifications: '',
      };
  }
}

function showVerdict(v: ReplayVerdict): string {
  return v.detail === '' ? v.kind : `${v.kind} (${v.detail})`;
}

/** First address-looking token of a header value. */
function firstAddress(value: string | null): string | null {
  return value === null ? null : (/[^\s<>,;:"()]+@[^\s<>,;:"()]+/.exec(value)?.[0] ?? null);
}

async function replayCommand(dir: string, flags: ReplayFlags): Promise<void> {
  const candidate = await compileFile(flags.script, flags.includeDir);
  // The active policy: --active, else the node's $PARAPET_HOME/config/policy.sieve, else the
  // built-in default policy.
  const nodePolicy = join(resolveParapetHome(), 'config', 'policy.sieve');
  const activeFile = flags.active ?? (existsSync(nodePolicy) ? nodePolicy : undefined);
  const activeScript =
    activeFile === undefined
      ? (() => {
          const r = policy.compilePolicy();
          if (!r.ok) throw new ParapetError('ERR_POLICY_INVALID', 'the default policy is invalid');
          return r.script;
        })()
      : await compileFile(activeFile, flags.includeDir);
  const data = await loadPolicyData();
  const candidateRun = policy.createSievePolicyEvaluator({
    script: candidate,
    scriptName: basename(flags.script),
    data,
  });
  const activeRun = policy.createSievePolicyEvaluator({
    script: activeScript,
    scriptName: activeFile === undefined ? 'default.sieve' : basename(activeFile),
    data,
  });
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
  } catch (err) {
    throw new ParapetError('ERR_INPUT_UNREADABLE', `${dir}: ${String(err)}`, { cause: err });
  }
  const counts = { active: new Map<string, number>(), candidate: new Map<string, number>() };
  const changed: { file: string; active: ReplayVerdict; candidate: ReplayVerdict }[] = [];
  let total = 0;
  const signal = new AbortController().signal;
  for (const name of names) {
    const file = join(dir, name);
    if (!(await stat(file)).isFile()) continue;
    total++;
    const m = await readMessageFile(file);
    const headers = parseHeaderBlock(m.raw.subarray(0, Math.max(0, m.raw.indexOf('\r\n\r\n') + 2)));
    const from = flags.from ?? m.mboxSender ?? firstAddress(headers.getFirst('return-path')) ?? '';
    const to =
      flags.to ??
      firstAddress(headers.getFirst('delivered-to')) ??
      firstAddress(headers.getFirst('x-original-to')) ??
      firstAddress(headers.getFirst('to')) ??
      'postmaster@localhost';
    const scan = scanFromHeaders(headers) ?? emptyScanResult();
    const verdicts: ReplayVerdict[] = [];
    for (const run of [activeRun, candidateRun]) {
      const message = await buildMessage(m.raw, { from, to: [to], clientIp: null });
      try {
        verdicts.push(verdictOf(await run({ message, scan, signal })));
      } finally {
        await message.dispose();
      }
    }
    const [a, c] = verdicts;
    if (a === undefined || c === undefined) continue;
    counts.active.set(a.kind, (counts.active.get(a.kind) ?? 0) + 1);
    counts.candidate.set(c.kind, (counts.candidate.get(c.kind) ?? 0) + 1);
    if (a.kind !== c.kind || a.detail !== c.detail || a.modifications !== c.modifications) {
      changed.push({ file: name, active: a, candidate: c });
    }
  }
  const summary = {
    messages: total,
    changed: changed.length,
    active: Object.fromEntries([...counts.active].sort()),
    candidate: Object.fromEntries([...counts.candidate].sort()),
  };
  if (flags.json === true) {
    console.log(
      JSON.stringify({
        ...summary,
        changes: changed.map((x) => ({
          file: x.file,
          active: { kind: x.active.kind, rule: x.active.rule, detail: x.active.detail },
          candidate: { kind: x.candidate.kind, rule: x.candidate.rule, detail: x.candidate.detail },
        })),
      }),
    );
    return;
  }
  for (const x of changed) {
    console.log(
      `${x.file}: ${showVerdict(x.active)} -> ${showVerdict(x.candidate)} [${x.candidate.rule}]`,
    );
  }
  const fmt = (m: Map<string, number>): string =>
    [...m]
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  console.log(
    `${total} messages, ${changed.length} changed; active: ${fmt(counts.active)}; candidate: ${fmt(counts.candidate)}`,
  );
}

/** Registers `parapet policy …` on the program. */
export function registerPolicyCommands(program: Command): void {
  const cmd = program.command('policy').description('check, evaluate and replay Sieve policies');
  cmd
    .command('check')
    .description('validate a policy; errors as FILE:LINE:COLUMN: message')
    .argument('<file>', 'Sieve script')
    .option('--include-dir <dir>', 'directory of scripts for include (NAME.sieve)')
    .option('--json', 'print {"valid":…} as JSON too')
    .action((file: string, flags: CheckFlags) => checkCommand(file, flags));
  cmd
    .command('eval')
    .description('evaluate a policy over one message (CONTRACTS.md "Sieve evaluation output")')
    .requiredOption('--script <file>', 'Sieve script')
    .requiredOption('--from <address>', 'envelope sender ("" for <>)')
    .requiredOption('--to <address>', 'envelope recipient')
    .option('--spam-score <n>', 'spam score (spamtest; gateway spam tests)', parseNumber)
    .option('--spam-max <m>', 'spamtest scale maximum (default 10)', parseNumber)
    .option('--threshold <t>', 'spam threshold for the gateway tests (default 5)', parseNumber)
    .addOption(
      new Option('--virus-level <0-5>', 'RFC 5235 virustest level').argParser(parseVirusLevel),
    )
    .option('--client-ip <ip>', 'client IP address for clientip / listed :ip')
    .option('--include-dir <dir>', 'directory of scripts for include (NAME.sieve)')
    .option('--json', 'print the JSON object')
    .argument('<message>', 'message file (mbox "From " line and LF line ends accepted)')
    .action((message: string, flags: EvalFlags) => evalCommand(message, flags));
  cmd
    .command('replay')
    .description('run a candidate policy next to the active one over a folder of messages')
    .requiredOption('--script <file>', 'candidate Sieve script')
    .option(
      '--active <file>',
      'the active policy (default: $PARAPET_HOME/config/policy.sieve, else the built-in default)',
    )
    .option('--from <address>', 'envelope sender for every message (default: from the message)')
    .option('--to <address>', 'envelope recipient for every message (default: from the message)')
    .option('--include-dir <dir>', 'directory of scripts for include (NAME.sieve)')
    .option('--json', 'print JSON')
    .argument('<dir>', 'folder of message files')
    .action((dir: string, flags: ReplayFlags) => replayCommand(dir, flags));
  for (const c of cmd.commands) c.exitOverride();
  cmd.exitOverride();
}

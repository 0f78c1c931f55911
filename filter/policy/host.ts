/**
 * The Sieve policy host (STYLE.md B9.3): a PolicyHook that evaluates one compiled policy per
 * message with the gateway extensions, answers the interpreter's requests from local data
 * (included scripts from the policy store, duplicate tracking in a bounded memory store), and
 * maps the outcome to a PolicyDecision with Modifications and outbound messages. It compiles
 * nothing: the caller compiles once per configuration version and builds a new hook, so a
 * configuration swap is one reference assignment and a message in flight keeps its policy.
 *
 * Decision precedence (filter/policy/README.md): run-time error → keep (the CPU limit →
 * tempfail); tempfail > reject > quarantine (gateway or a fileinto route) > delivery (keep,
 * accept, fileinto routed to deliver) > redirect only (discard + outbound) > discard.
 *
 * Several recipients: the message is evaluated once; the script's envelope "to" is the first
 * recipient, and `listed :recipient` looks at every recipient.
 */
import { randomUUID } from 'node:crypto';
import type { Modification } from '../actions/verdict.js';
import type { Message } from '../message/message.js';
import type {
  OutboundMessage,
  PolicyDecision,
  PolicyHook,
  PolicyInput,
} from '../pipeline/policy-hook.js';
import type { ScanResult } from '../scan/scanner.js';
import { smtpReply } from '../smtp/reply.js';
import {
  gatewayContractJson,
  runGatewayPolicy,
  type GatewayContractResult,
  type GatewayHeaderChanges,
  type GatewayOutcome,
} from './gateway/index.js';
import { compilePolicyData, type PolicyData } from './lists/index.js';
import type { CompiledSieveScript, SieveAnswer, SieveRequest } from './sieve/index.js';

/** Where `fileinto "<mailbox>"` sends the message on a gateway. */
export type FileintoRoute =
  | { readonly action: 'deliver' }
  | { readonly action: 'quarantine'; readonly reason?: string }
  | { readonly action: 'discard' }
  | { readonly action: 'redirect'; readonly address: string };

/** A notice template; `{{name}}` placeholders are filled per message (README.md). */
export interface NoticeTemplate {
  readonly subject: string;
  readonly text: string;
}

/** What one evaluation reports for the log (never message content beyond the subject). */
export interface SievePolicyReport {
  readonly messageId: string;
  readonly decision: PolicyDecision['kind'];
  readonly rule: string;
  readonly runtimeError: {
    readonly code: string;
    readonly message: string;
    readonly line: number;
    readonly column: number;
  } | null;
  readonly warnings: readonly string[];
  /** logmark names, once each, in order. */
  readonly marks: readonly string[];
  readonly steps: number;
}

/** Duplicate tracking for RFC 7352 `duplicate` and vacation (RFC 5230 §4.2). */
export interface DuplicateStore {
  /** True when `key` was marked and has not expired at `nowMs`. */
  has(key: string, nowMs: number): boolean;
  /** Marks `key` until `expiresAtMs`. */
  mark(key: string, expiresAtMs: number): void;
}

/** A bounded in-memory DuplicateStore: the oldest entries go first when it is full. */
export class MemoryDuplicateStore implements DuplicateStore {
  readonly #maxEntries: number;
  readonly #entries = new Map<string, number>();

  constructor(options: { readonly maxEntries?: number } = {}) {
    this.#maxEntries = Math.max(1, options.maxEntries ?? 100_000);
  }

  get size(): number {
    return this.#entries.size;
  }

  has(key: string, nowMs: number): boolean {
    const exp = this.#entries.get(key);
    if (exp === undefined) return false;
    if (exp <= nowMs) {
      this.#entries.delete(key);
      return false;
    }
    return true;
  }

  mark(key: string, expiresAtMs: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, expiresAtMs);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }
}

/** Options of {@link createSievePolicy}. */
export interface SievePolicyOptions {
  /** The policy, compiled with `extraExtensions: GATEWAY_EXTENSIONS`. */
  readonly script: CompiledSieveScript;
  /** Name used in rules ("policy.sieve:12"); default "policy.sieve". */
  readonly scriptName?: string;
  /** Named lists and maps; default none. */
  readonly data?: PolicyData;
  /** fileinto mailbox → route; a mailbox not listed is delivered (keep). */
  readonly mailboxRoutes?: Readonly<Record<string, FileintoRoute>>;
  /** Included scripts from the policy store (null: no such script). */
  readonly includeScript?: (
    name: string,
    location: 'personal' | 'global',
  ) => string | null | Promise<string | null>;
  /** Duplicate tracking; default a MemoryDuplicateStore of 100,000 entries. */
  readonly duplicates?: DuplicateStore;
  /** Notice templates by name. */
  readonly templates?: Readonly<Record<string, NoticeTemplate>>;
  /** From address of notices (default "postmaster@localhost"). */
  readonly noticeFrom?: string;
  /** Host name for Message-IDs of composed messages (default "localhost"). */
  readonly hostname?: string;
  /** spamtest scale maximum for a scan result; default 2 × threshold. */
  readonly spamtestMax?: (scan: ScanResult) => number;
  /** Subaddress separator (RFC 5233), default "+". */
  readonly subaddressSeparator?: string;
  /** Default :seconds of `duplicate` when the script gives none (default 12 h, as Pigeonhole). */
  readonly duplicateDefaultSeconds?: number;
  /** Clock (default Date.now). */
  readonly now?: () => number;
  /** Receives a report per evaluation (log it; must not throw). */
  readonly onEvaluation?: (report: SievePolicyReport) => void;
}

/** A decision plus what the message log and tools want to know about it. */
export type SievePolicyDecision = PolicyDecision & {
  readonly marks: readonly string[];
  /** The CONTRACTS.md "Sieve evaluation output" of this evaluation. */
  readonly result: GatewayContractResult;
};

/** The PolicyHook of a Sieve policy (see the file header). */
export function createSievePolicy(options: SievePolicyOptions): PolicyHook {
  const evaluator = createSievePolicyEvaluator(options);
  return (input) => evaluator(input);
}

/** Like {@link createSievePolicy}, typed with the richer {@link SievePolicyDecision}. */
export function createSievePolicyEvaluator(
  options: SievePolicyOptions,
): (input: PolicyInput) => Promise<SievePolicyDecision> {
  const data = options.data ?? compilePolicyData([]);
  const duplicates = options.duplicates ?? new MemoryDuplicateStore();
  const now = options.now ?? Date.now;
  const name = options.scriptName ?? 'policy.sieve';
  return async (input) => {
    input.signal.throwIfAborted();
    const message = input.message;
    // Shared with the MIME view scanners may have built already: no copy per reader.
    const raw = await message.raw();
    const nowMs = now();
    const recipients = message.envelope.recipients.map((r) => r.address);
    const answer = async (req: SieveRequest): Promise<SieveAnswer> => {
      if (req.kind === 'include') {
        const script = options.includeScript
          ? await options.includeScript(req.name, req.location)
          : null;
        return { kind: 'include', script };
      }
      return {
        kind: 'duplicate',
        duplicate: duplicates.has(`${req.handle}\u0000${req.id}`, nowMs),
      };
    };
    const outcome = await runGatewayPolicy(options.script, {
      message: raw,
      envelopeFrom: message.envelope.mailFrom?.address ?? '',
      envelopeTo: recipients[0] ?? '',
      facts: {
        scan: input.scan,
        clientAddress: message.envelope.client.address,
        recipients,
        data,
        ...(options.subaddressSeparator === undefined
          ? {}
          : { subaddressSeparator: options.subaddressSeparator }),
      },
      ...(options.spamtestMax === undefined ? {} : { spamMax: options.spamtestMax(input.scan) }),
      nowMs,
      answer,
    });
    const decision = sieveOutcomeToDecision(outcome, {
      message,
      scan: input.scan,
      scriptName: name,
      mailboxRoutes: options.mailboxRoutes ?? {},
      templates: options.templates ?? {},
      noticeFrom: options.noticeFrom ?? 'postmaster@localhost',
      hostname: options.hostname ?? 'localhost',
      nowMs,
      duplicates,
    });
    if (outcome.sieve.runtimeError === null) {
      const secs = options.duplicateDefaultSeconds ?? 12 * 3600;
      for (const m of outcome.sieve.duplicateMarks) {
        duplicates.mark(m.id, nowMs + (m.seconds ?? secs) * 1000);
      }
    }
    const err = outcome.sieve.runtimeError;
    options.onEvaluation?.({
      messageId: message.id,
      decision: decision.kind,
      rule: decision.rule ?? name,
      runtimeError:
        err === null
          ? null
          : { code: err.code, message: err.message, line: err.line, column: err.column },
      warnings: outcome.warnings,
      marks: decision.marks,
      steps: outcome.sieve.steps,
    });
    return decision;
  };
}

/**
 * The policy hook the pipeline holds while configurations change: `swap` installs the hook of a
 * new configuration version in one assignment. A message already being decided finishes with
 * the hook it started with; the next message gets the new one (none is dropped or decided
 * twice). Versions only move forward.
 */
export class SwappablePolicy {
  #current: PolicyHook;
  #version: number;

  constructor(initial: PolicyHook, version = 0) {
    this.#current = initial;
    this.#version = version;
  }

  /** The configuration version of the current hook. */
  get version(): number {
    return this.#version;
  }

  /** Installs `next` for `version`; returns false (and keeps the current one) for an old version. */
  swap(next: PolicyHook, version: number): boolean {
    if (version <= this.#version) return false;
    this.#current = next;
    this.#version = version;
    return true;
  }

  /** The PolicyHook to give the pipeline. */
  readonly hook: PolicyHook = (input) => this.#current(input);
}

/** Context of {@link sieveOutcomeToDecision}. */
export interface DecisionContext {
  readonly message: Message;
  readonly scan: ScanResult;
  readonly scriptName: string;
  readonly mailboxRoutes: Readonly<Record<string, FileintoRoute>>;
  readonly templates: Readonly<Record<string, NoticeTemplate>>;
  readonly noticeFrom: string;
  readonly hostname: string;
  readonly nowMs: number;
  readonly duplicates: DuplicateStore;
}

/** Maps one evaluation to the decision (pure apart from vacation duplicate tracking). */
export function sieveOutcomeToDecision(
  outcome: GatewayOutcome,
  ctx: DecisionContext,
): SievePolicyDecision {
  const rule = (line: number): string => `${ctx.scriptName}:${line}`;
  const result = gatewayContractJson(outcome);
  const marks: string[] = [];
  for (const g of outcome.gateway) if (g.action.type === 'logmark') marks.push(g.action.name);
  const base = { marks, result };
  const err = outcome.sieve.runtimeError;
  if (err !== null) {
    // STYLE.md B5.6: running out of steps tempfails; other run-time errors keep (RFC 5228 §2.10.6).
    if (err.code === 'ERR_SIEVE_CPU_LIMIT') {
      return {
        kind: 'tempfail',
        reply: smtpReply(451, '4.3.0', 'Temporary policy failure, try again later'),
        rule: rule(err.line),
        ...base,
      };
    }
    return { kind: 'accept', modifications: [], rule: rule(err.line), ...base };
  }

  const gw = outcome.gateway;
  const tempfail = gw.find((g) => g.action.type === 'tempfail');
  if (tempfail?.action.type === 'tempfail') {
    return {
      kind: 'tempfail',
      reply: smtpReply(451, '4.7.1', oneLine(tempfail.action.reason)),
      rule: rule(tempfail.line),
      ...base,
    };
  }
  const outbound: OutboundMessage[] = [];
  const sender = ctx.message.envelope.mailFrom?.address ?? '';
  const originalTo = (kind: 'redirect' | 'copy', to: string, line: number): OutboundMessage => ({
    kind,
    sender,
    recipients: [to],
    content: { kind: 'original' },
    rule: rule(line),
  });
  // Notices and copies go out whatever happens to the message (except tempfail: it comes back).
  for (const g of gw) {
    if (g.action.type === 'copyto') outbound.push(originalTo('copy', g.action.address, g.line));
    if (g.action.type === 'notice') outbound.push(composeNotice(g.action, g.line, ctx, rule));
  }
  const withOutbound = outbound.length > 0 ? { outbound } : {};

  const reject = outcome.sieve.actions.find((a) => a.action.type === 'reject');
  if (reject?.action.type === 'reject') {
    return {
      kind: 'reject',
      reply: smtpReply(550, '5.7.1', oneLine(reject.action.reason) || 'Message rejected by policy'),
      rule: rule(reject.line),
      ...withOutbound,
      ...base,
    };
  }

  let quarantine: { reason: string; line: number } | null = null;
  const q = gw.find((g) => g.action.type === 'quarantine');
  if (q?.action.type === 'quarantine') quarantine = { reason: q.action.reason, line: q.line };
  let deliverLine: number | null = null;
  let discardLine: number | null = null;
  const redirects: OutboundMessage[] = [];
  let vacation: { action: VacationAction; line: number } | null = null;
  for (const d of outcome.sieve.actions) {
    const a = d.action;
    switch (a.type) {
      case 'keep':
        deliverLine ??= d.line;
        break;
      case 'fileinto': {
        const route = ctx.mailboxRoutes[a.mailbox] ?? { action: 'deliver' };
        switch (route.action) {
          case 'deliver':
            deliverLine ??= d.line;
            break;
          case 'quarantine':
            quarantine ??= { reason: route.reason ?? `fileinto ${a.mailbox}`, line: d.line };
            break;
          case 'discard':
            discardLine ??= d.line;
            break;
          case 'redirect':
            redirects.push(originalTo('redirect', route.address, d.line));
            break;
        }
        break;
      }
      case 'redirect':
        redirects.push(originalTo('redirect', a.address, d.line));
        break;
      case 'discard':
        discardLine ??= d.line;
        break;
      case 'vacation':
        vacation = { action: a, line: d.line };
        break;
      case 'reject':
      case 'addheader':
      case 'deleteheader':
        break;
    }
  }
  if (quarantine !== null) {
    return {
      kind: 'quarantine',
      reason: quarantine.reason,
      rule: rule(quarantine.line),
      ...withOutbound,
      ...base,
    };
  }
  // Only now (not quarantined): composing a reply consumes the sender's slot for the period.
  const reply =
    vacation === null ? null : composeVacation(vacation.action, vacation.line, ctx, rule);
  outbound.push(...redirects);
  if (reply !== null) outbound.push(reply);
  const allOutbound = outbound.length > 0 ? { outbound } : {};
  if (deliverLine !== null) {
    return {
      kind: 'accept',
      modifications: buildModifications(outcome, ctx.message),
      // An accept names the `accept` command when one ended the run.
      rule: rule(outcome.acceptedAt ?? deliverLine),
      ...allOutbound,
      ...base,
    };
  }
  const redirected = redirects.find((r) => r.kind === 'redirect');
  if (redirected !== undefined) {
    return {
      kind: 'discard',
      reason: 'redirected by policy',
      rule: redirected.rule,
      ...allOutbound,
      ...base,
    };
  }
  return {
    kind: 'discard',
    reason: 'discarded by policy',
    rule: rule(discardLine ?? 0),
    ...allOutbound,
    ...base,
  };
}

function oneLine(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .trim()
    .slice(0, 400);
}

/** editheader changes, then gateway header and envelope actions, as Modifications. */
export function buildModifications(outcome: GatewayOutcome, message: Message): Modification[] {
  const mods: Modification[] = [];
  const h: GatewayHeaderChanges = outcome.headers;
  // Deletions bottom-up so the occurrence numbers of the original block stay valid.
  const occurrence = h.original.map((f, i) => {
    const key = f.name.toLowerCase();
    let n = 0;
    for (let j = 0; j <= i; j++) if (h.original[j]?.name.toLowerCase() === key) n++;
    return n;
  });
  for (const i of [...h.deleted].sort((a, b) => b - a)) {
    const f = h.original[i];
    if (f !== undefined)
      mods.push({
        kind: 'changeHeader',
        name: f.name,
        occurrence: occurrence[i] ?? 1,
        value: null,
      });
  }
  h.addedTop.forEach((f, i) =>
    mods.push({ kind: 'insertHeader', index: i, name: f.name, value: f.value }),
  );
  for (const f of h.addedBottom) mods.push({ kind: 'addHeader', name: f.name, value: f.value });

  // Gateway header actions work on the block as editheader left it.
  const current = h.final.map((f) => ({ name: f.name, value: f.value }));
  const count = (name: string): number =>
    current.filter((f) => f.name.toLowerCase() === name.toLowerCase()).length;
  const removeAll = (name: string, keepFirst: boolean): void => {
    const key = name.toLowerCase();
    for (let k = count(name); k >= (keepFirst ? 2 : 1); k--) {
      mods.push({ kind: 'changeHeader', name, occurrence: k, value: null });
    }
    let seen = 0;
    for (let i = 0; i < current.length;) {
      if (current[i]?.name.toLowerCase() === key) {
        seen++;
        if (!keepFirst || seen > 1) {
          current.splice(i, 1);
          continue;
        }
      }
      i++;
    }
  };
  for (const g of outcome.gateway) {
    const a = g.action;
    switch (a.type) {
      case 'setheader': {
        if (count(a.name) === 0) {
          mods.push({ kind: 'addHeader', name: a.name, value: a.value });
          current.push({ name: a.name, value: a.value });
        } else {
          removeAll(a.name, true);
          mods.push({ kind: 'changeHeader', name: a.name, occurrence: 1, value: a.value });
          const f = current.find((x) => x.name.toLowerCase() === a.name.toLowerCase());
          if (f !== undefined) f.value = a.value;
        }
        break;
      }
      case 'appendheader':
        mods.push({ kind: 'addHeader', name: a.name, value: a.value });
        current.push({ name: a.name, value: a.value });
        break;
      case 'removeheader':
        removeAll(a.name, false);
        break;
      case 'marksubject': {
        const f = current.find((x) => x.name.toLowerCase() === 'subject');
        const prefix = encodeHeaderText(a.prefix);
        if (f === undefined) {
          mods.push({ kind: 'addHeader', name: 'Subject', value: prefix });
          current.push({ name: 'Subject', value: prefix });
        } else if (!f.value.trimStart().startsWith(prefix)) {
          f.value = `${prefix} ${f.value.trimStart()}`;
          mods.push({ kind: 'changeHeader', name: f.name, occurrence: 1, value: f.value });
        }
        break;
      }
      case 'addrecipient':
        mods.push({ kind: 'addRecipient', address: a.address, args: {} });
        break;
      case 'removerecipient':
        mods.push({ kind: 'deleteRecipient', address: a.address });
        break;
      case 'setsender':
        mods.push({
          kind: 'changeSender',
          address: a.address,
          args: message.envelope.mailFrom?.args ?? {},
        });
        break;
      case 'quarantine':
      case 'tempfail':
      case 'notice':
      case 'copyto':
      case 'logmark':
        break;
    }
  }
  return mods;
}

/** RFC 2047 B-encoding for non-ASCII header text (one encoded word per 45 bytes). */
export function encodeHeaderText(text: string): string {
  if (/^[\x20-\x7e]*$/.test(text)) return text;
  const bytes = Buffer.from(text, 'utf8');
  const words: string[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + 45, bytes.length);
    // Never split a UTF-8 sequence across words (RFC 2047 §5).
    while (end < bytes.length && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
    words.push(`=?UTF-8?B?${bytes.subarray(start, end).toString('base64')}?=`);
    start = end;
  }
  return words.join(' ');
}

function rfc5322Date(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

function composedHeaders(
  ctx: DecisionContext,
  from: string,
  to: readonly string[],
  subject: string,
  extra: { name: string; value: string }[],
): { name: string; value: string }[] {
  return [
    { name: 'From', value: from },
    { name: 'To', value: to.join(', ') },
    { name: 'Subject', value: encodeHeaderText(subject) },
    { name: 'Date', value: rfc5322Date(ctx.nowMs) },
    { name: 'Message-ID', value: `<${randomUUID()}@${ctx.hostname}>` },
    { name: 'MIME-Version', value: '1.0' },
    { name: 'Content-Type', value: 'text/plain; charset=utf-8' },
    { name: 'Content-Transfer-Encoding', value: '8bit' },
    ...extra,
  ];
}

/** Values for notice placeholders. */
function placeholders(ctx: DecisionContext, text: string): Record<string, string> {
  const env = ctx.message.envelope;
  const scan = ctx.scan;
  return {
    id: ctx.message.id,
    sender: env.mailFrom?.address ?? '',
    recipients: env.recipients.map((r) => r.address).join(', '),
    subject: ctx.message.headers.getFirst('subject') ?? '',
    score: String(scan.score),
    threshold: String(scan.threshold),
    symbols: scan.findings.map((f) => f.symbol).join(', '),
    virus:
      scan.virus === null
        ? 'not scanned'
        : scan.virus.status === 'infected'
          ? `infected (${scan.virus.names.join(', ')})`
          : scan.virus.status,
    client_ip: env.client.address ?? '',
    text,
  };
}

/** Fills {{name}} placeholders; unknown names become "". */
export function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_, key: string) => values[key] ?? '');
}

function composeNotice(
  a: Extract<GatewayOutcome['gateway'][number]['action'], { type: 'notice' }>,
  line: number,
  ctx: DecisionContext,
  rule: (line: number) => string,
): OutboundMessage {
  const tpl = a.template === null ? undefined : ctx.templates[a.template];
  const values = placeholders(ctx, a.text);
  const subject =
    a.subject ?? (tpl === undefined ? 'Parapet notice' : fillTemplate(tpl.subject, values));
  const text = tpl === undefined ? fillTemplate(a.text, values) : fillTemplate(tpl.text, values);
  return {
    kind: 'notice',
    sender: '',
    recipients: a.to,
    content: {
      kind: 'composed',
      headers: composedHeaders(ctx, a.from ?? ctx.noticeFrom, a.to, subject, [
        { name: 'Auto-Submitted', value: 'auto-generated' },
      ]),
      text,
    },
    rule: rule(line),
  };
}

const LIST_HEADERS = [
  'list-id',
  'list-help',
  'list-subscribe',
  'list-unsubscribe',
  'list-post',
  'list-owner',
  'list-archive',
];
const ADDRESS_IN_TEXT = /[^\s<>,;:"()]+@[^\s<>,;:"()]+/g;

/**
 * A vacation reply, after the checks RFC 5230 §4.5–4.6 leave to delivery (and Pigeonhole makes):
 * no reply to the null sender, to system senders, to automatic or list mail, when the recipient
 * is not in To/Cc, or twice to one sender within the period. Null when no reply is due.
 */
type VacationAction = Extract<
  GatewayOutcome['sieve']['actions'][number]['action'],
  { type: 'vacation' }
>;

function composeVacation(
  a: VacationAction,
  line: number,
  ctx: DecisionContext,
  rule: (line: number) => string,
): OutboundMessage | null {
  const env = ctx.message.envelope;
  const headers = ctx.message.headers;
  const sender = env.mailFrom?.address ?? '';
  const me = env.recipients[0]?.address ?? '';
  if (sender === '' || me === '') return null;
  const local = sender.slice(0, sender.lastIndexOf('@')).toLowerCase();
  if (
    ['mailer-daemon', 'listserv', 'majordomo'].includes(local) ||
    local.startsWith('owner-') ||
    local.endsWith('-request')
  ) {
    return null;
  }
  const auto = headers.getFirst('auto-submitted');
  if (auto !== null && auto.toLowerCase() !== 'no') return null;
  if (LIST_HEADERS.some((n) => headers.getFirst(n) !== null)) return null;
  const precedence = headers.getFirst('precedence')?.toLowerCase();
  if (precedence === 'bulk' || precedence === 'list' || precedence === 'junk') return null;
  const mine = me.toLowerCase();
  const addressed = ['to', 'cc', 'bcc', 'resent-to', 'resent-cc', 'resent-bcc'].some((n) =>
    headers
      .getAll(n)
      .some((v) => (v.match(ADDRESS_IN_TEXT) ?? []).some((x) => x.toLowerCase() === mine)),
  );
  if (!addressed) return null;
  const key = `vacation\u0000${mine}\u0000${sender.toLowerCase()}`;
  if (ctx.duplicates.has(key, ctx.nowMs)) return null;
  ctx.duplicates.mark(key, ctx.nowMs + a.seconds * 1000);
  const originalSubject = headers.getFirst('subject') ?? '';
  const messageId = headers.getFirst('message-id');
  const extra = [{ name: 'Auto-Submitted', value: 'auto-replied' }];
  if (messageId !== null) {
    extra.push({ name: 'In-Reply-To', value: messageId }, { name: 'References', value: messageId });
  }
  return {
    kind: 'vacation',
    sender: '',
    recipients: [sender],
    content: {
      kind: 'composed',
      headers: composedHeaders(
        ctx,
        a.from ?? me,
        [sender],
        a.subject ?? `Auto: ${originalSubject}`,
        extra,
      ),
      text: a.reason,
    },
    rule: rule(line),
  };
}

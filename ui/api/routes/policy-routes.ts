/**
 * /api/v1/policy on the Manager: the node's Sieve policy. Read the active script, check a
 * draft (errors with line and column), test a draft against one message, replay a draft
 * against the mail the node still holds (its quarantine) listing the verdicts that change,
 * save a new version, list versions, show one, diff two and roll back. Viewers read, check,
 * test and replay (none of these changes anything); administrators save and roll back.
 *
 * Drafts are compiled like the active policy (gateway extensions, lists and maps of the node)
 * and run like the policy service runs them, with the node's cheap local scanners (rules and
 * attachments; never clamd, DNS or Bayes, which may be slow or away) for a test message, and
 * with the scan facts recorded at quarantine time for replay.
 */
import type { FastifyRequest } from 'fastify';
import {
  buildMessage,
  listPolicyVersions,
  loadPolicyData,
  policyListsDir,
  readActivePolicyText,
  readPolicyVersion,
  recentHeldMessages,
  savePolicyVersion,
  scanFromHeaders,
  type NodeConfig,
  type PolicyVersionMeta,
} from '../../../appliance/index.js';
import {
  combineScanOutputs,
  createAttachmentScanner,
  createRuleScanner,
  emptyScanResult,
  parseHeaderBlock,
  ParapetError,
  policy,
  sieve,
  type Finding,
  type Message,
  type Modification,
  type ScannerOutput,
  type ScanResult,
} from '../../../filter/index.js';
import { ADMIN_ONLY, ADMIN_READ } from '../access.js';
import { principalOf } from '../guard.js';
import type { ApiModule } from '../modules.js';
import { diffLines } from '../policy-diff.js';

/** Largest script accepted (the compiler's own limit). */
const MAX_SCRIPT_CHARS = sieve.DEFAULT_SIEVE_LIMITS.maxScriptChars;
/** Largest message accepted for a test, in characters of the JSON string. */
const MAX_TEST_MESSAGE_CHARS = 5 * 1024 * 1024;
/** Most held messages one replay reads. */
const MAX_REPLAY_MESSAGES = 500;
/** Budget of the local scanners for one test message. */
const TEST_SCAN_BUDGET_MS = 10_000;

/** A compile error or warning as the page shows it. */
export interface PositionedProblem {
  readonly line: number;
  readonly column: number;
  readonly code: string;
  readonly message: string;
}

/** What the policy did with one message, in a form to compare and to show. */
export interface PolicyVerdictView {
  readonly kind: string;
  /** The rule that decided ("draft.sieve:12"), or "". */
  readonly rule: string;
  /** Reason (quarantine, discard), reply (reject, tempfail) or changes (accept). */
  readonly detail: string;
}

const scriptProp = { type: 'string', maxLength: MAX_SCRIPT_CHARS } as const;
const versionParam = {
  type: 'object',
  required: ['v'],
  additionalProperties: false,
  properties: { v: { type: 'integer', minimum: 1, maximum: 999_999_999 } },
} as const;

type Compiled =
  | {
      readonly ok: true;
      readonly script: sieve.CompiledSieveScript;
      readonly warnings: PositionedProblem[];
    }
  | { readonly ok: false; readonly errors: PositionedProblem[] };

/** Compiles a draft like the active policy is compiled (active-policy.ts). */
export function compileDraft(text: string): Compiled {
  const r = policy.compilePolicy(text);
  if (!r.ok) {
    return {
      ok: false,
      errors: r.errors.map((e) => ({
        line: e.line,
        column: e.column,
        code: e.code,
        message: e.message,
      })),
    };
  }
  return {
    ok: true,
    script: r.script,
    warnings: r.warnings.map((w) => ({
      line: w.line,
      column: w.column,
      code: 'warning',
      message: w.message,
    })),
  };
}

function invalidDraft(errors: readonly PositionedProblem[]): ParapetError {
  const e = errors[0];
  return new ParapetError(
    'ERR_UI_BAD_REQUEST',
    e === undefined
      ? 'the policy does not compile'
      : `the policy does not compile: line ${String(e.line)}, column ${String(e.column)}: ${e.message}`,
  );
}

function describeModification(m: Modification): string {
  switch (m.kind) {
    case 'addHeader':
      return `add header ${m.name}: ${m.value}`;
    case 'insertHeader':
      return `insert header ${m.name}: ${m.value}`;
    case 'changeHeader':
      return m.value === null ? `delete header ${m.name}` : `set header ${m.name}: ${m.value}`;
    case 'addRecipient':
      return `add recipient ${m.address}`;
    case 'deleteRecipient':
      return `delete recipient ${m.address}`;
    case 'changeSender':
      return `change sender to ${m.address}`;
    case 'replaceBody':
      return `replace body (${String(m.body.length)} bytes)`;
  }
}

function verdictView(d: policy.SievePolicyDecision): PolicyVerdictView {
  const rule = d.rule ?? '';
  switch (d.kind) {
    case 'accept':
      return { kind: 'accept', rule, detail: d.modifications.map(describeModification).join('; ') };
    case 'discard':
    case 'quarantine':
      return { kind: d.kind, rule, detail: d.reason };
    case 'reject':
    case 'tempfail':
      return { kind: d.kind, rule, detail: `${String(d.reply.code)} ${d.reply.text}` };
  }
}

/** Strips a leading mbox "From " line and makes every line end CRLF (as the CLI does). */
export function normalizeMessageText(text: string): Buffer {
  let t = text;
  if (t.startsWith('From ')) {
    const nl = t.indexOf('\n');
    t = nl < 0 ? '' : t.slice(nl + 1);
  }
  return Buffer.from(t.replace(/\r?\n/g, '\r\n'), 'utf8');
}

/** First address-looking token of a header value. */
function firstAddress(value: string | null): string | null {
  return value === null ? null : (/[^\s<>,;:"()]+@[^\s<>,;:"()]+/.exec(value)?.[0] ?? null);
}

function headersOf(raw: Buffer): ReturnType<typeof parseHeaderBlock> {
  const sep = raw.indexOf('\r\n\r\n');
  return parseHeaderBlock(raw.subarray(0, sep < 0 ? raw.length : sep + 2));
}

/** The node's cheap local scanners over one message (rules, attachments). */
async function scanLocally(config: NodeConfig, message: Message): Promise<ScanResult> {
  const s = config.scan;
  if (!s.enabled) return emptyScanResult(s.threshold);
  const scanners = [
    ...(s.rules.enabled ? [createRuleScanner({ scores: s.rules.scores })] : []),
    ...(s.attachments.enabled ? [createAttachmentScanner()] : []),
  ];
  const outputs: ScannerOutput[] = [];
  const skipped: string[] = [];
  const signal = AbortSignal.timeout(TEST_SCAN_BUDGET_MS);
  for (const scanner of scanners) {
    try {
      outputs.push(await scanner.scan(message, signal));
    } catch {
      skipped.push(scanner.name);
      outputs.push({ findings: [{ symbol: 'SCANNER_FAILED', score: 0, evidence: scanner.name }] });
    }
  }
  return combineScanOutputs(outputs, skipped, s.threshold);
}

/** Scan facts of a held message: its Parapet headers, else its quarantine metadata. */
function scanOfHeld(
  raw: Buffer,
  meta: { score: number | null; symbols: readonly string[]; reason: string },
  threshold: number,
): ScanResult {
  const fromHeaders = scanFromHeaders(headersOf(raw));
  if (fromHeaders !== null) return fromHeaders;
  const score = meta.score ?? 0;
  const findings: Finding[] = meta.symbols.map((symbol) => ({ symbol, score: 0 }));
  const infected = meta.symbols.includes('VIRUS_FOUND');
  const unscanned = meta.symbols.includes('VIRUS_UNSCANNED');
  return {
    ...emptyScanResult(threshold),
    score,
    spam: score >= threshold,
    findings,
    virus: infected
      ? { status: 'infected', names: [] }
      : unscanned
        ? { status: 'unscanned', names: [] }
        : null,
  };
}

interface TestBody {
  script: string;
  message: string;
  envelope?: { from?: string; to?: string[]; clientIp?: string };
  scan?: { score?: number; virus?: 'clean' | 'infected' | 'unscanned' };
}

export const policyModule: ApiModule = {
  name: 'policy',
  surfaces: ['manager'],
  register(app, ctx) {
    // Saves are serialized in this process; the version store itself never shares a number.
    let saving: Promise<unknown> = Promise.resolve();
    const serialized = <T>(work: () => Promise<T>): Promise<T> => {
      const run = saving.then(work, work);
      saving = run.catch(() => undefined);
      return run;
    };
    const data = () => loadPolicyData(policyListsDir(ctx.config.home));

    const save = (
      request: FastifyRequest,
      input: { script: string; comment: string; baseVersion?: number | null; rollbackOf?: number },
      action: 'policy.save' | 'policy.rollback',
    ) =>
      serialized(async () => {
        const me = principalOf(request);
        const compiled = compileDraft(input.script);
        if (!compiled.ok) {
          await ctx.audited(
            request,
            action,
            null,
            { errors: compiled.errors.slice(0, 1) },
            'failed',
          );
          return { ok: false as const, errors: compiled.errors };
        }
        const active = await readActivePolicyText(ctx.config);
        if (input.baseVersion !== undefined && input.baseVersion !== active.version) {
          throw new ParapetError(
            'ERR_UI_CONFLICT',
            `the policy changed since you opened it (now version ${String(active.version ?? 'unsaved')}); reload and merge`,
          );
        }
        const saved = await savePolicyVersion(ctx.config, {
          script: input.script,
          author: me.username,
          comment: input.comment,
          rollbackOf: input.rollbackOf ?? null,
        });
        const diff = diffLines(saved.previous, input.script);
        await ctx.audited(request, action, String(saved.meta.version), {
          comment: input.comment,
          linesAdded: diff.added,
          linesRemoved: diff.removed,
          sizeBytes: saved.meta.sizeBytes,
          ...(input.rollbackOf === undefined ? {} : { rollbackOf: input.rollbackOf }),
          ...(saved.baseline === null ? {} : { baselineVersion: saved.baseline.version }),
        });
        return {
          ok: true as const,
          version: saved.meta,
          baseline: saved.baseline,
          diff: { added: diff.added, removed: diff.removed },
        };
      });

    app.get(
      '/api/v1/policy',
      {
        config: { access: ADMIN_READ },
        schema: { summary: 'the active Sieve policy and its version', tags: ['policy'] },
      },
      async () => readActivePolicyText(ctx.config),
    );

    app.post<{ Body: { script: string } }>(
      '/api/v1/policy/check',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary: 'compile a draft policy: errors and warnings with line and column',
          tags: ['policy'],
          body: {
            type: 'object',
            required: ['script'],
            additionalProperties: false,
            properties: { script: scriptProp },
          },
        },
      },
      (request) => {
        const c = compileDraft(request.body.script);
        return c.ok
          ? { valid: true, errors: [], warnings: c.warnings }
          : { valid: false, errors: c.errors, warnings: [] };
      },
    );

    app.post<{ Body: TestBody }>(
      '/api/v1/policy/test',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary: 'evaluate a draft policy against one message (raw RFC 5322 text)',
          tags: ['policy'],
          body: {
            type: 'object',
            required: ['script', 'message'],
            additionalProperties: false,
            properties: {
              script: scriptProp,
              message: { type: 'string', minLength: 1, maxLength: MAX_TEST_MESSAGE_CHARS },
              envelope: {
                type: 'object',
                additionalProperties: false,
                properties: {
                  from: { type: 'string', maxLength: 320 },
                  to: {
                    type: 'array',
                    maxItems: 100,
                    items: { type: 'string', minLength: 1, maxLength: 320 },
                  },
                  clientIp: { type: 'string', maxLength: 64 },
                },
              },
              scan: {
                type: 'object',
                additionalProperties: false,
                properties: {
                  score: { type: 'number', minimum: -1000, maximum: 1000 },
                  virus: { type: 'string', enum: ['clean', 'infected', 'unscanned'] },
                },
              },
            },
          },
        },
      },
      async (request) => {
        const b = request.body;
        const c = compileDraft(b.script);
        if (!c.ok) return { valid: false, errors: c.errors };
        const raw = normalizeMessageText(b.message);
        const headers = headersOf(raw);
        const from = b.envelope?.from ?? firstAddress(headers.getFirst('from')) ?? '';
        const to = b.envelope?.to?.length
          ? b.envelope.to
          : [firstAddress(headers.getFirst('to')) ?? 'postmaster@localhost'];
        const clientIp = b.envelope?.clientIp ?? null;
        const message = await buildMessage(raw, { from, to, clientIp });
        try {
          let scan = await scanLocally(ctx.config, message);
          if (b.scan?.score !== undefined) {
            scan = { ...scan, score: b.scan.score, spam: b.scan.score >= scan.threshold };
          }
          if (b.scan?.virus !== undefined) {
            scan = { ...scan, virus: { status: b.scan.virus, names: [] } };
          }
          const log: string[] = [];
          const evaluate = policy.createSievePolicyEvaluator({
            script: c.script,
            scriptName: 'draft.sieve',
            data: await data(),
            duplicates: new policy.MemoryDuplicateStore({ maxEntries: 100 }),
            onEvaluation: (r) => {
              if (r.runtimeError !== null) {
                log.push(
                  `run-time error at line ${String(r.runtimeError.line)}, column ${String(r.runtimeError.column)}: ${r.runtimeError.message}`,
                );
              }
              for (const w of r.warnings) log.push(`warning: ${w}`);
              if (r.marks.length > 0) log.push(`logmark: ${r.marks.join(', ')}`);
              log.push(`${String(r.steps)} interpreter steps`);
            },
          });
          const decision = await evaluate({
            message,
            scan,
            signal: AbortSignal.timeout(TEST_SCAN_BUDGET_MS),
          });
          const result = decision.result;
          return {
            valid: true,
            envelope: { from, to, clientIp },
            scan: {
              score: scan.score,
              threshold: scan.threshold,
              spam: scan.spam,
              virus: scan.virus?.status ?? null,
              symbols: scan.findings.map((f) => ({ name: f.symbol, score: f.score })),
            },
            verdict: verdictView(decision),
            runtimeError: result.valid ? result.runtime_error : false,
            actions: result.valid ? result.actions : [],
            outbound: (decision.outbound ?? []).map((o) => ({
              kind: o.kind,
              recipients: o.recipients,
              rule: o.rule,
            })),
            warnings: c.warnings,
            log,
          };
        } finally {
          await message.dispose();
        }
      },
    );

    app.post<{ Body: { script: string; limit?: number } }>(
      '/api/v1/policy/replay',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary:
            'replay a draft next to the active policy over the newest held messages; list the verdicts that change',
          tags: ['policy'],
          body: {
            type: 'object',
            required: ['script'],
            additionalProperties: false,
            properties: {
              script: scriptProp,
              limit: { type: 'integer', minimum: 1, maximum: MAX_REPLAY_MESSAGES },
            },
          },
        },
      },
      async (request) => {
        const c = compileDraft(request.body.script);
        if (!c.ok) return { valid: false, errors: c.errors };
        const active = await readActivePolicyText(ctx.config);
        const activeCompiled = compileDraft(active.script);
        if (!activeCompiled.ok) {
          throw new ParapetError('ERR_UI_CONFLICT', 'the active policy does not compile');
        }
        const policyData = await data();
        const runOld = policy.createSievePolicyEvaluator({
          script: activeCompiled.script,
          scriptName: active.source,
          data: policyData,
        });
        const runNew = policy.createSievePolicyEvaluator({
          script: c.script,
          scriptName: 'draft.sieve',
          data: policyData,
        });
        const limit = request.body.limit ?? 100;
        const changes: unknown[] = [];
        const counts = { old: new Map<string, number>(), new: new Map<string, number>() };
        let messages = 0;
        const deadline = AbortSignal.timeout(60_000);
        for await (const held of recentHeldMessages(ctx.config, limit)) {
          if (deadline.aborted) break;
          messages++;
          const m = held.meta;
          const headers = headersOf(held.raw);
          const from = m.from ?? firstAddress(headers.getFirst('from')) ?? '';
          const to = m.to.length > 0 ? m.to : ['postmaster@localhost'];
          const scan = scanOfHeld(held.raw, m, ctx.config.scan.threshold);
          const views: PolicyVerdictView[] = [];
          for (const run of [runOld, runNew]) {
            const message = await buildMessage(held.raw, { from, to, clientIp: m.client });
            try {
              views.push(verdictView(await run({ message, scan, signal: deadline })));
            } catch {
              views.push({ kind: 'error', rule: '', detail: 'evaluation failed' });
            } finally {
              await message.dispose();
            }
          }
          const [before, after] = views;
          if (before === undefined || after === undefined) continue;
          counts.old.set(before.kind, (counts.old.get(before.kind) ?? 0) + 1);
          counts.new.set(after.kind, (counts.new.get(after.kind) ?? 0) + 1);
          if (before.kind !== after.kind || before.detail !== after.detail) {
            changes.push({
              id: m.id,
              time: m.time,
              from: m.from,
              to: m.to,
              subject: m.subject,
              score: m.score,
              recorded: { reason: m.reason, rule: m.rule },
              old: before,
              new: after,
            });
          }
        }
        return {
          valid: true,
          activeVersion: active.version,
          messages,
          changed: changes.length,
          complete: !deadline.aborted,
          counts: {
            old: Object.fromEntries([...counts.old].sort()),
            new: Object.fromEntries([...counts.new].sort()),
          },
          changes,
        };
      },
    );

    app.put<{ Body: { script: string; comment?: string; baseVersion?: number | null } }>(
      '/api/v1/policy',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'save a new policy version and make it active (validated first)',
          tags: ['policy'],
          body: {
            type: 'object',
            required: ['script'],
            additionalProperties: false,
            properties: {
              script: scriptProp,
              comment: { type: 'string', maxLength: 500 },
              // The version the editor started from (null: an unsaved policy); 409 if it moved.
              baseVersion: { type: ['integer', 'null'], minimum: 1 },
            },
          },
        },
      },
      async (request, reply) => {
        const b = request.body;
        const r = await save(
          request,
          {
            script: b.script,
            comment: b.comment ?? '',
            ...(b.baseVersion === undefined ? {} : { baseVersion: b.baseVersion }),
          },
          'policy.save',
        );
        if (!r.ok) {
          const err = invalidDraft(r.errors);
          return reply.code(400).send({ error: err.code, message: err.message, errors: r.errors });
        }
        return r;
      },
    );

    app.get(
      '/api/v1/policy/versions',
      {
        config: { access: ADMIN_READ },
        schema: { summary: 'saved policy versions, newest first', tags: ['policy'] },
      },
      async () => {
        const active = await readActivePolicyText(ctx.config);
        const versions: PolicyVersionMeta[] = await listPolicyVersions(ctx.config);
        return { active: active.version, versions };
      },
    );

    app.get<{ Params: { v: number } }>(
      '/api/v1/policy/versions/:v',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary: 'one saved policy version with its text',
          tags: ['policy'],
          params: versionParam,
        },
      },
      async (request) => {
        const found = await readPolicyVersion(ctx.config, request.params.v);
        if (found === null) throw new ParapetError('ERR_UI_NOT_FOUND', 'no such policy version');
        return { ...found.meta, script: found.script };
      },
    );

    app.post<{ Params: { v: number }; Body: { comment?: string } | undefined }>(
      '/api/v1/policy/versions/:v/rollback',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'make an old version active again (saved as a new version)',
          tags: ['policy'],
          params: versionParam,
          body: {
            type: ['object', 'null'],
            additionalProperties: false,
            properties: { comment: { type: 'string', maxLength: 500 } },
          },
        },
      },
      async (request, reply) => {
        const v = request.params.v;
        const found = await readPolicyVersion(ctx.config, v);
        if (found === null) throw new ParapetError('ERR_UI_NOT_FOUND', 'no such policy version');
        const r = await save(
          request,
          {
            script: found.script,
            comment: request.body?.comment ?? `rollback to version ${String(v)}`,
            rollbackOf: v,
          },
          'policy.rollback',
        );
        if (!r.ok) {
          // An old version that no longer compiles (an extension removed since): say so.
          const err = invalidDraft(r.errors);
          return reply
            .code(409)
            .send({ error: 'ERR_UI_CONFLICT', message: err.message, errors: r.errors });
        }
        return r;
      },
    );

    app.get<{ Querystring: { from: number; to?: number } }>(
      '/api/v1/policy/diff',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary: 'line diff between two saved versions (to: default the active policy)',
          tags: ['policy'],
          querystring: {
            type: 'object',
            required: ['from'],
            additionalProperties: false,
            properties: {
              from: { type: 'integer', minimum: 1, maximum: 999_999_999 },
              to: { type: 'integer', minimum: 1, maximum: 999_999_999 },
            },
          },
        },
      },
      async (request) => {
        const q = request.query;
        const textOf = async (v: number): Promise<string> => {
          const found = await readPolicyVersion(ctx.config, v);
          if (found === null) {
            throw new ParapetError('ERR_UI_NOT_FOUND', `no policy version ${String(v)}`);
          }
          return found.script;
        };
        const before = await textOf(q.from);
        const after =
          q.to === undefined ? (await readActivePolicyText(ctx.config)).script : await textOf(q.to);
        return { from: q.from, to: q.to ?? 'active', ...diffLines(before, after) };
      },
    );
  },
};

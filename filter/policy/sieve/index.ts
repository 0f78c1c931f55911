/**
 * Public API of the Sieve policy engine (filter/policy/sieve). `compile` validates a script
 * once; `evaluate` runs it over one message with no I/O of its own (the host answers include
 * and duplicate requests through callbacks); `toContractJson` gives the CONTRACTS.md shape.
 */
import type { Message } from '../../message/message.js';
import { SIEVE_DEFAULT_DISABLED, SIEVE_EXTENSIONS } from './capabilities.js';
import { compileSieveScript, type CompiledSieveScript, type SieveWarning } from './compiler.js';
import { SieveError } from './errors.js';
import type { SieveAnswer, SieveExtension, SieveRequest } from './extension-api.js';
import { interpretSieve, type SieveInterpreter, type SieveOutcome } from './interpreter.js';
import { resolveSieveLimits, type SieveLimits } from './limits.js';
import { parseSieveMessage } from './message-view.js';
import {
  sieveErrorsToContract,
  sieveOutcomeToContract,
  type SieveContractResult,
} from './result-json.js';
import { SieveRuntime, type SieveEnvironment } from './runtime.js';

export { SieveError, SieveErrorCode, type SieveErrorCodeName } from './errors.js';
export { DEFAULT_SIEVE_LIMITS, type SieveLimits } from './limits.js';
export type { CompiledSieveScript, SieveWarning } from './compiler.js';
export type { SieveOutcome, SieveInterpreter } from './interpreter.js';
export type {
  SieveRequest,
  SieveAnswer,
  SieveExtension,
  SieveCommandDef,
  CompiledNode,
} from './extension-api.js';
export type { SieveRuntime, SieveEnvironment } from './runtime.js';
export type { SieveResultAction, SieveDecidedAction } from './runtime.js';
export type { SieveContractResult } from './result-json.js';
export { SIEVE_EXTENSIONS } from './capabilities.js';

/** Options of {@link compile}. */
export interface SieveCompileSettings {
  /** Limits (defaults: DEFAULT_SIEVE_LIMITS). */
  readonly limits?: Partial<SieveLimits>;
  /** Capabilities to turn off; default ["ereject"] (as Pigeonhole 2.3). */
  readonly disabledCapabilities?: readonly string[];
  /** Extra extensions (Parapet's gateway extensions). */
  readonly extraExtensions?: readonly SieveExtension[];
  /**
   * Supplies included scripts at compile time (Pigeonhole semantics: a missing script fails
   * the compile unless :optional). Without it, includes are asked of the host at run time.
   */
  readonly resolveInclude?: (name: string, location: 'personal' | 'global') => string | null;
}

/** `compile` either returns a script or the positioned errors. */
export type SieveCompileResult =
  | {
      readonly ok: true;
      readonly script: CompiledSieveScript;
      readonly warnings: readonly SieveWarning[];
    }
  | { readonly ok: false; readonly errors: readonly SieveError[] };

/** Compiles and validates a script. Never throws for bad scripts: errors are returned. */
export function compile(
  scriptText: string,
  options: SieveCompileSettings = {},
): SieveCompileResult {
  try {
    const script = compileSieveScript(scriptText, {
      extensions: [...SIEVE_EXTENSIONS, ...(options.extraExtensions ?? [])],
      disabledCapabilities: options.disabledCapabilities ?? SIEVE_DEFAULT_DISABLED,
      limits: resolveSieveLimits(options.limits),
      ...(options.resolveInclude === undefined ? {} : { resolveInclude: options.resolveInclude }),
    });
    return { ok: true, script, warnings: script.warnings };
  } catch (err) {
    if (err instanceof SieveError) return { ok: false, errors: [err] };
    if (err instanceof RangeError) {
      return {
        ok: false,
        errors: [new SieveError('ERR_SIEVE_LIMIT', 'script too complex', 1, 1, { cause: err })],
      };
    }
    throw err;
  }
}

/** Host callbacks that answer interpreter requests (may be async). */
export interface SieveHost {
  /** Text of an included script, or null when it does not exist. */
  readonly includeScript?: (
    name: string,
    location: 'personal' | 'global',
  ) => string | null | Promise<string | null>;
  /** Whether the id was seen before (RFC 7352); default: never. */
  readonly isDuplicate?: (
    request: Extract<SieveRequest, { kind: 'duplicate' }>,
  ) => boolean | Promise<boolean>;
}

/** Inputs of {@link evaluate}. */
export interface SieveEvaluationInput {
  /** The message: a Message (read whole into memory), or its raw bytes/text. */
  readonly message: Message | Uint8Array | string;
  /** Envelope sender; default: the Message's MAIL FROM, else "". */
  readonly envelopeFrom?: string;
  /** Envelope recipient; default: the Message's first RCPT, else "". */
  readonly envelopeTo?: string;
  /** Spam score, or null/absent when not scanned. */
  readonly spamScore?: number | null;
  /** Spam scale maximum (default 10). */
  readonly spamMax?: number;
  /** RFC 5235 virus level 0–5, or null/absent when not scanned. */
  readonly virusLevel?: number | null;
  /** Subaddress separator (default "+"). */
  readonly subaddressSeparator?: string;
  /** Clock (default Date.now()). */
  readonly nowMs?: number;
  /** Local zone in minutes east of UTC for date tests (default: the process zone). */
  readonly localZoneMinutes?: number;
  readonly host?: SieveHost;
}

async function answerRequest(req: SieveRequest, host: SieveHost | undefined): Promise<SieveAnswer> {
  switch (req.kind) {
    case 'include':
      return {
        kind: 'include',
        script:
          host?.includeScript === undefined
            ? null
            : await host.includeScript(req.name, req.location),
      };
    case 'duplicate':
      return {
        kind: 'duplicate',
        duplicate: host?.isDuplicate === undefined ? false : await host.isDuplicate(req),
      };
  }
}

function environmentOf(input: SieveEvaluationInput, from: string, to: string): SieveEnvironment {
  return {
    envelopeFrom: input.envelopeFrom ?? from,
    envelopeTo: input.envelopeTo ?? to,
    spamScore: input.spamScore ?? null,
    spamMax: input.spamMax ?? 10,
    virusLevel: input.virusLevel ?? null,
    subaddressSeparator: input.subaddressSeparator ?? '+',
    nowMs: input.nowMs ?? Date.now(),
    localZoneMinutes: input.localZoneMinutes ?? null,
  };
}

/** Runs a compiled script over one message. Run-time errors are in the outcome, not thrown. */
export async function evaluate(
  script: CompiledSieveScript,
  input: SieveEvaluationInput,
): Promise<SieveOutcome> {
  let raw: Uint8Array | string;
  let from = '';
  let to = '';
  if (typeof input.message === 'string' || input.message instanceof Uint8Array) raw = input.message;
  else {
    raw = await input.message.toBuffer();
    from = input.message.envelope.mailFrom?.address ?? '';
    to = input.message.envelope.recipients[0]?.address ?? '';
  }
  const rt = new SieveRuntime(
    parseSieveMessage(raw),
    environmentOf(input, from, to),
    script.limits,
  );
  const gen = interpretSieve(script, rt);
  let step = gen.next();
  while (step.done !== true) {
    step = gen.next(await answerRequest(step.value, input.host));
  }
  return step.value;
}

/**
 * The interpreter itself, for hosts that run their own request loop (filter/policy/host.ts):
 * call next() until done, answering each yielded SieveRequest. Does no I/O.
 */
export function startSieveEvaluation(
  script: CompiledSieveScript,
  input: Omit<SieveEvaluationInput, 'message' | 'host'> & { readonly message: Uint8Array | string },
): SieveInterpreter {
  const rt = new SieveRuntime(
    parseSieveMessage(input.message),
    environmentOf(input, '', ''),
    script.limits,
  );
  return interpretSieve(script, rt);
}

/**
 * Synchronous evaluation for raw messages; host requests are answered with "no include
 * script" and "not a duplicate" unless `answer` is given.
 */
export function evaluateSync(
  script: CompiledSieveScript,
  input: Omit<SieveEvaluationInput, 'message' | 'host'> & { readonly message: Uint8Array | string },
  answer?: (req: SieveRequest) => SieveAnswer,
): SieveOutcome {
  const rt = new SieveRuntime(
    parseSieveMessage(input.message),
    environmentOf(input, '', ''),
    script.limits,
  );
  const gen = interpretSieve(script, rt);
  let step = gen.next();
  while (step.done !== true) {
    const req = step.value;
    const ans: SieveAnswer =
      answer !== undefined
        ? answer(req)
        : req.kind === 'include'
          ? { kind: 'include', script: null }
          : { kind: 'duplicate', duplicate: false };
    step = gen.next(ans);
  }
  return step.value;
}

/** The CONTRACTS.md JSON object for a compile result and (when valid) its outcome. */
export function toContractJson(result: SieveCompileResult | SieveOutcome): SieveContractResult {
  if ('ok' in result) {
    if (!result.ok) return sieveErrorsToContract(result.errors);
    throw new SieveError(
      'ERR_SIEVE_HOST',
      'toContractJson needs an outcome for a valid script',
      0,
      0,
    );
  }
  return sieveOutcomeToContract(result);
}

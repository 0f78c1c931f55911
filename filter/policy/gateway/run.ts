/**
 * Runs a compiled policy with the gateway extensions over one message: builds the Sieve runtime,
 * binds the gateway state to it, drives the interpreter (answering its requests through the
 * caller's `answer`), and returns the Sieve outcome together with the gateway actions and the
 * editheader changes as positions in the original header list. No I/O of its own.
 *
 * Why it builds the runtime itself (instead of the core's startSieveEvaluation): the gateway
 * state is keyed by the runtime, `accept` must end the run and still read the result so far,
 * and the host needs the final header list to turn editheader changes into Modifications.
 * The core exposes none of these; see filter/policy/README.md.
 */
import { interpretSieve } from '../sieve/interpreter.js';
import { parseSieveMessage, type SieveHeaderField } from '../sieve/message-view.js';
import { SieveRuntime } from '../sieve/runtime.js';
import {
  toContractJson,
  type CompiledSieveScript,
  type SieveAnswer,
  type SieveContractResult,
  type SieveOutcome,
  type SieveRequest,
} from '../sieve/index.js';
import {
  bindGatewayState,
  GatewayState,
  GatewayStop,
  type GatewayAction,
  type GatewayDecidedAction,
  type GatewayFacts,
} from './context.js';

/** Inputs of {@link runGatewayPolicy}. */
export interface GatewayEvaluationInput {
  /** The raw message (CRLF or LF; a leading mbox "From " line is skipped). */
  readonly message: Uint8Array | string;
  /** Envelope sender ("" for the null sender). */
  readonly envelopeFrom: string;
  /** Envelope recipient the script sees (the first recipient). */
  readonly envelopeTo: string;
  readonly facts: GatewayFacts;
  /** spamtest score; default the scan score (null when not scanned). */
  readonly spamScore?: number | null;
  /** spamtest scale maximum; default 2 × the scan threshold (10 when not scanned). */
  readonly spamMax?: number;
  /** virustest level 0–5; default from the scan (clean 1, infected 5, unscanned 0, none null). */
  readonly virusLevel?: number | null;
  readonly nowMs?: number;
  readonly localZoneMinutes?: number;
  /** Answers include and duplicate requests; default: no script, not a duplicate. */
  readonly answer?: (request: SieveRequest) => SieveAnswer | Promise<SieveAnswer>;
}

/** A header field as the script left it. */
export interface GatewayHeaderField {
  readonly name: string;
  readonly value: string;
}

/** editheader's changes relative to the original header block. */
export interface GatewayHeaderChanges {
  /** The original fields (names and raw values) in order. */
  readonly original: readonly GatewayHeaderField[];
  /** Indexes into `original` of the fields deleted. */
  readonly deleted: readonly number[];
  /** Fields added above the first surviving original field, top to bottom. */
  readonly addedTop: readonly GatewayHeaderField[];
  /** Fields added below the surviving original fields, top to bottom. */
  readonly addedBottom: readonly GatewayHeaderField[];
  /** The header block after editheader (before gateway header actions). */
  readonly final: readonly GatewayHeaderField[];
}

/** The result of one gateway evaluation. */
export interface GatewayOutcome {
  /** The core Sieve outcome (actions with lines; after a run-time error only the keep). */
  readonly sieve: SieveOutcome;
  /** Gateway actions in execution order (none after a run-time error). */
  readonly gateway: readonly GatewayDecidedAction[];
  /** Non-fatal problems (unknown list or map names). */
  readonly warnings: readonly string[];
  /** Line of the `accept` that ended the run, or null. */
  readonly acceptedAt: number | null;
  readonly headers: GatewayHeaderChanges;
}

const NO_ANSWER = (req: SieveRequest): SieveAnswer =>
  req.kind === 'include'
    ? { kind: 'include', script: null }
    : { kind: 'duplicate', duplicate: false };

function virusLevelOf(facts: GatewayFacts): number | null {
  const v = facts.scan?.virus ?? null;
  if (v === null) return null;
  switch (v.status) {
    case 'clean':
      return 1;
    case 'infected':
      return 5;
    case 'unscanned':
      return 0;
  }
}

function headerChanges(
  initial: readonly SieveHeaderField[],
  final: readonly SieveHeaderField[],
  edited: boolean,
): GatewayHeaderChanges {
  // The fields are structurally GatewayHeaderFields; no copies (the run is over).
  if (!edited) return { original: initial, deleted: [], addedTop: [], addedBottom: [], final };
  const finalSet = new Set(final);
  const initialSet = new Set(initial);
  const deleted: number[] = [];
  initial.forEach((f, i) => {
    if (!finalSet.has(f)) deleted.push(i);
  });
  // editheader only adds at the top or the bottom, so every new field lies before or after
  // all surviving original fields (identity tells which objects are original).
  const firstSurvivor = final.findIndex((f) => initialSet.has(f));
  const cut = firstSurvivor < 0 ? final.length : firstSurvivor;
  return {
    original: initial,
    deleted,
    addedTop: final.slice(0, cut),
    addedBottom: final.slice(cut).filter((f) => !initialSet.has(f)),
    final,
  };
}

/** Evaluates `script` (compiled with GATEWAY_EXTENSIONS) over one message. */
export async function runGatewayPolicy(
  script: CompiledSieveScript,
  input: GatewayEvaluationInput,
): Promise<GatewayOutcome> {
  const scan = input.facts.scan;
  const rt = new SieveRuntime(
    parseSieveMessage(input.message),
    {
      envelopeFrom: input.envelopeFrom,
      envelopeTo: input.envelopeTo,
      spamScore: input.spamScore !== undefined ? input.spamScore : (scan?.score ?? null),
      spamMax: input.spamMax ?? (scan === null ? 10 : scan.threshold * 2),
      virusLevel: input.virusLevel !== undefined ? input.virusLevel : virusLevelOf(input.facts),
      subaddressSeparator: input.facts.subaddressSeparator ?? '+',
      nowMs: input.nowMs ?? Date.now(),
      localZoneMinutes: input.localZoneMinutes ?? null,
    },
    script.limits,
  );
  const state = new GatewayState(input.facts);
  bindGatewayState(rt, state);
  const initial = rt.message.headers.slice();
  const answer = input.answer ?? NO_ANSWER;
  let sieve: SieveOutcome;
  const gen = interpretSieve(script, rt);
  try {
    let step = gen.next();
    while (step.done !== true) {
      const a = answer(step.value);
      step = gen.next(a instanceof Promise ? await a : a);
    }
    sieve = step.value;
  } catch (err) {
    if (!(err instanceof GatewayStop)) throw err;
    sieve = {
      actions: rt.finalActions(),
      runtimeError: null,
      steps: rt.steps,
      duplicateMarks: rt.duplicateMarks,
    };
  }
  const failed = sieve.runtimeError !== null;
  return {
    sieve,
    gateway: failed ? [] : state.actions,
    warnings: state.warnings,
    acceptedAt: failed ? null : state.acceptedAt,
    headers: headerChanges(
      initial,
      failed ? initial : rt.message.headers,
      !failed && rt.headerEdits.length > 0,
    ),
  };
}

/** A CONTRACTS.md action: the core shapes plus the gateway shapes (README.md). */
export type GatewayContractAction =
  Extract<SieveContractResult, { valid: true }>['actions'][number] | GatewayAction;

/** The CONTRACTS.md "Sieve evaluation output" with gateway actions. */
export type GatewayContractResult =
  | Extract<SieveContractResult, { valid: false }>
  | {
      readonly valid: true;
      readonly runtime_error: boolean;
      readonly actions: readonly GatewayContractAction[];
    };

/**
 * The contract object: core actions as the core orders them, then the gateway actions in
 * execution order, then the implicit keep when it is still in effect.
 */
export function gatewayContractJson(outcome: GatewayOutcome): GatewayContractResult {
  const base = toContractJson(outcome.sieve);
  if (!base.valid) return base;
  const core = [...base.actions];
  const last = outcome.sieve.actions[outcome.sieve.actions.length - 1];
  const implicit = last !== undefined && last.line === 0 && last.action.type === 'keep';
  const tail = implicit ? core.splice(core.length - 1, 1) : [];
  return {
    valid: true,
    runtime_error: base.runtime_error,
    actions: [...core, ...outcome.gateway.map((g) => ({ ...g.action })), ...tail],
  };
}

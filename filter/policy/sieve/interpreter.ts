/**
 * The Sieve interpreter: runs a compiled script over one message without doing any I/O. It is
 * a generator (STYLE.md B1.4, B9.3): when it needs the host (an included script's text, a
 * duplicate-tracking lookup) it yields a {@link SieveRequest} and continues with the host's
 * {@link SieveAnswer}. It returns a {@link SieveOutcome}: the actions in CONTRACTS.md order,
 * or, after a run-time error, the fallback implicit keep with the error.
 */
import { compileSieveScript, type CompiledSieveScript, type ResolvedInclude } from './compiler.js';
import { SieveError } from './errors.js';
import type { CompiledNode, SieveAnswer, SieveRequest } from './extension-api.js';
import type { SieveDecidedAction, SieveRuntime } from './runtime.js';

/** The result of one evaluation. */
export interface SieveOutcome {
  /** Actions in CONTRACTS.md order (header edits, other actions, implicit keep). */
  readonly actions: readonly SieveDecidedAction[];
  /** The run-time error that forced the fallback keep, or null. */
  readonly runtimeError: SieveError | null;
  /** Interpreter steps used. */
  readonly steps: number;
  /** Duplicate-tracking ids the host must record after delivery (RFC 7352). */
  readonly duplicateMarks: readonly { readonly id: string; readonly seconds: number | null }[];
}

/** Generator type of {@link interpretSieve}. */
export type SieveInterpreter = Generator<SieveRequest, SieveOutcome, SieveAnswer>;

const STOP = Symbol('stop');
const RETURN = Symbol('return');
type Flow = typeof STOP | typeof RETURN | undefined;

const HOST_TESTS = new Set(['duplicate']);
const hostCache = new WeakMap<CompiledNode, boolean>();

/** True when the test (or a nested one) may yield a request to the host. */
function needsHost(node: CompiledNode): boolean {
  let v = hostCache.get(node);
  if (v === undefined) {
    v = HOST_TESTS.has(node.name) || node.tests.some(needsHost);
    hostCache.set(node, v);
  }
  return v;
}

/** State of one run shared by the interpreter's functions. */
interface RunContext {
  readonly script: CompiledSieveScript;
  readonly rt: SieveRuntime;
  /** Included scripts compiled during this run, by "location:name". */
  readonly includes: Map<string, CompiledSieveScript>;
  /** Includes already run with :once. */
  readonly once: Set<string>;
  includeCount: number;
}

// The interpreter's generators are module-level functions over a RunContext rather than
// closures inside interpretSieve: V8 allocates a fresh prototype for every generator closure
// it creates, and doing that per evaluation made the garbage collector dominate the run time.

/** Runs `script` against the state in `rt`; drive it with next(answer) until done. */
export function* interpretSieve(script: CompiledSieveScript, rt: SieveRuntime): SieveInterpreter {
  rt.recordMatches = script.capabilities.has('variables');
  rt.flagsInUse = script.capabilities.has('imap4flags');
  const ctx: RunContext = { script, rt, includes: new Map(), once: new Set(), includeCount: 0 };
  try {
    yield* runBlock(ctx, script.commands, 0);
  } catch (err) {
    if (!(err instanceof SieveError)) throw err;
    return {
      actions: [{ action: { type: 'keep', flags: [] }, line: 0 }],
      runtimeError: err,
      steps: rt.steps,
      duplicateMarks: [],
    };
  }
  return {
    actions: rt.finalActions(),
    runtimeError: null,
    steps: rt.steps,
    duplicateMarks: rt.duplicateMarks,
  };
}

function* runBlock(
  ctx: RunContext,
  nodes: readonly CompiledNode[],
  depth: number,
): Generator<SieveRequest, Flow, SieveAnswer> {
  const rt = ctx.rt;
  let lastIf: boolean | null = null;
  for (const node of nodes) {
    rt.step(node);
    switch (node.name) {
      case 'if':
      case 'elsif': {
        if (node.name === 'elsif' && lastIf === true) continue;
        const test = node.tests[0];
        // Fast path: tests that never ask the host run without generator allocations.
        const ok =
          test !== undefined && !needsHost(test)
            ? evalTestSync(rt, test)
            : yield* evalTest(rt, test);
        lastIf = ok;
        if (ok) {
          const flow = yield* runBlock(ctx, node.block ?? [], depth);
          if (flow !== undefined) return flow;
        }
        continue;
      }
      case 'else': {
        if (lastIf === true) continue;
        lastIf = null;
        const flow = yield* runBlock(ctx, node.block ?? [], depth);
        if (flow !== undefined) return flow;
        continue;
      }
      case 'stop':
        return STOP;
      case 'return':
        return RETURN;
      case 'include': {
        const flow = yield* runInclude(ctx, node, depth);
        if (flow === STOP) return STOP;
        lastIf = null;
        continue;
      }
      default:
        lastIf = null;
        node.def.execute?.(node, rt);
    }
  }
  return undefined;
}

function evalTestSync(rt: SieveRuntime, node: CompiledNode): boolean {
  rt.step(node);
  switch (node.name) {
    case 'not':
      return node.tests[0] === undefined ? true : !evalTestSync(rt, node.tests[0]);
    case 'allof':
      for (const t of node.tests) if (!evalTestSync(rt, t)) return false;
      return true;
    case 'anyof':
      for (const t of node.tests) if (evalTestSync(rt, t)) return true;
      return false;
    default: {
      const outcome = node.def.test?.(node, rt) ?? false;
      if (typeof outcome === 'boolean') return outcome;
      throw new SieveError(
        'ERR_SIEVE_HOST',
        'a test asked the host on the synchronous path',
        node.line,
        node.column,
      );
    }
  }
}

function* evalTest(
  rt: SieveRuntime,
  node: CompiledNode | undefined,
): Generator<SieveRequest, boolean, SieveAnswer> {
  if (node === undefined) return false;
  rt.step(node);
  switch (node.name) {
    case 'not':
      return !(yield* evalTest(rt, node.tests[0]));
    case 'allof':
      for (const t of node.tests) if (!(yield* evalTest(rt, t))) return false;
      return true;
    case 'anyof':
      for (const t of node.tests) if (yield* evalTest(rt, t)) return true;
      return false;
    default: {
      const outcome = node.def.test?.(node, rt) ?? false;
      if (typeof outcome === 'boolean') return outcome;
      const answer = yield outcome.request;
      return outcome.resume(answer);
    }
  }
}

function* runInclude(
  ctx: RunContext,
  node: CompiledNode,
  depth: number,
): Generator<SieveRequest, Flow, SieveAnswer> {
  const { rt, script, once, includes } = ctx;
  const name = rt.expandString(node.args[0]);
  const location = node.tags.has('global') ? 'global' : 'personal';
  const key = `${location}:${name}`;
  if (node.tags.has('once') && once.has(key)) return undefined;
  once.add(key);
  ctx.includeCount++;
  if (depth + 1 > script.limits.maxIncludeDepth || ctx.includeCount > script.limits.maxIncludes) {
    throw new SieveError(
      'ERR_SIEVE_RUNTIME',
      'include nested too deeply or too many includes',
      node.line,
      node.column,
    );
  }
  const resolved = node.data as ResolvedInclude | undefined;
  let compiled = resolved?.script ?? includes.get(key);
  if (resolved !== undefined && resolved.script === null) return undefined;
  if (compiled === undefined) {
    const answer = yield { kind: 'include', name, location };
    if (answer.kind !== 'include') {
      throw new SieveError(
        'ERR_SIEVE_HOST',
        'host answered an include request with the wrong kind',
        node.line,
        node.column,
      );
    }
    if (answer.script === null) {
      if (node.tags.has('optional')) return undefined;
      throw new SieveError(
        'ERR_SIEVE_RUNTIME',
        `included script '${name}' does not exist`,
        node.line,
        node.column,
      );
    }
    try {
      compiled = compileSieveScript(answer.script, {
        extensions: script.extensions,
        disabledCapabilities: [...script.disabled],
        limits: script.limits,
        name,
      });
    } catch (err) {
      throw new SieveError(
        'ERR_SIEVE_RUNTIME',
        `failed to compile included script '${name}'`,
        node.line,
        node.column,
        { cause: err },
      );
    }
    includes.set(key, compiled);
  }
  const savedVars = rt.variables;
  const savedGlobals = rt.globalNames;
  const savedRecord = rt.recordMatches;
  rt.variables = new Map();
  rt.globalNames = new Set();
  rt.recordMatches = compiled.capabilities.has('variables');
  if (compiled.capabilities.has('imap4flags')) rt.flagsInUse = true;
  try {
    const flow = yield* runBlock(ctx, compiled.commands, depth + 1);
    return flow === STOP ? STOP : undefined;
  } finally {
    rt.variables = savedVars;
    rt.globalNames = savedGlobals;
    rt.recordMatches = savedRecord;
  }
}

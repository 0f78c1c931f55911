/**
 * Sieve compiler/validator: turns the syntax tree into {@link CompiledNode}s after checking
 * require and capabilities, known commands and tests per capability, argument types, tags,
 * exclusive tags, argument counts, comparators and match types, if/elsif/else structure,
 * variable references and encoded characters, and the static limits. Every error is a
 * positioned SieveError. Warnings (for example a vacation period under the minimum) are kept.
 */
import type { SieveArgumentNode, SieveCommandNode, SieveStringNode, SieveTestNode } from './ast.js';
import { SieveError, type SieveErrorCodeName } from './errors.js';
import type {
  CompiledArg,
  CompiledNode,
  CompiledString,
  SieveArgType,
  SieveCommandDef,
  SieveExtension,
  SieveMatchSpec,
  SieveMatchTypeName,
  SieveRelation,
  SieveTagDef,
  SieveValidateContext,
  SieveVariableRef,
} from './extension-api.js';
import { DEFAULT_SIEVE_LIMITS, type SieveLimits } from './limits.js';
import { compileSieveRegex, SieveRegexError } from './match.js';
import { parseSieve } from './parser.js';

/** A compile warning with its position. */
export interface SieveWarning {
  readonly message: string;
  readonly line: number;
  readonly column: number;
}

/** A validated, compiled script, ready for {@link import('./interpreter.js').interpretSieve}. */
export interface CompiledSieveScript {
  readonly commands: readonly CompiledNode[];
  /** Capabilities required by the script. */
  readonly capabilities: ReadonlySet<string>;
  readonly warnings: readonly SieveWarning[];
  readonly limits: SieveLimits;
  /** The extensions the script was compiled against (used to compile includes). */
  readonly extensions: readonly SieveExtension[];
  /** The capabilities the engine offered. */
  readonly supported: ReadonlySet<string>;
  /** Capabilities that were disabled at compile time (passed on to includes). */
  readonly disabled: readonly string[];
  /** Script name (for includes), "" for the main script. */
  readonly name: string;
}

/** Options of {@link compileSieveScript}. */
export interface SieveCompileOptions {
  /** Extensions to offer. */
  readonly extensions: readonly SieveExtension[];
  /** Capability names to leave out (disable) although an extension provides them. */
  readonly disabledCapabilities?: readonly string[];
  readonly limits?: SieveLimits;
  /** Name of the script (include), "" for the main script. */
  readonly name?: string;
  /**
   * Resolves included scripts at compile time, as Pigeonhole does (a missing script is a
   * compile error unless :optional; an error in an included script fails the compile).
   * Without it, includes are requested from the host at run time.
   */
  readonly resolveInclude?: (name: string, location: 'personal' | 'global') => string | null;
  /** Include chain of the script being compiled (cycle detection). */
  readonly includeChain?: readonly string[];
}

/** An include resolved at compile time (stored in the include node's data). */
export interface ResolvedInclude {
  /** The compiled script, or null for a missing :optional script. */
  readonly script: CompiledSieveScript | null;
}

const GROUP_MATCH = 'match-type';
const GROUP_COMPARATOR = 'comparator';
const GROUP_ADDRESS = 'address-part';

const MATCH_TAG_CAPS: Record<SieveMatchTypeName, string | null> = {
  is: null,
  contains: null,
  matches: null,
  regex: 'regex',
  count: 'relational',
  value: 'relational',
};
const ADDRESS_PART_CAPS: Record<string, string | null> = {
  all: null,
  localpart: null,
  domain: null,
  user: 'subaddress',
  detail: 'subaddress',
};
const RELATIONS: readonly string[] = ['gt', 'ge', 'lt', 'le', 'eq', 'ne'];

/** Compiles script text. Throws a positioned SieveError on the first error. */
export function compileSieveScript(
  text: string,
  options: SieveCompileOptions,
): CompiledSieveScript {
  const limits = options.limits ?? DEFAULT_SIEVE_LIMITS;
  const ast = parseSieve(text, limits);
  const compiler = new SieveCompiler(options, limits);
  const commands = compiler.compileScript(ast.commands);
  return {
    commands,
    capabilities: compiler.required,
    warnings: compiler.warnings,
    limits,
    extensions: options.extensions,
    supported: compiler.supported,
    disabled: options.disabledCapabilities ?? [],
    name: options.name ?? '',
  };
}

class SieveCompiler implements SieveValidateContext {
  readonly required = new Set<string>();
  readonly supported = new Set<string>();
  readonly warnings: SieveWarning[] = [];
  readonly #commands = new Map<string, SieveCommandDef>();
  readonly #tests = new Map<string, SieveCommandDef>();
  readonly #extraTags = new Map<string, SieveTagDef[]>();
  readonly #limits: SieveLimits;
  readonly #options: SieveCompileOptions;

  constructor(options: SieveCompileOptions, limits: SieveLimits) {
    this.#limits = limits;
    this.#options = options;
    const disabled = new Set(options.disabledCapabilities ?? []);
    for (const ext of options.extensions) {
      for (const cap of ext.capabilities) if (!disabled.has(cap)) this.supported.add(cap);
    }
    for (const ext of options.extensions) {
      for (const def of ext.commands ?? []) {
        if (def.capability !== null && !this.supported.has(def.capability)) continue;
        (def.kind === 'command' ? this.#commands : this.#tests).set(def.name, def);
      }
      for (const [cmd, tags] of Object.entries(ext.tagsFor ?? {})) {
        const list = this.#extraTags.get(cmd) ?? [];
        for (const t of tags)
          if (t.capability === undefined || this.supported.has(t.capability)) list.push(t);
        this.#extraTags.set(cmd, list);
      }
    }
  }

  hasCapability(name: string): boolean {
    if (name === 'spamtest' && this.required.has('spamtestplus')) return true;
    if (name === 'vacation' && this.required.has('vacation-seconds')) return true;
    return this.required.has(name);
  }

  isSupported(name: string): boolean {
    return this.supported.has(name);
  }

  error(
    code: SieveErrorCodeName,
    message: string,
    at: { line: number; column: number },
  ): SieveError {
    return new SieveError(code, message, at.line, at.column);
  }

  warn(message: string, at: { line: number; column: number }): void {
    this.warnings.push({ message, line: at.line, column: at.column });
  }

  compileScript(commands: readonly SieveCommandNode[]): CompiledNode[] {
    let seenOther = false;
    for (const c of commands) {
      if (c.name.toLowerCase() === 'require') {
        if (seenOther) {
          throw this.error(
            'ERR_SIEVE_REQUIRE_PLACEMENT',
            'require command can only be placed at top level at the beginning of the file',
            c,
          );
        }
        this.#compileRequire(c);
      } else {
        seenOther = true;
      }
    }
    return this.#compileBlock(
      commands.filter((c) => c.name.toLowerCase() !== 'require'),
      0,
    );
  }

  #compileRequire(c: SieveCommandNode): void {
    const arg = c.args[0];
    if (
      c.args.length !== 1 ||
      arg === undefined ||
      (arg.kind !== 'string' && arg.kind !== 'string-list')
    ) {
      throw this.error(
        'ERR_SIEVE_ARGUMENT',
        'the require command expects a string list of capabilities',
        c,
      );
    }
    if (c.tests.length > 0)
      throw this.error('ERR_SIEVE_ARGUMENT', 'the require command takes no tests', c);
    if (c.block !== null)
      throw this.error('ERR_SIEVE_BLOCK', 'the require command takes no block', c);
    const list = arg.kind === 'string' ? [arg.value] : arg.values;
    for (const s of list) {
      const name = s.value;
      if (!this.supported.has(name)) {
        throw this.error('ERR_SIEVE_UNKNOWN_CAPABILITY', `unknown Sieve capability '${name}'`, s);
      }
      this.required.add(name);
    }
  }

  #compileBlock(commands: readonly SieveCommandNode[], depth: number): CompiledNode[] {
    const out: CompiledNode[] = [];
    let prev = '';
    for (const c of commands) {
      const name = c.name.toLowerCase();
      if ((name === 'elsif' || name === 'else') && prev !== 'if' && prev !== 'elsif') {
        throw this.error(
          'ERR_SIEVE_ELSE_WITHOUT_IF',
          `${name} command must follow an if or elsif command`,
          c,
        );
      }
      if (name === 'require') {
        throw this.error(
          'ERR_SIEVE_REQUIRE_PLACEMENT',
          'require command can only be placed at top level at the beginning of the file',
          c,
        );
      }
      out.push(this.#compileCommand(c, depth));
      prev = name;
    }
    return out;
  }

  #compileCommand(c: SieveCommandNode, depth: number): CompiledNode {
    const name = c.name.toLowerCase();
    const def = this.#commands.get(name);
    if (def === undefined || (def.capability !== null && !this.hasCapability(def.capability))) {
      throw this.error('ERR_SIEVE_UNKNOWN_COMMAND', `unknown command '${c.name}'`, c);
    }
    const node = this.#compileArgs(def, c, c.args);
    // Tests
    const wantTests = def.tests ?? 'none';
    let tests: CompiledNode[] = [];
    if (wantTests === 'none' && c.tests.length > 0) {
      throw this.error('ERR_SIEVE_ARGUMENT', `the ${name} command takes no tests`, c);
    }
    if (wantTests === 'one') {
      if (c.tests.length !== 1 || c.testList) {
        throw this.error('ERR_SIEVE_TEST_EXPECTED', `the ${name} command requires one test`, c);
      }
      tests = c.tests.map((t) => this.#compileTest(t));
    }
    // Blocks
    let block: CompiledNode[] | null = null;
    if (def.block === true) {
      if (c.block === null)
        throw this.error('ERR_SIEVE_BLOCK', `the ${name} command requires a block`, c);
      const ihave =
        tests[0]?.name === 'ihave'
          ? (tests[0].data as { known: boolean; caps: string[] } | undefined)
          : undefined;
      if (ihave === undefined) block = this.#compileBlock(c.block, depth + 1);
      else if (!ihave.known) block = [];
      else {
        // RFC 5463 §4: inside the block the tested capabilities are available without require.
        const added = ihave.caps.filter((cap) => !this.required.has(cap));
        for (const cap of added) this.required.add(cap);
        try {
          block = this.#compileBlock(c.block, depth + 1);
        } finally {
          for (const cap of added) this.required.delete(cap);
        }
      }
    } else if (c.block !== null) {
      throw this.error('ERR_SIEVE_BLOCK', `the ${name} command does not take a block`, c);
    }
    const compiled: CompiledNode = { ...node, tests, block };
    def.validate?.(compiled, this);
    if (name === 'include') this.#resolveInclude(compiled);
    return compiled;
  }

  #resolveInclude(node: CompiledNode): void {
    const resolve = this.#options.resolveInclude;
    const arg = node.args[0];
    if (resolve === undefined || arg?.kind !== 'string' || arg.value.parts !== null) return;
    const name = arg.value.raw;
    const location = node.tags.has('global') ? 'global' : 'personal';
    const key = `${location}:${name}`;
    const chain = this.#options.includeChain ?? [];
    if (chain.includes(key)) {
      throw this.error('ERR_SIEVE_RUNTIME', `circular include of script '${name}'`, node);
    }
    if (chain.length + 1 > this.#limits.maxIncludeDepth) {
      throw this.error('ERR_SIEVE_LIMIT', 'includes nested too deeply', node);
    }
    const text = resolve(name, location);
    if (text === null) {
      if (node.tags.has('optional')) {
        node.data = { script: null } satisfies ResolvedInclude;
        return;
      }
      throw this.error(
        'ERR_SIEVE_INVALID_VALUE',
        `included ${location} script '${name}' does not exist`,
        node,
      );
    }
    try {
      const script = compileSieveScript(text, {
        ...this.#options,
        name,
        includeChain: [...chain, key],
      });
      node.data = { script } satisfies ResolvedInclude;
    } catch (err) {
      if (!(err instanceof SieveError)) throw err;
      throw new SieveError(
        err.code as SieveErrorCodeName,
        `in included script '${name}': ${err.message}`,
        err.line,
        err.column,
        {
          cause: err,
          script: name,
        },
      );
    }
  }

  #compileTest(t: SieveTestNode): CompiledNode {
    const name = t.name.toLowerCase();
    const def = this.#tests.get(name);
    if (def === undefined || (def.capability !== null && !this.hasCapability(def.capability))) {
      throw this.error('ERR_SIEVE_UNKNOWN_TEST', `unknown test '${t.name}'`, t);
    }
    const node = this.#compileArgs(def, t, t.args);
    const want = def.tests ?? 'none';
    if (want === 'none' && t.tests.length > 0) {
      throw this.error('ERR_SIEVE_ARGUMENT', `the ${name} test takes no tests`, t);
    }
    if (want === 'one' && (t.tests.length !== 1 || t.testList)) {
      throw this.error('ERR_SIEVE_TEST_EXPECTED', `the ${name} test requires one test`, t);
    }
    if (want === 'list' && !t.testList) {
      throw this.error('ERR_SIEVE_TEST_EXPECTED', `the ${name} test requires a list of tests`, t);
    }
    const compiled: CompiledNode = {
      ...node,
      tests: t.tests.map((x) => this.#compileTest(x)),
      block: null,
    };
    def.validate?.(compiled, this);
    return compiled;
  }

  #tagsFor(def: SieveCommandDef): Map<string, SieveTagDef> {
    const map = new Map<string, SieveTagDef>();
    for (const t of def.tags ?? []) map.set(t.name, t);
    for (const t of this.#extraTags.get(def.name) ?? []) map.set(t.name, t);
    if (def.matching === true) {
      map.set('comparator', { name: 'comparator', arg: 'string', group: GROUP_COMPARATOR });
      for (const [m, cap] of Object.entries(MATCH_TAG_CAPS)) {
        if (cap !== null && !this.hasCapability(cap)) continue;
        map.set(m, {
          name: m,
          group: GROUP_MATCH,
          ...(m === 'count' || m === 'value' ? { arg: 'string' as const } : {}),
        });
      }
    }
    if (def.addressPart === true) {
      for (const [m, cap] of Object.entries(ADDRESS_PART_CAPS)) {
        if (cap !== null && !this.hasCapability(cap)) continue;
        map.set(m, { name: m, group: GROUP_ADDRESS });
      }
    }
    return map;
  }

  #compileArgs(
    def: SieveCommandDef,
    at: { line: number; column: number },
    args: readonly SieveArgumentNode[],
  ): Omit<CompiledNode, 'tests' | 'block'> {
    const tagDefs = this.#tagsFor(def);
    const tags = new Map<string, CompiledArg | null>();
    const groups = new Map<string, string>();
    const positional: { arg: SieveArgumentNode }[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (a === undefined) break;
      if (a.kind !== 'tag') {
        positional.push({ arg: a });
        continue;
      }
      if (positional.length > 0) {
        throw this.error(
          'ERR_SIEVE_ARGUMENT',
          `tagged argument ':${a.name}' after positional arguments of ${def.name}`,
          a,
        );
      }
      const tagName = a.name.toLowerCase();
      const tdef = tagDefs.get(tagName);
      if (
        tdef === undefined ||
        (tdef.capability !== undefined && !this.hasCapability(tdef.capability))
      ) {
        throw this.error(
          'ERR_SIEVE_UNKNOWN_TAG',
          `unknown tagged argument ':${a.name}' for the ${def.name} ${def.kind}`,
          a,
        );
      }
      if (tags.has(tagName)) {
        throw this.error(
          'ERR_SIEVE_DUPLICATE_TAG',
          `tagged argument ':${a.name}' specified more than once`,
          a,
        );
      }
      if (tdef.group !== undefined) {
        const other = groups.get(tdef.group);
        if (other !== undefined) {
          throw this.error(
            'ERR_SIEVE_DUPLICATE_TAG',
            `':${a.name}' conflicts with ':${other}' (only one ${tdef.group} allowed)`,
            a,
          );
        }
        groups.set(tdef.group, tagName);
      }
      let value: CompiledArg | null = null;
      if (tdef.arg !== undefined) {
        const next = args[i + 1];
        if (next === undefined || next.kind === 'tag' || !typeFits(tdef.arg, next)) {
          throw this.error(
            'ERR_SIEVE_ARGUMENT',
            `the :${tagName} tag of ${def.name} expects a ${tdef.arg} argument`,
            next ?? a,
          );
        }
        value = this.#compileArg(next);
        i++;
      }
      tags.set(tagName, value);
    }
    // Positional signature
    const sig = def.positional.find((s) => s.length === positional.length);
    if (sig === undefined) {
      throw this.error(
        'ERR_SIEVE_ARGUMENT',
        `wrong number of positional arguments for the ${def.name} ${def.kind}`,
        positional[0]?.arg ?? at,
      );
    }
    const compiledArgs: CompiledArg[] = [];
    for (let i = 0; i < sig.length; i++) {
      const p = positional[i];
      const type = sig[i];
      if (p === undefined || type === undefined) break;
      if (!typeFits(type, p.arg)) {
        throw this.error(
          'ERR_SIEVE_ARGUMENT',
          `the ${def.name} ${def.kind} expects a ${type} as argument ${i + 1}`,
          p.arg,
        );
      }
      const compiled = this.#compileArg(p.arg);
      if (def.constantArgs?.includes(i) === true && hasVariables(compiled)) {
        throw this.error(
          'ERR_SIEVE_ARGUMENT',
          `argument ${i + 1} of ${def.name} must be a constant string`,
          p.arg,
        );
      }
      compiledArgs.push(compiled);
    }
    const match = def.matching === true ? this.#matchSpec(def, tags, at) : DEFAULT_MATCH;
    const addrTag = def.addressPart === true ? (groups.get(GROUP_ADDRESS) ?? 'all') : 'all';
    return {
      def,
      name: def.name,
      line: at.line,
      column: at.column,
      tags,
      args: compiledArgs,
      match,
      addressPart: addrTag,
      data: undefined,
    };
  }

  #matchSpec(
    def: SieveCommandDef,
    tags: ReadonlyMap<string, CompiledArg | null>,
    at: { line: number; column: number },
  ): SieveMatchSpec {
    let comparator = def.defaultComparator ?? 'i;ascii-casemap';
    const comp = tags.get('comparator');
    if (comp !== undefined && comp !== null && comp.kind === 'string') {
      // Comparator names are case-insensitive (RFC 4790 §3.1); relational operators are not.
      comparator = comp.value.raw.toLowerCase();
      if (comp.value.parts !== null) {
        throw this.error(
          'ERR_SIEVE_COMPARATOR',
          'the comparator name must be a constant string',
          comp.value,
        );
      }
      const known =
        comparator === 'i;octet' ||
        comparator === 'i;ascii-casemap' ||
        comparator === 'i;ascii-numeric';
      if (
        !known ||
        (comparator === 'i;ascii-numeric' && !this.hasCapability('comparator-i;ascii-numeric'))
      ) {
        throw this.error('ERR_SIEVE_COMPARATOR', `unknown comparator '${comparator}'`, comp.value);
      }
    }
    let type: SieveMatchTypeName = 'is';
    let relation: SieveRelation | null = null;
    for (const m of ['is', 'contains', 'matches', 'regex', 'count', 'value'] as const) {
      if (!tags.has(m)) continue;
      type = m;
      if (m === 'count' || m === 'value') {
        const r = tags.get(m);
        const rel = r !== undefined && r !== null && r.kind === 'string' ? r.value : null;
        if (rel === null || rel.parts !== null || !RELATIONS.includes(rel.raw)) {
          throw this.error(
            'ERR_SIEVE_MATCH_TYPE',
            `invalid relational operator for the :${m} match type`,
            rel ?? at,
          );
        }
        relation = rel.raw as SieveRelation;
      }
    }
    if (
      comparator === 'i;ascii-numeric' &&
      (type === 'contains' || type === 'matches' || type === 'regex')
    ) {
      throw this.error(
        'ERR_SIEVE_COMPARATOR',
        `the i;ascii-numeric comparator does not support the :${type} match type`,
        at,
      );
    }
    return { type, relation, comparator };
  }

  #compileArg(a: SieveArgumentNode): CompiledArg {
    switch (a.kind) {
      case 'string': {
        const value = this.#compileString(a.value);
        return value.parts === null
          ? { kind: 'string', value, constant: Object.freeze([value.raw]) }
          : { kind: 'string', value };
      }
      case 'string-list': {
        const values = a.values.map((v) => this.#compileString(v));
        return values.every((v) => v.parts === null)
          ? { kind: 'string-list', values, constant: Object.freeze(values.map((v) => v.raw)) }
          : { kind: 'string-list', values };
      }
      case 'number':
        return { kind: 'number', value: a.value, line: a.line, column: a.column };
      case 'tag':
        throw this.error('ERR_SIEVE_ARGUMENT', 'unexpected tag', a);
    }
  }

  #compileString(s: SieveStringNode): CompiledString {
    let raw = s.value;
    if (this.hasCapability('encoded-character')) raw = decodeEncodedCharacters(raw, s, this);
    const parts = this.hasCapability('variables') ? parseVariableRefs(raw) : null;
    return { raw, parts, line: s.line, column: s.column };
  }
}

const DEFAULT_MATCH: SieveMatchSpec = { type: 'is', relation: null, comparator: 'i;ascii-casemap' };

function typeFits(type: SieveArgType, a: SieveArgumentNode): boolean {
  if (type === 'number') return a.kind === 'number';
  if (type === 'string') return a.kind === 'string';
  return a.kind === 'string' || a.kind === 'string-list';
}

function hasVariables(a: CompiledArg): boolean {
  if (a.kind === 'string') return a.value.parts !== null;
  if (a.kind === 'string-list') return a.values.some((v) => v.parts !== null);
  return false;
}

/** Checks :regex keys that are constant (called by tests that match). */
export function validateRegexKeys(
  node: CompiledNode,
  keys: CompiledArg | undefined,
  ctx: SieveValidateContext,
): void {
  if (node.match.type !== 'regex' || keys === undefined) return;
  const list =
    keys.kind === 'string' ? [keys.value] : keys.kind === 'string-list' ? keys.values : [];
  for (const k of list) {
    if (k.parts !== null) continue;
    const re = compileSieveRegex(k.raw, node.match.comparator === 'i;ascii-casemap');
    if (re instanceof SieveRegexError) {
      throw ctx.error(
        'ERR_SIEVE_MATCH_TYPE',
        `invalid regular expression '${k.raw}' for regex match: ${re.message}`,
        k,
      );
    }
  }
}

/** RFC 5228 §2.4.2.4 encoded-character: ${hex:…} and ${unicode:…}. */
function decodeEncodedCharacters(
  raw: string,
  at: SieveStringNode,
  ctx: SieveValidateContext,
): string {
  if (!raw.includes('${')) return raw;
  return raw.replace(
    /\$\{(hex|unicode):([\s0-9A-Fa-f]*)\}/gi,
    (whole, kind: string, body: string) => {
      const items = body.trim() === '' ? [] : body.trim().split(/\s+/);
      if (items.length === 0) return whole;
      if (kind.toLowerCase() === 'hex') {
        const bytes: number[] = [];
        for (const h of items) {
          if (h.length > 2) {
            // Pigeonhole accepts runs of hex pairs separated by whitespace only.
            if (h.length % 2 !== 0) return whole;
            for (let i = 0; i < h.length; i += 2) bytes.push(parseInt(h.slice(i, i + 2), 16));
          } else bytes.push(parseInt(h, 16));
        }
        try {
          return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
        } catch {
          throw ctx.error(
            'ERR_SIEVE_INVALID_VALUE',
            'invalid UTF-8 in encoded character substitution',
            at,
          );
        }
      }
      let out = '';
      for (const h of items) {
        const cp = parseInt(h, 16);
        if (h.length > 8 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
          throw ctx.error(
            'ERR_SIEVE_INVALID_VALUE',
            `invalid unicode character 0x${h} in encoded character substitution`,
            at,
          );
        }
        out += String.fromCodePoint(cp);
      }
      return out;
    },
  );
}

/** RFC 5229 §3 variable references; invalid references stay literal text. */
function parseVariableRefs(raw: string): (string | SieveVariableRef)[] | null {
  if (!raw.includes('${')) return null;
  const parts: (string | SieveVariableRef)[] = [];
  const re = /\$\{(?:(\d+)|([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*))\}/g;
  let last = 0;
  let any = false;
  for (let m = re.exec(raw); m !== null; m = re.exec(raw)) {
    if (m.index > last) parts.push(raw.slice(last, m.index));
    if (m[1] !== undefined) {
      parts.push({ name: '', index: Math.min(Number(m[1]), 1_000_000) });
    } else {
      const name = m[2] ?? '';
      // Pigeonhole expands references into unknown namespaces (`${env.x}`) to "".
      if (name.includes('.')) {
        parts.push('');
        any = true;
        last = m.index + m[0].length;
        continue;
      }
      parts.push({ name: name.toLowerCase(), index: -1 });
    }
    any = true;
    last = m.index + m[0].length;
  }
  if (!any) return null;
  if (last < raw.length) parts.push(raw.slice(last));
  return parts;
}

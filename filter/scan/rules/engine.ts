/**
 * The rule engine: compiles rule definitions (the built-in catalogue and administrators' JSON
 * rules, README.md) into tests over a {@link MessageView}, runs them, then the meta rules, and
 * turns hits into Findings with configured scores.
 *
 * Administrators' regexes run on re2js (linear time, no ReDoS whatever the pattern); the
 * built-in catalogue uses audited native RegExps for speed.
 */
import { RE2JS } from 're2js';
import { ParapetError } from '../../errors.js';
import type { Finding } from '../scanner.js';
import type { SymbolDefinition } from '../symbols.js';
import type { MessageView } from './message-view.js';

/** What a rule test gets besides the view. */
export interface RuleContext {
  /** The clock for date rules (pinned in the corpus benchmark). */
  readonly now: Date;
}

/** A test result: evidence text when the rule fires, null when not. */
export type RuleTest = (view: MessageView, context: RuleContext) => string | null;

/** Where a pattern rule looks. */
export type RuleTarget = 'header' | 'body' | 'rawbody' | 'uri' | 'full';

/**
 * One administrator rule, as JSON (README.md): a pattern rule on one target, or a meta rule.
 * `pattern` is "/regex/flags" (flags i, m, s) run by re2js; `contains` is a plain substring.
 */
export interface RuleSpec {
  readonly symbol: string;
  readonly score?: number;
  readonly description?: string;
  readonly group?: string;
  readonly type: RuleTarget | 'meta';
  /** header rules: field name, "Name:addr", "Name:name", "Name:raw" or "ALL". */
  readonly header?: string;
  /** header rules: fire when the field is present (true) or absent (false). */
  readonly exists?: boolean;
  readonly pattern?: string;
  readonly contains?: string;
  /** With `contains`: compare case-insensitively. */
  readonly ignoreCase?: boolean;
  /** Fire when the pattern does NOT match (header rules: also when the field is absent). */
  readonly not?: boolean;
  /** meta rules: boolean expression over symbols (README.md). */
  readonly expression?: string;
}

/** A rule ready to run. */
export interface CompiledRule extends SymbolDefinition {
  readonly symbol: string;
  /** Non-meta rules: the test. */
  readonly test?: RuleTest;
  /** Meta rules: the parsed expression. */
  readonly meta?: MetaExpr;
}

/* ----------------------------------------------------------------------------------------- */
/* Matchers                                                                                  */

interface TextMatcher {
  /** The matched text, or null. */
  match(text: string): string | null;
}

const SYMBOL_RE = /^[A-Z_][A-Z0-9_]{0,63}$/;

function invalid(symbol: string, why: string): ParapetError {
  return new ParapetError('ERR_SCAN_RULE_INVALID', `rule ${symbol}: ${why}`);
}

/** Compiles "/re/flags" with re2js. */
export function compileRe2Pattern(symbol: string, pattern: string): TextMatcher {
  const m = /^\/(.*)\/([ims]*)$/s.exec(pattern);
  if (m === null) throw invalid(symbol, 'pattern must be written /regex/flags');
  const flagText = m[2] ?? '';
  let flags = 0;
  if (flagText.includes('i')) flags |= RE2JS.CASE_INSENSITIVE;
  if (flagText.includes('m')) flags |= RE2JS.MULTILINE;
  if (flagText.includes('s')) flags |= RE2JS.DOTALL;
  let re: RE2JS;
  try {
    re = RE2JS.compile(m[1] ?? '', flags);
  } catch (err) {
    throw new ParapetError(
      'ERR_SCAN_RULE_INVALID',
      `rule ${symbol}: bad regex: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  return {
    match(text) {
      const hit = re.exec(text);
      if (hit === null) return null;
      const first: unknown = hit[0];
      return typeof first === 'string' ? first : '';
    },
  };
}

function substringMatcher(needle: string, ignoreCase: boolean): TextMatcher {
  const n = ignoreCase ? needle.toLowerCase() : needle;
  return {
    match(text) {
      const hay = ignoreCase ? text.toLowerCase() : text;
      return hay.includes(n) ? needle : null;
    },
  };
}

/** Text of a header selector: "Subject", "From:addr", "From:name", "X:raw", "ALL". */
export function selectHeader(view: MessageView, selector: string): string[] | null {
  if (selector === 'ALL') {
    return [view.headerNames.map((n, i) => `${n}: ${allValues(view)[i] ?? ''}`).join('\n')];
  }
  const colon = selector.indexOf(':');
  const name = colon < 0 ? selector : selector.slice(0, colon);
  const mode = colon < 0 ? '' : selector.slice(colon + 1).toLowerCase();
  if (!view.hasHeader(name)) return null;
  switch (mode) {
    case 'raw':
      return [...view.rawHeaders(name)];
    case 'addr':
    case 'name':
      return view.headers(name).map((v) => {
        const at = /<([^<>]*)>/.exec(v);
        if (mode === 'addr') return (at?.[1] ?? v.replace(/\([^()]*\)/g, '')).trim();
        return at === null
          ? (/\(([^()]*)\)/.exec(v)?.[1] ?? '')
          : v.slice(0, at.index).trim().replace(/^"|"$/g, '');
      });
    default:
      return [...view.headers(name)];
  }
}

const allCache = new WeakMap<MessageView, string[]>();
function allValues(view: MessageView): string[] {
  let list = allCache.get(view);
  if (list === undefined) {
    const counters = new Map<string, number>();
    list = view.headerNames.map((n) => {
      const key = n.toLowerCase();
      const i = counters.get(key) ?? 0;
      counters.set(key, i + 1);
      return view.headers(n)[i] ?? '';
    });
    allCache.set(view, list);
  }
  return list;
}

function short(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 60 ? `${t.slice(0, 57)}...` : t;
}

/** Builds the test of a pattern rule over its target. */
export function targetTest(
  symbol: string,
  target: RuleTarget,
  matcher: TextMatcher,
  options: { header?: string; not?: boolean } = {},
): RuleTest {
  const not = options.not === true;
  const verdict = (hit: string | null, where: string): string | null => {
    if (not) return hit === null ? `no match in ${where}` : null;
    return hit === null ? null : `matched '${short(hit)}' in ${where}`;
  };
  switch (target) {
    case 'header': {
      const selector = options.header;
      if (selector === undefined || selector === '')
        throw invalid(symbol, 'header rule needs "header"');
      return (view) => {
        const values = selectHeader(view, selector);
        if (values === null) return not ? `${selector} absent` : null;
        for (const v of values) {
          const hit = matcher.match(v);
          if (hit !== null) return verdict(hit, selector);
        }
        return verdict(null, selector);
      };
    }
    case 'body':
      return (view) => verdict(matcher.match(view.bodyText()), 'body');
    case 'rawbody':
      return (view) => verdict(matcher.match(view.rawBody()), 'raw body');
    case 'full':
      return (view) => verdict(matcher.match(view.full()), 'message');
    case 'uri':
      return (view) => {
        for (const uri of view.uris()) {
          const hit = matcher.match(uri.raw);
          if (hit !== null) return verdict(hit, 'URI');
        }
        return verdict(null, 'URIs');
      };
  }
}

/** Compiles one administrator rule (JSON). Throws ERR_SCAN_RULE_INVALID with the reason. */
export function compileRuleSpec(spec: RuleSpec): CompiledRule {
  // Specs come from configuration files: check the shapes TypeScript cannot vouch for.
  const rawSymbol: unknown = spec.symbol;
  const symbol = typeof rawSymbol === 'string' ? rawSymbol : '';
  if (!SYMBOL_RE.test(symbol))
    throw invalid(JSON.stringify(rawSymbol), 'symbol must be UPPER_SNAKE');
  const score = spec.score ?? 1;
  if (typeof score !== 'number' || !Number.isFinite(score))
    throw invalid(symbol, 'score must be a number');
  const base = {
    symbol,
    defaultScore: score,
    description: spec.description ?? symbol,
    group: spec.group ?? 'local',
  };
  if (spec.type === 'meta') {
    if (typeof spec.expression !== 'string') throw invalid(symbol, 'meta rule needs "expression"');
    return { ...base, meta: parseMetaExpression(symbol, spec.expression) };
  }
  const targets: readonly string[] = ['header', 'body', 'rawbody', 'uri', 'full'];
  if (!targets.includes(spec.type))
    throw invalid(symbol, `unknown type ${JSON.stringify(spec.type)}`);
  if (spec.type === 'header' && spec.exists !== undefined) {
    const header = spec.header ?? '';
    if (header === '') throw invalid(symbol, 'header rule needs "header"');
    const want = spec.exists;
    return {
      ...base,
      test: (view) =>
        view.hasHeader(header) === want ? `${header} ${want ? 'present' : 'absent'}` : null,
    };
  }
  let matcher: TextMatcher;
  if (typeof spec.pattern === 'string') matcher = compileRe2Pattern(symbol, spec.pattern);
  else if (typeof spec.contains === 'string' && spec.contains !== '') {
    matcher = substringMatcher(spec.contains, spec.ignoreCase === true);
  } else throw invalid(symbol, 'needs "pattern" or "contains"');
  const options: { header?: string; not?: boolean } = { not: spec.not === true };
  if (spec.header !== undefined) options.header = spec.header;
  return { ...base, test: targetTest(symbol, spec.type, matcher, options) };
}

/* ----------------------------------------------------------------------------------------- */
/* Meta expressions                                                                          */

/** A parsed meta expression. */
export type MetaExpr =
  | { readonly kind: 'symbol'; readonly name: string }
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'not'; readonly operand: MetaExpr }
  | {
      readonly kind: 'binary';
      readonly op: '&&' | '||' | '+' | '>' | '>=' | '<' | '<=' | '==';
      readonly left: MetaExpr;
      readonly right: MetaExpr;
    };

/**
 * Parses "A && (B || !C)", "(A + B + C) >= 2": symbols are 1 when they fired, else 0.
 * Bounded: at most 2,000 characters and 64 levels of nesting.
 */
export function parseMetaExpression(symbol: string, text: string): MetaExpr {
  if (text.length > 2000) throw invalid(symbol, 'expression too long');
  const tokens =
    text.match(/\s*(&&|\|\||>=|<=|==|[()!+<>]|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|\S)/g) ?? [];
  const list = tokens.map((t) => t.trim());
  let i = 0;
  let depth = 0;
  const peek = (): string | undefined => list[i];
  const take = (): string => {
    const t = list[i++];
    if (t === undefined) throw invalid(symbol, 'expression ends too early');
    return t;
  };
  const or = (): MetaExpr => {
    let left = and();
    while (peek() === '||') {
      take();
      left = { kind: 'binary', op: '||', left, right: and() };
    }
    return left;
  };
  const and = (): MetaExpr => {
    let left = cmp();
    while (peek() === '&&') {
      take();
      left = { kind: 'binary', op: '&&', left, right: cmp() };
    }
    return left;
  };
  const cmp = (): MetaExpr => {
    const left = sum();
    const op = peek();
    if (op === '>' || op === '>=' || op === '<' || op === '<=' || op === '==') {
      take();
      return { kind: 'binary', op, left, right: sum() };
    }
    return left;
  };
  const sum = (): MetaExpr => {
    let left = unary();
    while (peek() === '+') {
      take();
      left = { kind: 'binary', op: '+', left, right: unary() };
    }
    return left;
  };
  const unary = (): MetaExpr => {
    if (peek() === '!') {
      take();
      return { kind: 'not', operand: unary() };
    }
    return primary();
  };
  const primary = (): MetaExpr => {
    const t = take();
    if (t === '(') {
      if (++depth > 64) throw invalid(symbol, 'expression nested too deep');
      const inner = or();
      if (take() !== ')') throw invalid(symbol, 'missing )');
      depth--;
      return inner;
    }
    if (/^\d/.test(t)) return { kind: 'number', value: Number(t) };
    if (/^[A-Za-z_]/.test(t)) return { kind: 'symbol', name: t };
    throw invalid(symbol, `unexpected '${t}' in expression`);
  };
  const expr = or();
  if (i !== list.length) throw invalid(symbol, `unexpected '${list[i] ?? ''}' in expression`);
  return expr;
}

/** Symbols an expression refers to. */
export function metaSymbols(expr: MetaExpr, into = new Set<string>()): Set<string> {
  switch (expr.kind) {
    case 'symbol':
      into.add(expr.name);
      break;
    case 'number':
      break;
    case 'not':
      metaSymbols(expr.operand, into);
      break;
    case 'binary':
      metaSymbols(expr.left, into);
      metaSymbols(expr.right, into);
      break;
  }
  return into;
}

/** Evaluates an expression against the symbols that fired. */
export function evaluateMeta(expr: MetaExpr, fired: ReadonlySet<string>): number {
  switch (expr.kind) {
    case 'symbol':
      return fired.has(expr.name) ? 1 : 0;
    case 'number':
      return expr.value;
    case 'not':
      return evaluateMeta(expr.operand, fired) === 0 ? 1 : 0;
    case 'binary': {
      const l = evaluateMeta(expr.left, fired);
      if (expr.op === '&&' && l === 0) return 0;
      if (expr.op === '||' && l !== 0) return 1;
      const r = evaluateMeta(expr.right, fired);
      switch (expr.op) {
        case '&&':
        case '||':
          return r !== 0 ? 1 : 0;
        case '+':
          return l + r;
        case '>':
          return l > r ? 1 : 0;
        case '>=':
          return l >= r ? 1 : 0;
        case '<':
          return l < r ? 1 : 0;
        case '<=':
          return l <= r ? 1 : 0;
        case '==':
          return l === r ? 1 : 0;
      }
    }
  }
}

/* ----------------------------------------------------------------------------------------- */
/* The rule set                                                                              */

/**
 * A compiled rule set with its scores. Rules that score 0 and feed no meta rule are not run
 * at all, so a disabled body rule costs nothing; "__"-prefixed rules only feed meta rules.
 */
export class RuleSet {
  readonly #tests: CompiledRule[] = [];
  #metas: CompiledRule[] = [];
  readonly #scores = new Map<string, number>();

  constructor(rules: readonly CompiledRule[], scores: Readonly<Record<string, number>> = {}) {
    const bySymbol = new Map<string, CompiledRule>();
    for (const rule of rules) bySymbol.set(rule.symbol, rule); // later definitions win
    for (const [symbol, rule] of bySymbol) {
      const override = scores[symbol];
      this.#scores.set(
        symbol,
        typeof override === 'number' && Number.isFinite(override) ? override : rule.defaultScore,
      );
    }
    // Which rules must run: scoring ones and whatever a needed meta refers to.
    const needed = new Set<string>();
    const visit = (symbol: string): void => {
      if (needed.has(symbol)) return;
      const rule = bySymbol.get(symbol);
      if (rule === undefined) return;
      needed.add(symbol);
      if (rule.meta !== undefined) for (const s of metaSymbols(rule.meta)) visit(s);
    };
    for (const [symbol, score] of this.#scores) if (score !== 0) visit(symbol);
    for (const rule of bySymbol.values()) {
      if (!needed.has(rule.symbol)) continue;
      if (rule.meta !== undefined) this.#metas.push(rule);
      else if (rule.test !== undefined) this.#tests.push(rule);
    }
    this.#metas = orderMetas(this.#metas);
  }

  /**
   * Runs every needed rule. A rule that throws fails the scan (a bug, not an outcome): the
   * pipeline records it and, with onError 'skip', the message goes on without rule findings.
   */
  run(view: MessageView, context: RuleContext, signal?: AbortSignal): Finding[] {
    const evidence = new Map<string, string>();
    for (const rule of this.#tests) {
      if (signal?.aborted === true) break;
      const hit = rule.test?.(view, context) ?? null;
      if (hit !== null) evidence.set(rule.symbol, hit);
    }
    const fired = new Set(evidence.keys());
    for (const rule of this.#metas) {
      if (rule.meta !== undefined && evaluateMeta(rule.meta, fired) !== 0) {
        fired.add(rule.symbol);
        evidence.set(rule.symbol, 'meta');
      }
    }
    const findings: Finding[] = [];
    for (const [symbol, text] of evidence) {
      const score = this.#scores.get(symbol) ?? 0;
      if (score === 0 || symbol.startsWith('__')) continue;
      findings.push({ symbol, score, evidence: text });
    }
    return findings;
  }
}

/** Metas that refer to other metas run after them (cycles: left in given order). */
function orderMetas(metas: CompiledRule[]): CompiledRule[] {
  const names = new Map(metas.map((m) => [m.symbol, m]));
  const out: CompiledRule[] = [];
  const state = new Map<string, 1 | 2>();
  const visit = (m: CompiledRule): void => {
    if (state.has(m.symbol)) return;
    state.set(m.symbol, 1);
    if (m.meta !== undefined) {
      for (const s of metaSymbols(m.meta)) {
        const dep = names.get(s);
        if (dep !== undefined) visit(dep);
      }
    }
    state.set(m.symbol, 2);
    out.push(m);
  };
  for (const m of metas) visit(m);
  return out;
}

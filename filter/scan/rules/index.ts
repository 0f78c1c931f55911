/**
 * Header, body and URI rules (issue 4): the built-in catalogue plus administrators' rules,
 * run over a light view of the message (README.md). Entry points: {@link createRuleScanner}
 * and {@link RULE_CATALOGUE}.
 */
import type { Message } from '../../message/message.js';
import type { Scanner, ScannerOutput } from '../scanner.js';
import type { SymbolInfo } from '../symbols.js';
import { BUILTIN_RULES } from './catalogue.js';
import { compileRuleSpec, RuleSet, type CompiledRule, type RuleSpec } from './engine.js';
import { createMessageView, DEFAULT_VIEW_LIMITS, type MessageViewLimits } from './message-view.js';

export type { RuleSpec, RuleTarget } from './engine.js';
export { compileRuleSpec, parseMetaExpression } from './engine.js';
export { createMessageView, MessageView, type MessageViewLimits } from './message-view.js';

/** Options of {@link createRuleScanner}. */
export interface RuleScannerOptions {
  /**
   * The clock date rules compare against when a message has no Received time (the accuracy
   * benchmark pins it to the corpus era). Default: the real clock.
   */
  readonly now?: () => Date;
  /** Score overrides by symbol; 0 disables a rule (it is then not run unless a meta needs it). */
  readonly scores?: Readonly<Record<string, number>>;
  /**
   * Administrator rules (README.md), JSON objects. Compiled at creation: a bad rule throws
   * ERR_SCAN_RULE_INVALID naming it, so a broken configuration is refused at load time. A rule
   * with a built-in symbol replaces the built-in one.
   */
  readonly extraRules?: readonly RuleSpec[];
  /** Scan budget; default 2,000 ms. */
  readonly timeoutMs?: number;
  /** Caps on the work per message; defaults in DEFAULT_VIEW_LIMITS. */
  readonly limits?: Partial<MessageViewLimits>;
}

function catalogueOf(rules: readonly CompiledRule[]): ReadonlyMap<string, SymbolInfo> {
  const map = new Map<string, SymbolInfo>();
  for (const r of rules) {
    if (r.symbol.startsWith('__')) continue;
    map.set(
      r.symbol,
      Object.freeze({ score: r.defaultScore, description: r.description, group: r.group }),
    );
  }
  return map;
}

/** Every built-in symbol with its default score, description and group (no "__" sub-rules). */
export const RULE_CATALOGUE: ReadonlyMap<string, SymbolInfo> = catalogueOf(BUILTIN_RULES);

/**
 * The rule scanner: phase 'content', onError 'skip' (a rule fault loses rule findings, never
 * the message). Reads at most `limits.maxBodyBytes` of the body; decodes only text parts.
 */
export function createRuleScanner(options: RuleScannerOptions = {}): Scanner {
  const extra = (options.extraRules ?? []).map(compileRuleSpec);
  const ruleSet = new RuleSet([...BUILTIN_RULES, ...extra], options.scores ?? {});
  const now = options.now ?? (() => new Date());
  const limits: MessageViewLimits = Object.freeze({ ...DEFAULT_VIEW_LIMITS, ...options.limits });
  return {
    name: 'rules',
    phase: 'content',
    timeoutMs: options.timeoutMs ?? 2000,
    onError: 'skip',
    async scan(message: Message, signal: AbortSignal): Promise<ScannerOutput> {
      const view = await createMessageView(message, limits);
      return { findings: ruleSet.run(view, { now: now() }, signal) };
    },
  };
}

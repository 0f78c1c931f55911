/**
 * Public API of filter/policy (README.md): the policy host, the gateway extensions, named lists
 * and maps, and the default policy. The Sieve engine itself is filter/policy/sieve.
 */
export {
  createSievePolicy,
  createSievePolicyEvaluator,
  sieveOutcomeToDecision,
  buildModifications,
  encodeHeaderText,
  fillTemplate,
  MemoryDuplicateStore,
  SwappablePolicy,
  type DecisionContext,
  type DuplicateStore,
  type FileintoRoute,
  type NoticeTemplate,
  type SievePolicyDecision,
  type SievePolicyOptions,
  type SievePolicyReport,
} from './host.js';
export * from './gateway/index.js';
export * from './lists/index.js';
export {
  compilePolicy,
  DEFAULT_POLICY_LISTS,
  DEFAULT_POLICY_TEXT,
} from './default/default-policy.js';

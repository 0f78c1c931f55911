/**
 * Bayesian spam classification (issue 4): tokenizer, token stores, the Robinson/Fisher
 * combiner, the scanner and training.
 */
export { tokenId, type TokenId } from './token-hash.js';
export { tokenizeMessage, tokenizeParts, type TokenizeOptions } from './tokenizer.js';
export {
  MemoryTokenStore,
  type BayesClass,
  type MessageTotals,
  type TokenCounts,
  type TokenRow,
  type TokenStore,
  type TokenStoreSnapshot,
  type TrainingChange,
} from './token-store.js';
export {
  JsonFileTokenStore,
  openJsonFileTokenStore,
  parseTokenSnapshot,
  serializeTokenSnapshot,
} from './json-file-store.js';
export {
  chi2Q,
  combine,
  tokenProbability,
  type BayesVerdict,
  type ClassifierOptions,
  type TokenEvidence,
} from './classifier.js';
export { BAYES_BANDS, BAYES_SYMBOLS, bandFor, type BayesBand } from './bands.js';
export {
  classifyMessage,
  createBayesScanner,
  tokenIdsOf,
  type BayesClassification,
  type BayesScannerOptions,
} from './bayes-scanner.js';
export {
  DEFAULT_AUTO_LEARN,
  autoLearnClass,
  createBayesTrainer,
  expireTokens,
  messageKey,
  type AutoLearnThresholds,
  type BayesTrainer,
  type BayesTrainerOptions,
  type LearnOutcome,
} from './trainer.js';
export { messageFromFileBytes } from './raw-message.js';

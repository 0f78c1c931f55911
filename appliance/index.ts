/** Public API of one node (imported by bin/, cluster/, ui/, provisioning/). */
export { registerApplianceCommands } from './cli/index.js';
export { loadNodeConfig, resolveParapetHome, type NodeConfig } from './config/node-config.js';
export { ApplianceErrorCode } from './errors.js';
export { DEFAULT_WEB, type HostPort, type WebConfig } from './config/node-config.js';
export {
  SERVICES,
  provideService,
  supervisedServices,
  type ServiceEntry,
  type ServiceName,
} from './services/registry.js';
export { signalReady, waitForStopSignal } from './services/signals.js';
export { createServiceLogger } from './log/logger.js';
export {
  SERVICE_USER,
  ensureServiceUser,
  findSystemUser,
  type SystemUser,
} from './system/service-user.js';
export { Db, openDatabase, migrate, sqlState, type DbOptions, type Queryable } from './db/index.js';
export * as reports from './db/reports-repo.js';
export {
  searchQuarantine,
  getQuarantineRow,
  setQuarantineStatus,
  type QuarantinePage,
  type QuarantineRow,
  type QuarantineSearch,
} from './db/index.js';
// ui: Manager quarantine and reports (issue 6) — the same code `parapet qman` and `parapet queue run` use.
export { quarantineActions, RELEASE_HEADER, type QuarantineActions } from './quarantine/release.js';
export {
  QuarantineStore,
  type QuarantineEntry,
  type QuarantineQuery,
  type QuarantineState,
} from './quarantine/quarantine-store.js';
export { OutboundQueue, type OutboundItem } from './queue/outbound-queue.js';
export { QueueRunner, type QueueRunResult } from './queue/queue-runner.js';
export {
  DEFAULT_DATABASE_CONFIG,
  insertQuarantineRows,
  insertMessageLogBatch,
  rollupMessageLog,
  snapshotQuarantineSize,
  type NewQuarantineRow,
  type QuarantineStatus,
} from './db/index.js';
// ui: End User and Groups Web Interfaces (issue 6) — digest sign-in links, per-user release,
// Bayes training from the quarantine, per-user sender lists.
export {
  linkKey,
  linkKeyPath,
  signDigestLink,
  verifyDigestLink,
  digestLinkUrl,
  MAX_DIGEST_LINK_CHARS,
  type DigestLinkCheck,
} from './quarantine/digest-link.js';
export { releaseKey, signRelease } from './quarantine/release.js';
export { learnFiles, bayesStorePath, type LearnSummary } from './cli/learn-command.js';
export {
  policyListsDir,
  readPolicyList,
  writePolicyList,
  type StoredPolicyList,
} from './config/policy-lists.js';
// ui: Manager Policy tab (issue 6) — versioned policy saves, lists and maps, replay source.
export {
  listPolicyVersions,
  policyVersionsDir,
  readActivePolicyText,
  readPolicyVersion,
  recentHeldMessages,
  savePolicyVersion,
  type ActivePolicyText,
  type HeldMessage,
  type PolicyVersionMeta,
  type SavedPolicyVersion,
} from './config/policy-versions.js';
export { listNames as listPolicyListNames, loadPolicyData } from './config/policy-lists.js';
export { buildMessage, scanFromHeaders } from './cli/policy-command.js';
// ui: Manager Dashboard and Local Services tabs (issue 6) — pm2 services, scheduled jobs.
export { controlService, listServices, pm2HomeOf, stopNode } from './supervisor/node-supervisor.js';
export type { ServiceStatus } from './supervisor/pm2-client.js';
export { JobStore, nextRun, type JobDefinition, type JobRun } from './scheduler/jobs.js';
export { runJob } from './scheduler/run-job.js';
// The end-user quarantine digest (issue 5): preferences (the End User Web Interface writes
// them), the digest job and its mail.
export {
  DEFAULT_DIGEST_PREFERENCE,
  DIGEST_PREFERENCES_FILE,
  digestPreferenceOf,
  parseDigestPreferences,
  readDigestPreferences,
  type DigestFrequency,
  type DigestPreference,
  type DigestPreferencesFile,
} from './quarantine/digest-preferences.js';
export { runQuarantineDigest, type DigestRunResult } from './scheduler/quarantine-digest.js';
// Configuration versions and the audit log in the database (issue 5): the server group
// builds the push on these.
export {
  ConfigVersionRecorder,
  listConfigVersions,
  readConfigVersion,
  recordConfigVersion,
  snapshotConfig,
  snapshotHash,
  VERSIONED_CONFIG_FILES,
  type ConfigSnapshot,
  type ConfigVersion,
  type ConfigVersionMeta,
} from './config/config-versions.js';
export { AuditLogShipper, insertAuditLines, parseAuditLine, type AuditLine } from './db/index.js';
// Node and service health (parapet service status, the Manager's Local Services tab).
export {
  checkServiceHealth,
  readNodeHealth,
  serviceEndpoints,
  type NodeHealth,
  type ServiceHealth,
} from './supervisor/node-health.js';
// Bayes tokens shared through the database, cached by the policy service (issue 4).
export { PgTokenStore, exportBayesSnapshot, importBayesSnapshotIfEmpty } from './db/index.js';
export {
  CachedTokenStore,
  CompactSnapshot,
  parseCompactSnapshot,
  type BayesCacheEvent,
  type CachedTokenStoreOptions,
} from './services/bayes-cache.js';
export {
  BayesSync,
  adoptLocalSnapshot,
  bayesPaths,
  nodeUsesDatabase,
  refreshSnapshot,
  shipLearnSpool,
  shipTouchSpool,
  type BayesPaths,
  type BayesRefreshResult,
  type BayesSyncEvent,
  type BayesSyncOptions,
  type BayesSyncResult,
} from './services/bayes-sync.js';
export { learnFilesInto, learnNodeFiles } from './cli/learn-command.js';
export {
  BayesAutoLearner,
  autoLearnClassOf,
  scoreWithoutBayes,
  type AutoLearnEntry,
  type AutoLearnEvent,
  type BayesAutoLearnerOptions,
} from './services/bayes-autolearn.js';

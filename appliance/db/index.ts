/** Public surface of appliance/db (see README.md). */
export { DEFAULT_DATABASE_CONFIG, parseDatabaseConfig, type DatabaseConfig } from './config.js';
export {
  EmbeddedPostgres,
  EMBEDDED_DB_NAME,
  EMBEDDED_DB_ROLE,
  type EmbeddedConnection,
  type EmbeddedPostgresOptions,
  type EmbeddedPostgresStatus,
} from './embedded-postgres.js';
export {
  findPgBinaries,
  listDebianPgBinaries,
  clusterMajor,
  type PgBinaries,
} from './pg-binaries.js';
export { Db, openDatabase, sqlState, type DbOptions, type DbTarget, type Queryable } from './db.js';
export {
  migrate,
  loadMigrations,
  defaultMigrationsDir,
  MIGRATION_LOCK_KEY,
  type Migration,
  type MigrateResult,
} from './migrate.js';
export {
  insertMessageLogBatch,
  rollupMessageLog,
  type MessageLogExtras,
} from './message-log-repo.js';
export {
  DEFAULT_RETENTION,
  expireBayesTokensInDb,
  rollupIpBlockLog,
  runDatabaseMaintenance,
  snapshotQuarantineSize,
  type IpBlockRollupResult,
  type MaintenanceResult,
  type RetentionDays,
} from './report-rollup-repo.js';
export * as reports from './reports-repo.js';
export {
  MessageLogShipper,
  parseRecord,
  type MessageLogShipperOptions,
  type ShipperCursor,
  type ShipperEvent,
  type ShipResult,
} from './message-log-shipper.js';
export {
  insertQuarantineRows,
  searchQuarantine,
  getQuarantineRow,
  setQuarantineStatus,
  type NewQuarantineRow,
  type QuarantinePage,
  type QuarantineRow,
  type QuarantineSearch,
  type QuarantineStatus,
  type Transactional,
  recipientKeys,
} from './quarantine-repo.js';
export {
  AuditLogShipper,
  auditSourceKey,
  insertAuditLines,
  parseAuditLine,
  type AuditCursor,
  type AuditLine,
  type AuditLogShipperOptions,
  type AuditShipperEvent,
} from './audit-log-shipper.js';
// The server group's Bayes store (issue 4; bayes-shared-store.decision.md).
export {
  PgTokenStore,
  applyTrainingChange,
  dayStartMs,
  retryOnConflict,
  touchTokensInDb,
  type PgTokenStoreOptions,
} from './bayes-token-store.js';
export {
  exportBayesSnapshot,
  importBayesSnapshotIfEmpty,
  readSnapshotOrigin,
  type BayesExportResult,
  type BayesImportResult,
  type SnapshotOrigin,
} from './bayes-snapshot.js';

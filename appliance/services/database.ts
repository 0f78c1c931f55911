/**
 * The database service: the node's embedded PostgreSQL (or the configured external one),
 * migrated to the current schema, the shippers that forward the local message log and audit
 * log idempotently, and the recorder of configuration versions (ARCHITECTURE.md "State and who owns it"). The data plane never waits on it:
 * when it is down, mail flows and the log waits on disk.
 */
import type { Logger } from 'pino';
import { loadNodeConfig, type NodeConfig } from '../config/node-config.js';
import { createServiceLogger } from '../log/logger.js';
import { join } from 'node:path';
import { AuditLogShipper, migrate, MessageLogShipper, openDatabase } from '../db/index.js';
import { insertLogAndQuarantine } from '../db/quarantine-rows.js';
import { ConfigVersionRecorder } from '../config/config-versions.js';
import { BayesSync } from './bayes-sync.js';
import { signalReady, waitForStopSignal } from './signals.js';

export interface RunningDatabaseService {
  close(): Promise<void>;
}

export async function startDatabaseService(
  config: NodeConfig,
  logger: Logger,
): Promise<RunningDatabaseService> {
  const { db, embedded } = await openDatabase(config.home, config.database, {
    applicationName: 'parapet-database',
  });
  try {
    const result = await migrate(db);
    logger.info({ result }, 'database migrated');
  } catch (err) {
    await db.close();
    throw err;
  }
  const shipper = new MessageLogShipper({
    db,
    logPath: config.paths.messageLog,
    insert: insertLogAndQuarantine(db, config.paths.quarantine),
    onEvent: (event) => {
      logger.debug({ event }, 'message-log shipper');
    },
  });
  shipper.start();
  // The web interfaces' and CLI's audit log (ui/api/audit-log.ts) goes the same way.
  const auditShipper = new AuditLogShipper({
    db,
    nodeId: config.nodeId,
    logPath: join(config.home, 'log', 'audit.jsonl'),
    onEvent: (event) => {
      if (event.type === 'skipped') logger.warn({ event }, 'audit-log shipper skipped a line');
      else logger.debug({ event }, 'audit-log shipper');
    },
  });
  auditShipper.start();
  // Each change of the configuration files becomes a version in config_versions.
  const versions = new ConfigVersionRecorder({
    db,
    nodeId: config.nodeId,
    configDir: config.paths.config,
    auditPath: join(config.home, 'log', 'audit.jsonl'),
    onEvent: (event) => {
      if (event.type === 'recorded')
        logger.info({ version: event.detail }, 'configuration version');
      else logger.warn({ error: event.detail }, 'configuration version not recorded');
    },
  });
  versions.start();
  // The server group's Bayes tokens: exported into the node's snapshot for the policy service,
  // with the scans' last-seen times shipped back (bayes-sync.ts).
  const bayes = new BayesSync({
    db,
    home: config.home,
    onEvent: (event) => {
      if (event.type === 'failed') logger.warn({ error: event.error }, 'bayes sync failed');
      else logger.info({ result: event.result }, 'bayes sync');
    },
  });
  bayes.start();
  return {
    close: async () => {
      await bayes.stop();
      await versions.stop();
      await auditShipper.stop();
      await shipper.stop();
      await db.close();
      await embedded?.stop();
    },
  };
}

/** `parapet serve database`: runs until SIGTERM/SIGINT, then stops the shipper and PostgreSQL. */
export async function runDatabaseServiceUntilSignal(): Promise<void> {
  const config = await loadNodeConfig();
  const logger = createServiceLogger('database');
  const service = await startDatabaseService(config, logger);
  logger.info(
    { url: config.database.url === null ? 'embedded' : 'external' },
    'database service ready',
  );
  signalReady();
  const signal = await waitForStopSignal();
  logger.info({ signal }, 'database service stopping');
  await service.close();
}

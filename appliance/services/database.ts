/**
 * The database service: the node's embedded PostgreSQL (or the configured external one),
 * migrated to the current schema, and the message-log shipper that forwards the local log
 * idempotently (ARCHITECTURE.md "State and who owns it"). The data plane never waits on it:
 * when it is down, mail flows and the log waits on disk.
 */
import type { Logger } from 'pino';
import { loadNodeConfig, type NodeConfig } from '../config/node-config.js';
import { createServiceLogger } from '../log/logger.js';
import { migrate, MessageLogShipper, openDatabase } from '../db/index.js';
import { insertLogAndQuarantine } from '../db/quarantine-rows.js';
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
  return {
    close: async () => {
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

/**
 * The re-injection witness service (`parapet serve witness`): the milter the re-injection
 * smtpd (10026) consults, so that a retry of a message whose re-injection the policy service
 * may or may not have finished before it died is decided by fact, not by guess (decision 0005
 * in filter/decisions, filter/smtp/reinject-witness.ts). Its own process on purpose: it must
 * outlive the policy service.
 */
import type { Logger } from 'pino';
import { startReinjectWitness } from '../../filter/index.js';
import { loadNodeConfig, type NodeConfig } from '../config/node-config.js';
import { createServiceLogger } from '../log/logger.js';
import { signalReady, waitForStopSignal } from './signals.js';

export interface RunningWitness {
  readonly listeners: readonly string[];
  close(): Promise<void>;
}

export async function startWitnessService(
  config: NodeConfig,
  logger: Logger,
): Promise<RunningWitness> {
  const socketPath = config.policy.witnessSocketPath;
  if (socketPath === null) {
    // Supervised on every node: without a socket configured it stays up doing nothing, rather
    // than failing and being restarted by pm2 over and over (node-health expects no endpoint).
    logger.info('policy.witnessSocketPath is null in node.json: no re-injection witness');
    return { listeners: [], close: () => Promise.resolve() };
  }
  const witness = await startReinjectWitness({
    socketPath,
    socketMode: config.policy.milterSocketMode,
    receiptsPath: config.paths.reinjectReceipts,
    onEvent: (event, fields) => {
      logger.warn({ event, ...fields }, event);
    },
  });
  return {
    listeners: [`witness  unix:${socketPath} → ${config.paths.reinjectReceipts}`],
    close: () => witness.close(),
  };
}

/** `parapet serve witness`: runs until SIGTERM/SIGINT. */
export async function runWitnessServiceUntilSignal(): Promise<void> {
  const config = await loadNodeConfig();
  const logger = createServiceLogger('witness');
  const service = await startWitnessService(config, logger);
  logger.info({ listeners: service.listeners }, 'witness service ready');
  signalReady();
  const signal = await waitForStopSignal();
  logger.info({ signal }, 'witness service stopping');
  await service.close();
}

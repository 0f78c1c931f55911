/**
 * The Queue Runner service: delivers the node's outbound queue ($PARAPET_HOME/queue) to the
 * MTA's filter-free port (the policy service's re-injection address) every second.
 */
import type { Logger } from 'pino';
import { loadNodeConfig, type NodeConfig } from '../config/node-config.js';
import { createServiceLogger } from '../log/logger.js';
import { OutboundQueue } from '../queue/outbound-queue.js';
import { QueueRunner } from '../queue/queue-runner.js';
import { signalReady, waitForStopSignal } from './signals.js';

export interface RunningQueueService {
  readonly runner: QueueRunner;
  close(): Promise<void>;
}

export function startQueueService(config: NodeConfig, logger: Logger): RunningQueueService {
  const queue = new OutboundQueue(config.paths.queue);
  const runner = new QueueRunner({
    queue,
    target: config.policy.reinject,
    onDelivered: (item, queueId) => {
      logger.info({ id: item.id, kind: item.kind, to: item.to, queueId }, 'outbound delivered');
    },
    onFailed: (item, error) => {
      logger.error({ id: item.id, kind: item.kind, error }, 'outbound failed for good');
    },
  });
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const tick = (): void => {
    runner
      .runOnce()
      .catch((err: unknown) => {
        logger.error({ err }, 'queue run failed');
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, 1000);
      });
  };
  tick();
  return {
    runner,
    close: async () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      await runner.close();
    },
  };
}

/** `parapet serve queue`: runs until SIGTERM/SIGINT. */
export async function runQueueServiceUntilSignal(): Promise<void> {
  const config = await loadNodeConfig();
  const logger = createServiceLogger('queue');
  const service = startQueueService(config, logger);
  logger.info({ dir: config.paths.queue, target: config.policy.reinject }, 'Queue Runner ready');
  signalReady();
  const signal = await waitForStopSignal();
  logger.info({ signal }, 'Queue Runner stopping');
  await service.close();
}

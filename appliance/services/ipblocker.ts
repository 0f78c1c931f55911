/**
 * The IP Blocker service: Postfix policy delegation on 127.0.0.1:10040 (wired by
 * `parapet mta configure postfix` as check_policy_service). Wiring only: local entries are
 * re-read when their file changes, the message log is followed for reputation, refusals are
 * appended to `log/ipblock.jsonl` (rotated by size, refusal-log.ts) for reports.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { loadNodeConfig, type NodeConfig } from '../config/node-config.js';
import { createServiceLogger } from '../log/logger.js';
import { IpBlockList, readBlockEntries } from '../ipblocker/block-list.js';
import { MessageLogTail, ReputationTracker } from '../ipblocker/reputation.js';
import { startIpBlockerServer } from '../ipblocker/server.js';
import { RefusalLog } from '../ipblocker/refusal-log.js';
import { signalReady, waitForStopSignal } from './signals.js';

export interface RunningIpBlocker {
  readonly listeners: readonly string[];
  /** Re-reads the entries file and the message log now (tests; the timers do it otherwise). */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

export async function startIpBlockerService(
  config: NodeConfig,
  logger: Logger,
): Promise<RunningIpBlocker> {
  const settings = config.ipblocker;
  let list = new IpBlockList(await readBlockEntries(config.paths.ipblockList));
  let listStamp = await fileStamp(config.paths.ipblockList);
  const reputation = new ReputationTracker(settings.reputation);
  const tail = new MessageLogTail(config.paths.messageLog, (r) => {
    reputation.observe(r);
  });
  await tail.poll();
  await mkdir(dirname(config.paths.ipblockLog), { recursive: true, mode: 0o750 });
  const refusals = new RefusalLog(config.paths.ipblockLog);

  const refresh = async (): Promise<void> => {
    const stamp = await fileStamp(config.paths.ipblockList);
    if (stamp !== listStamp) {
      try {
        list = new IpBlockList(await readBlockEntries(config.paths.ipblockList));
        listStamp = stamp;
        logger.info({ entries: list.entries.length }, 'IP block list reloaded');
      } catch (err) {
        // Keep the last good list: a bad edit must not open the gate or stop mail.
        logger.error({ err }, 'IP block list unreadable; keeping the previous one');
      }
    }
    await tail.poll();
  };
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    refresh()
      .catch((err: unknown) => {
        logger.error({ err }, 'IP Blocker refresh failed');
      })
      .finally(() => {
        busy = false;
      });
  }, 1000);
  const pruneTimer = setInterval(() => {
    reputation.prune();
  }, 60_000);

  const server = await startIpBlockerServer({
    host: settings.listen.host,
    port: settings.listen.port,
    context: {
      list: () => list,
      reputation,
      dnsbl: null,
      settings: {
        blockAction: settings.blockAction,
        reputationAction: settings.reputationAction,
        dnsblAction: settings.dnsblAction,
      },
    },
    onDecision: (decision, request) => {
      const line = JSON.stringify({
        time: new Date().toISOString(),
        nodeId: config.nodeId,
        client: decision.client,
        clientName: request.get('client_name') ?? null,
        helo: request.get('helo_name') ?? null,
        sender: request.get('sender') ?? null,
        recipient: request.get('recipient') ?? null,
        stage: request.get('protocol_state') ?? null,
        source: decision.source,
        action: decision.action.kind,
      });
      refusals.append(line).catch((err: unknown) => {
        logger.error({ err }, 'IP Blocker log append failed');
      });
      logger.info({ client: decision.client, source: decision.source }, 'client refused');
    },
    onError: (message) => {
      logger.warn({ error: message }, 'policy delegation request refused');
    },
  });
  return {
    listeners: [`ip blocker  ${server.address.host}:${String(server.address.port)}`],
    refresh,
    close: async () => {
      clearInterval(timer);
      clearInterval(pruneTimer);
      await server.close();
      await refusals.flush();
    },
  };
}

async function fileStamp(path: string): Promise<string> {
  try {
    const s = await stat(path);
    return `${String(s.mtimeMs)}:${String(s.size)}:${String(s.ino)}`;
  } catch {
    return 'missing';
  }
}

/** `parapet serve ipblocker`: runs until SIGTERM/SIGINT. */
export async function runIpBlockerServiceUntilSignal(): Promise<void> {
  const config = await loadNodeConfig();
  const logger = createServiceLogger('ipblocker');
  const service = await startIpBlockerService(config, logger);
  logger.info({ listeners: service.listeners }, 'IP Blocker ready');
  signalReady();
  const signal = await waitForStopSignal();
  logger.info({ signal }, 'IP Blocker stopping');
  await service.close();
}

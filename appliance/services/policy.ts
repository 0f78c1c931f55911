/**
 * The policy service (ARCHITECTURE.md "One node"): the data plane. Wires the node config, the
 * message log, the quarantine writer and the pipeline to the milter listener (3366, TCP and/or
 * unix socket) and the after-queue content filter (127.0.0.1:10025 → 10026). Wiring only; the
 * logic lives in filter/.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  createMilterServer,
  createPipeline,
  createSmtpFilterServer,
  MessageLog,
  acceptAllPolicy,
  policy as policyApi,
  QuarantineWriter,
  ReinjectLedger,
  type MilterServer,
  type PolicyHook,
  type SmtpFilterServer,
} from '../../filter/index.js';
import { loadNodeConfig, type NodeConfig } from '../config/node-config.js';
import { createServiceLogger, eventSinkFor } from '../log/logger.js';
import { loadActivePolicy, policyStamp } from '../config/active-policy.js';
import { OutboundQueue } from '../queue/outbound-queue.js';
import { enqueuePolicyOutbound } from '../queue/policy-outbound.js';
import { buildScanners } from './scanners.js';
import { signalReady, waitForStopSignal } from './signals.js';

export interface RunningPolicyService {
  /** One line per listener: what listens where. */
  readonly listeners: readonly string[];
  /** Stops accepting, drains messages in flight, flushes the message log. Never rejects. */
  close(): Promise<void>;
}

export async function startPolicyService(
  config: NodeConfig,
  logger: Logger,
): Promise<RunningPolicyService> {
  const settings = config.policy;
  const events = eventSinkFor(logger);
  const messageLog = await MessageLog.open({
    path: config.paths.messageLog,
    nodeId: config.nodeId,
  });
  const policy = await startPolicyReloader(config, logger);
  const outbound = new OutboundQueue(config.paths.queue);
  const scan = await buildScanners(config);
  const pipeline = createPipeline({
    scanners: scan.scanners,
    spamThreshold: config.scan.threshold,
    // Redirect, vacation, copy and notice messages are queued durably before the MTA is
    // answered; a failure to queue them tempfails the original (nothing lost).
    policy: async (input) => {
      // Decisive scores train Bayes (rate-limited, queued for the shared store; never fails).
      await scan.autoLearn?.(input);
      const decision = await policy.hook(input);
      if (decision.outbound !== undefined && decision.outbound.length > 0) {
        await enqueuePolicyOutbound(outbound, input.message, decision.outbound);
      }
      return decision;
    },
    messageLog,
    quarantine: new QuarantineWriter({ dir: config.paths.quarantine }),
    messageTimeoutMs: settings.messageTimeoutMs,
    events,
  });
  const spool = { spoolMemoryBytes: settings.spoolMemoryBytes, spoolDir: config.paths.spool };
  const listeners: string[] = [];
  const ledger =
    settings.smtpFilter === null
      ? null
      : ReinjectLedger.open({
          path: join(config.paths.spool, 'reinject-ledger.log'),
          receiptsPath: config.paths.reinjectReceipts,
        });
  let milter: MilterServer | null = null;
  let smtp: SmtpFilterServer | null = null;
  try {
    if (settings.milterTcp !== null || settings.milterSocketPath !== null) {
      milter = await createMilterServer({
        pipeline,
        ...(settings.milterTcp === null ? {} : { tcp: settings.milterTcp }),
        ...(settings.milterSocketPath === null
          ? {}
          : {
              unixSocket: { path: settings.milterSocketPath, mode: settings.milterSocketMode },
            }),
        maxSessions: settings.maxSessions,
        messageTimeoutMs: settings.messageTimeoutMs,
        maxMessageBytes: settings.maxMessageBytes,
        maxRecipients: settings.maxRecipients,
        drainTimeoutMs: settings.drainTimeoutMs,
        ...spool,
        onEvent: (event, fields) => {
          logger.debug({ event, ...fields }, event);
        },
      });
      if (milter.tcpAddress !== null) {
        listeners.push(`milter  ${milter.tcpAddress.address}:${milter.tcpAddress.port} (tcp)`);
      }
      if (milter.unixPath !== null) listeners.push(`milter  unix:${milter.unixPath}`);
    }
    if (settings.smtpFilter !== null) {
      smtp = await createSmtpFilterServer({
        pipeline,
        host: settings.smtpFilter.host,
        port: settings.smtpFilter.port,
        reinject: { host: settings.reinject.host, port: settings.reinject.port },
        ...(ledger === null ? {} : { ledger }),
        maxSessions: settings.maxSessions,
        messageTimeoutMs: settings.messageTimeoutMs,
        maxMessageBytes: settings.maxMessageBytes,
        maxRecipients: settings.maxRecipients,
        drainTimeoutMs: settings.drainTimeoutMs,
        spool,
      });
      listeners.push(
        `content filter  ${smtp.address.address}:${smtp.address.port} → re-inject ${settings.reinject.host}:${settings.reinject.port}`,
      );
    }
  } catch (err) {
    policy.stop();
    await scan.close();
    await Promise.all([milter?.close(), smtp?.close()]);
    ledger?.close();
    await messageLog.close();
    throw err;
  }
  listeners.push(`policy  ${policy.describe()}`);
  listeners.push(`scanners  ${scan.names.length === 0 ? 'none' : scan.names.join(', ')}`);
  return {
    listeners,
    close: async () => {
      policy.stop();
      await Promise.all([milter?.close(), smtp?.close()]);
      await scan.close();
      ledger?.close();
      await messageLog.close().catch((err: unknown) => {
        logger.error({ err }, 'message log close failed');
      });
    },
  };
}

interface PolicyReloader {
  readonly hook: PolicyHook;
  describe(): string;
  stop(): void;
}

/**
 * The pipeline's policy: the active Sieve policy, compiled at start (an invalid one stops the
 * start with its errors) and re-compiled when its script or lists change; a change that does
 * not compile is logged and the running policy stays.
 */
async function startPolicyReloader(config: NodeConfig, logger: Logger): Promise<PolicyReloader> {
  if (config.policy.policyEngine === 'accept-all') {
    return {
      hook: acceptAllPolicy,
      describe: () => 'accept-all (no Sieve)',
      stop: () => undefined,
    };
  }
  const options = {
    onEvaluation: (report: policyApi.SievePolicyReport) => {
      if (report.runtimeError !== null) {
        logger.warn({ id: report.messageId, error: report.runtimeError }, 'policy run-time error');
      }
    },
  };
  let active = await loadActivePolicy(config, options);
  let version = 1;
  const swappable = new policyApi.SwappablePolicy(active.hook, version);
  logger.info({ source: active.source }, 'policy compiled');
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void (async () => {
      try {
        if ((await policyStamp(config)) === active.stamp) return;
        active = await loadActivePolicy(config, options);
        version += 1;
        swappable.swap(active.hook, version);
        logger.info({ source: active.source, version }, 'policy reloaded');
      } catch (err) {
        logger.error({ err }, 'policy change not applied; the running policy stays');
        // Do not retry the same broken files every tick.
        active = { ...active, stamp: await policyStamp(config) };
      } finally {
        busy = false;
      }
    })();
  }, 2000);
  timer.unref();
  return {
    hook: swappable.hook,
    describe: () => `sieve (${active.source}, version ${String(version)})`,
    stop: () => {
      clearInterval(timer);
    },
  };
}

/** `parapet serve policy`: runs until SIGTERM/SIGINT, then drains and returns. */
export async function runPolicyServiceUntilSignal(): Promise<void> {
  const config = await loadNodeConfig();
  const logger = createServiceLogger('policy');
  const service = await startPolicyService(config, logger);
  logger.info(
    { home: config.home, nodeId: config.nodeId, listeners: service.listeners },
    'policy service ready',
  );
  signalReady();
  const signal = await waitForStopSignal();
  logger.info({ signal }, 'policy service draining');
  await service.close();
  logger.info('policy service stopped');
}

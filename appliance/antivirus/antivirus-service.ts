/**
 * `parapet serve antivirus`: clamd with the node's configuration and signatures, supervised like
 * every other service (foreground; SIGTERM stops clamd and exits 0; clamd dying on its own is an
 * error, so pm2 restarts the service). Wiring only; the work is in clamd-process.ts.
 *
 * Settings: `$PARAPET_HOME/config/node.json`, key `antivirus` (all optional):
 * `clamdPath`, `officialDatabaseDir` (null = Parapet's signatures only), `user`,
 * `startTimeoutMs`, `maxStreamBytes`, `maxScanTimeMs`, `maxThreads`.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ParapetError } from '../../filter/index.js';
import { loadNodeConfig } from '../config/node-config.js';
import { createServiceLogger } from '../log/logger.js';
import { signalReady, waitForStopSignal } from '../services/signals.js';
import { startClamd, type RunningClamd, type StartClamdOptions } from './clamd-process.js';

export type AntivirusSettings = Omit<StartClamdOptions, 'home' | 'onLog' | 'extraConfig'>;

/** Reads the `antivirus` key of node.json; missing file or key = defaults. */
export async function loadAntivirusSettings(configDir: string): Promise<AntivirusSettings> {
  const file = join(configDir, 'node.json');
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ParapetError('ERR_CONFIG_INVALID', `${file}: ${String(err)}`, { cause: err });
  }
  const section = (parsed as { antivirus?: unknown } | null)?.antivirus;
  if (section === undefined || section === null) return {};
  if (typeof section !== 'object') {
    throw new ParapetError('ERR_CONFIG_INVALID', `${file}: antivirus must be an object`);
  }
  const s = section as Record<string, unknown>;
  const out: { -readonly [K in keyof AntivirusSettings]: AntivirusSettings[K] } = {};
  for (const key of ['clamdPath', 'user'] as const) {
    if (s[key] === undefined) continue;
    if (typeof s[key] !== 'string') {
      throw new ParapetError('ERR_CONFIG_INVALID', `${file}: antivirus.${key} must be a string`);
    }
    out[key] = s[key];
  }
  if (s['officialDatabaseDir'] !== undefined) {
    if (s['officialDatabaseDir'] !== null && typeof s['officialDatabaseDir'] !== 'string') {
      throw new ParapetError(
        'ERR_CONFIG_INVALID',
        `${file}: antivirus.officialDatabaseDir must be a path or null`,
      );
    }
    out['officialDatabaseDir'] = s['officialDatabaseDir'];
  }
  for (const key of ['startTimeoutMs', 'maxStreamBytes', 'maxScanTimeMs', 'maxThreads'] as const) {
    if (s[key] === undefined) continue;
    const v = s[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new ParapetError(
        'ERR_CONFIG_INVALID',
        `${file}: antivirus.${key} must be a positive integer`,
      );
    }
    out[key] = v;
  }
  return out;
}

/** Starts clamd for the node at `home` with its settings, logging through `logger`. */
export async function startAntivirus(
  home: string,
  settings: AntivirusSettings,
  logger: Logger,
): Promise<RunningClamd> {
  return startClamd({
    ...settings,
    home,
    onLog: (line) => {
      logger.info({ clamd: line }, 'clamd');
    },
  });
}

/** `parapet serve antivirus`: runs until SIGTERM/SIGINT (exit 0) or until clamd dies (throws). */
export async function runAntivirusService(): Promise<void> {
  const config = await loadNodeConfig();
  const logger = createServiceLogger('antivirus');
  const settings = await loadAntivirusSettings(config.paths.config);
  const clamd = await startAntivirus(config.home, settings, logger);
  logger.info(
    {
      home: config.home,
      socket: clamd.socketPath,
      clamdPid: clamd.pid,
      databases: clamd.databases,
      startMs: clamd.startMs,
    },
    'antivirus service ready',
  );
  signalReady();
  const outcome = await Promise.race([
    waitForStopSignal().then((signal) => ({ kind: 'signal' as const, signal })),
    clamd.exited.then((how) => ({ kind: 'exited' as const, how })),
  ]);
  if (outcome.kind === 'exited') {
    throw new ParapetError(
      'ERR_ANTIVIRUS_EXITED',
      `clamd (pid ${String(clamd.pid)}) exited: ${String(outcome.how)}`,
    );
  }
  logger.info({ signal: outcome.signal }, 'antivirus service stopping');
  await clamd.stop();
  logger.info('antivirus service stopped');
}

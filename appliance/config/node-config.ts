/**
 * The node's local settings: where `$PARAPET_HOME` is, the node id, and the listeners and limits
 * of the policy service. Read from `$PARAPET_HOME/config/node.json` (optional; every key has a
 * default) so several nodes can live on one machine. The versioned, central configuration
 * (policy, lists, users) arrives with issue 5; this is the node-local part.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { ParapetError } from '../../filter/index.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface PolicyServiceConfig {
  /** Milter on TCP (default 0.0.0.0:3366 on an appliance, 127.0.0.1:3366 in a checkout); null = off. */
  readonly milterTcp: HostPort | null;
  /** Milter on a unix socket path; null = off (default `$PARAPET_HOME/run/milter.sock`). */
  readonly milterSocketPath: string | null;
  /**
   * File mode of the milter socket (default 0o660). The MTA's user must be able to connect:
   * on an appliance the socket's group is the MTA's; where it is not, widen the mode.
   */
  readonly milterSocketMode: number;
  /** After-queue content filter listener (default 127.0.0.1:10025); null = off. */
  readonly smtpFilter: HostPort | null;
  /** Where accepted mail is re-injected (the MTA's filter-free smtpd, default 127.0.0.1:10026). */
  readonly reinject: HostPort;
  readonly messageTimeoutMs: number;
  readonly spoolMemoryBytes: number;
  readonly maxMessageBytes: number;
  readonly maxRecipients: number;
  readonly maxSessions: number;
  /** How long SIGTERM waits for in-flight messages before closing. */
  readonly drainTimeoutMs: number;
}

export interface NodeConfig {
  readonly home: string;
  readonly nodeId: string;
  readonly paths: {
    readonly config: string;
    readonly spool: string;
    readonly quarantine: string;
    readonly messageLog: string;
    readonly run: string;
  };
  readonly policy: PolicyServiceConfig;
}

/** `$PARAPET_HOME`, else ./.parapet in a checkout, else /var/lib/parapet (CONTRACTS.md). */
export function resolveParapetHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['PARAPET_HOME'];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  if (existsSync(join(process.cwd(), '.git')) || existsSync(join(process.cwd(), 'package.json'))) {
    return resolve('.parapet');
  }
  return '/var/lib/parapet';
}

const DEFAULT_POLICY: PolicyServiceConfig = {
  milterTcp: { host: '127.0.0.1', port: 3366 },
  milterSocketPath: null,
  milterSocketMode: 0o660,
  smtpFilter: { host: '127.0.0.1', port: 10025 },
  reinject: { host: '127.0.0.1', port: 10026 },
  messageTimeoutMs: 120_000,
  spoolMemoryBytes: 1024 * 1024,
  maxMessageBytes: 50 * 1024 * 1024,
  maxRecipients: 1000,
  maxSessions: 200,
  drainTimeoutMs: 30_000,
};

/** Loads (and on first use creates) the node's home layout, node id and settings. */
export async function loadNodeConfig(env: NodeJS.ProcessEnv = process.env): Promise<NodeConfig> {
  const home = resolveParapetHome(env);
  const paths = {
    config: join(home, 'config'),
    spool: join(home, 'spool'),
    quarantine: join(home, 'quarantine'),
    messageLog: join(home, 'log', 'message-log.jsonl'),
    run: join(home, 'run'),
  };
  for (const dir of [home, paths.config, paths.spool, paths.quarantine, paths.run]) {
    await mkdir(dir, { recursive: true, mode: 0o750 });
  }
  const nodeId = await readOrCreateNodeId(join(paths.config, 'node-id'));
  const file = join(paths.config, 'node.json');
  let overrides: { policy?: Partial<PolicyServiceConfig> } = {};
  if (existsSync(file)) {
    try {
      overrides = JSON.parse(await readFile(file, 'utf8')) as typeof overrides;
    } catch (err) {
      throw new ParapetError('ERR_CONFIG_INVALID', `${file}: ${String(err)}`, { cause: err });
    }
  }
  const policy = { ...DEFAULT_POLICY, ...(overrides.policy ?? {}) };
  validatePolicyConfig(policy, file);
  return Object.freeze({ home, nodeId, paths, policy: Object.freeze(policy) });
}

function validatePolicyConfig(p: PolicyServiceConfig, file: string): void {
  const ports = [p.milterTcp?.port, p.smtpFilter?.port, p.reinject.port];
  for (const port of ports) {
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
      throw new ParapetError('ERR_CONFIG_INVALID', `${file}: invalid port ${String(port)}`);
    }
  }
  for (const key of [
    'messageTimeoutMs',
    'spoolMemoryBytes',
    'maxMessageBytes',
    'maxSessions',
  ] as const) {
    if (!Number.isFinite(p[key]) || p[key] <= 0) {
      throw new ParapetError('ERR_CONFIG_INVALID', `${file}: ${key} must be a positive number`);
    }
  }
}

async function readOrCreateNodeId(path: string): Promise<string> {
  if (existsSync(path)) return (await readFile(path, 'utf8')).trim();
  const id = randomUUID();
  // 'wx': a concurrent first start keeps whichever id was written first.
  await writeFile(path, `${id}\n`, { mode: 0o600, flag: 'wx' }).catch(() => undefined);
  return (await readFile(path, 'utf8')).trim();
}

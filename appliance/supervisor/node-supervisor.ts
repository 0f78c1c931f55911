/**
 * Starting and stopping a whole node: every supervised service (services/registry.ts) as one
 * pm2 app running `parapet serve NAME`, restarted when it dies (one crash never takes the mail
 * flow down), as the dedicated service user when started as root.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StartOptions } from 'pm2';
import { ParapetError } from '../../filter/index.js';
import type { NodeConfig } from '../config/node-config.js';
import { SERVICES, supervisedServices, type ServiceName } from '../services/registry.js';
import { ensureServiceUser, userCanRead, type SystemUser } from '../system/service-user.js';
import { exposeRunDirToMta, handHomeTo, mtaGroupId } from './home-ownership.js';
import { Pm2Client, type ServiceStatus } from './pm2-client.js';

/** bin/parapet.js of this checkout or install (this file is dist/appliance/supervisor/…). */
export function parapetBinPath(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'bin', 'parapet.js');
    if (existsSync(candidate) && existsSync(join(dir, 'package.json'))) return candidate;
    dir = join(dir, '..');
  }
  throw new ParapetError('ERR_SUPERVISOR', 'bin/parapet.js not found above the running code');
}

export interface ServicePlanOptions {
  readonly bin: string;
  /** Run as this user (pm2 `user`), or as the caller when null. */
  readonly user: SystemUser | null;
  readonly logLevel?: string;
}

/** The pm2 app of each supervised service. */
export function planServices(config: NodeConfig, options: ServicePlanOptions): StartOptions[] {
  return supervisedServices().map((name) => ({
    name,
    script: options.bin,
    args: ['serve', name],
    interpreter: process.execPath,
    cwd: config.home,
    env: {
      PARAPET_HOME: config.home,
      // Each service knows its siblings (the policy service scans with clamd only when the
      // node runs its antivirus service).
      PARAPET_SERVICES: supervisedServices().join(','),
      PARAPET_LOG_LEVEL: options.logLevel ?? process.env['PARAPET_LOG_LEVEL'] ?? 'info',
    },
    autorestart: true,
    // "online" once the service said it is listening (signalReady), not when it was spawned.
    wait_ready: true,
    // clamd loading ClamAV's official databases and a first initdb take longest.
    listen_timeout: name === 'antivirus' ? 200_000 : name === 'database' ? 120_000 : 30_000,
    // Back off from 1 s when a service keeps dying, so a broken config does not spin.
    restart_delay: 1000,
    exp_backoff_restart_delay: 1000,
    min_uptime: 5000,
    max_restarts: 100_000,
    // SIGTERM drains messages in flight; give it the drain budget before SIGKILL.
    kill_timeout: config.policy.drainTimeoutMs + 5000,
    output: join(config.home, 'log', `${name}.out.log`),
    error: join(config.home, 'log', `${name}.err.log`),
    time: true,
    ...(options.user === null ? {} : { user: options.user.name }),
  }));
}

export function pm2HomeOf(config: NodeConfig): string {
  return join(config.home, 'pm2');
}

/** Who the services run as: the service user when root and it can read the code, else the caller. */
async function chooseServiceUser(
  config: NodeConfig,
  bin: string,
  warn: (message: string) => void,
): Promise<SystemUser | null> {
  const user = await ensureServiceUser();
  if (user === null) return null;
  if (!(await userCanRead(user, bin)) || !(await userCanRead(user, process.execPath))) {
    warn(
      `the ${user.name} user cannot read ${bin}; services run as root. Install Parapet where ` +
        `${user.name} can read it (e.g. /opt/parapet) to run them unprivileged.`,
    );
    // PostgreSQL and clamd never run as root: they need the home reachable by their users.
    if (!(await userCanRead(user, config.home))) {
      warn(
        `${config.home} is not reachable by the ${user.name} user: the database and antivirus ` +
          'services cannot start there; set PARAPET_HOME to a directory outside /root.',
      );
    }
    return null;
  }
  // Not a chown -R of the whole home: that was slow with a large quarantine and took the
  // database's data folder from PostgreSQL's user (home-ownership.ts says what is looked at).
  await handHomeTo(user, config.home);
  // The MTA must reach the witness's socket in run/ (filter/decisions/0005).
  await exposeRunDirToMta(user, config.home, await mtaGroupId());
  return user;
}

export interface StartNodeResult {
  readonly services: ServiceStatus[];
  readonly user: string;
}

/**
 * Starts every supervised service that is not already online (idempotent) and waits until
 * each is online or `timeoutMs` passes.
 */
export async function startNode(
  config: NodeConfig,
  options: { timeoutMs?: number; warn?: (message: string) => void } = {},
): Promise<StartNodeResult> {
  const bin = parapetBinPath();
  await mkdir(join(config.home, 'log'), { recursive: true, mode: 0o750 });
  const user = await chooseServiceUser(config, bin, options.warn ?? (() => undefined));
  const pm2 = await Pm2Client.connect(pm2HomeOf(config));
  try {
    const running = new Map((await pm2.list()).map((s) => [s.name, s]));
    for (const app of planServices(config, { bin, user })) {
      const name = app.name ?? '';
      const current = running.get(name);
      if (current?.status === 'online') continue;
      if (current !== undefined) await pm2.delete(name);
      await pm2.start(app);
    }
    const services = await waitOnline(pm2, supervisedServices(), options.timeoutMs ?? 120_000);
    return { services, user: user?.name ?? currentUserName() };
  } finally {
    pm2.disconnect();
  }
}

function currentUserName(): string {
  return process.env['USER'] ?? String(process.getuid?.() ?? '?');
}

async function waitOnline(
  pm2: Pm2Client,
  names: readonly string[],
  timeoutMs: number,
): Promise<ServiceStatus[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await pm2.list();
    const ours = list.filter((s) => names.includes(s.name));
    if (ours.length === names.length && ours.every((s) => s.status === 'online')) return ours;
    if (Date.now() > deadline) return ours;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Stops every service and the node's pm2 daemon. Resolves false when nothing was running. */
export async function stopNode(config: NodeConfig): Promise<boolean> {
  if (!existsSync(join(pm2HomeOf(config), 'pm2.pid'))) return false;
  const pm2 = await Pm2Client.connect(pm2HomeOf(config));
  try {
    await pm2.killDaemon();
  } finally {
    pm2.disconnect();
  }
  return true;
}

/** The node's services as pm2 sees them; empty when the node is not running. */
export async function listServices(config: NodeConfig): Promise<ServiceStatus[]> {
  if (!existsSync(join(pm2HomeOf(config), 'pm2.pid'))) return [];
  const pm2 = await Pm2Client.connect(pm2HomeOf(config));
  try {
    return await pm2.list();
  } finally {
    pm2.disconnect();
  }
}

/** start | stop | restart one service of a running node. */
export async function controlService(
  config: NodeConfig,
  action: 'start' | 'stop' | 'restart',
  name: string,
): Promise<ServiceStatus | null> {
  if (!(name in SERVICES))
    throw new ParapetError('ERR_SERVICE_UNKNOWN', `unknown service '${name}'`);
  if (!SERVICES[name as ServiceName].supervised) {
    throw new ParapetError(
      'ERR_SERVICE_UNKNOWN',
      `service '${name}' is not available in this version`,
    );
  }
  if (!existsSync(join(pm2HomeOf(config), 'pm2.pid')) && action !== 'start') {
    throw new ParapetError('ERR_NODE_NOT_RUNNING', 'the node is not running (parapet start)');
  }
  const pm2 = await Pm2Client.connect(pm2HomeOf(config));
  try {
    const known = (await pm2.list()).some((s) => s.name === name);
    if (action === 'start' && !known) {
      const bin = parapetBinPath();
      const user = await chooseServiceUser(config, bin, () => undefined);
      const app = planServices(config, { bin, user }).find((a) => a.name === name);
      if (app !== undefined) await pm2.start(app);
    } else if (!known) {
      throw new ParapetError(
        'ERR_SERVICE_UNKNOWN',
        `service '${name}' is not running on this node`,
      );
    } else if (action === 'start') await pm2.restart(name);
    else if (action === 'stop') await pm2.stop(name);
    else await pm2.restart(name);
    if (action !== 'stop') await waitOnline(pm2, [name], 20_000);
    return (await pm2.list()).find((s) => s.name === name) ?? null;
  } finally {
    pm2.disconnect();
  }
}

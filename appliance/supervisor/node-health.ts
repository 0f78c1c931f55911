/**
 * Health for `parapet service status` and the Manager's Local Services tab: the node's
 * figures from systeminformation (CPU, memory, the disk that holds $PARAPET_HOME, load), and
 * each service's own check — its listeners accept a connection (policy, witness, ipblocker, manager,
 * rpcui, database, antivirus), or it is online under pm2 (queue, scheduler: no listener).
 */
import { connect } from 'node:net';
import { hostname, loadavg, uptime } from 'node:os';
import { join } from 'node:path';
import si from 'systeminformation';
import type { NodeConfig } from '../config/node-config.js';
import type { ServiceStatus } from './pm2-client.js';

export interface NodeHealth {
  readonly at: string;
  readonly hostname: string;
  readonly uptimeSeconds: number;
  readonly cpu: { readonly loadPercent: number; readonly cores: number };
  readonly loadAverage: readonly number[];
  readonly memory: {
    readonly totalBytes: number;
    readonly availableBytes: number;
    readonly usedPercent: number;
  };
  /** The file system that holds $PARAPET_HOME. */
  readonly disk: {
    readonly mount: string;
    readonly sizeBytes: number;
    readonly availableBytes: number;
    readonly usedPercent: number;
  } | null;
}

/** The node's figures now (systeminformation runs df and reads /proc: callers cache). */
export async function readNodeHealth(home: string): Promise<NodeHealth> {
  const [load, mem, disks] = await Promise.all([si.currentLoad(), si.mem(), si.fsSize()]);
  // The longest mount point that contains the home.
  const disk = disks
    .filter(
      (d) => home === d.mount || home.startsWith(d.mount.endsWith('/') ? d.mount : `${d.mount}/`),
    )
    .sort((a, b) => b.mount.length - a.mount.length)[0];
  const round = (n: number): number => Math.round(n * 10) / 10;
  return {
    at: new Date().toISOString(),
    hostname: hostname(),
    uptimeSeconds: Math.round(uptime()),
    cpu: { loadPercent: round(load.currentLoad), cores: load.cpus.length },
    loadAverage: loadavg().map(round),
    memory: {
      totalBytes: mem.total,
      availableBytes: mem.available,
      usedPercent: mem.total > 0 ? round(((mem.total - mem.available) / mem.total) * 100) : 0,
    },
    disk:
      disk === undefined
        ? null
        : {
            mount: disk.mount,
            sizeBytes: disk.size,
            availableBytes: disk.available,
            usedPercent: round(disk.use),
          },
  };
}

/** Where a service listens: TCP host:port or a unix socket path. */
type Endpoint = { readonly host: string; readonly port: number } | { readonly path: string };

/** The listeners a healthy service accepts connections on (none: pm2's status decides). */
export function serviceEndpoints(config: NodeConfig, name: string): Endpoint[] {
  const p = config.policy;
  switch (name) {
    case 'policy':
      return [
        ...(p.smtpFilter === null ? [] : [p.smtpFilter]),
        ...(p.milterTcp === null ? [] : [p.milterTcp]),
        ...(p.milterSocketPath === null ? [] : [{ path: p.milterSocketPath }]),
      ];
    case 'witness':
      return p.witnessSocketPath === null ? [] : [{ path: p.witnessSocketPath }];
    case 'ipblocker':
      return [config.ipblocker.listen];
    case 'manager':
      return [config.web.manager];
    case 'rpcui':
      return [config.web.rpcui];
    case 'database':
      return config.database.url === null
        ? [{ host: '127.0.0.1', port: config.database.port }]
        : [];
    case 'antivirus': {
      const socket = config.scan.virus.socket ?? join(config.home, 'antivirus', 'clamd.sock');
      return [{ path: socket }];
    }
    default:
      return [];
  }
}

function accepts(e: Endpoint, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    // A listener on every interface is checked on loopback.
    const s =
      'path' in e
        ? connect({ path: e.path })
        : connect({
            host: e.host === '0.0.0.0' || e.host === '::' ? '127.0.0.1' : e.host,
            port: e.port,
          });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => {
      done(false);
    });
    s.once('connect', () => {
      done(true);
    });
    s.once('error', () => {
      done(false);
    });
  });
}

export interface ServiceHealth {
  readonly healthy: boolean;
  /** What was checked, e.g. "127.0.0.1:10025 accepts" or "online under pm2". */
  readonly check: string;
}

/** A service's own health check (listeners accept within `timeoutMs`, else pm2 status). */
export async function checkServiceHealth(
  config: NodeConfig,
  status: ServiceStatus,
  timeoutMs = 2000,
): Promise<ServiceHealth> {
  if (status.status !== 'online') return { healthy: false, check: `pm2 status ${status.status}` };
  const endpoints = serviceEndpoints(config, status.name);
  if (endpoints.length === 0) return { healthy: true, check: 'online under pm2' };
  const results = await Promise.all(endpoints.map((e) => accepts(e, timeoutMs)));
  const label = (e: Endpoint): string => ('path' in e ? e.path : `${e.host}:${String(e.port)}`);
  const bad = endpoints.filter((_, i) => results[i] !== true);
  return bad.length === 0
    ? {
        healthy: true,
        check: `${endpoints.map(label).join(', ')} accept${endpoints.length === 1 ? 's' : ''}`,
      }
    : { healthy: false, check: `${bad.map(label).join(', ')} not accepting` };
}

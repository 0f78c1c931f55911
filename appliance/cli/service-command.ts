/**
 * `parapet service list|status|start|stop|restart` (CONTRACTS.md): the node's pm2 services.
 * `list --json` gives objects with at least name, pid and status.
 */
import type { Command } from 'commander';
import { loadNodeConfig } from '../config/node-config.js';
import { controlService, listServices } from '../supervisor/node-supervisor.js';
import type { ServiceStatus } from '../supervisor/pm2-client.js';
import {
  checkServiceHealth,
  readNodeHealth,
  type NodeHealth,
  type ServiceHealth,
} from '../supervisor/node-health.js';

function duration(ms: number | null): string {
  if (ms === null) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${String(s)}s`;
  if (s < 7200) return `${String(Math.floor(s / 60))}m`;
  if (s < 172_800) return `${String(Math.floor(s / 3600))}h`;
  return `${String(Math.floor(s / 86_400))}d`;
}

/** A fixed-width table of services for the terminal. */
export function formatServiceTable(services: readonly ServiceStatus[]): string {
  if (services.length === 0) return 'no services running (parapet start)';
  const rows = [
    ['name', 'status', 'pid', 'uptime', 'restarts', 'cpu', 'memory'],
    ...services.map((s) => [
      s.name,
      s.status,
      s.pid === null ? '-' : String(s.pid),
      duration(s.uptimeMs),
      String(s.restarts),
      `${String(s.cpuPercent)}%`,
      `${String(Math.round(s.memoryBytes / 1048576))}MB`,
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const gib = (bytes: number): string => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;

/** `parapet service status` for the terminal: the node's figures, then the services. */
export function formatStatus(
  node: NodeHealth,
  services: readonly (ServiceStatus & { readonly health: ServiceHealth })[],
): string {
  const lines = [
    `node ${node.hostname}: cpu ${String(node.cpu.loadPercent)}% of ${String(node.cpu.cores)} cores, load ${node.loadAverage.join(' ')}`,
    `memory ${gib(node.memory.totalBytes - node.memory.availableBytes)} of ${gib(node.memory.totalBytes)} used (${String(node.memory.usedPercent)}%)`,
    node.disk === null
      ? 'disk: unknown'
      : `disk ${node.disk.mount}: ${gib(node.disk.availableBytes)} free of ${gib(node.disk.sizeBytes)} (${String(node.disk.usedPercent)}% used)`,
    '',
    formatServiceTable(services),
    '',
    ...services.map(
      (s) =>
        `${s.name.padEnd(10)} ${s.health.healthy ? 'healthy' : 'UNHEALTHY'}: ${s.health.check}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

export function registerServiceCommands(program: Command): void {
  const service = program.command('service').description("the node's services under pm2");

  service
    .command('list')
    .description('show every service: status, pid, uptime, restarts, cpu, memory')
    .option('--json', 'one JSON array')
    .action(async (opts: { json?: boolean }) => {
      const config = await loadNodeConfig();
      const services = await listServices(config);
      process.stdout.write(
        opts.json === true ? `${JSON.stringify(services)}\n` : `${formatServiceTable(services)}\n`,
      );
    });

  service
    .command('status')
    .description("the services with each one's own health check, and the node's health")
    .option('--json', 'one object: {node, services}')
    .action(async (opts: { json?: boolean }) => {
      const config = await loadNodeConfig();
      const [services, node] = await Promise.all([
        listServices(config),
        readNodeHealth(config.home),
      ]);
      const checked = await Promise.all(
        services.map(async (s) => ({ ...s, health: await checkServiceHealth(config, s) })),
      );
      process.stdout.write(
        opts.json === true
          ? `${JSON.stringify({ node, services: checked })}\n`
          : formatStatus(node, checked),
      );
      if (checked.some((s) => !s.health.healthy)) process.exitCode = 1;
    });

  for (const verb of ['start', 'stop', 'restart'] as const) {
    service
      .command(verb)
      .description(`${verb} one service`)
      .argument('<name>', 'service name (parapet service list)')
      .option('--json', 'print the service as JSON afterwards')
      .action(async (name: string, opts: { json?: boolean }) => {
        const config = await loadNodeConfig();
        const status = await controlService(config, verb, name);
        process.stdout.write(
          opts.json === true
            ? `${JSON.stringify(status)}\n`
            : `${name}: ${status?.status ?? 'unknown'}${status?.pid == null ? '' : ` (pid ${String(status.pid)})`}\n`,
        );
      });
  }
}

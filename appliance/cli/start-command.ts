/**
 * `parapet start` (the README's run command, via `npm start`) and `parapet stop`: the whole
 * node — every supervised service under the node's own pm2 daemon. In the foreground (the
 * default) Ctrl-C stops the node; with --detach the services keep running.
 */
import type { Command } from 'commander';
import { loadNodeConfig } from '../config/node-config.js';
import { startNode, stopNode } from '../supervisor/node-supervisor.js';
import { waitForStopSignal } from '../services/signals.js';
import { formatServiceTable } from './service-command.js';

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('start this node: every service under pm2 (foreground; Ctrl-C stops it)')
    .option('--detach', 'leave the services running and return')
    .option('--json', 'print the services as JSON')
    .action(async (opts: { detach?: boolean; json?: boolean }) => {
      const config = await loadNodeConfig();
      const result = await startNode(config, {
        warn: (message) => process.stderr.write(`parapet: warning: ${message}\n`),
      });
      if (opts.json === true) {
        process.stdout.write(`${JSON.stringify(result.services)}\n`);
      } else {
        const p = config.policy;
        const lines = [
          `Parapet node ${config.nodeId}`,
          `home      ${config.home}`,
          `services  run as ${result.user}, supervised by pm2 (${config.home}/pm2)`,
          formatServiceTable(result.services),
          '',
          p.milterTcp === null
            ? null
            : `milter          ${p.milterTcp.host}:${String(p.milterTcp.port)}`,
          p.smtpFilter === null
            ? null
            : `content filter  ${p.smtpFilter.host}:${String(p.smtpFilter.port)} → ${p.reinject.host}:${String(p.reinject.port)}`,
          `ip blocker      ${config.ipblocker.listen.host}:${String(config.ipblocker.listen.port)}`,
          `manager         https://${config.web.manager.host}:${String(config.web.manager.port)}/`,
          `end users       https://${config.web.rpcui.host}:${String(config.web.rpcui.port)}/`,
          `logs            ${config.home}/log`,
          'First administrator: npx parapet user add admin --role admin --password-stdin',
          'Wire Postfix with: npx parapet mta configure postfix --mode content-filter|milter',
          opts.detach === true ? 'Stop with: npx parapet stop' : 'Ctrl-C stops the node.',
        ].filter((l) => l !== null);
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      const failed = result.services.filter((s) => s.status !== 'online');
      if (failed.length > 0) {
        process.stderr.write(
          `parapet: not online: ${failed.map((s) => `${s.name} (${s.status})`).join(', ')}; see ${config.home}/log\n`,
        );
        process.exitCode = 1;
      }
      if (opts.detach === true) return;
      await waitForStopSignal();
      process.stdout.write('stopping: draining messages in flight…\n');
      await stopNode(config);
    });

  program
    .command('stop')
    .description('stop every service of this node and its pm2 daemon')
    .action(async () => {
      const config = await loadNodeConfig();
      const stopped = await stopNode(config);
      process.stdout.write(stopped ? 'node stopped\n' : 'node was not running\n');
    });
}

/**
 * `parapet start` (the README's run command, via `npm start`): brings up a node on its
 * embedded defaults in the foreground and prints what listens where; Ctrl-C stops it.
 * Today the node is the policy service; the store, scheduler, queue, IP blocker and web
 * interfaces join it under pm2 with issue 5.
 */
import type { Command } from 'commander';
import { loadNodeConfig } from '../config/node-config.js';
import { createServiceLogger } from '../log/logger.js';
import { startPolicyService } from '../services/policy.js';
import { waitForStopSignal } from '../services/signals.js';

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('start this node in the foreground on its embedded defaults (Ctrl-C stops it)')
    .action(async () => {
      const config = await loadNodeConfig();
      const policy = await startPolicyService(config, createServiceLogger('policy'));
      const lines = [
        `Parapet node ${config.nodeId}`,
        `home      ${config.home}`,
        ...policy.listeners.map((l) => `listening ${l}`),
        `message log ${config.paths.messageLog}`,
        'Wire Postfix with: npx parapet mta configure postfix --mode content-filter|milter',
        'Ctrl-C stops the node.',
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      await waitForStopSignal();
      process.stdout.write('stopping: draining messages in flight…\n');
      await policy.close();
    });
}

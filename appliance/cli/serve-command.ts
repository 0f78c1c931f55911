/**
 * `parapet serve SERVICE` (CONTRACTS.md): runs one service in the foreground until SIGTERM or
 * SIGINT, then drains and exits 0.
 */
import type { Command } from 'commander';
import { ParapetError } from '../../filter/index.js';
import { SERVICES, type ServiceName } from '../services/registry.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(`run one service in the foreground (${Object.keys(SERVICES).join(', ')})`)
    .argument('<service>', 'service name')
    .action(async (name: string) => {
      if (!(name in SERVICES)) {
        throw new ParapetError('ERR_SERVICE_UNKNOWN', `unknown service '${name}'`);
      }
      await SERVICES[name as ServiceName].run();
    });
}

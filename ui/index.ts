/** Public API of the web interfaces (Manager, EUWI, Groups): services and CLI commands. */
import type { Command } from 'commander';
import { provideService } from '../appliance/index.js';
import { registerUserCommands } from './cli/user-command.js';

/** Makes `parapet serve manager|rpcui` and `parapet start` run the web interfaces. */
export function registerUiServices(): void {
  provideService('manager', {
    description: 'Manager web interface and API (HTTPS 18080)',
    supervised: true,
    run: async () => {
      const { runWebServiceUntilSignal } = await import('./api/web-service.js');
      await runWebServiceUntilSignal('manager');
    },
  });
  provideService('rpcui', {
    description: 'End User and Groups Web Interfaces (HTTPS 28443)',
    supervised: true,
    run: async () => {
      const { runWebServiceUntilSignal } = await import('./api/web-service.js');
      await runWebServiceUntilSignal('rpcui');
    },
  });
}

export function registerUiCommands(program: Command): void {
  registerUserCommands(program);
}

export { startWebService, type RunningWebService } from './api/web-service.js';

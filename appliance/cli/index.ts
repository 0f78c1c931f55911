import type { Command } from 'commander';
import { registerServeCommand } from './serve-command.js';
import { registerStartCommand } from './start-command.js';
import { registerIpBlockCommands } from './ipblock-command.js';
import { registerServiceCommands } from './service-command.js';
import { registerPolicyCommands } from './policy-command.js';
import { registerListCommands } from './list-command.js';
import { registerQueueCommands } from './queue-command.js';
import { registerQmanCommands } from './qman-command.js';
import { registerSchedulerCommands } from './scheduler-command.js';
import { registerLearnCommand } from './learn-command.js';
import { registerScanCommand } from './scan-command.js';
import { registerTryCommand } from './try-command.js';
import { registerConfigCommands } from './config-command.js';

/** Registers every node command on the `parapet` program. */
export function registerApplianceCommands(program: Command): void {
  registerStartCommand(program);
  registerServeCommand(program);
  registerIpBlockCommands(program);
  registerServiceCommands(program);
  registerPolicyCommands(program);
  registerListCommands(program);
  registerQueueCommands(program);
  registerQmanCommands(program);
  registerSchedulerCommands(program);
  registerLearnCommand(program);
  registerScanCommand(program);
  registerTryCommand(program);
  registerConfigCommands(program);
}

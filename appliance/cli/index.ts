import type { Command } from 'commander';
import { registerServeCommand } from './serve-command.js';

/** Registers every node command on the `parapet` program. */
export function registerApplianceCommands(program: Command): void {
  registerServeCommand(program);
}

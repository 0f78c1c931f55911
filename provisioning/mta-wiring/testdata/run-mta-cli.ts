// Test driver: a `parapet` program holding only the mta commands, so mta-command.test.ts can
// check output and exit codes in a child process. Usage: node --import tsx run-mta-cli.ts ARGS
import { Command } from 'commander';
import { registerMtaCommands } from '../mta-command.js';

const program = new Command('parapet');
registerMtaCommands(program);
await program.parseAsync(process.argv);

// Test driver: a `parapet` program holding only the policy and list commands, with the exit
// code handling of bin/main.ts (0 ok, 1 handled error with one line on stderr, 2 usage), so
// the command tests can run them in a child process.
// Usage: node --import tsx run-policy-cli.ts ARGS
import { Command, CommanderError } from 'commander';
import { ParapetError } from '../../../filter/index.js';
import { registerListCommands } from '../list-command.js';
import { registerPolicyCommands } from '../policy-command.js';

const program = new Command('parapet').exitOverride();
registerPolicyCommands(program);
registerListCommands(program);
try {
  await program.parseAsync(process.argv.slice(2), { from: 'user' });
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    const code = err instanceof ParapetError ? ` (${err.code})` : '';
    process.stderr.write(`parapet: ${err instanceof Error ? err.message : String(err)}${code}\n`);
    process.exitCode = 1;
  }
}

// Test harness for learn-command.test.ts: the `parapet` program with only `learn` registered
// and bin/main.ts's exit-code handling, until bin/main.ts registers learn itself.
import { Command, CommanderError } from 'commander';
import { ParapetError } from '../../../filter/index.js';
import { registerLearnCommand } from '../learn-command.js';

const program = new Command('parapet').exitOverride();
registerLearnCommand(program);
for (const command of program.commands) command.exitOverride();
try {
  await program.parseAsync(process.argv.slice(2), { from: 'user' });
  process.exitCode = 0;
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.code.startsWith('commander.help') ? 0 : 2;
  } else {
    const text = err instanceof Error ? err.message : String(err);
    const code = err instanceof ParapetError ? ` (${err.code})` : '';
    process.stderr.write(`parapet: ${text}${code}\n`);
    process.exitCode = 1;
  }
}

/**
 * The `parapet` command (CONTRACTS.md "CLI"): assembles the subcommands each folder registers.
 * Exit codes: 0 success, 1 handled error (one line on stderr), 2 usage error.
 */
import { Command, CommanderError } from 'commander';
import { ParapetError } from '../filter/index.js';
import { registerApplianceCommands } from '../appliance/index.js';
import { registerMtaCommands } from '../provisioning/index.js';
import { registerUiCommands, registerUiServices } from '../ui/index.js';

export function buildProgram(): Command {
  const program = new Command('parapet')
    .description('Parapet email-security gateway')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');
  registerUiServices();
  registerApplianceCommands(program);
  registerMtaCommands(program);
  registerUiCommands(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      if (err.code === 'commander.help') return 0;
      return 2;
    }
    const text = err instanceof Error ? err.message : String(err);
    const code = err instanceof ParapetError ? ` (${err.code})` : '';
    process.stderr.write(`parapet: ${text}${code}\n`);
    return 1;
  }
}

// Exit explicitly: some libraries (pm2's client) leave work behind that would keep a finished
// command alive. stdout/stderr are synchronous for files and pipes on Linux, so nothing is lost.
process.exit(await main(process.argv.slice(2)));

/**
 * `parapet mta configure postfix` (CONTRACTS.md "CLI"): wires Parapet into Postfix with
 * postconf, prints what changed, and optionally reloads Postfix. Exit codes: 0 success,
 * 1 handled error (one line on stderr), 2 usage error (unknown option, bad mode or address).
 */
import { Command, CommanderError, Option } from 'commander';
import { ProvisioningError } from '../errors.js';
import { join } from 'node:path';
import { resolveParapetHome } from '../../appliance/index.js';
import {
  MTA_MODES,
  POSTFIX_WIRING_DEFAULTS,
  configurePostfix,
  reloadPostfix,
  undoPostfix,
} from './postfix-wiring.js';
import type { PostfixWiringOptions, WiringChange, WiringReport } from './postfix-wiring.js';

/** Parsed options of `mta configure postfix`. */
interface ConfigurePostfixFlags {
  readonly configDir: string;
  readonly mode: string;
  readonly undo?: boolean;
  readonly filterAddress: string;
  readonly reinjectAddress: string;
  readonly milterAddress: string;
  readonly serviceName: string;
  /** host:port, or false with --no-ipblocker. */
  readonly ipblocker: string | false;
  /** unix:/path, or false with --no-witness. */
  readonly witness: string | false;
  readonly reload?: boolean;
  readonly json?: boolean;
}

/** One line per change: `main.cf: key: before -> after`. */
export function formatWiringChange(change: WiringChange): string {
  const show = (v: string | undefined): string => (v === undefined ? '(unset)' : `'${v}'`);
  if (change.file === 'master.cf') {
    const verb =
      change.before === undefined ? 'added' : change.after === undefined ? 'removed' : 'replaced';
    return `master.cf: ${verb} service ${change.key}`;
  }
  return `main.cf: ${change.key}: ${show(change.before)} -> ${show(change.after)}`;
}

/** Human-readable report of one run. */
export function formatWiringReport(report: WiringReport): string {
  const what = report.action === 'undo' ? 'Parapet wiring removed' : `mode ${report.action}`;
  if (report.changes.length === 0)
    return `${report.configDir}: ${what}: already in place, nothing changed`;
  return [
    `${report.configDir}: ${what}:`,
    ...report.changes.map((c) => `  ${formatWiringChange(c)}`),
  ].join('\n');
}

/** Usage errors exit 2 (CONTRACTS.md); help and version exit 0. */
function exitWithContractCode(err: CommanderError): never {
  process.exit(err.exitCode === 0 ? 0 : 2);
}

async function runConfigurePostfix(flags: ConfigurePostfixFlags): Promise<void> {
  const options: PostfixWiringOptions = {
    configDir: flags.configDir,
    mode: flags.mode,
    filterAddress: flags.filterAddress,
    reinjectAddress: flags.reinjectAddress,
    milterAddress: flags.milterAddress,
    serviceName: flags.serviceName,
    ipblockerAddress: flags.ipblocker === false ? null : flags.ipblocker,
    witnessAddress: flags.witness === false ? null : flags.witness,
  };
  try {
    const report =
      flags.undo === true ? await undoPostfix(options) : await configurePostfix(options);
    let reloaded: 'reloaded' | 'not-running' | 'not-requested' = 'not-requested';
    if (flags.reload === true && report.changes.length > 0) {
      reloaded = await reloadPostfix({ configDir: flags.configDir });
    }
    if (flags.json === true) {
      console.log(JSON.stringify({ ...report, reload: reloaded }));
    } else {
      console.log(formatWiringReport(report));
      if (reloaded === 'reloaded') console.log('postfix reloaded');
      if (reloaded === 'not-running') console.log('postfix is not running; nothing to reload');
      if (flags.reload !== true && report.changes.length > 0) {
        console.log(`run 'postfix -c ${flags.configDir} reload' (or pass --reload) to apply`);
      }
    }
  } catch (err) {
    if (err instanceof ProvisioningError) {
      console.error(`parapet mta configure postfix: ${err.message}`);
      process.exitCode = err.code === 'ERR_MTA_INVALID_OPTION' ? 2 : 1;
      return;
    }
    throw err;
  }
}

/**
 * Adds `mta configure postfix` to `program`. Called once by bin/ when it assembles the CLI.
 * The action sets `process.exitCode` (1 handled error, 2 invalid option value) instead of
 * exiting, so other commands and tests can run it in-process; commander usage errors exit 2.
 */
export function registerMtaCommands(program: Command): void {
  const d = POSTFIX_WIRING_DEFAULTS;
  const mta = program.command('mta').description('wire Parapet into the local MTA');
  const configure = mta.command('configure').description('configure an MTA for Parapet');
  configure
    .command('postfix')
    .description('idempotent Postfix wiring with postconf (content filter or milter), or its undo')
    .option('--config-dir <dir>', 'Postfix configuration directory', d.configDir)
    .addOption(
      new Option('--mode <mode>', 'how Postfix hands mail to Parapet')
        .choices(MTA_MODES)
        .default(d.mode),
    )
    .option('--undo', 'remove everything Parapet added (both modes)')
    .option('--filter-address <host:port>', 'Parapet content filter listener', d.filterAddress)
    .option(
      '--reinject-address <ip:port>',
      'filter-free Postfix smtpd for re-injection',
      d.reinjectAddress,
    )
    .option('--milter-address <inet:host:port|unix:/path>', "Parapet's milter", d.milterAddress)
    .option('--service-name <name>', 'master.cf transport name', d.serviceName)
    .option(
      '--ipblocker <host:port>',
      'IP Blocker (policy delegation) checked first in smtpd_client_restrictions',
      d.ipblockerAddress,
    )
    .option('--no-ipblocker', 'do not wire the IP Blocker (and remove an earlier wiring)')
    .option(
      '--witness <unix:/path>',
      "content filter: the re-injection witness's milter (parapet serve witness)",
      `unix:${join(resolveParapetHome(), 'run', 'witness.sock')}`,
    )
    .option('--no-witness', 'content filter without the re-injection witness')
    .option('--reload', 'run postfix reload afterwards if Postfix is running')
    .option('--json', 'print the report as JSON')
    .exitOverride(exitWithContractCode)
    .action(async (flags: ConfigurePostfixFlags) => {
      await runConfigurePostfix(flags);
    });
  for (const c of [mta, configure]) c.exitOverride(exitWithContractCode);
}

/**
 * `parapet ipblock list|add|remove` — the IP Blocker's local entries in
 * `$PARAPET_HOME/config/ipblock.json`. The running service picks changes up within a second.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { userInfo } from 'node:os';
import { ParapetError } from '../../filter/index.js';
import { loadNodeConfig } from '../config/node-config.js';
import {
  normaliseCidr,
  readBlockEntries,
  writeBlockEntries,
  type IpBlockEntry,
} from '../ipblocker/block-list.js';

function cidrArg(value: string): string {
  const cidr = normaliseCidr(value);
  if (cidr === null) throw new InvalidArgumentError(`not an IP address or CIDR: ${value}`);
  return cidr;
}

/** "30m", "12h", "7d" → milliseconds. */
function durationArg(value: string): number {
  const m = /^(\d{1,6})([smhd])$/.exec(value);
  if (m === null) throw new InvalidArgumentError(`not a duration (like 30m, 12h, 7d): ${value}`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

export function registerIpBlockCommands(program: Command): void {
  const ipblock = program
    .command('ipblock')
    .description('the IP Blocker: local block and allow entries (CIDRs)');

  ipblock
    .command('list')
    .description('show the entries')
    .option('--json', 'one JSON array')
    .action(async (opts: { json?: boolean }) => {
      const config = await loadNodeConfig();
      const entries = await readBlockEntries(config.paths.ipblockList);
      if (opts.json === true) {
        process.stdout.write(`${JSON.stringify(entries)}\n`);
        return;
      }
      if (entries.length === 0) {
        process.stdout.write('no entries\n');
        return;
      }
      for (const e of entries) {
        const expires = e.expiresAt === null ? 'permanent' : `until ${e.expiresAt}`;
        process.stdout.write(
          `${e.action.padEnd(5)} ${e.cidr.padEnd(43)} ${expires.padEnd(30)} ${e.reason}\n`,
        );
      }
    });

  ipblock
    .command('add')
    .description('block (or with --allow, always allow) an address or CIDR')
    .argument('<cidr>', 'address or CIDR, IPv4 or IPv6', cidrArg)
    .option('--reason <text>', 'why (shown in the SMTP reply and reports)', '')
    .option('--allow', 'an allow entry: never blocked, also not by reputation or DNSBL')
    .option('--for <duration>', 'expire after a duration (30m, 12h, 7d)', durationArg)
    .option('--json', 'print the entry as JSON')
    .action(
      async (
        cidr: string,
        opts: { reason: string; allow?: boolean; for?: number; json?: boolean },
      ) => {
        const config = await loadNodeConfig();
        const entries = await readBlockEntries(config.paths.ipblockList);
        const now = Date.now();
        const entry: IpBlockEntry = {
          cidr,
          action: opts.allow === true ? 'allow' : 'block',
          reason: opts.reason,
          addedBy: `cli:${userInfo().username}`,
          addedAt: new Date(now).toISOString(),
          expiresAt: opts.for === undefined ? null : new Date(now + opts.for).toISOString(),
        };
        // One entry per CIDR: adding again replaces (a re-timed or re-reasoned block).
        const rest = entries.filter((e) => e.cidr !== cidr);
        await writeBlockEntries(config.paths.ipblockList, [...rest, entry]);
        process.stdout.write(
          opts.json === true
            ? `${JSON.stringify(entry)}\n`
            : `${entry.action === 'allow' ? 'allowed' : 'blocked'} ${cidr}\n`,
        );
      },
    );

  ipblock
    .command('remove')
    .description('remove the entry for an address or CIDR')
    .argument('<cidr>', 'address or CIDR as listed', cidrArg)
    .action(async (cidr: string) => {
      const config = await loadNodeConfig();
      const entries = await readBlockEntries(config.paths.ipblockList);
      const rest = entries.filter((e) => e.cidr !== cidr);
      if (rest.length === entries.length) {
        throw new ParapetError('ERR_NOT_FOUND', `no entry for ${cidr}`);
      }
      await writeBlockEntries(config.paths.ipblockList, rest);
      process.stdout.write(`removed ${cidr}\n`);
    });
}

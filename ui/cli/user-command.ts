/**
 * `parapet user add|remove|passwd|list` (CONTRACTS.md): web accounts from the command line,
 * the first administrator included. Passwords come from stdin (`--password-stdin`, first
 * line) so they never appear in a process listing or shell history.
 */
import { userInfo } from 'node:os';
import { Option, type Command } from 'commander';
import { loadNodeConfig } from '../../appliance/index.js';
import { ParapetError } from '../../filter/index.js';
import { AccountStore } from '../api/auth/account-store.js';
import { accountView } from '../api/auth/account-view.js';
import { hashPassword, passwordProblem } from '../api/auth/passwords.js';
import { ROLES, type Role } from '../api/auth/roles.js';
import { AuditLog } from '../api/audit-log.js';
import { accountsPath, auditPath } from '../api/web-service.js';
import { defaultAddresses } from '../api/routes/users-routes.js';

async function readPasswordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const b = chunk as Buffer;
    chunks.push(b);
    size += b.length;
    if (size > 4096) break;
  }
  const line = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  const problem = passwordProblem(line);
  if (problem !== null) throw new ParapetError('ERR_UI_ACCOUNT_INVALID', problem);
  return line;
}

async function stores(): Promise<{ accounts: AccountStore; audit: AuditLog }> {
  const config = await loadNodeConfig();
  return {
    accounts: new AccountStore(accountsPath(config.home)),
    audit: new AuditLog(auditPath(config.home)),
  };
}

const actor = (): string => `cli:${userInfo().username}`;

function requireStdin(opts: { passwordStdin?: boolean }): void {
  if (opts.passwordStdin !== true) {
    throw new ParapetError(
      'ERR_UI_ACCOUNT_INVALID',
      'give the password on stdin with --password-stdin',
    );
  }
}

export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('accounts for the web interfaces');

  user
    .command('add')
    .description('add an account (the password is read from stdin)')
    .argument('<name>', 'user name (an end user’s mail address, for example)')
    .addOption(new Option('--role <role>', 'role').choices([...ROLES]).default('user'))
    .option('--address <address...>', 'mail addresses whose quarantine the account sees')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .action(
      async (name: string, opts: { role: Role; address?: string[]; passwordStdin?: boolean }) => {
        requireStdin(opts);
        const password = await readPasswordFromStdin();
        const { accounts, audit } = await stores();
        const created = await accounts.add({
          username: name,
          role: opts.role,
          passwordHash: await hashPassword(password),
          addresses: defaultAddresses(name, opts.address),
          totp: null,
          disabled: false,
        });
        await audit.record({
          actor: actor(),
          surface: 'cli',
          ip: null,
          action: 'user.add',
          object: created.username,
          outcome: 'ok',
          details: { role: created.role, addresses: created.addresses },
        });
        process.stdout.write(`added ${created.username} (${created.role})\n`);
      },
    );

  user
    .command('passwd')
    .description('set an account’s password (read from stdin); ends its sessions')
    .argument('<name>')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .action(async (name: string, opts: { passwordStdin?: boolean }) => {
      requireStdin(opts);
      const password = await readPasswordFromStdin();
      const { accounts, audit } = await stores();
      const hash = await hashPassword(password);
      const updated = await accounts.update(name, (a) => ({
        ...a,
        passwordHash: hash,
        passwordChangedAt: new Date().toISOString(),
      }));
      await audit.record({
        actor: actor(),
        surface: 'cli',
        ip: null,
        action: 'user.passwd',
        object: updated.username,
        outcome: 'ok',
      });
      process.stdout.write(`password set for ${updated.username}\n`);
    });

  user
    .command('remove')
    .description('remove an account and its API tokens')
    .argument('<name>')
    .action(async (name: string) => {
      const { accounts, audit } = await stores();
      if (!(await accounts.remove(name))) {
        throw new ParapetError('ERR_UI_NOT_FOUND', `no user '${name}'`);
      }
      await audit.record({
        actor: actor(),
        surface: 'cli',
        ip: null,
        action: 'user.remove',
        object: name.toLowerCase(),
        outcome: 'ok',
      });
      process.stdout.write(`removed ${name.toLowerCase()}\n`);
    });

  user
    .command('list')
    .description('list accounts')
    .option('--json', 'one JSON array')
    .action(async (opts: { json?: boolean }) => {
      const { accounts } = await stores();
      const list = (await accounts.list()).map(accountView);
      if (opts.json === true) {
        process.stdout.write(`${JSON.stringify(list)}\n`);
        return;
      }
      for (const a of list) {
        process.stdout.write(
          `${a.username}\t${a.role}${a.disabled ? '\tdisabled' : ''}${a.totpEnabled ? '\ttotp' : ''}\t${a.addresses.join(',')}\n`,
        );
      }
    });
}

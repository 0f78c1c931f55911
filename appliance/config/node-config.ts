/**
 * The node's local settings: where `$PARAPET_HOME` is, the node id, and the listeners and limits
 * of the policy service. Read from `$PARAPET_HOME/config/node.json` (optional; every key has a
 * default) so several nodes can live on one machine. The versioned, central configuration
 * (policy, lists, users) arrives with issue 5; this is the node-local part.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { DEFAULT_AUTO_LEARN, ParapetError } from '../../filter/index.js';
import { parseDatabaseConfig, type DatabaseConfig } from '../db/config.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface PolicyServiceConfig {
  /** Milter on TCP (default 0.0.0.0:3366 on an appliance, 127.0.0.1:3366 in a checkout); null = off. */
  readonly milterTcp: HostPort | null;
  /** Milter on a unix socket path; null = off (default `$PARAPET_HOME/run/milter.sock`). */
  readonly milterSocketPath: string | null;
  /**
   * File mode of the milter socket (default 0o660). The MTA's user must be able to connect:
   * on an appliance the socket's group is the MTA's; where it is not, widen the mode.
   */
  readonly milterSocketMode: number;
  /** After-queue content filter listener (default 127.0.0.1:10025); null = off. */
  readonly smtpFilter: HostPort | null;
  /** Where accepted mail is re-injected (the MTA's filter-free smtpd, default 127.0.0.1:10026). */
  readonly reinject: HostPort;
  /**
   * The re-injection witness's milter socket (`parapet serve witness`, decision 0005 in
   * filter/decisions), named in the re-injection smtpd's smtpd_milters. Default
   * `$PARAPET_HOME/run/witness.sock`; null = no witness (the socket mode is milterSocketMode).
   */
  readonly witnessSocketPath: string | null;
  readonly messageTimeoutMs: number;
  readonly spoolMemoryBytes: number;
  readonly maxMessageBytes: number;
  readonly maxRecipients: number;
  readonly maxSessions: number;
  /** How long SIGTERM waits for in-flight messages before closing. */
  readonly drainTimeoutMs: number;
  /**
   * 'sieve' (default): the active Sieve policy (config/policy.sieve, else the shipped
   * default). 'accept-all': deliver everything unchanged (data-plane tests and benchmarks).
   */
  readonly policyEngine: 'sieve' | 'accept-all';
}

/** The IP Blocker service (Postfix policy delegation on 127.0.0.1:10040). */
export interface IpBlockerServiceConfig {
  readonly listen: HostPort;
  /** What a local block entry answers. */
  readonly blockAction: 'reject' | 'defer';
  /** What bad recent reputation answers, or 'off'. */
  readonly reputationAction: 'reject' | 'defer' | 'off';
  /** What a DNSBL listing answers, or 'off'. */
  readonly dnsblAction: 'reject' | 'defer' | 'off';
  /** DNSBL zones to ask (none by default: an offline appliance must not wait on DNS). */
  readonly dnsblZones: readonly string[];
  /** Reputation window (ms), minimum messages, bad share and spam score. */
  readonly reputation: {
    readonly windowMs: number;
    readonly minMessages: number;
    readonly badRatio: number;
    readonly spamThreshold: number;
  };
}

/** Scanning in the policy service (issue 4). */
export interface ScanServiceConfig {
  /** Master switch; false = no scanners (the data plane's own benchmarks and tests). */
  readonly enabled: boolean;
  /** Spam threshold: score at or above it is spam (CONTRACTS.md X-Parapet-Spam). */
  readonly threshold: number;
  /** Header, body and URI rules; `scores` overrides catalogue scores by symbol. */
  readonly rules: { readonly enabled: boolean; readonly scores: Readonly<Record<string, number>> };
  readonly attachments: { readonly enabled: boolean };
  /** Bayes from `$PARAPET_HOME/bayes/tokens.json` (built by `parapet learn`). */
  readonly bayes: { readonly enabled: boolean; readonly autoLearn: BayesAutoLearnConfig };
  /**
   * clamd over `$PARAPET_HOME/antivirus/clamd.sock` (or `socket`). 'auto': when the node
   * supervises its antivirus service (ClamAV installed, `parapet start`).
   */
  readonly virus: {
    readonly enabled: boolean | 'auto';
    readonly socket: string | null;
    readonly timeoutMs: number;
  };
}

/** The web interfaces (issue 6): where they listen and how sessions behave. */
export interface WebConfig {
  /** Manager (administrators): HTTPS on 18080, every interface by default (TLS + sign-in). */
  readonly manager: HostPort;
  /** End User and Groups Web Interfaces: HTTPS on 28443. */
  readonly rpcui: HostPort;
  /** A session ends after this many minutes without a request. */
  readonly sessionIdleMinutes: number;
  /** …and after this many hours in any case. */
  readonly sessionMaxHours: number;
  /** Roles whose accounts must sign in with a TOTP second factor. */
  readonly requireTotpFor: readonly string[];
  /** Base URL of the End User Web Interface for links in digests (null: https://<hostname>:28443). */
  readonly publicUrl: string | null;
}

export const DEFAULT_WEB: WebConfig = {
  manager: { host: '0.0.0.0', port: 18080 },
  rpcui: { host: '0.0.0.0', port: 28443 },
  sessionIdleMinutes: 30,
  sessionMaxHours: 12,
  requireTotpFor: [],
  publicUrl: null,
};

export interface NodeConfig {
  readonly home: string;
  readonly nodeId: string;
  readonly paths: {
    readonly config: string;
    readonly spool: string;
    readonly quarantine: string;
    readonly messageLog: string;
    readonly run: string;
    /** The outbound queue (Queue Runner). */
    readonly queue: string;
    /** The IP Blocker's local entries (JSON list). */
    readonly ipblockList: string;
    /** One JSON line per refused client. */
    readonly ipblockLog: string;
    /** The re-injection witness's receipts file. */
    readonly reinjectReceipts: string;
  };
  readonly policy: PolicyServiceConfig;
  readonly ipblocker: IpBlockerServiceConfig;
  readonly scan: ScanServiceConfig;
  /** The node's database: embedded PostgreSQL in `$PARAPET_HOME/db`, or `url`. */
  readonly database: DatabaseConfig;
  readonly web: WebConfig;
}

/** `$PARAPET_HOME`, else ./.parapet in a checkout, else /var/lib/parapet (CONTRACTS.md). */
export function resolveParapetHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['PARAPET_HOME'];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  if (existsSync(join(process.cwd(), '.git')) || existsSync(join(process.cwd(), 'package.json'))) {
    return resolve('.parapet');
  }
  return '/var/lib/parapet';
}

const DEFAULT_POLICY: PolicyServiceConfig = {
  milterTcp: { host: '127.0.0.1', port: 3366 },
  milterSocketPath: null,
  milterSocketMode: 0o660,
  smtpFilter: { host: '127.0.0.1', port: 10025 },
  reinject: { host: '127.0.0.1', port: 10026 },
  // Replaced by `$PARAPET_HOME/run/witness.sock` at load unless node.json names one (or null).
  witnessSocketPath: '',
  messageTimeoutMs: 120_000,
  spoolMemoryBytes: 1024 * 1024,
  maxMessageBytes: 50 * 1024 * 1024,
  maxRecipients: 1000,
  maxSessions: 200,
  drainTimeoutMs: 30_000,
  policyEngine: 'sieve',
};

const DEFAULT_IPBLOCKER: IpBlockerServiceConfig = {
  listen: { host: '127.0.0.1', port: 10040 },
  blockAction: 'reject',
  reputationAction: 'defer',
  dnsblAction: 'reject',
  dnsblZones: [],
  reputation: { windowMs: 3_600_000, minMessages: 10, badRatio: 0.9, spamThreshold: 5 },
};

/**
 * Auto-learn of decisive messages into the shared Bayes store (bayes-autolearn.ts): a score
 * without Bayes below `hamBelow` learns as ham, at or above `spamAtOrAbove` as spam
 * (SpamAssassin's 0.1 and 12), at most `perMinute` messages per class and minute.
 */
export interface BayesAutoLearnConfig {
  readonly enabled: boolean;
  readonly hamBelow: number;
  readonly spamAtOrAbove: number;
  readonly perMinute: number;
}

const DEFAULT_AUTO_LEARN_CONFIG: BayesAutoLearnConfig = {
  enabled: true,
  ...DEFAULT_AUTO_LEARN,
  perMinute: 30,
};

const DEFAULT_SCAN: ScanServiceConfig = {
  enabled: true,
  threshold: 5,
  rules: { enabled: true, scores: {} },
  attachments: { enabled: true },
  bayes: { enabled: true, autoLearn: DEFAULT_AUTO_LEARN_CONFIG },
  virus: { enabled: 'auto', socket: null, timeoutMs: 30_000 },
};

/** Loads (and on first use creates) the node's home layout, node id and settings. */
export async function loadNodeConfig(env: NodeJS.ProcessEnv = process.env): Promise<NodeConfig> {
  const home = resolveParapetHome(env);
  const paths = {
    config: join(home, 'config'),
    spool: join(home, 'spool'),
    quarantine: join(home, 'quarantine'),
    messageLog: join(home, 'log', 'message-log.jsonl'),
    run: join(home, 'run'),
    queue: join(home, 'queue'),
    ipblockList: join(home, 'config', 'ipblock.json'),
    ipblockLog: join(home, 'log', 'ipblock.jsonl'),
    /** The re-injection witness's receipts (filter/smtp/reinject-witness.ts). */
    reinjectReceipts: join(home, 'spool', 'reinject-receipts.log'),
  };
  for (const dir of [home, paths.config, paths.spool, paths.quarantine, paths.run]) {
    await mkdir(dir, { recursive: true, mode: 0o750 });
  }
  const nodeId = await readOrCreateNodeId(join(paths.config, 'node-id'));
  const file = join(paths.config, 'node.json');
  let overrides: {
    policy?: Partial<PolicyServiceConfig>;
    ipblocker?: Partial<IpBlockerServiceConfig>;
    scan?: Partial<ScanServiceConfig>;
    database?: unknown;
    web?: Partial<WebConfig>;
  } = {};
  if (existsSync(file)) {
    try {
      overrides = JSON.parse(await readFile(file, 'utf8')) as typeof overrides;
    } catch (err) {
      throw new ParapetError('ERR_CONFIG_INVALID', `${file}: ${String(err)}`, { cause: err });
    }
  }
  const merged = { ...DEFAULT_POLICY, ...(overrides.policy ?? {}) };
  const policy = {
    ...merged,
    witnessSocketPath:
      merged.witnessSocketPath === '' ? join(paths.run, 'witness.sock') : merged.witnessSocketPath,
  };
  validatePolicyConfig(policy, file);
  const ipblocker: IpBlockerServiceConfig = {
    ...DEFAULT_IPBLOCKER,
    ...(overrides.ipblocker ?? {}),
    reputation: { ...DEFAULT_IPBLOCKER.reputation, ...(overrides.ipblocker?.reputation ?? {}) },
  };
  validateIpBlockerConfig(ipblocker, file);
  const o = overrides.scan ?? {};
  const scan: ScanServiceConfig = {
    ...DEFAULT_SCAN,
    ...o,
    rules: { ...DEFAULT_SCAN.rules, ...(o.rules ?? {}) },
    attachments: { ...DEFAULT_SCAN.attachments, ...(o.attachments ?? {}) },
    bayes: {
      ...DEFAULT_SCAN.bayes,
      ...(o.bayes ?? {}),
      autoLearn: { ...DEFAULT_AUTO_LEARN_CONFIG, ...(o.bayes?.autoLearn ?? {}) },
    },
    virus: { ...DEFAULT_SCAN.virus, ...(o.virus ?? {}) },
  };
  if (!(Number.isFinite(scan.threshold) && scan.threshold > 0)) {
    throw new ParapetError('ERR_CONFIG_INVALID', `${file}: scan.threshold must be positive`);
  }
  const al = scan.bayes.autoLearn;
  if (
    typeof al.enabled !== 'boolean' ||
    !Number.isFinite(al.hamBelow) ||
    !Number.isFinite(al.spamAtOrAbove) ||
    !(al.hamBelow < al.spamAtOrAbove) ||
    !(Number.isInteger(al.perMinute) && al.perMinute >= 0)
  ) {
    throw new ParapetError(
      'ERR_CONFIG_INVALID',
      `${file}: scan.bayes.autoLearn needs enabled true|false, hamBelow < spamAtOrAbove (numbers) and perMinute >= 0 (whole number)`,
    );
  }
  const web: WebConfig = { ...DEFAULT_WEB, ...(overrides.web ?? {}) };
  validateWebConfig(web, file);
  return Object.freeze({
    database: parseDatabaseConfig(overrides.database, file),
    web: Object.freeze(web),
    scan,
    home,
    nodeId,
    paths,
    policy: Object.freeze(policy),
    ipblocker: Object.freeze(ipblocker),
  });
}

function validateWebConfig(w: WebConfig, file: string): void {
  const bad = (what: string): never => {
    throw new ParapetError('ERR_CONFIG_INVALID', `${file}: web.${what}`);
  };
  for (const key of ['manager', 'rpcui'] as const) {
    const hp = w[key] as Partial<HostPort> | undefined;
    if (typeof hp?.host !== 'string' || !Number.isInteger(hp.port) || (hp.port ?? -1) < 0) {
      bad(`${key} must be {"host": "...", "port": N}`);
    }
  }
  if (!(w.sessionIdleMinutes > 0) || !(w.sessionMaxHours > 0))
    bad('session limits must be positive');
  if (!Array.isArray(w.requireTotpFor)) bad('requireTotpFor must be a list of roles');
  if (w.publicUrl !== null && !/^https?:\/\//.test(w.publicUrl)) bad('publicUrl must be a URL');
}

function validateIpBlockerConfig(c: IpBlockerServiceConfig, file: string): void {
  const bad = (what: string): never => {
    throw new ParapetError('ERR_CONFIG_INVALID', `${file}: ipblocker.${what}`);
  };
  if (!Number.isInteger(c.listen.port) || c.listen.port < 0 || c.listen.port > 65535) {
    bad('listen.port must be a port number');
  }
  if (!['reject', 'defer'].includes(c.blockAction)) bad('blockAction must be reject or defer');
  for (const key of ['reputationAction', 'dnsblAction'] as const) {
    if (!['reject', 'defer', 'off'].includes(c[key])) bad(`${key} must be reject, defer or off`);
  }
  if (!Array.isArray(c.dnsblZones) || c.dnsblZones.some((z) => typeof z !== 'string')) {
    bad('dnsblZones must be a list of zone names');
  }
  const r = c.reputation;
  if (!(r.windowMs > 0 && r.minMessages >= 1 && r.badRatio > 0 && r.badRatio <= 1)) {
    bad('reputation needs windowMs > 0, minMessages >= 1, 0 < badRatio <= 1');
  }
}

function validatePolicyConfig(p: PolicyServiceConfig, file: string): void {
  if (!(['sieve', 'accept-all'] as const satisfies readonly string[]).includes(p.policyEngine)) {
    throw new ParapetError(
      'ERR_CONFIG_INVALID',
      `${file}: policyEngine must be sieve or accept-all`,
    );
  }
  const ports = [p.milterTcp?.port, p.smtpFilter?.port, p.reinject.port];
  for (const port of ports) {
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
      throw new ParapetError('ERR_CONFIG_INVALID', `${file}: invalid port ${String(port)}`);
    }
  }
  for (const key of [
    'messageTimeoutMs',
    'spoolMemoryBytes',
    'maxMessageBytes',
    'maxSessions',
  ] as const) {
    if (!Number.isFinite(p[key]) || p[key] <= 0) {
      throw new ParapetError('ERR_CONFIG_INVALID', `${file}: ${key} must be a positive number`);
    }
  }
}

async function readOrCreateNodeId(path: string): Promise<string> {
  if (existsSync(path)) return (await readFile(path, 'utf8')).trim();
  const id = randomUUID();
  // 'wx': a concurrent first start keeps whichever id was written first.
  await writeFile(path, `${id}\n`, { mode: 0o600, flag: 'wx' }).catch(() => undefined);
  return (await readFile(path, 'utf8')).trim();
}

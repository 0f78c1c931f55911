/**
 * SpamAssassin (spamd + spamc, Debian packages spamassassin/spamd) as a reference filter for
 * the benchmarks, run under the corpus protocol: a private site configuration (Debian's plugin
 * loads plus local tests only, no network, Bayes in a private directory, no auto-learn), one
 * spamd on 127.0.0.1 that this process starts and stops by PID, training with `sa-learn` (which
 * learns every message, unlike rspamd's default).
 *
 * rspamd (Debian packages rspamd, redis-server) the same way: a private rspamd (normal and
 * controller workers on loopback ports, Debian's configuration with our local.d overrides in a
 * temp dir), its network modules off and its DNS pointed at a stub that refuses at once
 * (rspamd-dns-stub.ts), a private redis on 127.0.0.1 for its Bayes, training through the
 * controller with every message learned, scans through /checkv2 (rspamd 3.4 answers every
 * request with `Connection: close`, so each scan is one loopback connection).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import {
  copyFile,
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort, findFreePorts, waitForPort } from '../test/e2e/support/free-port.js';
import { runCommand, runCommandOrThrow } from '../test/e2e/support/process-util.js';
import type { SplitMessage } from './corpus-split.js';
import { startRefusingDnsStub, type RefusingDnsStub } from './rspamd-dns-stub.js';

/** Why spamd cannot run here, or null when spamd, spamc and sa-learn are installed. */
export async function spamAssassinUnavailableReason(): Promise<string | null> {
  for (const tool of ['spamd', 'spamc', 'sa-learn']) {
    const found = await runCommand('sh', ['-c', `command -v ${tool}`]);
    if (found.code !== 0)
      return `${tool} not installed (Debian packages spamassassin, spamc, spamd)`;
  }
  return null;
}

/** The message as SpamAssassin reads a single-message file: no mbox `From ` line. */
function withoutMboxLine(file: Buffer): Buffer {
  if (file.subarray(0, 5).toString('latin1') !== 'From ') return file;
  const lf = file.indexOf(0x0a);
  return lf < 0 ? Buffer.alloc(0) : file.subarray(lf + 1);
}

/** spamd's answer for one message. */
export interface SpamdVerdict {
  readonly score: number;
  readonly spam: boolean;
}

/** A private spamd: its site config, Bayes directory and process. */
export class SpamAssassinReference {
  readonly dir: string;
  readonly port: number;
  #spamd: ChildProcess | null = null;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  /** Writes the private configuration (nothing starts yet). */
  static async create(): Promise<SpamAssassinReference> {
    const dir = await mkdtemp(join(tmpdir(), 'parapet-sa-'));
    const cf = join(dir, 'cf');
    await mkdir(cf);
    await mkdir(join(dir, 'bayes'));
    await mkdir(join(dir, 'home'));
    await mkdir(join(dir, 'tmp'));
    // Debian's *.pre files load the plugins (Bayes among them); local.cf is ours.
    for (const name of await readdir('/etc/spamassassin')) {
      if (name.endsWith('.pre')) await copyFile(join('/etc/spamassassin', name), join(cf, name));
    }
    await writeFile(
      join(cf, 'local.cf'),
      [
        'use_bayes 1',
        'bayes_auto_learn 0',
        'bayes_auto_expire 0',
        `bayes_path ${join(dir, 'bayes', 'bayes')}`,
        'bayes_file_mode 0666',
        'dns_available no',
        'skip_rbl_checks 1',
        'use_razor2 0',
        'use_pyzor 0',
        'lock_method flock',
        '',
      ].join('\n'),
    );
    // spamd drops to nobody: everything it reads or writes must be open to it.
    await chmod(dir, 0o777);
    for (const sub of ['cf', 'bayes', 'home']) await chmod(join(dir, sub), 0o777);
    // spamd's children make temp dirs as nobody; /tmp may not be writable to it.
    await chmod(join(dir, 'tmp'), 0o1777);
    return new SpamAssassinReference(dir, await findFreePort());
  }

  #siteArgs(): string[] {
    return ['--siteconfigpath', join(this.dir, 'cf')];
  }

  /** Trains Bayes with sa-learn on the given messages (spam and ham in two calls). */
  async learn(messages: readonly SplitMessage[]): Promise<void> {
    for (const cls of ['spam', 'ham'] as const) {
      const folder = join(this.dir, `train-${cls}`);
      await mkdir(folder, { recursive: true });
      let n = 0;
      for (const m of messages) {
        if ((m.kind === 'spam') !== (cls === 'spam')) continue;
        await writeFile(join(folder, String(n++)), withoutMboxLine(m.file));
      }
      await runCommandOrThrow('sa-learn', [...this.#siteArgs(), '--local', `--${cls}`, folder], {
        timeoutMs: 1_800_000,
      });
    }
    await runCommand('chmod', ['-R', 'a+rwX', join(this.dir, 'bayes')]);
  }

  /** Starts spamd (local tests only, two children) and waits until it accepts connections. */
  async start(): Promise<void> {
    const spamd = spawn(
      'spamd',
      [
        ...this.#siteArgs(),
        '--local',
        '--nouser-config',
        '--listen',
        `127.0.0.1:${String(this.port)}`,
        '--allowed-ips',
        '127.0.0.1',
        '--max-children',
        '2',
        '--min-children',
        '2',
        '--username',
        'nobody',
        '--helper-home-dir',
        join(this.dir, 'home'),
        '--syslog',
        'stderr',
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, TMPDIR: join(this.dir, 'tmp') },
      },
    );
    let log = '';
    spamd.stderr.on('data', (chunk: Buffer) => {
      if (log.length < 65_536) log += chunk.toString('utf8');
    });
    this.#spamd = spamd;
    try {
      await waitForPort(this.port, 120_000);
    } catch (err) {
      await this.stop();
      throw new Error(`spamd did not start: ${log.slice(-2000)}`, { cause: err });
    }
  }

  /** The PID of the spamd parent (its children are found through /proc by the caller). */
  get pid(): number | null {
    return this.#spamd?.pid ?? null;
  }

  /** Scans one message with spamc (`-c`: prints score/threshold). */
  async check(file: Buffer): Promise<SpamdVerdict> {
    const spamc = spawn('spamc', ['-d', '127.0.0.1', '-p', String(this.port), '-c', '-t', '120'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let out = '';
    spamc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const done = new Promise<void>((resolve) =>
      spamc.on('close', () => {
        resolve();
      }),
    );
    spamc.stdin.end(withoutMboxLine(file));
    await done;
    const m = /^(-?[\d.]+)\/(-?[\d.]+)/.exec(out.trim());
    // spamc prints 0/0 when spamd could not be reached or failed.
    if (m === null || Number(m[2]) === 0)
      throw new Error(`spamc gave no score: ${JSON.stringify(out)}`);
    const score = Number(m[1]);
    return { score, spam: score >= Number(m[2]) };
  }

  /** Stops spamd (SIGTERM to the PID we started, then waits for it). */
  async stop(): Promise<void> {
    const spamd = this.#spamd;
    this.#spamd = null;
    await stopChild(spamd);
  }

  /** Stops spamd and removes the private directory. */
  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * CPU seconds (user + system) used so far by a process, its live children and the children it
 * has reaped, from /proc.
 */
export async function processTreeCpuSeconds(rootPid: number): Promise<number> {
  const ticks = 100; // USER_HZ on Linux.
  let total = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = await readFile(join('/proc', entry, 'stat'), 'utf8');
    } catch {
      continue;
    }
    // Fields after the command name "(…)": state ppid … utime(14) stime(15) cutime cstime.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    const ppid = Number(fields[1]);
    if (pid !== rootPid && ppid !== rootPid) continue;
    total += (Number(fields[11]) + Number(fields[12])) / ticks;
    // spamd recycles its children: the ones it has reaped are in the parent's cutime/cstime.
    if (pid === rootPid) total += (Number(fields[13]) + Number(fields[14])) / ticks;
  }
  return total;
}

/** SIGTERM to a child we started, SIGKILL after `graceMs`; resolves once it has exited. */
async function stopChild(child: ChildProcess | null, graceMs = 10_000): Promise<void> {
  if (child === null || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<boolean>((resolve) => {
    child.on('exit', () => {
      resolve(true);
    });
  });
  child.kill('SIGTERM');
  const timeout = new Promise<boolean>((resolve) => {
    setTimeout(() => {
      resolve(false);
    }, graceMs).unref();
  });
  if (!(await Promise.race([exited, timeout]))) {
    child.kill('SIGKILL');
    await exited;
  }
}

interface UserIds {
  readonly uid: number;
  readonly gid: number;
}

/** uid and gid of a local user, or null when the user does not exist. */
async function userIds(name: string): Promise<UserIds | null> {
  const uid = await runCommand('id', ['-u', name]);
  const gid = await runCommand('id', ['-g', name]);
  if (uid.code !== 0 || gid.code !== 0) return null;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** The users the Debian packages create; rspamd and redis run as them. */
const RSPAMD_USER = '_rspamd';
const REDIS_USER = 'redis';

/** Why rspamd cannot run here, or null when rspamd and redis-server are installed. */
export async function rspamdUnavailableReason(): Promise<string | null> {
  for (const tool of ['rspamd', 'redis-server']) {
    const found = await runCommand('sh', ['-c', `command -v ${tool}`]);
    if (found.code !== 0) return `${tool} not installed (Debian packages rspamd, redis-server)`;
  }
  for (const user of [RSPAMD_USER, REDIS_USER]) {
    if ((await userIds(user)) === null) return `user ${user} missing (made by the Debian packages)`;
  }
  if (process.getuid?.() !== 0) return 'needs root to start rspamd and redis as their own users';
  return null;
}

/** rspamd's answer for one message. */
export interface RspamdVerdict {
  readonly score: number;
  /** rspamd's action: `no action`, `greylist`, `add header`, `rewrite subject`, `reject`… */
  readonly action: string;
  /** True for the actions that mark mail as spam (add header and above; score >= 6 by default). */
  readonly spam: boolean;
  /** Symbol names with their scores. */
  readonly symbols: ReadonlyMap<string, number>;
}

/** What a training run did: messages learned, and those rspamd refused (already learned…). */
export interface RspamdLearnSummary {
  readonly learned: number;
  readonly refused: number;
  readonly firstRefusal: string | null;
}

/**
 * Actions by which rspamd marks a message as spam. `greylist` (score 4) only delays mail and
 * `soft reject` is a temporary failure, so neither counts.
 */
const RSPAMD_SPAM_ACTIONS = new Set(['add header', 'rewrite subject', 'reject']);

/**
 * Modules that reach the network (DNS lists, hash and reputation services, feeds) or need a
 * redis of their own: off, as SpamAssassin runs with local tests only. SPF, DKIM, DMARC and
 * ARC only look things up in DNS; offline they would only add "DNS failed" symbols.
 */
const RSPAMD_MODULES_OFF = [
  'rbl',
  'surbl',
  'emails',
  'dcc',
  'fuzzy_check',
  'neural',
  'spf',
  'dkim',
  'dmarc',
  'arc',
  'asn',
  'mx_check',
  'url_redirector',
  'rspamd_update',
  'greylist',
  'ratelimit',
  'reputation',
  'replies',
  'history_redis',
  'p0f',
  'bimi',
  'external_services',
  'antivirus',
  'clickhouse',
  'elastic',
  'metadata_exporter',
  'metric_exporter',
  'dkim_signing',
  'spamtrap',
];

/** The request header carrying the pinned "now" (Unix seconds) to the Lua rule below. */
const PINNED_NOW_HEADER = 'X-Parapet-Now';

/**
 * rspamd's DATE_IN_PAST / DATE_IN_FUTURE compare the Date header with the time of the scan
 * and cannot be given another clock; on 2002 mail DATE_IN_PAST fires on nearly everything
 * (FIELD-NOTES.md). The fair equivalent of Parapet's pinned clock: those two symbols score 0,
 * and this rule makes the same comparison (same limits, same scores: +1 older than a day, +4
 * more than two hours ahead) against the time the benchmark pins for the message.
 */
const PINNED_DATE_LUA = `-- Parapet benchmark: DATE_IN_PAST/DATE_IN_FUTURE against a pinned "now".
local rspamd_parsers = require "rspamd_parsers"
local id = rspamd_config:register_symbol({
  name = 'PINNED_DATE_CB',
  type = 'callback',
  callback = function(task)
    local pinned = task:get_request_header('${PINNED_NOW_HEADER}')
    if not pinned then return end
    local now = tonumber(tostring(pinned))
    local date = task:get_header('Date')
    if not now or not date or date == '' then return end
    local dm, err = rspamd_parsers.parse_smtp_date(date)
    if err or not dm then return end
    local diff = now - dm
    if diff > 86400 then
      task:insert_result('PINNED_DATE_IN_PAST', 1.0, tostring(math.floor(diff / 3600)))
    elseif -diff > 7200 then
      task:insert_result('PINNED_DATE_IN_FUTURE', 1.0, tostring(math.floor(-diff / 3600)))
    end
  end
})
rspamd_config:register_symbol({ name = 'PINNED_DATE_IN_PAST', score = 1.0, group = 'headers',
  description = 'Date older than a day before the pinned now', type = 'virtual', parent = id })
rspamd_config:register_symbol({ name = 'PINNED_DATE_IN_FUTURE', score = 4.0, group = 'headers',
  description = 'Date over 2 hours after the pinned now', type = 'virtual', parent = id })
`;

/** A private rspamd with its own redis (Bayes) and refusing DNS stub. */
export class RspamdReference {
  readonly dir: string;
  readonly normalPort: number;
  readonly controllerPort: number;
  readonly redisPort: number;
  readonly dns: RefusingDnsStub;
  readonly #rspamdUser: UserIds;
  readonly #redisUser: UserIds;
  #rspamd: ChildProcess | null = null;
  #redis: ChildProcess | null = null;
  #log = '';
  // Keep-alive is asked for, but rspamd 3.4 closes after each answer; the agent then simply
  // opens a new connection. The benchmarks run at most two requests at a time.
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 4 });

  private constructor(
    dir: string,
    ports: readonly [number, number, number],
    dns: RefusingDnsStub,
    users: { rspamd: UserIds; redis: UserIds },
  ) {
    this.dir = dir;
    [this.normalPort, this.controllerPort, this.redisPort] = ports;
    this.dns = dns;
    this.#rspamdUser = users.rspamd;
    this.#redisUser = users.redis;
  }

  /** Writes the private configuration and starts the DNS stub (rspamd and redis start later). */
  static async create(): Promise<RspamdReference> {
    const rspamdUser = await userIds(RSPAMD_USER);
    const redisUser = await userIds(REDIS_USER);
    if (rspamdUser === null || redisUser === null) throw new Error('rspamd/redis users missing');
    const dir = await mkdtemp(join(tmpdir(), 'parapet-rspamd-'));
    for (const sub of ['run', 'db', 'log', 'tmp', 'redis']) await mkdir(join(dir, sub));
    await mkdir(join(dir, 'conf', 'local.d'), { recursive: true });
    const dns = await startRefusingDnsStub();
    const [normal = 0, controller = 0, redis = 0] = await findFreePorts(3);
    const ref = new RspamdReference(dir, [normal, controller, redis], dns, {
      rspamd: rspamdUser,
      redis: redisUser,
    });

    try {
      await ref.#configure();
    } catch (err) {
      await ref.dispose();
      throw err;
    }
    return ref;
  }

  /** Writes rspamd's configuration and hands the runtime directories to the daemons' users. */
  async #configure(): Promise<void> {
    const writeLocal = (name: string, lines: readonly string[]): Promise<void> =>
      writeFile(join(this.dir, 'conf', 'local.d', name), [...lines, ''].join('\n'));
    // The top level of Debian's rspamd.conf with our sockets and only the two workers we use
    // (no proxy, no fuzzy storage); everything else comes from /etc/rspamd plus local.d.
    await writeFile(
      join(this.dir, 'conf', 'rspamd.conf'),
      [
        '.include "$CONFDIR/common.conf"',
        'options {',
        '  pidfile = "$RUNDIR/rspamd.pid";',
        '  .include "$CONFDIR/options.inc"',
        '  .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"',
        '}',
        'logging {',
        '  type = "file";',
        '  filename = "$LOGDIR/rspamd.log";',
        '  .include "$CONFDIR/logging.inc"',
        '}',
        'worker "normal" {',
        `  bind_socket = "127.0.0.1:${String(this.normalPort)}";`,
        '  .include "$CONFDIR/worker-normal.inc"',
        '}',
        'worker "controller" {',
        `  bind_socket = "127.0.0.1:${String(this.controllerPort)}";`,
        '  .include "$CONFDIR/worker-controller.inc"',
        '}',
        '',
      ].join('\n'),
    );
    await writeLocal('options.inc', [
      // Every lookup goes to the stub and is refused at once.
      'dns {',
      `  nameserver = ["127.0.0.1:${String(this.dns.port)}"];`,
      '  timeout = 1s;',
      '  retransmits = 1;',
      '}',
      `tempdir = "${join(this.dir, 'tmp')}";`,
    ]);
    for (const module of RSPAMD_MODULES_OFF) {
      await writeLocal(`${module}.conf`, ['enabled = false;']);
    }
    // Phishing stays (it compares link text with link targets locally); its feeds go.
    await writeLocal('phishing.conf', ['openphish_enabled = false;', 'phishtank_enabled = false;']);
    // hfilter's HELO, hostname and From checks resolve names; its URL and recipient checks stay.
    await writeLocal('hfilter.conf', [
      'helo_enabled = false;',
      'hostname_enabled = false;',
      'from_enabled = false;',
    ]);
    // Bayes in the private redis; no auto-learn. min_learns is rspamd's default 200, as
    // SpamAssassin's: TRAIN has 500 spam and over 2,000 ham.
    await writeLocal('classifier-bayes.conf', [
      'backend = "redis";',
      `servers = "127.0.0.1:${String(this.redisPort)}";`,
      'min_learns = 200;',
      'autolearn = false;',
    ]);
    await writeLocal('headers_group.conf', [
      'symbols {',
      '  "DATE_IN_PAST" { weight = 0.0; }',
      '  "DATE_IN_FUTURE" { weight = 0.0; }',
      '}',
    ]);
    await writeFile(join(this.dir, 'conf', 'rspamd.local.lua'), PINNED_DATE_LUA);

    await chmod(this.dir, 0o755);
    const owner = (u: UserIds): string => `${String(u.uid)}:${String(u.gid)}`;
    for (const sub of ['run', 'db', 'log', 'tmp']) {
      await runCommandOrThrow('chown', [owner(this.#rspamdUser), join(this.dir, sub)]);
    }
    await runCommandOrThrow('chown', [owner(this.#redisUser), join(this.dir, 'redis')]);
  }

  /** Starts redis and rspamd and waits until both accept connections and rspamd answers. */
  async start(): Promise<void> {
    const redis = spawn(
      'redis-server',
      [
        '--port',
        String(this.redisPort),
        '--bind',
        '127.0.0.1',
        '--protected-mode',
        'yes',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        join(this.dir, 'redis'),
        '--daemonize',
        'no',
        '--logfile',
        '',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], ...this.#redisUser },
    );
    this.#redis = redis;
    this.#collectLog(redis);
    const rspamd = spawn(
      'rspamd',
      [
        '-f',
        '-c',
        join(this.dir, 'conf', 'rspamd.conf'),
        '--var',
        'CONFDIR=/etc/rspamd',
        '--var',
        `LOCAL_CONFDIR=${join(this.dir, 'conf')}`,
        '--var',
        `RUNDIR=${join(this.dir, 'run')}`,
        '--var',
        `DBDIR=${join(this.dir, 'db')}`,
        '--var',
        `LOGDIR=${join(this.dir, 'log')}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], ...this.#rspamdUser, cwd: this.dir },
    );
    this.#rspamd = rspamd;
    this.#collectLog(rspamd);
    try {
      await waitForPort(this.redisPort, 30_000);
      await waitForPort(this.normalPort, 120_000);
      await waitForPort(this.controllerPort, 120_000);
      // The workers accept before their Lua rules are loaded: wait for a real answer.
      const until = Date.now() + 120_000;
      for (;;) {
        try {
          await this.check(Buffer.from('Subject: ping\n\nping\n'));
          break;
        } catch (err) {
          if (Date.now() > until) throw err;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    } catch (err) {
      const log = await readFile(join(this.dir, 'log', 'rspamd.log'), 'utf8').catch(() => '');
      await this.stop();
      throw new Error(`rspamd did not start: ${this.#log.slice(-2000)}\n${log.slice(-3000)}`, {
        cause: err,
      });
    }
  }

  #collectLog(child: ChildProcess): void {
    const add = (chunk: Buffer): void => {
      if (this.#log.length < 65_536) this.#log += chunk.toString('utf8');
    };
    child.stdout?.on('data', add);
    child.stderr?.on('data', add);
  }

  /** PIDs of the rspamd main process and of redis (null when not running). */
  get pids(): { rspamd: number | null; redis: number | null } {
    return { rspamd: this.#rspamd?.pid ?? null, redis: this.#redis?.pid ?? null };
  }

  /** CPU seconds used so far by rspamd (main and workers) and by redis. */
  async cpuSeconds(): Promise<{ rspamd: number; redis: number }> {
    const { rspamd, redis } = this.pids;
    return {
      rspamd: rspamd === null ? 0 : await processTreeCpuSeconds(rspamd),
      redis: redis === null ? 0 : await processTreeCpuSeconds(redis),
    };
  }

  /** One HTTP POST to rspamd; resolves with the status and the parsed JSON body. */
  #post(
    port: number,
    path: string,
    body: Buffer,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; json: unknown }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          agent: this.#agent,
          headers: { ...headers, 'Content-Length': String(body.length) },
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as unknown });
            } catch {
              reject(new Error(`rspamd ${path}: not JSON (${String(res.statusCode)}): ${text}`));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`rspamd ${path}: timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /**
   * Scans one message through /checkv2. `now`, when given, is the pinned time the date rule
   * compares the Date header with (see PINNED_DATE_LUA).
   */
  async check(file: Buffer, now?: Date): Promise<RspamdVerdict> {
    const headers: Record<string, string> = {};
    if (now !== undefined) headers[PINNED_NOW_HEADER] = String(Math.floor(now.getTime() / 1000));
    const { status, json } = await this.#post(
      this.normalPort,
      '/checkv2',
      withoutMboxLine(file),
      headers,
    );
    if (status !== 200 || typeof json !== 'object' || json === null) {
      throw new Error(`rspamd /checkv2 answered ${String(status)}: ${JSON.stringify(json)}`);
    }
    const answer = json as { score?: unknown; action?: unknown; symbols?: unknown };
    if (typeof answer.score !== 'number' || typeof answer.action !== 'string') {
      throw new Error(`rspamd /checkv2 gave no score: ${JSON.stringify(json).slice(0, 500)}`);
    }
    const symbols = new Map<string, number>();
    if (typeof answer.symbols === 'object' && answer.symbols !== null) {
      for (const [name, value] of Object.entries(answer.symbols)) {
        const score = (value as { score?: unknown }).score;
        symbols.set(name, typeof score === 'number' ? score : 0);
      }
    }
    return {
      score: answer.score,
      action: answer.action,
      spam: RSPAMD_SPAM_ACTIONS.has(answer.action),
      symbols,
    };
  }

  /**
   * Trains Bayes through the controller on every message, one request at a time (the corpus
   * repeats some Message-IDs; in order, the same copies are refused on every run). The
   * `Learn-Type: bulk` header makes rspamd learn messages it already classifies confidently
   * too (its default skips them), as `sa-learn` and Parapet's trainer do.
   */
  async learn(messages: readonly SplitMessage[]): Promise<RspamdLearnSummary> {
    let learned = 0;
    let refused = 0;
    let firstRefusal: string | null = null;
    for (const m of messages) {
      const path = m.kind === 'spam' ? '/learnspam' : '/learnham';
      const { status, json } = await this.#post(
        this.controllerPort,
        path,
        withoutMboxLine(m.file),
        { 'Learn-Type': 'bulk' },
      );
      if (status === 200 && (json as { success?: unknown }).success === true) {
        learned++;
      } else {
        refused++;
        firstRefusal ??= `${m.name}: ${String(status)} ${JSON.stringify(json)}`;
      }
    }
    return { learned, refused, firstRefusal };
  }

  /** Stops rspamd, then redis (SIGTERM to the PIDs we started, SIGKILL after 10 s). */
  async stop(): Promise<void> {
    this.#agent.destroy();
    const rspamd = this.#rspamd;
    const redis = this.#redis;
    this.#rspamd = null;
    this.#redis = null;
    await stopChild(rspamd);
    await stopChild(redis);
  }

  /** Stops everything, closes the DNS stub and removes the private directory. */
  async dispose(): Promise<void> {
    await this.stop();
    await this.dns.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

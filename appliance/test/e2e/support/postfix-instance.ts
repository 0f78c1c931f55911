/**
 * A private Postfix instance for end-to-end tests (FIELD-NOTES "A private Postfix instance
 * for tests").
 *
 * Each instance lives in its own temp dir `D` (mode 0755 so the postfix user can traverse it):
 * - `D/etc`   config_directory: a fresh main.cf (below) and the Debian master.cf with every
 *             service unchrooted and the public `smtp inet` replaced by `127.0.0.1:<port>`,
 * - `D/spool` queue_directory (created by `postfix start`'s `post-install create-missing`,
 *             owned postfix / group postdrop as on a normal install),
 * - `D/data`  data_directory (must be owned by postfix, or master cannot take its lock),
 * - `D/log/maillog` maillog_file, written by the `postlog` service (no syslog needed).
 *
 * main.cf essentials: listen on 127.0.0.1 only, `mydestination =` and local delivery disabled,
 * `relayhost = [127.0.0.1]:<sink port>`, `mynetworks = 127.0.0.0/8`, no DNS
 * (`smtp_dns_support_level = disabled`, `smtpd_peername_lookup = no`), no TLS, smtpd error
 * throttling off (`smtpd_soft_error_limit`/`smtpd_hard_error_limit` 1000/2000,
 * `smtpd_error_sleep_time = 0s`: a filter that rejects many messages in one session must
 * not make smtpd sleep), anvil limits off for 127.0.0.0/8.
 * `queue_run_delay` and `minimal_backoff_time` keep their defaults (300 s): a deferred message
 * is not retried within a test run, so "deferred" is final (call `flush()` to force a retry).
 *
 * Postfix runs as root here (as in production), with the Debian `postfix` user and
 * `postdrop` group. Two instances can run at once: distinct dirs, ports and master locks.
 * The layer rule keeps appliance/ from importing provisioning/, so Parapet's wiring is applied
 * by the caller through `instance.postconf([...])` or provisioning's `configurePostfix({
 * configDir: instance.configDir })`, before `start()` or followed by `reload()`.
 *
 * Example:
 * ```ts
 * const sink = await startSmtpSink();
 * const mta = await startPostfixInstance({ relayPort: sink.port });
 * after(async () => { await mta.stop(); await sink.stop({ removeDir: true }); });
 * const results = await sendMessages(await loadCorpus(50), { port: mta.smtpPort });
 * await mta.waitForEmptyQueue(30_000);
 * ```
 */
import { chmod, chown, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort, waitForPort } from './free-port.js';
import {
  childPidsOf,
  isPidAlive,
  onProcessEnd,
  runCommand,
  runCommandOrThrow,
  signalPid,
  waitForPidsGone,
} from './process-util.js';

/** Binaries of the Debian postfix package the harness needs. */
export const POSTFIX_BINARIES = {
  postfix: '/usr/sbin/postfix',
  postconf: '/usr/sbin/postconf',
  postqueue: '/usr/sbin/postqueue',
  smtpSink: '/usr/sbin/smtp-sink',
} as const;

/** Master.cf templates, most pristine first (Debian ships master.cf.dist). */
const MASTER_CF_TEMPLATES = [
  '/usr/share/postfix/master.cf.dist',
  '/etc/postfix/master.cf.proto',
  '/etc/postfix/master.cf',
];

/**
 * Why private Postfix instances cannot run here, or undefined when they can. Use it for
 * `test(..., { skip: postfixUnavailableReason() })`.
 */
export function postfixUnavailableReason(): string | undefined {
  for (const path of Object.values(POSTFIX_BINARIES)) {
    if (!existsSync(path)) return `${path} not found (install the postfix package)`;
  }
  if (process.getuid?.() !== 0) return 'private Postfix instances need root (master runs as root)';
  return undefined;
}

/** Options of {@link createPostfixInstance} / {@link startPostfixInstance}. */
export interface PostfixInstanceOptions {
  /** Port of the instance's smtpd on 127.0.0.1; default a free high port. */
  readonly smtpPort?: number;
  /** Port of the sink on 127.0.0.1; sets `relayhost = [127.0.0.1]:<relayPort>`. */
  readonly relayPort?: number;
  /** A full relayhost value instead of `relayPort`; default none (then mail is deferred). */
  readonly relayhost?: string;
  /** Extra main.cf settings, applied after the harness defaults (so they can override them). */
  readonly mainCf?: Readonly<Record<string, string>>;
  /** Extra master.cf entries in `postconf -M` form: `name/type=name type ... command -o k=v`. */
  readonly masterCf?: readonly string[];
  /** max processes of the test smtpd (the `127.0.0.1:<port> inet` service); default 100. */
  readonly smtpdProcessLimit?: number;
  /** Parent of the instance dir; default os.tmpdir(). */
  readonly tmpRoot?: string;
  /** Keep the instance dir after stop (also when PARAPET_E2E_KEEP=1 is set). */
  readonly keepDir?: boolean;
}

/** One entry of `postqueue -j`. */
export interface QueueEntry {
  readonly queue_name: string;
  readonly queue_id: string;
  readonly arrival_time?: number;
  readonly message_size?: number;
  readonly sender?: string;
  readonly recipients?: readonly { address: string; delay_reason?: string }[];
}

/** A private Postfix instance. Every method is safe to call after `stop()`. */
export interface PostfixInstance {
  /** The instance's temp dir. */
  readonly dir: string;
  readonly configDir: string;
  readonly queueDir: string;
  readonly dataDir: string;
  /** The maillog file (exists once Postfix has started). */
  readonly logPath: string;
  /** Port of the test smtpd on 127.0.0.1. */
  readonly smtpPort: number;
  /** The relayhost value written to main.cf ('' for none). */
  readonly relayhost: string;
  /** Runs `postconf -c <configDir> ...args` and resolves with its stdout; rejects on failure. */
  postconf(args: readonly string[]): Promise<string>;
  /** `postfix check` then `postfix start`; waits until the smtpd accepts connections. */
  start(): Promise<void>;
  /** `postfix reload` (re-reads main.cf/master.cf; new listeners start). */
  reload(): Promise<void>;
  /**
   * `postfix stop`, waits for master and the children it had (PIDs recorded before the stop),
   * SIGKILLs those that outlive 15 s, and removes the dir unless kept. Idempotent.
   */
  stop(): Promise<void>;
  /** `postqueue -f`: retry deferred mail now. */
  flush(): Promise<void>;
  /** Entries of `postqueue -j` (every queue: incoming, active, deferred, hold). */
  queueEntries(): Promise<QueueEntry[]>;
  /** Queue ids currently in the queue. */
  queueIds(): Promise<string[]>;
  /**
   * Resolves once the queue is empty (or, with `ignoreDeferred`, holds only deferred/hold
   * mail) and returns what is left; rejects after `timeoutMs` listing the remaining ids.
   */
  waitForEmptyQueue(
    timeoutMs: number,
    options?: { ignoreDeferred?: boolean },
  ): Promise<QueueEntry[]>;
  /** The maillog so far ('' before start). */
  readLog(): Promise<string>;
  /** master's PID while running, else undefined. */
  masterPid(): number | undefined;
  /** master plus its live children (PIDs), [] when stopped. */
  pids(): Promise<number[]>;
}

/** Instances whose master may be running: SIGTERMed when the test process exits. */
const liveMasters = new Map<string, number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  onProcessEnd(() => {
    // A failed test may skip its `after`; master passes SIGTERM on to its children.
    for (const pid of liveMasters.values()) signalPid(pid, 'SIGTERM');
  });
}

/** Runs `postconf -c DIR ...args` and resolves with stdout; rejects with its stderr. */
export async function postconf(
  instance: Pick<PostfixInstance, 'configDir'>,
  args: readonly string[],
): Promise<string> {
  return runCommandOrThrow(POSTFIX_BINARIES.postconf, ['-c', instance.configDir, ...args]);
}

/** The harness's main.cf (before `options.mainCf`). */
function defaultMainCf(dir: string, relayhost: string): Record<string, string> {
  return {
    compatibility_level: '3.6',
    queue_directory: join(dir, 'spool'),
    data_directory: join(dir, 'data'),
    myhostname: 'mta.e2e.test',
    mydomain: 'e2e.test',
    myorigin: '$myhostname',
    mydestination: '',
    local_transport: 'error:local delivery is disabled in e2e tests',
    alias_maps: '',
    alias_database: '',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    relayhost,
    smtpd_relay_restrictions: 'permit_mynetworks, reject',
    smtp_dns_support_level: 'disabled',
    smtpd_peername_lookup: 'no',
    smtp_tls_security_level: 'none',
    smtpd_tls_security_level: 'none',
    maillog_file: join(dir, 'log', 'maillog'),
    maillog_file_prefixes: dir,
    smtpd_soft_error_limit: '1000',
    smtpd_hard_error_limit: '2000',
    smtpd_error_sleep_time: '0s',
    smtpd_client_connection_count_limit: '0',
    smtpd_client_event_limit_exceptions: '127.0.0.0/8',
    default_process_limit: '100',
    biff: 'no',
    append_dot_mydomain: 'no',
    readme_directory: 'no',
  };
}

/** Builds the instance's files without starting it (use this to wire Parapet in first). */
export async function createPostfixInstance(
  options: PostfixInstanceOptions = {},
): Promise<PostfixInstance> {
  const unavailable = postfixUnavailableReason();
  if (unavailable !== undefined) throw new Error(unavailable);
  const dir = await mkdtemp(join(options.tmpRoot ?? tmpdir(), 'parapet-postfix-'));
  await chmod(dir, 0o755);
  const configDir = join(dir, 'etc');
  const queueDir = join(dir, 'spool');
  const dataDir = join(dir, 'data');
  const logPath = join(dir, 'log', 'maillog');
  await mkdir(configDir);
  await mkdir(join(dir, 'log'));
  await mkdir(dataDir, { mode: 0o700 });
  // queue_directory must exist (root-owned, 0755); `postfix start` creates its subdirectories.
  await mkdir(queueDir, { mode: 0o755 });
  const pw = await postfixIds();
  await chown(dataDir, pw.uid, pw.gid);

  const smtpPort = options.smtpPort ?? (await findFreePort());
  const relayhost =
    options.relayhost ??
    (options.relayPort === undefined ? '' : `[127.0.0.1]:${options.relayPort}`);
  const template = MASTER_CF_TEMPLATES.find((p) => existsSync(p));
  if (template === undefined) throw new Error('no master.cf template found');
  await copyFile(template, join(configDir, 'master.cf'));
  await writeFile(
    join(configDir, 'main.cf'),
    '# Private Postfix instance for Parapet e2e tests.\n',
  );

  const handleConfig = { configDir };
  const main = { ...defaultMainCf(dir, relayhost), ...(options.mainCf ?? {}) };
  await postconf(handleConfig, ['-e', ...Object.entries(main).map(([k, v]) => `${k}=${v}`)]);
  // chroot would need copies of /etc files inside the private queue dir; run unchrooted.
  await postconf(handleConfig, ['-F', '*/*/chroot=n']);
  const masterNames = await postconf(handleConfig, ['-M']);
  if (/^smtp\s+inet\s/m.test(masterNames)) await postconf(handleConfig, ['-MX', 'smtp/inet']);
  if (!/^postlog\s+unix-dgram\s/m.test(masterNames)) {
    await postconf(handleConfig, [
      '-M',
      'postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd',
    ]);
  }
  const limit = options.smtpdProcessLimit ?? 100;
  const listener = `127.0.0.1:${smtpPort}`;
  await postconf(handleConfig, ['-M', `${listener}/inet=${listener} inet n - n - ${limit} smtpd`]);
  for (const entry of options.masterCf ?? []) await postconf(handleConfig, ['-M', entry]);

  let master: number | undefined;
  let stopping: Promise<void> | undefined;
  const keep = options.keepDir === true || process.env.PARAPET_E2E_KEEP === '1';

  const postfixCmd = async (verb: string): Promise<{ code: number; output: string }> => {
    const r = await runCommand(POSTFIX_BINARIES.postfix, ['-c', configDir, verb], {
      timeoutMs: 60_000,
    });
    return { code: r.code, output: `${r.stderr}${r.stdout}`.trim() };
  };

  const readLog = async (): Promise<string> => {
    try {
      return await readFile(logPath, 'utf8');
    } catch {
      return '';
    }
  };

  const queueEntries = async (): Promise<QueueEntry[]> => {
    const out = await runCommandOrThrow(POSTFIX_BINARIES.postqueue, ['-c', configDir, '-j']);
    return out
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as QueueEntry);
  };

  /**
   * FIELD-NOTES: without a terminal and syslog, `postfix start` (and `check`) can exit 1 with
   * no message; run again under a pty (`script -qec`) and add the maillog's tail.
   */
  const diagnose = async (verb: string): Promise<string> => {
    const why = await runCommand('script', [
      '-qec',
      `${POSTFIX_BINARIES.postfix} -c '${configDir}' ${verb}`,
      '/dev/null',
    ]);
    const log = (await readLog()).split('\n').slice(-15).join('\n');
    return `${why.stdout.trim()}\n${log}`.trim();
  };

  const instance: PostfixInstance = {
    dir,
    configDir,
    queueDir,
    dataDir,
    logPath,
    smtpPort,
    relayhost,
    postconf: async (args) => postconf(handleConfig, args),
    async start() {
      if (master !== undefined && isPidAlive(master)) return;
      for (const verb of ['check', 'start']) {
        const r = await postfixCmd(verb);
        if (r.code !== 0) {
          throw new Error(
            `postfix ${verb} failed (${r.code}): ${r.output}\n${await diagnose(verb)}`,
          );
        }
      }
      const pidText = await readFile(join(queueDir, 'pid', 'master.pid'), 'utf8');
      master = Number(pidText.trim());
      liveMasters.set(dir, master);
      installExitHook();
      await waitForPort(smtpPort, 15_000);
    },
    async reload() {
      const r = await postfixCmd('reload');
      if (r.code !== 0) throw new Error(`postfix reload failed: ${r.output}`);
    },
    async stop() {
      stopping ??= (async () => {
        const pid = master;
        if (pid !== undefined && isPidAlive(pid)) {
          const tracked = [pid, ...(await childPidsOf(pid))];
          await postfixCmd('stop');
          if (!(await waitForPidsGone(tracked, 15_000))) {
            for (const p of tracked) signalPid(p, 'SIGKILL');
            await waitForPidsGone(tracked, 5000);
          }
        }
        master = undefined;
        liveMasters.delete(dir);
        if (!keep) await rm(dir, { recursive: true, force: true });
      })();
      await stopping;
    },
    async flush() {
      await runCommandOrThrow(POSTFIX_BINARIES.postqueue, ['-c', configDir, '-f']);
    },
    queueEntries,
    async queueIds() {
      return (await queueEntries()).map((e) => e.queue_id);
    },
    async waitForEmptyQueue(timeoutMs, waitOptions = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const entries = await queueEntries();
        const pending =
          waitOptions.ignoreDeferred === true
            ? entries.filter((e) => e.queue_name !== 'deferred' && e.queue_name !== 'hold')
            : entries;
        if (pending.length === 0) return entries;
        if (Date.now() >= deadline) {
          const ids = pending.slice(0, 20).map((e) => `${e.queue_id}(${e.queue_name})`);
          throw new Error(
            `queue not empty after ${timeoutMs} ms: ${pending.length} left: ${ids.join(' ')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    readLog,
    masterPid: () => (master !== undefined && isPidAlive(master) ? master : undefined),
    async pids() {
      if (master === undefined || !isPidAlive(master)) return [];
      return [master, ...(await childPidsOf(master))];
    },
  };
  return instance;
}

/** uid/gid of the `postfix` user, read from /etc/passwd. */
async function postfixIds(): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith('postfix:'));
  const fields = line?.split(':');
  const uid = Number(fields?.[2]);
  const gid = Number(fields?.[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('no postfix user');
  return { uid, gid };
}

/** Creates and starts a private instance (see the module comment); rejects if start fails. */
export async function startPostfixInstance(
  options: PostfixInstanceOptions = {},
): Promise<PostfixInstance> {
  const instance = await createPostfixInstance(options);
  try {
    await instance.start();
  } catch (err) {
    await instance.stop();
    throw err;
  }
  return instance;
}

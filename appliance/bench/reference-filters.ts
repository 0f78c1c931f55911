/**
 * SpamAssassin (spamd + spamc, Debian packages spamassassin/spamd) as a reference filter for
 * the benchmarks, run under the corpus protocol: a private site configuration (Debian's plugin
 * loads plus local tests only, no network, Bayes in a private directory, no auto-learn), one
 * spamd on 127.0.0.1 that this process starts and stops by PID, training with `sa-learn` (which
 * learns every message, unlike rspamd's default). rspamd is not wired yet.
 */
import { spawn, type ChildProcess } from 'node:child_process';
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
import { findFreePort, waitForPort } from '../test/e2e/support/free-port.js';
import { runCommand, runCommandOrThrow } from '../test/e2e/support/process-util.js';
import type { SplitMessage } from './corpus-split.js';

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
    if (spamd === null || spamd.exitCode !== null) return;
    const exited = new Promise<boolean>((resolve) => {
      spamd.on('exit', () => {
        resolve(true);
      });
    });
    spamd.kill('SIGTERM');
    const timeout = new Promise<boolean>((resolve) => {
      setTimeout(() => {
        resolve(false);
      }, 10_000).unref();
    });
    if (!(await Promise.race([exited, timeout]))) spamd.kill('SIGKILL');
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

/**
 * Starts clamd (ClamAV's daemon, Debian clamav-daemon) in the foreground with a config generated
 * under `$PARAPET_HOME/antivirus/`, Parapet's shipped signatures, and ClamAV's official
 * databases linked in when present. Used by `parapet serve antivirus` and by the tests.
 *
 * Security: clamd parses hostile mail, so it never runs as root: started as root it drops to
 * `clamav` (clamd's `User`), which then owns the antivirus directory; started as another user
 * (the appliance's `parapet`) it runs as that user. Its socket is mode 660.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  readdir,
  readFile,
  stat,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ParapetError } from '../../filter/index.js';
import {
  clamdPaths,
  DEFAULT_CLAMD_SETTINGS,
  renderClamdConfig,
  type ClamdSettings,
} from './clamd-config.js';
import { shippedSignatureFiles } from './signatures.js';

export const DEFAULT_CLAMD_PATH = '/usr/sbin/clamd';
/** Where Debian's freshclam keeps ClamAV's official databases. */
export const DEFAULT_OFFICIAL_DATABASE_DIR = '/var/lib/clamav';

export interface StartClamdOptions {
  /** `$PARAPET_HOME`; clamd's files go to `<home>/antivirus/`. */
  readonly home: string;
  /** Default /usr/sbin/clamd. */
  readonly clamdPath?: string;
  /** ClamAV's official databases to link in when present; null = Parapet's signatures only. */
  readonly officialDatabaseDir?: string | null;
  /**
   * The user clamd drops to when started as root. Default `clamav`. Ignored (clamd runs as the
   * current user) when not started as root.
   */
  readonly user?: string;
  /** How long to wait for clamd to answer PING (official databases take 10–60 s). Default 180 000. */
  readonly startTimeoutMs?: number;
  readonly maxStreamBytes?: number;
  readonly maxScanTimeMs?: number;
  readonly maxThreads?: number;
  readonly extraConfig?: Readonly<Record<string, string>>;
  /** clamd's log lines (it logs to stdout in the foreground). Default: written to stderr. */
  readonly onLog?: (line: string) => void;
}

export interface RunningClamd {
  readonly socketPath: string;
  readonly pid: number;
  readonly configPath: string;
  /** Database files in clamd's database directory (shipped and linked official ones). */
  readonly databases: readonly string[];
  /** Milliseconds from spawn to the first PONG. */
  readonly startMs: number;
  /** Resolves with the exit code (or the signal name) when clamd exits, for whatever reason. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs` (default 10 000). Resolves once clamd has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Database files clamd loads (ClamAV "Signature formats"); freshclam's other files are not. */
const DATABASE_EXTENSIONS = new Set(
  (
    'cvd cld cud ndb ndu hdb hdu hsb hsu mdb mdu msb msu ldb ldu idb cdb ftm pdb gdb wdb ' +
    'cfg ign ign2 fp sfp crb cat yar yara pwdb imp'
  ).split(' '),
);

function isDatabaseFile(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && DATABASE_EXTENSIONS.has(name.slice(dot + 1).toLowerCase());
}

export async function startClamd(options: StartClamdOptions): Promise<RunningClamd> {
  const dir = join(options.home, 'antivirus');
  const paths = clamdPaths(dir);
  const clamdPath = options.clamdPath ?? DEFAULT_CLAMD_PATH;
  if (!existsSync(clamdPath)) {
    throw new ParapetError('ERR_ANTIVIRUS_START_FAILED', `clamd not found at ${clamdPath}`);
  }
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? await lookupUser(options.user ?? 'clamav') : null;
  let databases: string[];
  try {
    for (const d of [dir, paths.databaseDir, paths.tempDir]) {
      await mkdir(d, { recursive: true, mode: 0o750 });
    }
    databases = await prepareDatabaseDir(
      paths.databaseDir,
      options.officialDatabaseDir === undefined
        ? DEFAULT_OFFICIAL_DATABASE_DIR
        : options.officialDatabaseDir,
    );
    const settings: ClamdSettings = {
      dir,
      user: owner === null ? null : owner.name,
      maxStreamBytes: options.maxStreamBytes ?? DEFAULT_CLAMD_SETTINGS.maxStreamBytes,
      maxScanTimeMs: options.maxScanTimeMs ?? DEFAULT_CLAMD_SETTINGS.maxScanTimeMs,
      maxThreads: options.maxThreads ?? DEFAULT_CLAMD_SETTINGS.maxThreads,
      extra: options.extraConfig ?? {},
    };
    await writeFile(paths.config, renderClamdConfig(settings), { mode: 0o644 });
    if (owner !== null) await handOver(options.home, dir, paths, owner);
  } catch (err) {
    throw new ParapetError('ERR_ANTIVIRUS_START_FAILED', `preparing ${dir}: ${String(err)}`, {
      cause: err,
    });
  }

  const log = options.onLog ?? ((line: string) => process.stderr.write(`clamd: ${line}\n`));
  const startedAt = performance.now();
  const child = spawn(clamdPath, ['-c', paths.config], { stdio: ['ignore', 'pipe', 'pipe'] });
  forwardLines(child.stdout, log);
  forwardLines(child.stderr, log);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (err) => {
      log(`spawn failed: ${err.message}`);
      resolve('spawn-error');
    });
  });
  // clamd must not outlive its service: a leftover daemon holds the socket and the next start
  // fails. 'exit' covers normal exits and crashes (not SIGKILL, which pm2 only uses last).
  const killOnExit = (): void => {
    child.kill('SIGTERM');
  };
  process.once('exit', killOnExit);
  const state: { exitedWith: number | string | null } = { exitedWith: null };
  void exited.then((how) => {
    state.exitedWith = how;
    process.removeListener('exit', killOnExit);
  });
  const stop = async (graceMs = 10_000): Promise<void> => {
    if (state.exitedWith !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  const deadline = startedAt + (options.startTimeoutMs ?? 180_000);
  for (;;) {
    if (state.exitedWith !== null) {
      throw new ParapetError(
        'ERR_ANTIVIRUS_START_FAILED',
        `clamd exited during start (${String(state.exitedWith)}); see its log lines`,
      );
    }
    if (await pingClamd(paths.socket)) break;
    if (performance.now() > deadline) {
      await stop(2_000);
      throw new ParapetError(
        'ERR_ANTIVIRUS_START_FAILED',
        `clamd did not answer PING on ${paths.socket} within ${String(options.startTimeoutMs ?? 180_000)} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = child.pid;
  if (pid === undefined) throw new ParapetError('ERR_ANTIVIRUS_START_FAILED', 'clamd has no pid');
  return {
    socketPath: paths.socket,
    pid,
    configPath: paths.config,
    databases,
    startMs: Math.round(performance.now() - startedAt),
    exited,
    stop,
  };
}

/**
 * Writes Parapet's signatures and links every official database file in (clamd reads one
 * DatabaseDirectory). Links, not copies: main.cvd is ~160 MB, and freshclam replaces files by
 * rename, which a link by path follows. Stale links from an earlier start are removed first.
 */
async function prepareDatabaseDir(dbDir: string, officialDir: string | null): Promise<string[]> {
  for (const name of await readdir(dbDir)) {
    const full = join(dbDir, name);
    if ((await lstat(full)).isSymbolicLink()) await unlink(full);
  }
  const names: string[] = [];
  for (const [name, content] of shippedSignatureFiles()) {
    await writeFile(join(dbDir, name), content, { mode: 0o644 });
    names.push(name);
  }
  if (officialDir !== null && existsSync(officialDir)) {
    for (const name of await readdir(officialDir)) {
      if (!isDatabaseFile(name) || names.includes(name)) continue;
      const source = join(officialDir, name);
      if (!(await stat(source)).isFile()) continue;
      await symlink(source, join(dbDir, name));
      names.push(name);
    }
  }
  return names;
}

interface SystemUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

async function lookupUser(name: string): Promise<SystemUser> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) {
      return { name, uid: Number(uid), gid: Number(gid) };
    }
  }
  throw new ParapetError(
    'ERR_ANTIVIRUS_START_FAILED',
    `started as root but there is no user '${name}' for clamd to run as (install clamav-daemon, or set the antivirus user)`,
  );
}

/** Gives the antivirus directory to clamd's user and lets it reach it through `$PARAPET_HOME`. */
async function handOver(
  home: string,
  dir: string,
  paths: ReturnType<typeof clamdPaths>,
  owner: SystemUser,
): Promise<void> {
  for (const p of [dir, paths.databaseDir, paths.tempDir]) await chown(p, owner.uid, owner.gid);
  for (const name of shippedSignatureFiles().keys()) {
    await chown(join(paths.databaseDir, name), owner.uid, owner.gid);
  }
  // $PARAPET_HOME is 0750 for its owner: clamd's user needs search (x) permission only.
  const homeStat = await stat(home);
  if (homeStat.uid !== owner.uid && (homeStat.mode & 0o001) === 0) {
    await chmod(home, (homeStat.mode & 0o7777) | 0o001);
  }
}

/** One zPING on the unix socket: true on PONG, false on anything else (not up yet). */
export function pingClamd(socketPath: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    let reply = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => {
      done(false);
    }, timeoutMs);
    socket.on('connect', () => socket.write('zPING\0'));
    socket.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
      if (reply.includes('\0')) done(reply.startsWith('PONG'));
    });
    socket.on('error', () => {
      done(false);
    });
    socket.on('close', () => {
      done(reply.startsWith('PONG'));
    });
  });
}

function forwardLines(stream: NodeJS.ReadableStream, log: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (data: string) => {
    const parts = (rest + data).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) if (line.trim() !== '') log(line);
  });
  stream.on('end', () => {
    if (rest.trim() !== '') log(rest);
  });
}

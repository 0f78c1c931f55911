/**
 * The node's own PostgreSQL, used when no `database.url` is configured: a cluster in
 * `$PARAPET_HOME/db` run from the system's binaries (Debian's postgresql package), listening on
 * 127.0.0.1:<port> and on a unix socket in the data directory, with SCRAM password
 * authentication only. The generated password lives in `$PARAPET_HOME/config/db-password`
 * (mode 0600).
 *
 * Never as root: PostgreSQL refuses it, and a database server has no business with root's
 * powers. When the node runs as root, initdb and postgres run as a dedicated system user
 * (`parapet`, created with `useradd --system` when missing; else `postgres`) that owns the
 * data directory.
 *
 * The postmaster runs detached (its own session) so it outlives the process that started it;
 * `status()` and `stop()` find it again through `postmaster.pid`. Every operation is
 * idempotent: start on a running cluster returns its status, stop on a stopped one returns, and a
 * postmaster.pid left behind by a crash (its PID dead or now another program) is removed before
 * starting.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import pg from 'pg';
import { ParapetError } from '../../filter/index.js';
import { findPgBinaries, type PgBinaries } from './pg-binaries.js';

/** Name of the database and of the bootstrap role inside the embedded cluster. */
export const EMBEDDED_DB_NAME = 'parapet';
export const EMBEDDED_DB_ROLE = 'parapet';

export interface EmbeddedPostgresOptions {
  /** `$PARAPET_HOME`; the cluster lives in `<home>/db`. */
  readonly home: string;
  /** TCP port on 127.0.0.1 (the central node's contract is 5432; tests use free ports). */
  readonly port: number;
  readonly binDir?: string | null;
  /** See {@link DatabaseConfig.systemUser}. */
  readonly systemUser?: string | null;
  /** How long start waits for "ready" (default 60000; crash recovery can take a while). */
  readonly startTimeoutMs?: number;
  /** How long stop waits for a fast shutdown before escalating (default 60000). */
  readonly stopTimeoutMs?: number;
}

export interface EmbeddedPostgresStatus {
  readonly dataDir: string;
  readonly initialized: boolean;
  readonly running: boolean;
  /** PID of the postmaster while running. */
  readonly pid: number | null;
  /** Port the running postmaster listens on. */
  readonly port: number | null;
}

/** What a client needs to connect to the embedded cluster. */
export interface EmbeddedConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

/** The system user the server runs as; null = the current (non-root) user. */
interface RunAs {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

export class EmbeddedPostgres {
  readonly home: string;
  readonly dataDir: string;
  readonly passwordFile: string;
  readonly logFile: string;
  readonly port: number;
  readonly #binDir: string | null;
  readonly #systemUser: string | null;
  readonly #startTimeoutMs: number;
  readonly #stopTimeoutMs: number;

  constructor(options: EmbeddedPostgresOptions) {
    this.home = resolve(options.home);
    this.dataDir = join(this.home, 'db');
    this.passwordFile = join(this.home, 'config', 'db-password');
    this.logFile = join(this.home, 'log', 'postgresql.log');
    this.port = options.port;
    this.#binDir = options.binDir ?? null;
    this.#systemUser = options.systemUser ?? null;
    this.#startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 60_000;
  }

  /** Reads postmaster.pid; running means its PID is alive and is a postgres process. */
  async status(): Promise<EmbeddedPostgresStatus> {
    const initialized = await exists(join(this.dataDir, 'PG_VERSION'));
    const pidFile = readPidFile(this.dataDir);
    const running = pidFile !== null && isPostgresPid(pidFile.pid);
    return {
      dataDir: this.dataDir,
      initialized,
      running,
      pid: running ? pidFile.pid : null,
      port: running ? pidFile.port : null,
    };
  }

  /**
   * Initialises the cluster on first use, then starts it and waits until it accepts
   * connections, and creates the `parapet` database if missing. Returns at once when it is
   * already running. Throws ERR_DB_START_FAILED (with the server log's tail) or
   * ERR_DB_BINARIES_NOT_FOUND.
   */
  async start(): Promise<EmbeddedPostgresStatus> {
    const current = await this.status();
    if (current.running) {
      await this.#ensureDatabase(current.port ?? this.port);
      return current;
    }
    const runAs = await resolveRunAs(this.#systemUser);
    const binaries = await this.#ensureInitialized(runAs);
    await this.#removeStalePidFile();
    await this.#writeServerConfig(runAs);
    await mkdir(dirname(this.logFile), { recursive: true, mode: 0o750 });
    const logFd = openSync(this.logFile, 'a', 0o640);
    // Set by the child's exit listener while the loop below polls.
    const state: { exited: { code: number | null; signal: NodeJS.Signals | null } | null } = {
      exited: null,
    };
    let child;
    try {
      child = spawn(binaries.postgres, ['-D', this.dataDir], {
        cwd: this.dataDir,
        detached: true,
        stdio: ['ignore', logFd, logFd],
        env: serverEnv(),
        ...(runAs === null ? {} : { uid: runAs.uid, gid: runAs.gid }),
      });
    } finally {
      closeSync(logFd);
    }
    child.once('exit', (code, signal) => {
      state.exited = { code, signal };
    });
    child.once('error', () => {
      state.exited = { code: -1, signal: null };
    });
    child.unref();
    const deadline = Date.now() + this.#startTimeoutMs;
    for (;;) {
      const pidFile = readPidFile(this.dataDir);
      if (pidFile?.status === 'ready' && isPostgresPid(pidFile.pid)) break;
      if (state.exited !== null) {
        // Another process may have started the same cluster first: its postmaster holds the lock.
        const again = await this.status();
        if (again.running && readPidFile(this.dataDir)?.status === 'ready') break;
        throw await this.#startError(
          `postgres exited (${JSON.stringify(state.exited)}) while starting`,
        );
      }
      if (Date.now() > deadline) {
        if (child.pid !== undefined) signalPid(child.pid, 'SIGQUIT');
        throw await this.#startError(`postgres was not ready within ${this.#startTimeoutMs} ms`);
      }
      await sleep(50);
    }
    const started = await this.status();
    await this.#ensureDatabase(started.port ?? this.port);
    return started;
  }

  /**
   * Fast shutdown (SIGINT: running transactions are rolled back) by PID, escalating to
   * immediate shutdown (SIGQUIT) and then SIGKILL when it does not finish in time. A no-op when
   * the cluster is not running; a stale postmaster.pid is removed.
   */
  async stop(): Promise<void> {
    const current = await this.status();
    if (!current.running || current.pid === null) {
      await this.#removeStalePidFile();
      return;
    }
    const pid = current.pid;
    signalPid(pid, 'SIGINT');
    if (await waitForPidGone(pid, this.#stopTimeoutMs)) return;
    signalPid(pid, 'SIGQUIT');
    if (await waitForPidGone(pid, 10_000)) return;
    signalPid(pid, 'SIGKILL');
    if (!(await waitForPidGone(pid, 10_000))) {
      throw new ParapetError('ERR_DB_START_FAILED', `postgres ${pid} did not stop`);
    }
  }

  /** The server log's last `lines` lines (diagnostics). */
  async serverLogTail(lines = 20): Promise<string> {
    const text = await readFile(this.logFile, 'utf8').catch(() => '');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Host, port, role, password and database for `pg` (reads the password file). */
  async connection(): Promise<EmbeddedConnection> {
    // A server started earlier with another port keeps it until restarted: use the live one.
    const running = await this.status();
    return {
      host: '127.0.0.1',
      port: running.port ?? this.port,
      user: EMBEDDED_DB_ROLE,
      password: await this.#readPassword(),
      database: EMBEDDED_DB_NAME,
    };
  }

  async #readPassword(): Promise<string> {
    try {
      return (await readFile(this.passwordFile, 'utf8')).trim();
    } catch (err) {
      throw new ParapetError(
        'ERR_DB_START_FAILED',
        `cannot read the database password ${this.passwordFile}`,
        { cause: err },
      );
    }
  }

  /** The password, generated (0600, 'wx' so a concurrent first start keeps the first). */
  async #ensurePassword(): Promise<string> {
    await mkdir(dirname(this.passwordFile), { recursive: true, mode: 0o750 });
    if (!(await exists(this.passwordFile))) {
      const password = randomBytes(32).toString('base64url');
      await writeFile(this.passwordFile, `${password}\n`, { mode: 0o600, flag: 'wx' }).catch(
        () => undefined,
      );
    }
    return this.#readPassword();
  }

  /**
   * Runs initdb into `<home>/db.initdb` and renames it to `<home>/db` only when complete, so a
   * crash during initdb never leaves a half-made cluster where the server would look for one.
   */
  async #ensureInitialized(runAs: RunAs | null): Promise<PgBinaries> {
    await mkdir(this.home, { recursive: true, mode: 0o750 });
    if (runAs !== null) await ensureTraversable(this.home, this.dataDir, runAs);
    if (await exists(join(this.dataDir, 'PG_VERSION'))) {
      if (runAs !== null) await chownTreeIfNeeded(this.dataDir, runAs);
      return findPgBinaries({ binDir: this.#binDir, dataDir: this.dataDir });
    }
    if (await exists(this.dataDir)) {
      if ((await readdir(this.dataDir)).length > 0) {
        throw new ParapetError(
          'ERR_DB_START_FAILED',
          `${this.dataDir} exists but is not a PostgreSQL data directory; move it away`,
        );
      }
      await rm(this.dataDir, { recursive: true });
    }
    const binaries = findPgBinaries({ binDir: this.#binDir });
    const password = await this.#ensurePassword();
    const staging = `${this.dataDir}.initdb`;
    const pwfile = `${this.dataDir}.pwfile`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { mode: 0o700 });
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    try {
      if (runAs !== null) {
        await chown(staging, runAs.uid, runAs.gid);
        await chown(pwfile, runAs.uid, runAs.gid);
      }
      const base = [
        '-D',
        staging,
        '-U',
        EMBEDDED_DB_ROLE,
        `--pwfile=${pwfile}`,
        '--auth-local=scram-sha-256',
        '--auth-host=scram-sha-256',
        '--encoding=UTF8',
      ];
      // C.UTF-8 sorts by code point (fast, stable across glibc updates) and still classifies
      // non-ASCII letters for pg_trgm; plain C is the fallback where it is missing.
      let result = await runProgram(binaries.initdb, [...base, '--locale=C.UTF-8'], runAs);
      if (result.code !== 0 && /locale/i.test(result.output)) {
        await rm(staging, { recursive: true, force: true });
        await mkdir(staging, { mode: 0o700 });
        if (runAs !== null) await chown(staging, runAs.uid, runAs.gid);
        result = await runProgram(binaries.initdb, [...base, '--locale=C'], runAs);
      }
      if (result.code !== 0) {
        throw new ParapetError('ERR_DB_START_FAILED', `initdb failed: ${tail(result.output)}`);
      }
      await writeFile(join(staging, 'pg_hba.conf'), PG_HBA, { mode: 0o600 });
      const conf = join(staging, 'postgresql.conf');
      await writeFile(conf, `${await readFile(conf, 'utf8')}\n${INCLUDE_LINE}\n`);
      if (runAs !== null) await chown(join(staging, 'pg_hba.conf'), runAs.uid, runAs.gid);
      await rename(staging, this.dataDir);
    } finally {
      await rm(pwfile, { force: true });
    }
    return binaries;
  }

  /** Rewritten at every start so a changed port or home takes effect. */
  async #writeServerConfig(runAs: RunAs | null): Promise<void> {
    const socketPath = join(this.dataDir, `.s.PGSQL.${this.port}`);
    // sun_path holds 107 bytes; with a longer home the server listens on TCP only.
    const socketDir = Buffer.byteLength(socketPath) < 100 ? this.dataDir : '';
    const lines = [
      '# Written by Parapet at every start; edit node.json (database) instead.',
      "listen_addresses = '127.0.0.1'",
      `port = ${this.port}`,
      `unix_socket_directories = '${socketDir.replaceAll("'", "''")}'`,
      'unix_socket_permissions = 0700',
      "password_encryption = 'scram-sha-256'",
      "log_line_prefix = '%m [%p] %q%u@%d '",
      '',
    ];
    const file = join(this.dataDir, 'parapet.conf');
    await writeFile(file, lines.join('\n'), { mode: 0o600 });
    if (runAs !== null) await chown(file, runAs.uid, runAs.gid);
  }

  async #removeStalePidFile(): Promise<void> {
    const pidFile = readPidFile(this.dataDir);
    if (pidFile === null || isPostgresPid(pidFile.pid)) return;
    await unlink(join(this.dataDir, 'postmaster.pid')).catch(() => undefined);
  }

  /** Creates the `parapet` database on first start (initdb only makes `postgres`). */
  async #ensureDatabase(port: number): Promise<void> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: EMBEDDED_DB_ROLE,
      password: await this.#readPassword(),
      database: 'postgres',
      connectionTimeoutMillis: 10_000,
    });
    try {
      await client.connect();
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
        EMBEDDED_DB_NAME,
      ]);
      if (found.rowCount === 0) {
        await client.query(`CREATE DATABASE ${EMBEDDED_DB_NAME}`).catch((err: unknown) => {
          // 42P04: a concurrent start created it first.
          if ((err as { code?: unknown }).code !== '42P04') throw err;
        });
      }
    } catch (err) {
      throw new ParapetError(
        'ERR_DB_START_FAILED',
        `cannot create database ${EMBEDDED_DB_NAME}: ${String(err)}`,
        {
          cause: err,
        },
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async #startError(what: string): Promise<ParapetError> {
    let log = '';
    try {
      log = await readFile(this.logFile, 'utf8');
    } catch {
      // No log yet.
    }
    return new ParapetError(
      'ERR_DB_START_FAILED',
      `${what}; ${this.logFile} ends with: ${tail(log)}`,
    );
  }
}

const PG_HBA = `# Written by Parapet: SCRAM passwords only, on the unix socket and loopback.
local   all   all                 scram-sha-256
host    all   all   127.0.0.1/32  scram-sha-256
host    all   all   ::1/128       scram-sha-256
`;
const INCLUDE_LINE = "include_if_exists = 'parapet.conf'";

interface PidFile {
  readonly pid: number;
  readonly port: number | null;
  /** Line 8 of postmaster.pid: starting, stopping, ready or standby. */
  readonly status: string;
}

/** Parses `<dataDir>/postmaster.pid` (PostgreSQL's lock file; see pidfile.h). */
function readPidFile(dataDir: string): PidFile | null {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const port = Number(lines[3]);
  return {
    pid,
    port: Number.isInteger(port) && port > 0 ? port : null,
    status: (lines[7] ?? '').trim(),
  };
}

/** True while the PID lives (not a zombie) and runs the postgres program. */
function isPostgresPid(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    return comm === 'postgres' || comm === 'postmaster';
  } catch {
    return false;
  }
}

function isPidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function waitForPidGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isPidAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

function tail(text: string, lines = 8): string {
  return text.trim().split('\n').slice(-lines).join(' | ');
}

/** The environment without PG* variables, which would redirect initdb or postgres. */
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PG')) env[key] = value;
  }
  env['LC_MESSAGES'] = 'C';
  return env;
}

async function runProgram(
  file: string,
  args: readonly string[],
  runAs: RunAs | null,
  timeoutMs = 120_000,
): Promise<{ code: number; output: string }> {
  return new Promise((resolvePromise) => {
    execFile(
      file,
      args,
      {
        cwd: '/',
        env: serverEnv(),
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 4 * 1024 * 1024,
        encoding: 'utf8',
        ...(runAs === null ? {} : { uid: runAs.uid, gid: runAs.gid }),
      },
      (error, stdout, stderr) => {
        const output = `${stderr}\n${stdout}`;
        if (error === null) {
          resolvePromise({ code: 0, output });
          return;
        }
        resolvePromise({
          code: typeof error.code === 'number' ? error.code : -1,
          output: `${output}\n${error.message}`,
        });
      },
    );
  });
}

async function lookupUser(name: string): Promise<RunAs | null> {
  const result = await runProgram('getent', ['passwd', name], null, 10_000);
  if (result.code !== 0) return null;
  const fields = result.output.trim().split('\n').pop()?.split(':') ?? [];
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  return Number.isInteger(uid) && Number.isInteger(gid) ? { name, uid, gid } : null;
}

/**
 * Who runs the server: nobody else when the node is not root; as root, the configured system
 * user or `parapet` (created when missing), else `postgres`. Never root itself.
 */
async function resolveRunAs(systemUser: string | null): Promise<RunAs | null> {
  if (process.getuid === undefined || process.getuid() !== 0) return null;
  const name = systemUser ?? 'parapet';
  let user = await lookupUser(name);
  if (user === null) {
    // A concurrent start may create it first; the second lookup finds it either way.
    await runProgram(
      'useradd',
      [
        '--system',
        '--user-group',
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        name,
      ],
      null,
      30_000,
    );
    user = await lookupUser(name);
  }
  if (user === null && systemUser === null) user = await lookupUser('postgres');
  if (user === null) {
    throw new ParapetError(
      'ERR_DB_START_FAILED',
      `no system user ${name} to run PostgreSQL as (useradd failed), and no postgres user`,
    );
  }
  if (user.uid === 0) {
    throw new ParapetError(
      'ERR_DB_START_FAILED',
      `user ${name} is root; PostgreSQL never runs as root`,
    );
  }
  return user;
}

/**
 * The server user must be able to walk down to its data directory. Directories from the home
 * down get the "others may search" bit when they lack it (search only: nothing becomes
 * listable or readable); a directory above the home that blocks the way is an error.
 */
async function ensureTraversable(home: string, dataDir: string, user: RunAs): Promise<void> {
  const chain: string[] = [];
  for (let dir = dirname(dataDir); ; dir = dirname(dir)) {
    chain.push(dir);
    if (dir === dirname(dir)) break;
  }
  for (const dir of chain) {
    const s = await stat(dir);
    const canSearch =
      (s.uid === user.uid && (s.mode & 0o100) !== 0) ||
      (s.gid === user.gid && (s.mode & 0o010) !== 0) ||
      (s.mode & 0o001) !== 0;
    if (canSearch) continue;
    if (dir === home || dir.startsWith(home + sep)) {
      await chmod(dir, (s.mode & 0o7777) | 0o001);
      continue;
    }
    throw new ParapetError(
      'ERR_DB_START_FAILED',
      `user ${user.name} cannot reach ${dataDir}: ${dir} is not searchable by it`,
    );
  }
}

/** Gives the data directory back to the server user when it is owned by someone else. */
async function chownTreeIfNeeded(dir: string, user: RunAs): Promise<void> {
  const s = await stat(dir);
  if (s.uid === user.uid) return;
  const walk = async (path: string): Promise<void> => {
    await chown(path, user.uid, user.gid);
    const info = await lstat(path);
    if (!info.isDirectory()) return;
    for (const name of await readdir(path)) await walk(join(path, name));
  };
  await walk(dir);
}

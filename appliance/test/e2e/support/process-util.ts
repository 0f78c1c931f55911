/**
 * Process helpers for the end-to-end harness: running a command without a shell, and looking
 * at PIDs through /proc. Only PIDs this harness started (or whose parent it started) are ever
 * signalled; nothing here matches processes by name.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';

/** What a finished command left behind. `code` is -1 when it could not be started. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `file args` (no shell) and resolves with its exit code and output; never rejects for a
 * non-zero exit. Killed with SIGKILL after `timeoutMs` (default 60 s), which gives code -1.
 */
export async function runCommand(
  file: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  return new Promise<CommandResult>((resolve) => {
    execFile(
      file,
      args,
      {
        timeout: options.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        env: options.env ?? process.env,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ code: 0, stdout, stderr });
          return;
        }
        const code = typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr: stderr.length > 0 ? stderr : error.message });
      },
    );
  });
}

/** Like {@link runCommand}, but rejects with the command's output when it exits non-zero. */
export async function runCommandOrThrow(
  file: string,
  args: readonly string[],
  options: { timeoutMs?: number } = {},
): Promise<string> {
  const result = await runCommand(file, args, options);
  if (result.code !== 0) {
    const output = `${result.stderr}\n${result.stdout}`.trim();
    throw new Error(`${file} ${args.join(' ')} exited ${result.code}: ${output}`);
  }
  return result.stdout;
}

/** Parent PID and state letter from /proc/PID/stat, or undefined if the PID is gone. */
function readStat(pid: number): { ppid: number; state: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may contain spaces; fields follow the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0] ?? '?';
  const ppid = Number(rest[1] ?? '0');
  return { ppid, state };
}

/**
 * True while the PID exists and is not a zombie. In this container PID 1 does not reap
 * orphans, so a dead daemon can linger as a zombie (state Z); it is dead for our purposes.
 */
export function isPidAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** PIDs of the live (non-zombie) children of `pid`, read from /proc. */
export async function childPidsOf(pid: number): Promise<number[]> {
  const names = await readdir('/proc');
  const children: number[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const child = Number(name);
    const stat = readStat(child);
    if (stat?.ppid === pid && stat.state !== 'Z') children.push(child);
  }
  return children;
}

/** The command line of a PID (NUL separators turned into spaces), or '' if it is gone. */
export async function commandLineOf(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/** Waits until none of `pids` is alive; resolves false if some still are after `timeoutMs`. */
export async function waitForPidsGone(
  pids: readonly number[],
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (pids.every((pid) => !isPidAlive(pid))) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends `signal` to `pid`, ignoring a PID that is already gone. */
export function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

const endHooks: (() => void)[] = [];
let endHooksInstalled = false;

function runEndHooks(): void {
  for (const hook of endHooks.splice(0)) {
    try {
      hook();
    } catch {
      // Best effort: the process is ending.
    }
  }
}

/**
 * Registers a synchronous cleanup (signal our own PIDs, no I/O waits) that runs when the test
 * process ends: on 'exit', and on SIGINT/SIGTERM/SIGHUP, after which the signal is raised again
 * so the process still dies of it. A test that fails before its `after` hook, or a runner that
 * kills the test on a timeout, thus leaves no Postfix or smtp-sink behind.
 */
export function onProcessEnd(hook: () => void): void {
  endHooks.push(hook);
  if (endHooksInstalled) return;
  endHooksInstalled = true;
  process.once('exit', runEndHooks);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      runEndHooks();
      process.kill(process.pid, signal);
    });
  }
}

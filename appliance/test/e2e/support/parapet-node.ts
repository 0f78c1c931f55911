/**
 * Runs Parapet itself for end-to-end tests: the `parapet` CLI as a subprocess, and the policy
 * service as a child process with its own `$PARAPET_HOME` and ports, which a test can stop
 * gracefully, SIGKILL and start again. Uses the built tree (`npm run build`; the test command
 * typechecks with `tsc -b` first, which builds it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand, type CommandResult } from './process-util.js';
import { isPortAccepting } from './free-port.js';

/** The checkout root: the nearest folder above this file with package.json (works from dist/). */
function findRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'tsconfig.base.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('checkout root not found');
    dir = up;
  }
  return dir;
}

const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
export const PARAPET_BIN = join(ROOT, 'bin', 'parapet.js');

/** Why Parapet cannot be run from the built tree, or undefined when it can. */
export function parapetUnavailableReason(): string | undefined {
  return existsSync(join(ROOT, 'dist', 'bin', 'main.js'))
    ? undefined
    : 'the tree is not built (run `npm run build`)';
}

/** Runs `parapet ARGS…` and returns its exit code and output. */
export function runParapet(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<CommandResult> {
  return runCommand(process.execPath, [PARAPET_BIN, ...args], { env, timeoutMs: 60_000 });
}

export interface PolicyNodeOptions {
  /** Content-filter listener port on 127.0.0.1, or null for none. */
  readonly smtpFilterPort: number | null;
  /** Re-injection port on 127.0.0.1. */
  readonly reinjectPort: number;
  /** Milter TCP port on 127.0.0.1, or null. */
  readonly milterPort?: number | null;
  /** Milter unix socket path, or null. */
  readonly milterSocketPath?: string | null;
  /**
   * The re-injection witness's socket (content filter): `parapet serve witness` runs next to
   * the policy service, in its own process that kill() leaves alone; null/absent = none.
   */
  readonly witnessSocketPath?: string | null;
  /**
   * Extra settings merged into node.json's "policy" object. Default policyEngine is
   * 'accept-all' (the data plane's own tests); pass { policyEngine: 'sieve' } for the policy.
   */
  readonly policy?: Readonly<Record<string, unknown>>;
  /** node.json's "scan" object; default { enabled: false } (no scanners). */
  readonly scan?: Readonly<Record<string, unknown>>;
}

/** A policy service child process with its own home. */
export interface PolicyNode {
  readonly home: string;
  pid(): number | undefined;
  /** Starts the service and waits until its listeners accept. */
  start(): Promise<void>;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for the process to be gone. */
  kill(): Promise<void>;
  /** The message-log records written so far. */
  messageLog(): Promise<Record<string, unknown>[]>;
  /** stderr + stdout of the current process so far. */
  output(): string;
  /** Stops (if running) and removes the home. */
  dispose(): Promise<void>;
}

export async function createPolicyNode(options: PolicyNodeOptions): Promise<PolicyNode> {
  const home = await mkdtemp(join(tmpdir(), 'parapet-node-'));
  await mkdir(join(home, 'config'), { recursive: true });
  const policy = {
    milterTcp: options.milterPort == null ? null : { host: '127.0.0.1', port: options.milterPort },
    milterSocketPath: options.milterSocketPath ?? null,
    // Postfix's smtpd runs as user postfix; the test's socket is ours (root).
    milterSocketMode: 0o666,
    smtpFilter:
      options.smtpFilterPort === null ? null : { host: '127.0.0.1', port: options.smtpFilterPort },
    reinject: { host: '127.0.0.1', port: options.reinjectPort },
    witnessSocketPath: options.witnessSocketPath ?? null,
    policyEngine: 'accept-all',
    ...options.policy,
  };
  const scan = options.scan ?? { enabled: false };
  await writeFile(join(home, 'config', 'node.json'), JSON.stringify({ policy, scan }, null, 2));
  let child: ChildProcess | null = null;
  let exited: Promise<number | null> = Promise.resolve(null);
  let out = '';

  const waitReady = async (): Promise<void> => {
    const deadline = Date.now() + 20_000;
    const ports = [options.smtpFilterPort, options.milterPort ?? null].filter(
      (p): p is number => p !== null,
    );
    for (;;) {
      if (child?.exitCode !== null && child?.exitCode !== undefined) {
        throw new Error(`policy service exited with ${String(child.exitCode)}: ${out}`);
      }
      const tcpReady = (await Promise.all(ports.map((p) => isPortAccepting(p, 500)))).every(
        Boolean,
      );
      const socketReady = options.milterSocketPath == null || existsSync(options.milterSocketPath);
      if (tcpReady && socketReady) return;
      if (Date.now() > deadline) throw new Error(`policy service not ready: ${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  // The witness: started with the first start(), stopped by stop()/dispose(), never killed.
  let witness: ChildProcess | null = null;
  const startWitness = async (): Promise<void> => {
    const socketPath = options.witnessSocketPath ?? null;
    if (socketPath === null || (witness !== null && witness.exitCode === null)) return;
    const proc = spawn(process.execPath, [PARAPET_BIN, 'serve', 'witness'], {
      env: { ...process.env, PARAPET_HOME: home, PARAPET_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    witness = proc;
    proc.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const deadline = Date.now() + 20_000;
    while (!existsSync(socketPath)) {
      if (proc.exitCode !== null) throw new Error(`witness exited with ${String(proc.exitCode)}`);
      if (Date.now() > deadline) throw new Error('witness not ready');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stopWitness = async (): Promise<void> => {
    const proc = witness;
    if (proc === null || proc.exitCode !== null) return;
    const gone = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await gone;
  };

  const node: PolicyNode = {
    home,
    pid: () => child?.pid,
    output: () => out,
    start: async () => {
      out = '';
      await startWitness();
      // PARAPET_E2E_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the service.
      const nodeArgs = (process.env['PARAPET_E2E_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
      // PARAPET_E2E_NODE_BIN wraps the service (e.g. a script running strace).
      const nodeBin = process.env['PARAPET_E2E_NODE_BIN'] ?? process.execPath;
      const proc = spawn(nodeBin, [...nodeArgs, PARAPET_BIN, 'serve', 'policy'], {
        env: { ...process.env, PARAPET_HOME: home, PARAPET_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = proc;
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      proc.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      exited = new Promise((resolve) => {
        proc.once('exit', (code) => {
          resolve(code);
        });
      });
      await waitReady();
    },
    stop: async () => {
      if (child !== null && child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      await stopWitness();
      return code;
    },
    kill: async () => {
      if (child === null || child.exitCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    messageLog: async () => {
      const path = join(home, 'log', 'message-log.jsonl');
      if (!existsSync(path)) return [];
      return (await readFile(path, 'utf8'))
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    dispose: async () => {
      await node.kill();
      await stopWitness();
      // PARAPET_E2E_KEEP=1 keeps homes (message log, ledger) for a post-mortem.
      if (process.env['PARAPET_E2E_KEEP'] === '1') return;
      await rm(home, { recursive: true, force: true });
    },
  };
  return node;
}

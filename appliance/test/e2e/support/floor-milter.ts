/**
 * The do-nothing C milter of appliance/bench/floor-milter.c, for bench:mta's floor modes:
 * compiled on first use with gcc against Debian's libmilter-dev (into a temp folder keyed by
 * the source's hash) and started on a unix socket or a loopback TCP port. Optional: the
 * benchmark leaves the floor modes out when `floorMilterUnavailableReason()` says why.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPortAccepting } from './free-port.js';
import { onProcessEnd, runCommandOrThrow, signalPid, waitForPidsGone } from './process-util.js';

const SOURCE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../bench/floor-milter.c');
const LIBMILTER_HEADER = '/usr/include/libmilter/mfapi.h';

export function floorMilterUnavailableReason(): string | undefined {
  if (!existsSync('/usr/bin/gcc')) return 'gcc is not installed (apt-get install -y gcc)';
  if (!existsSync(LIBMILTER_HEADER)) {
    return 'libmilter-dev is not installed (apt-get install -y libmilter-dev)';
  }
  return undefined;
}

/** Compiles the floor milter unless a binary of the same source exists; returns its path. */
async function buildFloorMilter(): Promise<string> {
  const source = await readFile(SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'parapet-floor-milter');
  const binary = join(dir, `floor-milter-${hash}`);
  if (existsSync(binary)) return binary;
  await mkdir(dir, { recursive: true });
  const partial = `${binary}.${String(process.pid)}.tmp`;
  await runCommandOrThrow('gcc', ['-O2', '-o', partial, SOURCE, '-lmilter', '-lpthread']);
  await rename(partial, binary);
  return binary;
}

export interface FloorMilter {
  readonly pid: number;
  stop(): Promise<void>;
}

export type FloorMilterAddress =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly port: number };

/** Starts the floor milter and resolves once it listens. */
export async function startFloorMilter(address: FloorMilterAddress): Promise<FloorMilter> {
  const binary = await buildFloorMilter();
  const spec =
    address.kind === 'unix' ? `unix:${address.path}` : `inet:${String(address.port)}@127.0.0.1`;
  const child: ChildProcess = spawn(binary, [spec, address.kind], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('floor milter did not start');
  onProcessEnd(() => {
    signalPid(pid, 'SIGKILL');
  });
  const exited = new Promise<void>((done) => {
    child.once('exit', () => {
      done();
    });
  });
  const deadline = Date.now() + 10_000;
  const listening = (): Promise<boolean> =>
    address.kind === 'unix'
      ? Promise.resolve(existsSync(address.path))
      : isPortAccepting(address.port);
  while (!(await listening())) {
    if (child.exitCode !== null || Date.now() > deadline) {
      signalPid(pid, 'SIGKILL');
      throw new Error(`floor milter did not listen on ${spec}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  // Postfix's smtpd runs as user postfix; libmilter creates the socket with our umask.
  if (address.kind === 'unix') await chmod(address.path, 0o666);
  return {
    pid,
    stop: async () => {
      signalPid(pid, 'SIGTERM');
      if (!(await waitForPidsGone([pid], 5_000))) signalPid(pid, 'SIGKILL');
      await exited;
    },
  };
}

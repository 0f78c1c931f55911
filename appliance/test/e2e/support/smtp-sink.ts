/**
 * An SMTP sink for end-to-end tests: Postfix's own `smtp-sink` (package postfix), started as
 * a child of the test process on 127.0.0.1, writing each received message to its own file.
 *
 * Why smtp-sink and not a Node server: it is the reference sink the Postfix authors use for
 * their own measurements, it is fast (one event loop in C, no fsync) and it is independent of
 * our SMTP code, so a bug in filter/smtp cannot hide itself in the harness.
 *
 * Its dump files (`-d DIR/m.`): one file per mail transaction, named `m.<random hex>`, written
 * while DATA arrives and complete once the sink has answered 250. The content is
 * - five envelope lines `X-Client-Addr`, `X-Client-Proto`, `X-Helo-Args`, `X-Mail-Args`,
 *   `X-Rcpt-Args` (one per RCPT),
 * - a `Received: ... by smtp-sink (smtp-sink) ...` header of its own,
 * - then the message as received, dot-unstuffed, with LF line ends (CRLF is not kept).
 * `parseSinkDump` in delivery-check.ts splits that apart again.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort, isPortAccepting } from './free-port.js';
import { onProcessEnd } from './process-util.js';

/** Where Debian installs the sink. */
export const SMTP_SINK_PATH = '/usr/sbin/smtp-sink';

/** Options of {@link startSmtpSink}. */
export interface SmtpSinkOptions {
  /** Port on 127.0.0.1; default a free high port (retried on a bind race). */
  readonly port?: number;
  /** Directory for the dump files; default a new temp dir (mode 0777 so `nobody` can write). */
  readonly dir?: string;
  /** Unprivileged user smtp-sink switches to (it refuses to run as root without one). */
  readonly user?: string;
  /** listen(2) backlog; default 1024. */
  readonly backlog?: number;
  /** Extra smtp-sink flags placed before the address, e.g. `['-R', '...']` or `['-q', 'data']`. */
  readonly extraArgs?: readonly string[];
}

/** One dump file: its path and raw bytes (see the module comment for the layout). */
export interface SinkFile {
  readonly file: string;
  readonly data: Buffer;
}

/** A running sink. */
export interface SmtpSink {
  readonly port: number;
  readonly dir: string;
  readonly pid: number;
  /** Dump file paths, sorted by name. */
  files(): Promise<string[]>;
  /** Every dump file with its content. */
  messages(): Promise<SinkFile[]>;
  /** Number of dump files so far. */
  count(): Promise<number>;
  /** Resolves with the count once at least `expected` files exist; rejects after `timeoutMs`. */
  waitForCount(expected: number, timeoutMs: number): Promise<number>;
  /** What smtp-sink wrote to stderr (last 64 KiB), for failure messages. */
  stderr(): string;
  /**
   * Stops the sink (SIGTERM, then SIGKILL after 5 s). Idempotent. With `removeDir`, also
   * deletes the dump directory if this sink created it.
   */
  stop(options?: { removeDir?: boolean }): Promise<void>;
}

const liveSinks = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills sinks still running when the test process exits (a failed test skips its `after`). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  onProcessEnd(() => {
    for (const child of liveSinks) child.kill('SIGKILL');
  });
}

async function spawnSinkOnce(
  port: number,
  dir: string,
  options: SmtpSinkOptions,
): Promise<{ child: ChildProcess; stderr: () => string } | { failed: string }> {
  const args = [
    '-u',
    options.user ?? 'nobody',
    '-d',
    join(dir, 'm.'),
    ...(options.extraArgs ?? []),
    `127.0.0.1:${port}`,
    String(options.backlog ?? 1024),
  ];
  const child = spawn(SMTP_SINK_PATH, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderrText = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderrText = (stderrText + chunk).slice(-65536);
  });
  // Written by the event handlers while the loop below awaits.
  const state: { exited: boolean; spawnError: Error | undefined } = {
    exited: false,
    spawnError: undefined,
  };
  child.once('exit', () => {
    state.exited = true;
  });
  child.once('error', (err) => {
    state.spawnError = err;
    state.exited = true;
  });
  const isExited = (): boolean => state.exited;
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && !isExited()) {
    // Accepting connections while still alive: the port is ours, not a racing process's.
    if ((await isPortAccepting(port, 500)) && !isExited()) {
      return { child, stderr: () => stderrText };
    }
    await new Promise((r) => setTimeout(r, 30));
  }
  child.kill('SIGKILL');
  return {
    failed: state.spawnError?.message ?? (stderrText.trim() || 'smtp-sink did not start'),
  };
}

/** Starts smtp-sink on 127.0.0.1 and waits until it accepts connections. */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  if (!existsSync(SMTP_SINK_PATH)) throw new Error(`${SMTP_SINK_PATH} not found (package postfix)`);
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'parapet-sink-')));
  await chmod(dir, 0o777);
  let lastFailure = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = options.port ?? (await findFreePort());
    const started = await spawnSinkOnce(port, dir, options);
    if ('failed' in started) {
      lastFailure = started.failed;
      if (options.port !== undefined) break;
      continue;
    }
    const { child } = started;
    const pid = child.pid;
    if (pid === undefined) throw new Error('smtp-sink has no pid');
    liveSinks.add(child);
    installExitHook();
    let stopping: Promise<void> | undefined;
    const files = async (): Promise<string[]> =>
      (await readdir(dir))
        .filter((n) => n.startsWith('m.'))
        .sort()
        .map((n) => join(dir, n));
    const sink: SmtpSink = {
      port,
      dir,
      pid,
      files,
      async messages() {
        const paths = await files();
        return Promise.all(paths.map(async (file) => ({ file, data: await readFile(file) })));
      },
      async count() {
        return (await files()).length;
      },
      async waitForCount(expected, timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const n = (await files()).length;
          if (n >= expected) return n;
          if (Date.now() >= deadline) {
            throw new Error(`smtp-sink: ${n} of ${expected} messages after ${timeoutMs} ms`);
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      stderr: started.stderr,
      async stop(stopOptions = {}) {
        stopping ??= (async () => {
          if (child.exitCode === null && child.signalCode === null) {
            const exited = new Promise<void>((resolve) => {
              child.once('exit', () => {
                resolve();
              });
            });
            child.kill('SIGTERM');
            const timer = setTimeout(() => {
              child.kill('SIGKILL');
            }, 5000);
            await exited;
            clearTimeout(timer);
          }
          liveSinks.delete(child);
        })();
        await stopping;
        if (stopOptions.removeDir === true && ownDir)
          await rm(dir, { recursive: true, force: true });
      },
    };
    return sink;
  }
  if (ownDir) await rm(dir, { recursive: true, force: true });
  throw new Error(`smtp-sink did not start: ${lastFailure}`);
}

/**
 * pm2 for one node: each node has its own pm2 daemon under `$PARAPET_HOME/pm2` (so several
 * nodes can live on one machine and `parapet` never touches the caller's ~/.pm2). A thin,
 * typed, promise-based wrapper over pm2's programmatic API.
 */
import { createRequire } from 'node:module';
import type { ProcessDescription, StartOptions } from 'pm2';
import { ParapetError } from '../../filter/index.js';

/** What `parapet service list` shows of one service (CONTRACTS.md: name, pid, status). */
export interface ServiceStatus {
  readonly name: string;
  /** Null when not running. */
  readonly pid: number | null;
  /** pm2's status: online, stopping, stopped, launching, errored, one-launch-status. */
  readonly status: string;
  /** Milliseconds since the current process started, or null. */
  readonly uptimeMs: number | null;
  readonly restarts: number;
  readonly cpuPercent: number;
  readonly memoryBytes: number;
}

type Callback<T> = (err: Error | null, value: T) => void;

/** The part of pm2's API object we use (its bundled types omit the `custom` constructor). */
interface Pm2Api {
  connect(cb: Callback<unknown>): void;
  start(options: StartOptions, cb: Callback<unknown>): void;
  list(cb: Callback<ProcessDescription[]>): void;
  restart(name: string, cb: Callback<unknown>): void;
  stop(name: string, cb: Callback<unknown>): void;
  delete(name: string, cb: Callback<unknown>): void;
  killDaemon(cb: Callback<unknown>): void;
  disconnect(): void;
}

type Pm2Constructor = new (options: { pm2_home: string; daemon_mode: boolean }) => Pm2Api;

function call<T>(what: string, fn: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    fn((err, value) => {
      if (err !== null) {
        reject(
          new ParapetError('ERR_SUPERVISOR', `pm2 ${what} failed: ${errorText(err)}`, {
            cause: err,
          }),
        );
      } else resolve(value);
    });
  });
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (Array.isArray(err)) return err.map(errorText).join('; ');
  return String(err);
}

export class Pm2Client {
  readonly #api: Pm2Api;

  private constructor(api: Pm2Api) {
    this.#api = api;
  }

  /** Connects to (starting if needed) the node's pm2 daemon in `pm2Home`. */
  static async connect(pm2Home: string): Promise<Pm2Client> {
    // pm2 is CommonJS and reads its environment when loaded; load it only when needed.
    const require = createRequire(import.meta.url);
    const pm2 = require('pm2') as { custom: Pm2Constructor };
    const api = new pm2.custom({ pm2_home: pm2Home, daemon_mode: true });
    await call('connect', (cb) => {
      api.connect(cb);
    });
    return new Pm2Client(api);
  }

  async list(): Promise<ServiceStatus[]> {
    const apps = await call<ProcessDescription[]>('list', (cb) => {
      this.#api.list(cb);
    });
    const now = Date.now();
    return apps.map((app) => {
      const env = app.pm2_env;
      const status = env?.status ?? 'unknown';
      const online = status === 'online';
      return {
        name: app.name ?? '?',
        pid: online && app.pid !== undefined && app.pid > 0 ? app.pid : null,
        status,
        uptimeMs: online && env?.pm_uptime !== undefined ? now - env.pm_uptime : null,
        restarts: env?.restart_time ?? 0,
        cpuPercent: app.monit?.cpu ?? 0,
        memoryBytes: app.monit?.memory ?? 0,
      };
    });
  }

  async start(options: StartOptions): Promise<void> {
    await call('start', (cb) => {
      this.#api.start(options, cb);
    });
  }

  async restart(name: string): Promise<void> {
    await call('restart', (cb) => {
      this.#api.restart(name, cb);
    });
  }

  async stop(name: string): Promise<void> {
    await call('stop', (cb) => {
      this.#api.stop(name, cb);
    });
  }

  async delete(name: string): Promise<void> {
    await call('delete', (cb) => {
      this.#api.delete(name, cb);
    });
  }

  /** Stops every service and the daemon itself. */
  async killDaemon(): Promise<void> {
    await call('killDaemon', (cb) => {
      this.#api.killDaemon(cb);
    });
  }

  disconnect(): void {
    this.#api.disconnect();
  }
}

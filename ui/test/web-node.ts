/**
 * Test support: a Manager or rpcui service on a loopback port with its own $PARAPET_HOME,
 * real TLS (the node's own self-signed certificate) and accounts made through the real store.
 * `request()` speaks HTTPS to it like a browser would (cookie jar, CSRF header).
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadNodeConfig, type Db, type NodeConfig } from '../../appliance/index.js';
import { hashPassword } from '../api/auth/passwords.js';
import type { Role } from '../api/auth/roles.js';
import { createWebLogger, startWebService, type RunningWebService } from '../api/web-service.js';

export interface WebNode {
  readonly home: string;
  readonly config: NodeConfig;
  readonly manager: RunningWebService;
  readonly rpcui: RunningWebService;
  addUser(username: string, role: Role, password: string, addresses?: string[]): Promise<void>;
  close(): Promise<void>;
}

export interface WebNodeOptions {
  /** Extra node.json content (merged at the top level). */
  readonly nodeJson?: Record<string, unknown>;
  /** The database the API uses (tests with PostgreSQL pass theirs). */
  readonly database?: () => Promise<Db>;
  /** An existing home (its node.json is kept unless nodeJson is given). */
  readonly home?: string;
  /** Where the services' log lines go (tests that inspect them); default: nowhere. */
  readonly logStream?: { write(line: string): void };
  /** How often each listener checks the certificate files (default: the service's 30 s). */
  readonly certificatePollMs?: number;
}

export async function startWebNode(options: WebNodeOptions = {}): Promise<WebNode> {
  const home = options.home ?? (await mkdtemp(join(tmpdir(), 'parapet-web-')));
  await mkdir(join(home, 'config'), { recursive: true });
  if (options.home === undefined || options.nodeJson !== undefined) {
    await writeFile(
      join(home, 'config', 'node.json'),
      JSON.stringify({
        web: { manager: { host: '127.0.0.1', port: 0 }, rpcui: { host: '127.0.0.1', port: 0 } },
        ...(options.nodeJson ?? {}),
      }),
    );
  }
  const config = await loadNodeConfig({ ...process.env, PARAPET_HOME: home });
  const logger =
    options.logStream === undefined
      ? pino({ level: process.env['PARAPET_TEST_LOG'] ?? 'silent' })
      : createWebLogger('manager', options.logStream);
  const db = {
    ...(options.database === undefined ? {} : { database: options.database }),
    ...(options.certificatePollMs === undefined
      ? {}
      : { certificatePollMs: options.certificatePollMs }),
  };
  const manager = await startWebService('manager', config, { logger, ...db });
  const rpcui = await startWebService('rpcui', config, { logger, ...db });
  return {
    home,
    config,
    manager,
    rpcui,
    addUser: async (username, role, password, addresses) => {
      await manager.context.accounts.add({
        username,
        role,
        passwordHash: await hashPassword(password),
        addresses: addresses ?? (username.includes('@') ? [username] : []),
        totp: null,
        disabled: false,
      });
    },
    close: async () => {
      await manager.close();
      await rpcui.close();
      if (options.home === undefined) await rm(home, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** The parsed JSON body (tests read fields freely). */
  json(): any;
}

/** An HTTPS client with a cookie jar and the CSRF token of its session. */
export class WebClient {
  readonly #base: URL;
  #cookies = new Map<string, string>();
  csrf = '';

  constructor(baseUrl: string) {
    this.#base = new URL(baseUrl);
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const h: Record<string, string> = { accept: 'application/json', ...headers };
    if (payload !== undefined) {
      h['content-type'] = 'application/json';
      h['content-length'] = String(payload.length);
    }
    if (this.#cookies.size > 0) {
      h['cookie'] = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: this.#base.hostname,
          port: this.#base.port,
          path,
          method,
          headers: h,
          rejectUnauthorized: false,
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            for (const c of res.headers['set-cookie'] ?? []) {
              const [pair = ''] = c.split(';');
              const eq = pair.indexOf('=');
              const name = pair.slice(0, eq).trim();
              const value = pair.slice(eq + 1).trim();
              if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(c))
                this.#cookies.delete(name);
              else this.#cookies.set(name, value);
            }
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text,
              json: () => JSON.parse(text) as unknown,
            });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Signs in and keeps the session cookie and CSRF token. */
  async signIn(username: string, password: string): Promise<Reply> {
    const r = await this.request('POST', '/api/v1/session', { username, password });
    if (r.status === 200) this.csrf = String(r.json().csrf);
    return r;
  }

  /** A state change with the CSRF token. */
  send(method: string, path: string, body?: unknown): Promise<Reply> {
    return this.request(method, path, body, { 'x-csrf-token': this.csrf });
  }
}

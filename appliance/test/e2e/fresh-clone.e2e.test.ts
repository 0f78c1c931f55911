/**
 * Issue 5, "Done when": clone the repository into a fresh directory, run the README's run
 * command (`npm ci && npm start`) with a fresh $PARAPET_HOME, and see every service online,
 * GTUBE (sent to the content filter) in `parapet qman list --json`, and the policy service
 * back within 20 s after SIGKILL. Listeners get free ports (node.json written before the
 * start), so the test does not collide with anything else on the machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findFreePorts, isPortAccepting } from './support/free-port.js';
import { isPidAlive } from './support/process-util.js';
import { sendMessages } from './support/smtp-send.js';
import { request as httpsRequest } from 'node:https';

/** One HTTPS request to a loopback port (the node's certificate is self-signed). */
function httpsJson(
  port: number,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        rejectUnauthorized: false,
        timeout: 20_000,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: text });
        });
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

function findRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, '.git'))) {
    const up = dirname(dir);
    if (up === dir) return '';
    dir = up;
  }
  return dir;
}

const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
const skip = ROOT === '' ? 'not in a git checkout' : false;
const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

/** The run command exactly as README.md gives it. */
function readmeRunCommand(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const line = readme.split('\n').find((l) => /^\s{4}npm ci && npm start\s*$/.test(l));
  assert.ok(line !== undefined, 'README.md has the run command `npm ci && npm start`');
  return line.trim();
}

interface Listed {
  name: string;
  pid: number | null;
  status: string;
}

test(
  'fresh clone + README run command: all services online, GTUBE quarantined, policy back after SIGKILL',
  { skip, timeout: 600_000 },
  async () => {
    const work = await mkdtemp(join(tmpdir(), 'parapet-fresh-'));
    // Like an install location (/opt/parapet): readable by the service users (parapet runs
    // the services and PostgreSQL, clamav may run clamd), which mkdtemp's 0700 is not.
    await chmod(work, 0o755);
    const clone = join(work, 'parapet');
    const home = join(work, 'home');
    const env = { ...process.env, PARAPET_HOME: home, PARAPET_LOG_LEVEL: 'warn' };
    const parapet = (...args: string[]) =>
      spawnSync(process.execPath, [join(clone, 'bin', 'parapet.js'), ...args], {
        env,
        encoding: 'utf8',
        timeout: 60_000,
      });
    let starter: ReturnType<typeof spawn> | null = null;
    let out = '';
    try {
      const cloned = spawnSync('git', ['clone', '--quiet', ROOT, clone], { encoding: 'utf8' });
      assert.equal(cloned.status, 0, cloned.stderr);
      const [milter, filter, ipblocker, database, manager, rpcui] = await findFreePorts(6);
      await mkdir(join(home, 'config'), { recursive: true });
      await writeFile(
        join(home, 'config', 'node.json'),
        JSON.stringify({
          policy: {
            milterTcp: { host: '127.0.0.1', port: milter },
            smtpFilter: { host: '127.0.0.1', port: filter },
          },
          ipblocker: { listen: { host: '127.0.0.1', port: ipblocker } },
          database: { port: database },
          web: {
            manager: { host: '127.0.0.1', port: manager },
            rpcui: { host: '127.0.0.1', port: rpcui },
          },
        }),
      );

      starter = spawn('bash', ['-c', readmeRunCommand()], {
        cwd: clone,
        env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      starter.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      starter.stderr?.on('data', (d: Buffer) => (out += d.toString()));

      // npm ci + build + start: wait for "Ctrl-C stops the node." (bounded).
      const deadline = Date.now() + 420_000;
      while (!out.includes('Ctrl-C stops the node.') && Date.now() < deadline) {
        if (starter.exitCode !== null) assert.fail(`the run command exited: ${out.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      assert.ok(out.includes('Ctrl-C stops the node.'), out.slice(-3000));

      const listed = parapet('service', 'list', '--json');
      assert.equal(listed.status, 0, listed.stderr);
      const services = JSON.parse(listed.stdout) as Listed[];
      for (const name of ['policy', 'ipblocker', 'queue', 'scheduler', 'manager', 'rpcui']) {
        assert.equal(services.find((s) => s.name === name)?.status, 'online', listed.stdout);
      }
      assert.ok(
        services.every((s) => s.status === 'online'),
        listed.stdout,
      );

      // The first administrator from the CLI, then a sign-in over the Manager's HTTPS.
      const added = spawnSync(
        process.execPath,
        [
          join(clone, 'bin', 'parapet.js'),
          'user',
          'add',
          'admin',
          '--role',
          'admin',
          '--password-stdin',
        ],
        { env, encoding: 'utf8', input: 'fresh clone admin pw\n', timeout: 60_000 },
      );
      assert.equal(added.status, 0, added.stderr);
      const signIn = await httpsJson(manager ?? 0, 'POST', '/api/v1/session', {
        username: 'admin',
        password: 'fresh clone admin pw',
      });
      assert.equal(signIn.status, 200, signIn.body);
      assert.equal((await httpsJson(manager ?? 0, 'GET', '/api/v1/users')).status, 401);

      const gtube = Buffer.from(
        `From: a@example.net\r\nTo: b@example.com\r\nSubject: fresh clone GTUBE\r\nMessage-ID: <fresh@e2e.example.net>\r\n\r\n${GTUBE}\r\n`,
      );
      const sent = await sendMessages(
        [{ raw: gtube, from: 'a@example.net', to: ['b@example.com'] }],
        {
          port: filter ?? 0,
          sessions: 1,
          seqHeader: false,
        },
      );
      assert.equal(sent[0]?.status, 'accepted', JSON.stringify(sent));
      const qman = parapet('qman', 'list', '--json');
      assert.equal(qman.status, 0, qman.stderr);
      const held = JSON.parse(qman.stdout) as { subject: string; reason: string; score: number }[];
      assert.ok(
        held.some((m) => m.subject === 'fresh clone GTUBE' && m.score >= 1000),
        qman.stdout,
      );

      const policy = services.find((s) => s.name === 'policy');
      assert.ok(policy?.pid != null);
      process.kill(policy.pid, 'SIGKILL');
      const killedAt = Date.now();
      let back = false;
      while (!back && Date.now() - killedAt < 20_000) {
        await new Promise((r) => setTimeout(r, 250));
        const now = JSON.parse(parapet('service', 'list', '--json').stdout) as Listed[];
        const p = now.find((s) => s.name === 'policy');
        back =
          p?.status === 'online' &&
          p.pid !== policy.pid &&
          (await isPortAccepting(filter ?? 0, 500));
      }
      assert.ok(back, `policy not back within 20 s of SIGKILL`);
      assert.equal(isPidAlive(policy.pid), false);
    } finally {
      if (starter?.pid !== undefined && starter.exitCode === null) {
        // Ctrl-C for the foreground node: it stops its services, then exits.
        process.kill(-starter.pid, 'SIGINT');
        await new Promise((r) => setTimeout(r, 5000));
      }
      if (existsSync(join(clone, 'dist', 'bin', 'main.js'))) parapet('stop');
      if (starter?.pid !== undefined && starter.exitCode === null) {
        try {
          process.kill(-starter.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await rm(work, { recursive: true, force: true });
    }
  },
);

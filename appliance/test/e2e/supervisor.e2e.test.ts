/**
 * Issue 5, supervision: `parapet start --detach` runs every service under the node's own pm2
 * daemon (as the `parapet` user when started as root), `parapet service …` lists and controls
 * them, a service killed with SIGKILL is back within 20 s, `parapet stop` ends them all.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePorts, isPortAccepting } from './support/free-port.js';
import { parapetUnavailableReason, runParapet } from './support/parapet-node.js';
import { isPidAlive, runCommand, signalPid } from './support/process-util.js';

const skip = parapetUnavailableReason() ?? false;

interface Listed {
  name: string;
  pid: number | null;
  status: string;
  restarts: number;
}

let home = '';
let env: NodeJS.ProcessEnv = {};
after(async () => {
  if (home === '') return;
  await runParapet(['stop'], env);
  await rm(home, { recursive: true, force: true });
});

async function list(): Promise<Listed[]> {
  const r = await runParapet(['service', 'list', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Listed[];
}

function uidOf(pid: number): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}

test('start, list, SIGKILL recovery, restart, stop', { skip, timeout: 180_000 }, async () => {
  home = await mkdtemp(join(tmpdir(), 'parapet-supervised-'));
  env = { ...process.env, PARAPET_HOME: home };
  const [milter, filter, ipblocker, database, manager, rpcui] = await findFreePorts(6);
  assert.ok(
    milter !== undefined &&
      filter !== undefined &&
      ipblocker !== undefined &&
      database !== undefined,
  );
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

  const started = await runParapet(['start', '--detach', '--json'], env);
  assert.equal(started.code, 0, started.stderr + started.stdout);
  const services = await list();
  const expected = ['ipblocker', 'manager', 'policy', 'queue', 'rpcui', 'scheduler', 'witness'];
  if (existsSync('/usr/sbin/clamd')) expected.push('antivirus');
  if (readdirSync('/usr/lib/postgresql', { withFileTypes: true }).length > 0)
    expected.push('database');
  assert.deepEqual(services.map((s) => s.name).sort(), expected.sort());
  for (const s of services) {
    assert.equal(s.status, 'online', JSON.stringify(s));
    assert.ok(s.pid !== null && isPidAlive(s.pid), JSON.stringify(services));
    if (process.getuid?.() === 0) {
      // Root starts services as the dedicated user, unless it cannot read the code.
      const unprivileged = !started.stderr.includes('services run as root');
      if (unprivileged) assert.notEqual(uidOf(s.pid), 0, `${s.name} runs as root`);
    }
  }
  for (const port of [milter, filter, ipblocker]) assert.ok(await isPortAccepting(port, 2000));
  // Postfix's smtpd (user postfix, group postfix only) reaches the re-injection witness's
  // socket in the home's run/ (filter/decisions/0005): connect as that user.
  if (process.getuid?.() === 0 && (await runCommand('id', ['-u', 'postfix'])).code === 0) {
    const socket = join(home, 'run', 'witness.sock');
    const probe =
      "require('net').connect(process.argv[1]).on('connect',()=>process.exit(0))" +
      ".on('error',(e)=>{console.error(e.message);process.exit(1)})";
    const reached = await runCommand('runuser', [
      '-u',
      'postfix',
      '--',
      process.execPath,
      '-e',
      probe,
      socket,
    ]);
    assert.equal(reached.code, 0, `postfix cannot reach ${socket}: ${reached.stderr}`);
  }

  // Each service's own health check, and the node's figures from systeminformation.
  const status = await runParapet(['service', 'status', '--json'], env);
  assert.equal(status.code, 0, status.stdout + status.stderr);
  const health = JSON.parse(status.stdout) as {
    node: { memory: { totalBytes: number }; cpu: { cores: number }; disk: unknown };
    services: { name: string; health: { healthy: boolean; check: string } }[];
  };
  assert.ok(health.node.memory.totalBytes > 0 && health.node.cpu.cores > 0, status.stdout);
  assert.ok(health.node.disk !== null, status.stdout);
  for (const s of health.services) assert.equal(s.health.healthy, true, JSON.stringify(s));
  assert.match(
    health.services.find((s) => s.name === 'manager')?.health.check ?? '',
    new RegExp(`127\\.0\\.0\\.1:${String(manager)} accepts`),
  );

  // Starting again changes nothing.
  const again = await runParapet(['start', '--detach', '--json'], env);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(
    (await list()).map((s) => s.pid),
    services.map((s) => s.pid),
  );

  // SIGKILL the data plane: pm2 brings it back with a new pid, listening again, within 20 s.
  const policy = services.find((s) => s.name === 'policy');
  assert.ok(policy?.pid != null);
  signalPid(policy.pid, 'SIGKILL');
  const killedAt = Date.now();
  let back: Listed | undefined;
  while (Date.now() - killedAt < 20_000) {
    await new Promise((r) => setTimeout(r, 250));
    back = (await list()).find((s) => s.name === 'policy');
    if (
      back?.status === 'online' &&
      back.pid !== policy.pid &&
      (await isPortAccepting(filter, 500))
    )
      break;
  }
  assert.ok(
    back !== undefined && back.status === 'online' && back.pid !== policy.pid,
    JSON.stringify(back),
  );
  assert.ok(Date.now() - killedAt < 20_000, `back after ${String(Date.now() - killedAt)} ms`);
  assert.equal(back.restarts, 1);

  const ipb = services.find((s) => s.name === 'ipblocker');
  const restarted = await runParapet(['service', 'restart', 'ipblocker', '--json'], env);
  assert.equal(restarted.code, 0, restarted.stderr);
  const after1 = JSON.parse(restarted.stdout) as Listed;
  assert.equal(after1.status, 'online');
  assert.notEqual(after1.pid, ipb?.pid);

  const stopped = await runParapet(['service', 'stop', 'ipblocker', '--json'], env);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal((JSON.parse(stopped.stdout) as Listed).status, 'stopped');
  const startedOne = await runParapet(['service', 'start', 'ipblocker'], env);
  assert.equal(startedOne.code, 0, startedOne.stderr);
  assert.match(startedOne.stdout, /ipblocker: online/);

  const unknown = await runParapet(['service', 'restart', 'nosuch'], env);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown service 'nosuch'/);
  const usage = await runParapet(['service', 'restart'], env);
  assert.equal(usage.code, 2);

  const pids = (await list()).map((s) => s.pid).filter((p): p is number => p !== null);
  const stop = await runParapet(['stop'], env);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /node stopped/);
  for (const pid of pids) assert.equal(isPidAlive(pid), false, `pid ${String(pid)} still alive`);
  assert.deepEqual(await list(), []);
});

/**
 * Local Services API without a running pm2 node (the browser test restarts a real one):
 * the service list, what start/stop/restart refuse and to whom, node health from
 * systeminformation, and the scheduled jobs (disable, re-time, run now) with their audit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWebNode, WebClient } from '../../test/web-node.js';

interface Job {
  name: string;
  enabled: boolean;
  schedule: string;
  nextRun: string | null;
  lastRun: { ok: boolean; trigger: string } | null;
}

test('services, health and jobs: roles, refusals, changes audited', async (t) => {
  const node = await startWebNode();
  t.after(() => node.close());
  await node.addUser('boss', 'admin', 'admin password 0001');
  await node.addUser('watcher', 'viewer', 'viewer password 0002');
  const url = node.manager.url;
  const admin = new WebClient(url);
  assert.equal((await admin.signIn('boss', 'admin password 0001')).status, 200);
  const viewer = new WebClient(url);
  assert.equal((await viewer.signIn('watcher', 'viewer password 0002')).status, 200);

  // Services: the node is not running under pm2 here.
  const list = await viewer.request('GET', '/api/v1/services');
  assert.equal(list.status, 200, list.text);
  const services = list.json() as {
    running: boolean;
    services: { name: string; status: string; pid: number | null }[];
  };
  assert.equal(services.running, false);
  const policy = services.services.find((s) => s.name === 'policy');
  assert.deepEqual([policy?.status, policy?.pid], ['not running', null]);
  assert.equal((await new WebClient(url).request('GET', '/api/v1/services')).status, 401);
  assert.equal((await viewer.send('POST', '/api/v1/services/queue/restart')).status, 403);
  const noCsrf = await admin.request('POST', '/api/v1/services/queue/restart');
  assert.equal(noCsrf.status, 403);
  const unknown = await admin.send('POST', '/api/v1/services/nosuch/restart');
  assert.equal(unknown.status, 404, unknown.text);
  const notRunning = await admin.send('POST', '/api/v1/services/queue/stop');
  assert.equal(notRunning.status, 409, notRunning.text);
  assert.match(String(notRunning.json().message), /not running/);
  const self = await admin.send('POST', '/api/v1/services/manager/stop');
  assert.equal(self.status, 409, self.text);

  // Health.
  const health = await viewer.request('GET', '/api/v1/health');
  assert.equal(health.status, 200, health.text);
  const h = health.json() as {
    cpu: { cores: number; loadPercent: number };
    memory: { totalBytes: number; usedPercent: number };
    loadAverage: number[];
    disk: { mount: string; sizeBytes: number } | null;
  };
  assert.ok(h.cpu.cores >= 1);
  assert.ok(h.memory.totalBytes > 0 && h.memory.usedPercent > 0 && h.memory.usedPercent <= 100);
  assert.equal(h.loadAverage.length, 3);
  assert.ok(h.disk !== null && h.disk.sizeBytes > 0 && node.home.startsWith(h.disk.mount));

  // Jobs.
  const jobs = (await viewer.request('GET', '/api/v1/jobs')).json() as { jobs: Job[] };
  const expire = jobs.jobs.find((j) => j.name === 'quarantine-expire');
  assert.ok(expire?.enabled === true && expire.nextRun !== null, JSON.stringify(expire));
  assert.equal(
    (await viewer.send('PATCH', '/api/v1/jobs/quarantine-expire', { enabled: false })).status,
    403,
  );
  const disabled = await admin.send('PATCH', '/api/v1/jobs/quarantine-expire', { enabled: false });
  assert.equal(disabled.status, 200, disabled.text);
  assert.deepEqual([disabled.json().enabled, disabled.json().nextRun], [false, null]);
  const retimed = await admin.send('PATCH', '/api/v1/jobs/quarantine-expire', {
    enabled: true,
    schedule: '30 4 * * *',
  });
  assert.equal(retimed.status, 200, retimed.text);
  assert.equal(retimed.json().schedule, '30 4 * * *');
  const badCron = await admin.send('PATCH', '/api/v1/jobs/quarantine-expire', {
    schedule: 'every tuesday',
  });
  assert.equal(badCron.status, 400, badCron.text);
  assert.equal(
    (await admin.send('PATCH', '/api/v1/jobs/no-such-job', { enabled: false })).status,
    404,
  );
  assert.equal((await admin.send('PATCH', '/api/v1/jobs/quarantine-expire', {})).status, 400);

  // Run now: `parapet queue run` on an empty queue, as a child process.
  const run = await admin.send('POST', '/api/v1/jobs/queue-run/run');
  assert.equal(run.status, 200, run.text);
  assert.equal(run.json().run.ok, true, run.text);
  const after = (await admin.request('GET', '/api/v1/jobs')).json() as { jobs: Job[] };
  assert.equal(after.jobs.find((j) => j.name === 'queue-run')?.lastRun?.trigger, 'manager:boss');

  const audit = (await admin.request('GET', '/api/v1/audit')).json() as {
    entries: { action: string; object: string; outcome: string }[];
  };
  const actions = audit.entries.map((e) => `${e.action} ${e.object}`);
  assert.ok(actions.includes('job.change quarantine-expire'), actions.join(', '));
  assert.ok(actions.includes('job.run queue-run'), actions.join(', '));
});

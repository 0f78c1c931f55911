// The Scheduler and `parapet scheduler`: built-in jobs listed with their next run, an added
// job run by the real service on its schedule (a parapet command in a child process, logged),
// run by hand, re-timed, disabled, and bad input refused with the CLI's exit codes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadNodeConfig } from '../config/node-config.js';
import { startSchedulerService } from '../services/scheduler.js';
import { parapetBinPath } from '../supervisor/node-supervisor.js';

const home = mkdtempSync(join(tmpdir(), 'parapet-scheduler-'));
after(() => {
  rmSync(home, { recursive: true, force: true });
});
const built = existsSync(parapetBinPath().replace(/bin\/parapet\.js$/, 'dist/bin/main.js'));
const skip = built ? false : 'the tree is not built (npm run build)';

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [parapetBinPath(), ...args], {
    env: { ...process.env, PARAPET_HOME: home },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Listed {
  name: string;
  enabled: boolean;
  schedule: string;
  builtin: boolean;
  nextRun: string | null;
  lastRun: { ok: boolean; trigger: string } | null;
}

test(
  'jobs: list, add, scheduled run by the service, run now, retime, disable, refusals',
  { skip, timeout: 120_000 },
  async () => {
    const listed = cli('scheduler', 'list', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    const builtins = JSON.parse(listed.stdout) as Listed[];
    const expire = builtins.find((j) => j.name === 'quarantine-expire');
    assert.ok(expire?.builtin === true && expire.enabled);
    assert.ok(expire.nextRun !== null && Date.parse(expire.nextRun) > Date.now());

    const added = cli(
      'scheduler',
      'add',
      'block-test',
      '--schedule',
      '* * * * * *',
      '--',
      'ipblock',
      'add',
      '192.0.2.77',
      '--reason',
      'from a job',
    );
    assert.equal(added.code, 0, added.stderr);

    const config = await loadNodeConfig({ PARAPET_HOME: home });
    const service = await startSchedulerService(config, pino({ level: 'silent' }));
    try {
      assert.ok(service.planned().includes('block-test'));
      const runLog = join(home, 'log', 'scheduler.jsonl');
      let runs = '';
      for (let i = 0; i < 60 && !runs.includes('"job":"block-test"'); i++) {
        await new Promise((r) => setTimeout(r, 500));
        runs = existsSync(runLog) ? readFileSync(runLog, 'utf8') : '';
      }
      const run = JSON.parse(runs.split('\n')[0] ?? '') as {
        job: string;
        ok: boolean;
        trigger: string;
      };
      assert.deepEqual([run.job, run.ok, run.trigger], ['block-test', true, 'schedule']);
      assert.match(cli('ipblock', 'list').stdout, /192\.0\.2\.77\/32 .* from a job/);

      // Disabled jobs leave the plan within the service's re-read interval.
      assert.equal(cli('scheduler', 'disable', 'block-test').code, 0);
      for (let i = 0; i < 20 && service.planned().includes('block-test'); i++) {
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(!service.planned().includes('block-test'));
    } finally {
      await service.close();
    }

    const now = cli('scheduler', 'run', 'quarantine-expire', '--json');
    assert.equal(now.code, 0, now.stderr);
    assert.match((JSON.parse(now.stdout) as { output: string }).output, /expired 0 messages/);
    const after1 = JSON.parse(cli('scheduler', 'list', '--json').stdout) as Listed[];
    assert.equal(after1.find((j) => j.name === 'quarantine-expire')?.lastRun?.ok, true);

    assert.equal(cli('scheduler', 'retime', 'quarantine-expire', '30 4 * * *').code, 0);
    const retimed = JSON.parse(cli('scheduler', 'list', '--json').stdout) as Listed[];
    assert.equal(retimed.find((j) => j.name === 'quarantine-expire')?.schedule, '30 4 * * *');

    assert.equal(cli('scheduler', 'retime', 'quarantine-expire', 'every tuesday').code, 2);
    assert.equal(cli('scheduler', 'remove', 'quarantine-expire').code, 1);
    assert.equal(cli('scheduler', 'run', 'no-such-job').code, 1);
    assert.equal(
      cli('scheduler', 'add', 'x', '--schedule', '* * * * *', '--', 'serve', 'policy').code,
      1,
    );
    assert.equal(cli('scheduler', 'remove', 'block-test').code, 0);
  },
);

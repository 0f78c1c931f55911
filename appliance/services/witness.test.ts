import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadNodeConfig } from '../config/node-config.js';
import { startWitnessService } from './witness.js';

const silent = pino({ level: 'silent' });

async function homeWith(policy: Record<string, unknown>): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'parapet-witness-'));
  await mkdir(join(home, 'config'), { recursive: true });
  await writeFile(join(home, 'config', 'node.json'), JSON.stringify({ policy }));
  return home;
}

test('the witness listens on its socket, and without one configured starts idle instead of failing', async () => {
  const home = await homeWith({});
  const idleHome = await homeWith({ witnessSocketPath: null });
  try {
    const config = await loadNodeConfig({ PARAPET_HOME: home });
    const socket = config.policy.witnessSocketPath;
    assert.ok(socket !== null);
    await mkdir(join(socket, '..'), { recursive: true });
    const running = await startWitnessService(config, silent);
    try {
      assert.equal(running.listeners.length, 1);
      await new Promise<void>((resolve, reject) => {
        const c = connect(socket, () => {
          c.destroy();
          resolve();
        });
        c.on('error', reject);
      });
    } finally {
      await running.close();
    }

    // Under `parapet start` a throw here would be restarted by pm2 over and over.
    const idle = await startWitnessService(
      await loadNodeConfig({ PARAPET_HOME: idleHome }),
      silent,
    );
    assert.deepEqual(idle.listeners, []);
    assert.ok(!existsSync(join(idleHome, 'run', 'witness.sock')));
    await idle.close();
  } finally {
    await rm(home, { recursive: true, force: true });
    await rm(idleHome, { recursive: true, force: true });
  }
});

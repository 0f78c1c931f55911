/**
 * Issue 5, IP Blocker: a real Postfix wired by `parapet mta configure postfix` asks
 * `parapet serve ipblocker` about each client; an address added with `parapet ipblock add`
 * is refused at RCPT with our text, other clients' mail flows, the refusal is logged for
 * reports, and `parapet ipblock remove` lets the address in again — all without restarts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findFreePort, waitForPort } from './support/free-port.js';
import { postfixUnavailableReason } from './support/postfix-instance.js';
import { PARAPET_BIN, parapetUnavailableReason, runParapet } from './support/parapet-node.js';
import { runCommand } from './support/process-util.js';
import { startScenario } from './support/scenario.js';

const skip =
  postfixUnavailableReason() ??
  parapetUnavailableReason() ??
  (existsSync('/usr/bin/swaks') ? false : 'swaks not installed');

/** One message with swaks from a chosen loopback source address; returns its transcript. */
async function sendFrom(source: string, port: number, tag: string): Promise<string> {
  const r = await runCommand(
    '/usr/bin/swaks',
    [
      '--server',
      `127.0.0.1:${String(port)}`,
      '--local-interface',
      source,
      '--from',
      'sender@example.net',
      '--to',
      'rcpt@example.com',
      '--header',
      `Subject: ipblocker ${tag}`,
      '--body',
      'hello',
      '--timeout',
      '20',
    ],
    { timeoutMs: 60_000 },
  );
  return r.stdout + r.stderr;
}

test(
  'a blocked client is refused at RCPT, others pass, removal lets it in again',
  { skip, timeout: 180_000 },
  async () => {
    const ipblockerPort = await findFreePort();
    const scenario = await startScenario('content-filter', { ipblockerPort });
    const node = scenario.node;
    assert.ok(node !== null);
    const env = { ...process.env, PARAPET_HOME: node.home };
    const nodeJson = join(node.home, 'config', 'node.json');
    const config = JSON.parse(await readFile(nodeJson, 'utf8')) as Record<string, unknown>;
    config['ipblocker'] = { listen: { host: '127.0.0.1', port: ipblockerPort } };
    await writeFile(nodeJson, JSON.stringify(config, null, 2));
    const blocker = spawn(process.execPath, [PARAPET_BIN, 'serve', 'ipblocker'], {
      env: { ...env, PARAPET_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    blocker.stdout.on('data', (d: Buffer) => (out += d.toString()));
    blocker.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitForPort(ipblockerPort, 20_000);
      const added = await runParapet(['ipblock', 'add', '127.0.0.2', '--reason', 'e2e block'], env);
      assert.equal(added.code, 0, added.stderr);
      const listed = await runParapet(['ipblock', 'list', '--json'], env);
      assert.deepEqual(
        (JSON.parse(listed.stdout) as { cidr: string }[]).map((e) => e.cidr),
        ['127.0.0.2/32'],
      );

      // The service re-reads its entries within a second; allow a few polls.
      let refused = '';
      for (let i = 0; i < 10 && !refused.includes('is blocked'); i++) {
        await new Promise((r) => setTimeout(r, 500));
        refused = await sendFrom('127.0.0.2', scenario.smtpPort, `blocked ${String(i)}`);
      }
      assert.match(refused, /554 5\.7\.1 .*Client 127\.0\.0\.2 is blocked: e2e block/);

      const passed = await sendFrom('127.0.0.1', scenario.smtpPort, 'allowed');
      assert.match(passed, /250 2\.0\.0 Ok: queued/);
      await scenario.sink.waitForCount(1, 60_000);

      const log = await readFile(join(node.home, 'log', 'ipblock.jsonl'), 'utf8');
      const first = JSON.parse(log.split('\n')[0] ?? '') as Record<string, unknown>;
      assert.equal(first['client'], '127.0.0.2');
      assert.equal(first['source'], 'local');
      assert.equal(first['recipient'], 'rcpt@example.com');

      const removed = await runParapet(['ipblock', 'remove', '127.0.0.2'], env);
      assert.equal(removed.code, 0, removed.stderr);
      let again = '';
      for (let i = 0; i < 10 && !again.includes('Ok: queued'); i++) {
        await new Promise((r) => setTimeout(r, 500));
        again = await sendFrom('127.0.0.2', scenario.smtpPort, `unblocked ${String(i)}`);
      }
      assert.match(again, /250 2\.0\.0 Ok: queued/);
      await scenario.sink.waitForCount(2, 60_000);

      const missing = await runParapet(['ipblock', 'remove', '127.0.0.2'], env);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no entry for 127\.0\.0\.2\/32/);
      const usage = await runParapet(['ipblock', 'add', 'not-an-ip'], env);
      assert.equal(usage.code, 2);
    } catch (err) {
      throw new Error(`${String(err)}\nipblocker output:\n${out}`, { cause: err });
    } finally {
      blocker.kill('SIGTERM');
      await scenario.stop();
    }
  },
);

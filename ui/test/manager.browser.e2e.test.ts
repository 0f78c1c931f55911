/**
 * Issue 6, the Manager in a real browser (Debian chromium): an administrator signs in through
 * the form; the Dashboard is live (a message-log line appended during the test shows up over
 * the WebSocket); a service of a real pm2-supervised node (only the Queue Runner, in the web
 * node's own home) is restarted from Local Services; Users & roles (an account added through
 * the form) and the Audit log render. Screenshots of the four pages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlService } from '../../appliance/index.js';
import { packageRoot } from '../api/app.js';
import { chromiumPath, launchBrowser, newPage, screenshot, signInThroughForm } from './browser.js';
import { startWebNode } from './web-node.js';

const built = existsSync(join(packageRoot(), 'dist', 'bin', 'main.js'));
const skip =
  chromiumPath() === null
    ? 'chromium is not installed'
    : !built
      ? 'the tree is not built (pm2 runs dist/bin/main.js)'
      : false;

const PASSWORD = 'admin password 0001';

function stopNodeInChild(home: string): Promise<void> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(packageRoot(), 'bin', 'parapet.js'), 'stop'],
      { env: { ...process.env, PARAPET_HOME: home }, timeout: 60_000 },
      () => {
        resolve();
      },
    );
  });
}

function logLine(seq: number): string {
  return `${JSON.stringify({
    nodeId: 'browser-test',
    seq,
    id: `b${String(seq)}`,
    time: new Date().toISOString(),
    queueId: null,
    client: { address: '192.0.2.7', name: null },
    helo: 'h',
    from: 'a@example.com',
    to: ['b@example.org'],
    subject: 'live',
    sizeBytes: 2048,
    verdict: 'quarantine',
    reason: 'spam',
    disposition: 'quarantined',
    score: 9,
    symbols: [],
    rule: null,
    errorCode: null,
    timingsMs: {},
  })}\n`;
}

test(
  'Manager: sign-in, live dashboard, service restart, users, audit',
  { skip, timeout: 150_000 },
  async () => {
    const home = await mkdtemp(join(tmpdir(), 'parapet-manager-browser-'));
    const node = await startWebNode({
      home,
      nodeJson: {},
      database: () => Promise.reject(new Error('no database in this test')),
    });
    let browser: Awaited<ReturnType<typeof launchBrowser>> | null = null;
    try {
      await node.addUser('boss', 'admin', PASSWORD);
      // A real supervised node with one service: pm2's daemon lives under the web node's home.
      const queue = await controlService(node.config, 'start', 'queue');
      assert.equal(queue?.status, 'online', JSON.stringify(queue));
      const pidBefore = queue.pid;

      browser = await launchBrowser();
      const page = await newPage(browser);
      await signInThroughForm(page, `${node.manager.url}/`, 'boss', PASSWORD);

      // Dashboard: live, and a line appended to the message log appears without a reload.
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
      await page.locator('.dash-live[data-live="true"]').waitFor();
      const now = page.locator('[data-metric="now"]');
      assert.equal(await now.textContent(), '0');
      await mkdir(join(node.home, 'log'), { recursive: true });
      await appendFile(join(node.home, 'log', 'message-log.jsonl'), logLine(1) + logLine(2));
      await page.locator('[data-metric="now"]', { hasText: /^2$/ }).waitFor({ timeout: 15_000 });
      await page.getByText('Quarantined: 2').first().waitFor();
      assert.match((await page.locator('[data-metric="today"]').textContent()) ?? '', /^2$/);
      await page.getByRole('link', { name: 'queue' }).waitFor();
      await screenshot(page, 'manager-dashboard');

      // Local Services: restart the Queue Runner; its pid changes.
      await page.getByRole('link', { name: 'Local Services' }).click();
      await page.getByRole('heading', { name: 'Local Services' }).waitFor();
      const pidCell = page.locator('[data-pid="queue"]');
      await pidCell.waitFor();
      assert.equal(await pidCell.textContent(), String(pidBefore));
      await page.getByRole('button', { name: 'Restart queue' }).click();
      await page.getByText(/^queue: online \(pid \d+\)$/).waitFor({ timeout: 30_000 });
      // The table is redrawn after the notice: wait for the new pid there.
      await page
        .locator('[data-pid="queue"]', { hasNotText: new RegExp(`^${String(pidBefore)}$`) })
        .waitFor();
      const pidAfter = Number(await pidCell.textContent());
      assert.ok(pidAfter > 0 && pidAfter !== pidBefore, `pid ${String(pidAfter)}`);
      await page.getByText('Scheduled jobs').waitFor();
      await page.getByText('quarantine-expire').waitFor();
      await page.locator('#health-cpu').waitFor();
      await page.getByText('Web certificate').waitFor();
      await screenshot(page, 'manager-services');

      // Users & roles: add an end user through the form.
      await page.getByRole('link', { name: 'Users & roles' }).click();
      await page.getByRole('heading', { name: 'Users & roles' }).waitFor();
      await page.getByLabel('User name').fill('carol@example.com');
      await page.getByLabel('Role', { exact: true }).selectOption('user');
      await page.getByLabel('Password', { exact: true }).fill('carol password 0003');
      await page.getByRole('button', { name: 'Add account' }).click();
      await page.getByText('carol@example.com: added').waitFor();
      await page.getByRole('cell', { name: 'carol@example.com', exact: true }).first().waitFor();
      await screenshot(page, 'manager-users');

      // Audit log: the restart and the new account, newest first.
      await page.getByRole('link', { name: 'Audit log' }).click();
      await page.getByRole('heading', { name: 'Audit log' }).waitFor();
      await page.getByRole('cell', { name: 'service.restart' }).waitFor();
      await page.getByRole('cell', { name: 'user.add' }).waitFor();
      await screenshot(page, 'manager-audit');
      await page.getByLabel('Action starts with').fill('service.');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.getByText('1 entries, newest first').waitFor();
      assert.equal(await page.getByRole('cell', { name: 'user.add' }).count(), 0);

      // A phone-sized screen still shows the dashboard without sideways scrolling.
      await page.setViewportSize({ width: 375, height: 800 });
      await page.getByRole('link', { name: 'Dashboard' }).click();
      await page.locator('[data-metric="now"]').waitFor();
      // A string expression: this file is compiled without the DOM library.
      const overflow = Number(
        await page.evaluate(
          'document.documentElement.scrollWidth - document.documentElement.clientWidth',
        ),
      );
      assert.ok(overflow <= 1, `scrolls sideways by ${String(overflow)} px`);
    } finally {
      await browser?.close();
      // The web node first: its dashboard asks pm2 every 2 s, and a pm2 client caught mid-call
      // by the daemon's end keeps trying to reconnect. Then pm2 and its service, then the home.
      await node.close();
      // `parapet stop` in its own process: pm2's client in this one would keep reconnecting to
      // the daemon it just ended and hold the test process open.
      await stopNodeInChild(home);
      await rm(home, { recursive: true, force: true });
    }
  },
);

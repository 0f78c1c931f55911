/**
 * Browser test of the Manager's Quarantine and Reports tabs in headless Chromium: an
 * administrator signs in, finds a message that was really quarantined (file store + database
 * row), opens it, approves it in the page, and the release goes through the outbound queue and
 * the queue run (what `parapet queue run` does) to policy.reinject, here an SMTP sink where it
 * arrives. Then a report graph renders from rolled-up message-log rows. Screenshots of the
 * quarantine list, the message view and the reports.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  OutboundQueue,
  QueueRunner,
  insertQuarantineRows,
  rollupMessageLog,
  type Db,
} from '../../appliance/index.js';
import { QuarantineWriter, messageFromBytes } from '../../filter/index.js';
import { chromiumPath, launchBrowser, newPage, screenshot, signInThroughForm } from './browser.js';
import { startTestSmtpSink, type TestSmtpSink } from './smtp-sink.js';
import { startWebNode, type WebNode } from './web-node.js';
import { PG_SKIP, startTestDatabase, type TestDatabase } from './test-database.js';

const skip = chromiumPath() === null ? 'chromium is not installed' : PG_SKIP;

const PASSWORD = 'correct horse battery';

let database: TestDatabase | undefined;
let db: Db | undefined;
let sink: TestSmtpSink | undefined;
let node: WebNode | undefined;
let browser: Browser | undefined;

before(async () => {
  if (skip !== false) return;
  database = await startTestDatabase('parapet-qrb-pg-');
  db = database.db;
  sink = await startTestSmtpSink();
  node = await startWebNode({
    database: () =>
      db === undefined ? Promise.reject(new Error('no database')) : Promise.resolve(db),
    nodeJson: { policy: { reinject: { host: sink.host, port: sink.port } } },
  });
  await node.addUser('root', 'admin', PASSWORD);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await node?.close();
  await sink?.close();
  await database?.stop();
});

test(
  'approve in the page delivers the message; a report graph renders',
  { skip, timeout: 90_000 },
  async () => {
    assert.ok(
      node !== undefined && db !== undefined && sink !== undefined && browser !== undefined,
    );
    // A message quarantined for real: the writer's durable files and the database row.
    const raw = [
      'From: Bulk Sender <offers@bulk.example>',
      'To: alice@corp.example',
      'Subject: Limited offer just for you',
      'Message-ID: <offer-1@bulk.example>',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Click here to claim your prize.',
      '',
    ].join('\r\n');
    const message = await messageFromBytes(Buffer.from(raw), {
      from: 'offers@bulk.example',
      to: ['alice@corp.example'],
    });
    const writer = new QuarantineWriter({ dir: node.config.paths.quarantine });
    const meta = await writer.write(message, {
      reason: 'spam',
      from: 'offers@bulk.example',
      to: ['alice@corp.example'],
      subject: 'Limited offer just for you',
      score: 8.4,
      symbols: ['BAYES_99', 'URI_CLICK_HERE'],
      rule: 'policy.sieve:7',
      client: '198.51.100.23',
    });
    const time = new Date(meta.time);
    await insertQuarantineRows(db, [
      {
        id: meta.id,
        nodeId: node.config.nodeId,
        time,
        from: 'offers@bulk.example',
        to: ['alice@corp.example'],
        subject: 'Limited offer just for you',
        sizeBytes: meta.sizeBytes,
        reason: 'spam',
        score: 8.4,
        symbols: [
          { name: 'BAYES_99', score: 5.2 },
          { name: 'URI_CLICK_HERE', score: 3.2 },
        ],
        rule: 'policy.sieve:7',
        path: writer.pathsFor(meta.id, time).eml,
      },
    ]);
    // A week of message-log rows, rolled up, for the reports.
    await db.execute(
      `INSERT INTO message_log (node_id, seq, id, ts, client_address, sender, recipients, size_bytes,
       verdict, disposition, score, symbols, rule)
     SELECT 'n1', g, 'log' || g, now() - (g % 168) * interval '1 hour',
       '198.51.100.' || (g % 20), CASE WHEN g % 4 = 0 THEN 'spam' || (g % 5) || '@bad.example'
                                       ELSE 'user' || (g % 50) || '@good.example' END,
       ARRAY['rcpt' || (g % 9) || '@corp.example'], 3000, 'v',
       CASE WHEN g % 4 = 0 THEN 'quarantined' ELSE 'accepted' END,
       CASE WHEN g % 4 = 0 THEN 9 ELSE 0.5 END, '[]'::jsonb, 'policy.sieve:' || (g % 3)
     FROM generate_series(1, 2000) AS g`,
    );
    await rollupMessageLog(
      db,
      new Date(Date.now() - 8 * 86_400_000),
      new Date(Date.now() + 3_600_000),
    );

    const page = await newPage(browser);
    await signInThroughForm(page, node.manager.url, 'root', PASSWORD);
    await page.getByRole('link', { name: 'Quarantine' }).click();
    const row = page.locator(`tr[data-id="${meta.id}"]`);
    await row.waitFor();
    await screenshot(page, 'manager-quarantine');

    // Search narrows the list to the sender's domain.
    await page.getByLabel('Sender').fill('bulk.example');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/sender=bulk\.example/);
    await row.waitFor();
    assert.equal(await page.locator('table.quarantine-results tbody tr').count(), 1);

    await row.getByRole('link', { name: 'Limited offer just for you' }).click();
    await page.getByRole('heading', { name: 'Limited offer just for you' }).waitFor();
    assert.equal(
      await page.locator('table.symbols tbody tr').first().locator('code').textContent(),
      'BAYES_99',
    );
    assert.match((await page.locator('pre.message-text').textContent()) ?? '', /claim your prize/);
    assert.equal(await page.locator('dl.facts code').textContent(), 'policy.sieve:7');
    await screenshot(page, 'manager-quarantine-message');

    await page.getByRole('button', { name: 'Approve', exact: true }).click();
    await page.getByText(/released to alice@corp\.example/).waitFor();

    // The queue run, as `parapet queue run` does it: due items, delivered to policy.reinject.
    const queue = new OutboundQueue(node.config.paths.queue);
    const queued = (await queue.list()).filter((i) => i.status === 'queued').map((i) => i.id);
    assert.equal(queued.length, 1);
    for (const id of queued) await queue.retryNow(id);
    const runner = new QueueRunner({ queue, target: node.config.policy.reinject });
    try {
      const result = await runner.runOnce(queued);
      assert.deepEqual(result, { delivered: 1, deferred: 0, failed: 0 });
    } finally {
      await runner.close();
    }
    const arrived = await sink.waitFor((m) => m.raw.includes(`X-Parapet-Released: ${meta.id};`));
    assert.deepEqual(arrived.to, ['alice@corp.example']);
    assert.equal(arrived.from, 'offers@bulk.example');
    assert.match(arrived.raw, /Subject: Limited offer just for you/);
    assert.match(arrived.raw, /X-Parapet-Released: [^;]+; by=web:root; sig=/);
    const rows = await db.query<{ status: string }>('SELECT status FROM quarantine WHERE id = $1', [
      meta.id,
    ]);
    assert.equal(rows[0]?.status, 'released');

    // Reports: the categories graph draws bars from the roll-ups; the top lists fill in.
    await page.getByRole('link', { name: 'Reports' }).click();
    const categories = page.locator('section[data-report="message-categories"]');
    await categories.locator('svg.chart rect.chart-bar').first().waitFor();
    assert.ok((await categories.locator('svg.chart rect.chart-bar').count()) >= 8);
    assert.equal(await categories.locator('svg.chart').getAttribute('role'), 'img');
    assert.match(
      (await categories.locator('.report-summary').textContent()) ?? '',
      /2,000 messages/,
    );
    const spamSenders = page.locator(
      'section[data-report="top-spam-senders"] table.ranked tbody tr',
    );
    await spamSenders.first().waitFor();
    assert.equal(await spamSenders.count(), 5);
    const csv = await page
      .locator('section[data-report="top-spam-senders"] a.csv-link')
      .getAttribute('href');
    assert.match(csv ?? '', /^\/api\/v1\/reports\/top-spam-senders\?.*format=csv/);
    await screenshot(page, 'manager-reports');

    // The same page on a phone.
    await page.setViewportSize({ width: 375, height: 800 });
    await screenshot(page, 'manager-reports-phone');
  },
);

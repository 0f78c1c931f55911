/**
 * Issue 5, "Done when" (fault test): the database is stopped for a minute while 500 messages
 * flow through a real Postfix and the content filter with the default policy and scanners
 * (100 of them GTUBE, so quarantined). Mail keeps flowing; after the database returns, every
 * message-log record and every quarantine row is in PostgreSQL exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { loadNodeConfig } from '../../config/node-config.js';
import { EmbeddedPostgres, openDatabase } from '../../db/index.js';
import { pgUnavailableReason } from '../../db/test-support.js';
import { startDatabaseService } from '../../services/database.js';
import { loadCorpus } from './support/corpus.js';
import { findFreePort } from './support/free-port.js';
import { postfixUnavailableReason } from './support/postfix-instance.js';
import { parapetUnavailableReason } from './support/parapet-node.js';
import { startScenario } from './support/scenario.js';
import { sendMessages, summarizeSendResults } from './support/smtp-send.js';

const skip =
  postfixUnavailableReason() ?? parapetUnavailableReason() ?? pgUnavailableReason() ?? false;
const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
const OUTAGE_MS = 60_000;

test(
  'database down for a minute: mail flows, then every record and row arrives once',
  { skip, timeout: 600_000 },
  async () => {
    const scenario = await startScenario('content-filter', {
      policy: { policyEngine: 'sieve' },
      // Rules only (no clamd here): GTUBE and high-scoring corpus spam are quarantined.
      scan: {
        enabled: true,
        rules: { enabled: true, scores: {} },
        attachments: { enabled: false },
      },
    });
    let service: { close(): Promise<void> } | null = null;
    try {
      const node = scenario.node;
      assert.ok(node !== null);
      const nodeJson = join(node.home, 'config', 'node.json');
      const settings = JSON.parse(await readFile(nodeJson, 'utf8')) as Record<string, unknown>;
      settings['database'] = { port: await findFreePort() };
      await writeFile(nodeJson, JSON.stringify(settings));
      const config = await loadNodeConfig({ PARAPET_HOME: node.home });
      service = await startDatabaseService(config, pino({ level: 'silent' }));
      const pg = new EmbeddedPostgres({
        home: node.home,
        port: config.database.port,
        binDir: null,
        systemUser: null,
      });

      const corpus = await loadCorpus(400);
      const messages = corpus.map((m) => ({ raw: m.raw, name: m.name }));
      for (let i = 0; i < 100; i++) {
        const gtube = Buffer.from(
          `From: spam${String(i)}@example.net\r\nTo: rcpt@example.com\r\nSubject: outage GTUBE ${String(i)}\r\n` +
            `Message-ID: <outage-${String(i)}@e2e.example.net>\r\n\r\n${GTUBE}\r\n`,
        );
        messages.splice(i * 5, 0, { raw: gtube, name: `gtube-${String(i)}` });
      }
      assert.equal(messages.length, 500);

      await pg.stop();
      const stoppedAt = Date.now();
      const results = await sendMessages(messages, {
        port: scenario.smtpPort,
        sessions: 8,
        seqHeader: 'X-E2E-Seq',
      });
      const summary = summarizeSendResults(results);
      assert.equal(summary.accepted, 500, JSON.stringify(summary).slice(0, 1000));
      assert.deepEqual(await scenario.postfix.waitForEmptyQueue(120_000), []);
      assert.ok(Date.now() - stoppedAt < OUTAGE_MS, 'mail flowed while the database was down');
      await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt))));
      await pg.start();

      const logLines = (await readFile(config.paths.messageLog, 'utf8'))
        .split('\n')
        .filter(Boolean);
      const records = logLines.map(
        (l) =>
          JSON.parse(l) as { seq: number; id: string; disposition: string; subject: string | null },
      );
      const quarantined = records.filter((r) => r.disposition === 'quarantined');
      assert.ok(records.length >= 500, String(records.length));
      // Every GTUBE message, and whatever corpus spam scores high enough, is held.
      const heldGtube = quarantined.filter((r) => r.subject?.startsWith('outage GTUBE') === true);
      assert.equal(heldGtube.length, 100);
      const days = await readdir(config.paths.quarantine);
      let files = 0;
      for (const day of days) {
        files += (await readdir(join(config.paths.quarantine, day))).filter((n) =>
          n.endsWith('.eml'),
        ).length;
      }
      assert.equal(files, quarantined.length);

      const { db } = await openDatabase(node.home, config.database, { start: false });
      try {
        const deadline = Date.now() + 180_000;
        let shipped = 0;
        while (Date.now() < deadline) {
          const rows = await db.query<{ n: string }>(
            'SELECT count(*) AS n FROM message_log WHERE node_id = $1',
            [config.nodeId],
          );
          shipped = Number(rows[0]?.n ?? 0);
          if (shipped >= records.length) break;
          await new Promise((r) => setTimeout(r, 1000));
        }
        assert.equal(shipped, records.length, 'every message-log record, once');
        const distinct = await db.query<{ n: string }>(
          'SELECT count(DISTINCT seq) AS n FROM message_log WHERE node_id = $1',
          [config.nodeId],
        );
        assert.equal(Number(distinct[0]?.n), records.length);
        const q = await db.query<{ id: string }>('SELECT id FROM quarantine WHERE node_id = $1', [
          config.nodeId,
        ]);
        assert.deepEqual(
          q.map((r) => r.id).sort(),
          quarantined.map((r) => r.id).sort(),
          'every quarantine row, once',
        );
      } finally {
        await db.close();
      }
    } finally {
      await service?.close();
      await scenario.stop();
    }
  },
);

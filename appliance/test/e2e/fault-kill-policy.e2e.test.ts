/**
 * Issue 2, "Done when": the policy service is killed with SIGKILL in the middle of a run of 500
 * messages and started again; afterwards every message has been delivered exactly once or is
 * still in Postfix's queue — none is lost. In milter mode Postfix answers the sender with a
 * tempfail while the milter is gone (milter_default_action = tempfail): a message the sender
 * saw accepted must be delivered exactly once, one it saw tempfailed must not be delivered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCorpus } from './support/corpus.js';
import { sendMessages, type SendResult } from './support/smtp-send.js';
import { checkDeliveries } from './support/delivery-check.js';
import { postfixUnavailableReason } from './support/postfix-instance.js';
import { parapetUnavailableReason } from './support/parapet-node.js';
import { startScenario, type ScenarioMode } from './support/scenario.js';

const MESSAGES = 500;
const KILL_AFTER_DELIVERED = 120;
const skip = postfixUnavailableReason() ?? parapetUnavailableReason() ?? false;

for (const mode of ['content-filter', 'milter-tcp'] as const satisfies ScenarioMode[]) {
  test(
    `${mode}: SIGKILL of the policy service mid-run loses and duplicates nothing`,
    { skip, timeout: 300_000 },
    async (t) => {
      const corpus = await loadCorpus(MESSAGES, { offset: 1000 });
      const scenario = await startScenario(mode);
      const node = scenario.node;
      assert.ok(node !== null);
      try {
        const sending = sendMessages(
          corpus.map((m) => ({ raw: m.raw, name: m.name })),
          { port: scenario.smtpPort, sessions: 8, seqHeader: 'X-E2E-Seq', maxReconnects: 50 },
        );
        // Kill in the middle of the flow: once some mail has made it through.
        await scenario.sink.waitForCount(KILL_AFTER_DELIVERED, 60_000);
        const killedPid = node.pid();
        await node.kill();
        await new Promise((r) => setTimeout(r, 500));
        await node.start();
        assert.notEqual(node.pid(), killedPid);
        const results: SendResult[] = await sending;

        // Deferred mail waits >= 300 s for a retry; ask Postfix to retry now, a bounded number
        // of times, until the queue is empty.
        for (let round = 0; round < 20; round++) {
          await scenario.postfix.flush();
          const left = await scenario.postfix.waitForEmptyQueue(10_000).catch(() => null);
          if (left !== null) break;
        }
        const stillQueued = new Set((await scenario.postfix.queueEntries()).map((e) => e.queue_id));
        const report = await checkDeliveries(scenario.sink, { header: 'X-Parapet-Id' });
        const lost: number[] = [];
        const duplicated: number[] = [];
        const deliveredAfterTempfail: number[] = [];
        for (const r of results) {
          const count = report.bySeq.get(r.seq)?.count ?? 0;
          if (count > 1) duplicated.push(r.seq);
          if (r.status === 'accepted') {
            const queued = r.queueId !== undefined && stillQueued.has(r.queueId);
            if (count === 0 && !queued) lost.push(r.seq);
          } else if (count > 0) {
            deliveredAfterTempfail.push(r.seq);
          }
          if (r.status === 'rejected' || r.status === 'error') {
            assert.fail(`message ${r.seq} got ${r.status}: ${r.code} ${r.text}`);
          }
        }
        assert.deepEqual(
          { lost, duplicated, deliveredAfterTempfail },
          {
            lost: [],
            duplicated: [],
            deliveredAfterTempfail: [],
          },
        );
        const accepted = results.filter((r) => r.status === 'accepted').length;
        if (mode === 'content-filter') assert.equal(accepted, MESSAGES);
        // Every delivered copy carries its X-Parapet-Id.
        for (const d of report.bySeq.values()) assert.equal(d.values[0]?.length, 1);
        t.diagnostic(
          `${mode}: accepted ${accepted}, delivered ${report.total}, still queued ${stillQueued.size}`,
        );
      } finally {
        await scenario.stop();
      }
    },
  );
}

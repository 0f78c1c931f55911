/**
 * Issue 2, "Done when": a real Postfix in both modes carries 1,000 messages of the SpamAssassin
 * public corpus through Parapet, and every one is delivered exactly once carrying X-Parapet-Id —
 * none lost, duplicated or deferred. Skips with a reason when Postfix is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCorpus } from './support/corpus.js';
import { sendMessages, summarizeSendResults } from './support/smtp-send.js';
import { checkDeliveries, findDeliveryProblems } from './support/delivery-check.js';
import { postfixUnavailableReason } from './support/postfix-instance.js';
import { parapetUnavailableReason } from './support/parapet-node.js';
import { startScenario, type ScenarioMode } from './support/scenario.js';

const MESSAGES = 1000;
const skip = postfixUnavailableReason() ?? parapetUnavailableReason() ?? false;

for (const mode of [
  'content-filter',
  'milter-tcp',
  'milter-unix',
] as const satisfies ScenarioMode[]) {
  test(
    `${mode}: ${MESSAGES} corpus messages delivered exactly once with X-Parapet-Id`,
    { skip, timeout: 300_000 },
    async () => {
      const corpus = await loadCorpus(MESSAGES);
      assert.equal(corpus.length, MESSAGES);
      const scenario = await startScenario(mode);
      try {
        const results = await sendMessages(
          corpus.map((m) => ({ raw: m.raw, name: m.name })),
          { port: scenario.smtpPort, sessions: 8, seqHeader: 'X-E2E-Seq' },
        );
        const summary = summarizeSendResults(results);
        assert.equal(summary.accepted, MESSAGES, JSON.stringify(summary).slice(0, 1500));

        // Nothing may stay in the queue, deferred or otherwise.
        const left = await scenario.postfix.waitForEmptyQueue(120_000);
        assert.deepEqual(left, []);
        await scenario.sink.waitForCount(MESSAGES, 30_000);

        const report = await checkDeliveries(scenario.sink, { header: 'X-Parapet-Id' });
        const problems = findDeliveryProblems(
          report,
          results.map((r) => r.seq),
          { requireHeader: true },
        );
        assert.equal(problems.ok, true, JSON.stringify(problems).slice(0, 2000));
        assert.equal(report.total, MESSAGES);

        // Each X-Parapet-Id is distinct and has a message-log record saying what happened.
        const ids = [...report.bySeq.values()].map((d) => d.values[0]?.[0] ?? '');
        assert.equal(new Set(ids).size, MESSAGES);
        const log = (await scenario.node?.messageLog()) ?? [];
        const expected = mode === 'content-filter' ? 'reinjected' : 'released';
        const logged = new Map(log.map((r) => [r['id'], r['disposition']]));
        for (const id of ids) assert.equal(logged.get(id), expected, `message-log record of ${id}`);
      } finally {
        await scenario.stop();
      }
    },
  );
}

/**
 * Issue 2, "Done when": the policy service is killed with SIGKILL in the middle of a run of 500
 * messages and started again; afterwards every message has been delivered exactly once or is
 * still in Postfix's queue — none is lost.
 *
 * - Content filter: Postfix has accepted everything; what was in flight is deferred and, after
 *   a flush, retried. The re-injection ledger and its witness (filter/decisions/0005) answer
 *   retries of messages that were already re-injected, so none is delivered twice — also those
 *   whose "." left just before the kill, before the ledger's commit record could follow.
 * - Milter: while the milter is gone Postfix answers the sender with a tempfail
 *   (milter_default_action = tempfail). The test then does what a sending MTA does: it retries
 *   those messages. A message the sender saw accepted must be delivered exactly once; in the
 *   end every message must be.
 */
import { test } from 'node:test';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { loadCorpus } from './support/corpus.js';
import { addSequenceHeader, sendMessages, type SendResult } from './support/smtp-send.js';
import { checkDeliveries } from './support/delivery-check.js';
import { postfixUnavailableReason } from './support/postfix-instance.js';
import { parapetUnavailableReason } from './support/parapet-node.js';
import { startScenario, type ScenarioMode } from './support/scenario.js';

const MESSAGES = 500;
const KILL_AFTER_DELIVERED = 120;
const SEQ = 'X-E2E-Seq';
const skip = postfixUnavailableReason() ?? parapetUnavailableReason() ?? false;

for (const mode of ['content-filter', 'milter-tcp'] as const satisfies ScenarioMode[]) {
  test(
    `${mode}: SIGKILL of the policy service mid-run loses and duplicates nothing`,
    { skip, timeout: 300_000 },
    async (t) => {
      const corpus = await loadCorpus(MESSAGES, { offset: 1000 });
      const outgoing = corpus.map((m, seq) => ({
        seq,
        raw: addSequenceHeader(m.raw, SEQ, seq),
        name: m.name,
      }));
      const scenario = await startScenario(mode);
      const node = scenario.node;
      assert.ok(node !== null);
      try {
        const send = (batch: typeof outgoing): Promise<SendResult[]> =>
          sendMessages(batch, { port: scenario.smtpPort, sessions: 8, seqHeader: false });
        const sending = send(outgoing);
        // Kill in the middle of the flow: once some mail has made it through.
        await scenario.sink.waitForCount(KILL_AFTER_DELIVERED, 60_000);
        const killedPid = node.pid();
        await node.kill();
        await new Promise((r) => setTimeout(r, 500));
        await node.start();
        assert.notEqual(node.pid(), killedPid);

        // The sender's view: accepted (Postfix owns it now) or to be retried.
        const accepted = new Map<number, SendResult>();
        let batch = outgoing;
        let results = await sending;
        for (let attempt = 0; attempt < 5; attempt++) {
          const retry: typeof outgoing = [];
          results.forEach((r, i) => {
            const message = batch[i];
            if (message === undefined) return;
            if (r.status === 'accepted') accepted.set(message.seq, r);
            else if (r.status === 'tempfail') retry.push(message);
            else assert.fail(`message ${message.seq} got ${r.status}: ${r.code} ${r.text}`);
          });
          if (retry.length === 0) break;
          batch = retry;
          results = await send(batch);
        }
        assert.equal(accepted.size, MESSAGES, 'every message accepted in the end');

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
        for (const [seq, r] of accepted) {
          const count = report.bySeq.get(seq)?.count ?? 0;
          if (count > 1) duplicated.push(seq);
          const queued = r.queueId !== undefined && stillQueued.has(r.queueId);
          if (count === 0 && !queued) lost.push(seq);
        }
        const log = await node.messageLog();
        if (duplicated.length > 0) {
          const ids = duplicated.flatMap((seq) => report.bySeq.get(seq)?.values.flat() ?? []);
          t.diagnostic(`duplicated copies' X-Parapet-Id values: ${JSON.stringify(ids)}`);
          // What the re-injection ledger recorded for them (decision 0005): C = committed,
          // R = released, S = settled.
          const ledger = await readFile(
            join(node.home, 'spool', 'reinject-ledger.log'),
            'utf8',
          ).catch(() => '');
          const fps = new Set(
            ledger
              .split('\n')
              .filter((l) => ids.some((id) => l.includes(id)))
              .map((l) => l.split(' ')[1]),
          );
          t.diagnostic(
            `ledger lines: ${JSON.stringify(ledger.split('\n').filter((l) => ids.some((id) => l.includes(id)) || fps.has(l.split(' ')[1])))}`,
          );
          t.diagnostic(
            `duplicates: ${JSON.stringify(log.filter((r) => ids.includes(String(r['id']))))}`,
          );
          // Each copy's path: its Received headers name every queue id it passed through;
          // the maillog lines of those ids tell whether upstream retried or the sender resent.
          const dupSeqs = new Set(duplicated);
          const queueIds = new Set<string>();
          for (const d of report.deliveries) {
            const seq = Number(
              d.headers.find((h) => h.name.toLowerCase() === SEQ.toLowerCase())?.value,
            );
            if (!dupSeqs.has(seq)) continue;
            const received = d.headers.filter((h) => h.name.toLowerCase() === 'received');
            t.diagnostic(`copy of ${seq}: ${JSON.stringify(received.map((h) => h.value))}`);
            for (const h of received) {
              for (const m of h.value.matchAll(/\bid ([0-9A-F]{6,})/g)) {
                if (m[1] !== undefined) queueIds.add(m[1]);
              }
            }
          }
          const maillog = await scenario.postfix.readLog();
          t.diagnostic(
            `maillog: ${JSON.stringify(maillog.split('\n').filter((l) => [...queueIds].some((q) => l.includes(q))))}`,
          );
        }
        assert.deepEqual({ lost, duplicated }, { lost: [], duplicated: [] });
        // Every delivered copy carries exactly one X-Parapet-Id.
        for (const d of report.bySeq.values()) assert.equal(d.values[0]?.length, 1);
        const retriesAnswered = log.filter((r) => r['disposition'] === 'duplicate').length;
        t.diagnostic(
          `${mode}: delivered ${report.total}, still queued ${stillQueued.size}, ` +
            `retries of already re-injected messages answered from the ledger: ${retriesAnswered}`,
        );
      } finally {
        await scenario.stop();
      }
    },
  );
}

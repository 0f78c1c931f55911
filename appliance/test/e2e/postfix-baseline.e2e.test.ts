// Self-test of the e2e harness: a private Postfix with no filter relays 300 corpus messages,
// sent over 8 SMTP sessions, to smtp-sink; every message must arrive exactly once and the
// instances must leave no process behind. Also checks that two instances run side by side.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { loadCorpus } from './support/corpus.js';
import { checkDeliveries, findDeliveryProblems } from './support/delivery-check.js';
import { postfixUnavailableReason, startPostfixInstance } from './support/postfix-instance.js';
import type { PostfixInstance } from './support/postfix-instance.js';
import { isPidAlive } from './support/process-util.js';
import { sendMessages, summarizeSendResults } from './support/smtp-send.js';
import { startSmtpSink } from './support/smtp-sink.js';
import type { SmtpSink } from './support/smtp-sink.js';

const skip = postfixUnavailableReason() ?? false;
const MESSAGES = 300;
const SESSIONS = 8;

describe('private Postfix baseline (no filter)', { skip }, () => {
  // Assigned in before(); after() copes with a before() that failed half way.
  let sink: SmtpSink | undefined;
  let otherSink: SmtpSink | undefined;
  let mta: PostfixInstance | undefined;
  let other: PostfixInstance | undefined;

  before(async () => {
    sink = await startSmtpSink();
    otherSink = await startSmtpSink();
    [mta, other] = await Promise.all([
      startPostfixInstance({ relayPort: sink.port }),
      startPostfixInstance({ relayPort: otherSink.port }),
    ]);
  });

  after(async () => {
    await Promise.all([mta?.stop(), other?.stop()]);
    await Promise.all([sink?.stop({ removeDir: true }), otherSink?.stop({ removeDir: true })]);
  });

  test('two instances run side by side with their own dirs and ports', async () => {
    assert.ok(mta && other && sink && otherSink);
    assert.notEqual(mta.dir, other.dir);
    assert.notEqual(mta.smtpPort, other.smtpPort);
    assert.notEqual(mta.masterPid(), other.masterPid());
    const results = await sendMessages(await loadCorpus(3, { offset: 1000 }), {
      port: other.smtpPort,
      sessions: 1,
    });
    assert.equal(summarizeSendResults(results).accepted, 3, JSON.stringify(results));
    await other.waitForEmptyQueue(30_000);
    const report = await checkDeliveries(otherSink);
    assert.equal(findDeliveryProblems(report, [0, 1, 2]).ok, true);
    assert.equal(await sink.count(), 0, 'the other instance delivered into the wrong sink');
  });

  test(`${MESSAGES} corpus messages over ${SESSIONS} sessions are delivered exactly once`, async (t) => {
    assert.ok(mta && sink);
    const corpus = await loadCorpus(MESSAGES);
    assert.equal(corpus.length, MESSAGES);
    const started = performance.now();
    const results = await sendMessages(corpus, { port: mta.smtpPort, sessions: SESSIONS });
    const accepted = performance.now();
    const summary = summarizeSendResults(results);
    assert.equal(summary.accepted, MESSAGES, JSON.stringify(summary.notAccepted.slice(0, 5)));
    await mta.waitForEmptyQueue(120_000);
    await sink.waitForCount(MESSAGES, 30_000);
    const delivered = performance.now();
    const report = await checkDeliveries(sink);
    const problems = findDeliveryProblems(
      report,
      corpus.map((_, i) => i),
    );
    assert.deepEqual(problems, {
      ok: true,
      missing: [],
      duplicated: [],
      unexpected: [],
      headerProblems: [],
    });
    const acceptSeconds = (accepted - started) / 1000;
    const totalSeconds = (delivered - started) / 1000;
    t.diagnostic(
      `accepted ${MESSAGES} in ${acceptSeconds.toFixed(2)} s ` +
        `(${(MESSAGES / acceptSeconds).toFixed(0)} msg/s); delivered all in ` +
        `${totalSeconds.toFixed(2)} s (${(MESSAGES / totalSeconds).toFixed(0)} msg/s)`,
    );
    // Every delivery went through this instance: its Received header names it.
    const first = report.deliveries[0];
    assert.ok(
      first?.headers.some((h) => h.name === 'Received' && h.value.includes('mta.e2e.test')),
    );
  });

  test('stop() leaves no Postfix process and no instance dir behind', async () => {
    assert.ok(mta && other && sink);
    const pids = [...(await mta.pids()), ...(await other.pids())];
    assert.ok(pids.length >= 2, `expected running masters, got ${pids.join(',')}`);
    await Promise.all([mta.stop(), other.stop()]);
    await mta.stop(); // idempotent
    const alive = pids.filter((pid) => isPidAlive(pid));
    assert.deepEqual(alive, [], `still running: ${alive.join(',')}`);
    assert.equal(existsSync(mta.dir), false);
    assert.equal(existsSync(other.dir), false);
    const sinkPid = sink.pid;
    await sink.stop();
    assert.equal(isPidAlive(sinkPid), false);
  });
});

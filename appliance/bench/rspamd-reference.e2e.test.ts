/**
 * The private rspamd the benchmarks compare against (reference-filters.ts), driven for real:
 * skipped where rspamd and redis-server are not installed (the default test set-up does not
 * install them; see bench/README.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCorpusSplit } from './corpus-split.js';
import { RspamdReference, rspamdUnavailableReason } from './reference-filters.js';

const unavailable = await rspamdUnavailableReason();

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

function message(date: string, body: string): Buffer {
  return Buffer.from(
    `From: Alice <alice@example.com>\nTo: bob@example.org\nSubject: hello\n` +
      `Message-ID: <${String(Math.random()).slice(2)}@example.com>\nDate: ${date}\n\n${body}\n`,
  );
}

test(
  'private rspamd: offline, pinned date rule, GTUBE, Bayes learned from TRAIN',
  { skip: unavailable ?? false, timeout: 170_000 },
  async () => {
    const rspamd = await RspamdReference.create();
    try {
      await rspamd.start();

      const gtube = await rspamd.check(message('Tue, 31 Dec 2002 00:00:00 +0000', GTUBE));
      assert.equal(gtube.spam, true);
      assert.ok(gtube.symbols.has('GTUBE'));

      // Date a year before the pinned now: the pinned rule fires, rspamd's own scores 0.
      const old = message('Mon, 31 Dec 2001 00:00:00 +0000', 'see you tomorrow');
      const pinned = await rspamd.check(old, new Date('2002-12-31T00:00:00Z'));
      assert.equal(pinned.symbols.get('PINNED_DATE_IN_PAST'), 1);
      assert.equal(pinned.symbols.get('DATE_IN_PAST') ?? 0, 0);
      const sameDay = await rspamd.check(old, new Date('2001-12-31T05:00:00Z'));
      assert.equal(sameDay.symbols.has('PINNED_DATE_IN_PAST'), false);
      const ahead = await rspamd.check(old, new Date('2001-12-30T00:00:00Z'));
      assert.equal(ahead.symbols.get('PINNED_DATE_IN_FUTURE'), 4);

      // Network modules off: no lookup-failure or list symbols.
      for (const name of pinned.symbols.keys()) {
        assert.doesNotMatch(name, /DNSFAIL|^R_SPF|^R_DKIM|^DMARC|^RBL|^URIBL|^SURBL|FUZZY/);
      }

      // Bayes: 210 of each class (min_learns is 200), then a learned spam scores BAYES_SPAM.
      const train = await loadCorpusSplit('train');
      const spam = train.filter((m) => m.kind === 'spam').slice(0, 210);
      const ham = train.filter((m) => m.kind === 'easy-ham').slice(0, 210);
      const summary = await rspamd.learn([...spam, ...ham]);
      assert.ok(summary.learned >= 410, JSON.stringify(summary));
      const first = spam[0];
      assert.ok(first !== undefined);
      const learnedSpam = await rspamd.check(first.file, first.receivedAt ?? undefined);
      assert.ok(learnedSpam.symbols.has('BAYES_SPAM'), [...learnedSpam.symbols.keys()].join());

      const cpu = await rspamd.cpuSeconds();
      assert.ok(cpu.rspamd > 0 && cpu.redis >= 0);
    } finally {
      await rspamd.dispose();
    }
    // Stopped and removed: nothing of ours still listens.
    assert.equal(rspamd.pids.rspamd, null);
  },
);

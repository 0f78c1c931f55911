/**
 * `parapet try` against a running policy service (Sieve default policy, scanners on) whose
 * re-injection port has no MTA: the command brings its own throw-away sink, and reports the
 * clean sample delivered, GTUBE quarantined and a line for the EICAR sample.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findFreePorts } from './support/free-port.js';
import { createPolicyNode, parapetUnavailableReason, runParapet } from './support/parapet-node.js';

const skip = parapetUnavailableReason() ?? false;

test(
  'parapet try: clean delivered, GTUBE quarantined, each explained',
  { skip, timeout: 120_000 },
  async () => {
    const [filter, reinject] = await findFreePorts(2);
    const node = await createPolicyNode({
      smtpFilterPort: filter ?? 0,
      reinjectPort: reinject ?? 0,
      policy: { policyEngine: 'sieve' },
      scan: { enabled: true },
    });
    try {
      const env = { ...process.env, PARAPET_HOME: node.home };
      const before = await runParapet(['try', '--json'], env);
      assert.equal(before.code, 1, 'no node yet');
      assert.match(before.stderr, /ERR_NODE_NOT_RUNNING/);
      await node.start();
      const r = await runParapet(['try', '--json', '--timeout', '30'], env);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as {
        sample: string;
        smtp: string;
        disposition: string | null;
        score: number | null;
        delivered: boolean | null;
        headers: Record<string, string>;
      }[];
      assert.deepEqual(
        out.map((o) => o.sample),
        ['clean', 'gtube', 'eicar'],
      );
      const [clean, gtube, eicar] = out;
      if (clean === undefined || gtube === undefined || eicar === undefined) assert.fail(r.stdout);
      assert.match(clean.smtp, /^accepted/);
      assert.equal(clean.disposition, 'reinjected', r.stdout);
      assert.equal(clean.delivered, true);
      assert.match(clean.headers['X-Parapet-Spam'] ?? '', /^score=[0-9.-]+; threshold=/, r.stdout);
      assert.match(gtube.smtp, /^accepted/);
      assert.equal(gtube.disposition, 'quarantined', r.stdout);
      assert.ok((gtube.score ?? 0) >= 1000);
      assert.equal(gtube.delivered, false);
      assert.ok(eicar.disposition !== null, r.stdout);
      const text = await runParapet(['try'], env);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^gtube +accepted · quarantined/m);
    } finally {
      await node.dispose();
    }
  },
);

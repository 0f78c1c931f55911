/**
 * Issues 4 and 5, quarantine: with the real scanners and the shipped default policy, GTUBE
 * sent through a real Postfix and the content filter is quarantined ("high spam score") while
 * clean mail is delivered with X-Parapet-Spam; `parapet qman list --json` shows it, `qman
 * approve` (twice, and once more after delivery) releases it, and the Queue Runner delivers it
 * exactly once through the MTA's filter-free port with the signed release header, also after
 * the MTA was down at the first attempt; search,
 * forward, save, delete and expire work on it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findFreePort } from './support/free-port.js';
import { postfixUnavailableReason } from './support/postfix-instance.js';
import { parapetUnavailableReason, runParapet } from './support/parapet-node.js';
import { sendMessages } from './support/smtp-send.js';
import { headerValues, parseSinkDump } from './support/delivery-check.js';
import { startScenario } from './support/scenario.js';

const skip = postfixUnavailableReason() ?? parapetUnavailableReason() ?? false;

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

function message(subject: string, body: string): Buffer {
  return Buffer.from(
    `From: Sender <sender@example.net>\r\nTo: rcpt@example.com\r\nSubject: ${subject}\r\n` +
      `Date: ${new Date().toUTCString()}\r\n` +
      `Message-ID: <${subject.replace(/\W/g, '')}@e2e.example.net>\r\n\r\n${body}\r\n` +
      'From here on, a line mbox must quote.\r\n',
  );
}

interface Listed {
  id: string;
  subject: string;
  from: string;
  to: string[];
  reason: string;
  score: number | null;
  status: string;
  rule: string;
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- a typed JSON.parse for test data
const json = <T>(text: string): T => JSON.parse(text) as T;

test(
  'quarantine → qman approve (×3) → delivered once; search, forward, save, delete, expire',
  { skip, timeout: 240_000 },
  async () => {
    const scenario = await startScenario('content-filter', {
      policy: { policyEngine: 'sieve' },
      scan: { enabled: true },
    });
    try {
      const node = scenario.node;
      assert.ok(node !== null);
      const env = { ...process.env, PARAPET_HOME: node.home };
      const sent = await sendMessages(
        [
          { raw: message('Lunch on Friday', 'Shall we meet at noon?'), name: 'clean' },
          { raw: message('GTUBE test', GTUBE), name: 'gtube' },
        ],
        {
          port: scenario.smtpPort,
          sessions: 1,
          seqHeader: false,
          from: 'sender@example.net',
          to: ['rcpt@example.com'],
        },
      );
      assert.deepEqual(
        sent.map((r) => r.status),
        ['accepted', 'accepted'],
      );
      await scenario.postfix.waitForEmptyQueue(60_000);
      await scenario.sink.waitForCount(1, 60_000);
      const clean = (await scenario.sink.messages()).map((f) => parseSinkDump(f.data, f.file));
      assert.equal(clean.length, 1);
      assert.match(
        headerValues(clean[0] ?? parseSinkDump(Buffer.alloc(0)), 'x-parapet-spam')[0] ?? '',
        /^score=-?\d+\.\d\d; threshold=5\.00; symbols=/,
      );
      const listed = await runParapet(['qman', 'list', '--json'], env);
      assert.equal(listed.code, 0, listed.stderr);
      const held = json<Listed[]>(listed.stdout);
      assert.equal(held.length, 1, 'one message held');
      const entry = held[0];
      assert.ok(entry !== undefined);
      assert.equal(entry.reason, 'high spam score');
      assert.ok((entry.score ?? 0) >= 1000, String(entry.score));
      assert.equal(entry.from, 'sender@example.net');
      assert.deepEqual(entry.to, ['rcpt@example.com']);
      assert.match(entry.rule, /^default\.sieve:\d+$/);
      assert.equal(entry.status, 'quarantined');
      const before = await scenario.sink.count();

      const search = await runParapet(
        [
          'qman',
          'search',
          '--subject',
          'gtube',
          '--reason',
          'spam',
          '--min-score',
          '100',
          '--json',
        ],
        env,
      );
      assert.equal(json<Listed[]>(search.stdout).length, 1);
      const none = await runParapet(['qman', 'search', '--from', 'nobody@', '--json'], env);
      assert.deepEqual(JSON.parse(none.stdout), []);

      // Approve twice before the Queue Runner runs: one queue item.
      const a1 = await runParapet(['qman', 'approve', entry.id, '--json'], env);
      const a2 = await runParapet(['qman', 'approve', entry.id, '--json'], env);
      assert.equal(a1.code, 0, a1.stderr);
      assert.equal(json<{ queued: boolean }>(a1.stdout).queued, true);
      assert.equal(json<{ queued: boolean }>(a2.stdout).queued, false);
      // The MTA is down (its filter-free port refuses connections): the Queue Runner keeps
      // the release and retries it later. The queue reads its target from node.json.
      const nodeJson = join(node.home, 'config', 'node.json');
      const settings = await readFile(nodeJson, 'utf8');
      const parsed = JSON.parse(settings) as { policy: Record<string, unknown> };
      parsed.policy['reinject'] = { host: '127.0.0.1', port: await findFreePort() };
      await writeFile(nodeJson, JSON.stringify(parsed));
      const down = await runParapet(['queue', 'run', '--json'], env);
      assert.equal(down.code, 1, down.stderr + down.stdout);
      assert.deepEqual(JSON.parse(down.stdout), { delivered: 0, deferred: 1, failed: 0 });
      const waiting = await runParapet(['queue', 'list', '--json'], env);
      const items = json<{ status: string; attempts: number; lastError: string }[]>(waiting.stdout);
      assert.equal(items.length, 1);
      const [item] = items;
      assert.ok(item !== undefined);
      assert.equal(item.status, 'queued');
      assert.equal(item.attempts, 1);
      await writeFile(nodeJson, settings);
      const run = await runParapet(['queue', 'run', '--json'], env);
      assert.equal(run.code, 0, run.stderr + run.stdout);
      assert.deepEqual(JSON.parse(run.stdout), { delivered: 1, deferred: 0, failed: 0 });
      // And once more after delivery: still nothing new.
      const a3 = await runParapet(['qman', 'approve', entry.id, '--json'], env);
      assert.equal(json<{ queueStatus: string }>(a3.stdout).queueStatus, 'delivered');
      const rerun = await runParapet(['queue', 'run', '--json'], env);
      assert.deepEqual(JSON.parse(rerun.stdout), { delivered: 0, deferred: 0, failed: 0 });

      await scenario.postfix.waitForEmptyQueue(60_000);
      await scenario.sink.waitForCount(before + 1, 60_000);
      await new Promise((r) => setTimeout(r, 1000));
      const releases = (await scenario.sink.messages())
        .map((f) => parseSinkDump(f.data, f.file))
        .filter((d) => headerValues(d, 'x-parapet-released').length > 0);
      assert.equal(releases.length, 1, 'released exactly once');
      const release = releases[0];
      assert.ok(release !== undefined);
      assert.match(
        headerValues(release, 'x-parapet-released')[0] ?? '',
        new RegExp(`^${entry.id}; by=cli:[^;]+; sig=[A-Za-z0-9_-]+$`),
      );
      assert.deepEqual(headerValues(release, 'subject'), [entry.subject]);

      const released = await runParapet(['qman', 'list', '--status', 'released', '--json'], env);
      assert.deepEqual(
        json<Listed[]>(released.stdout).map((e) => e.id),
        [entry.id],
      );

      const fwd = await runParapet(['qman', 'forward', entry.id, '--to', 'admin@example.org'], env);
      assert.equal(fwd.code, 0, fwd.stderr);
      assert.match(fwd.stdout, /forwarded to admin@example\.org/);
      const mbox = await runParapet(['qman', 'save', entry.id, '--format', 'mbox'], env);
      assert.match(mbox.stdout, /^From sender@example\.net /);
      assert.match(mbox.stdout, /\n>From here on/);
      const bad = await runParapet(['qman', 'save', entry.id, '--format', 'pdf'], env);
      assert.equal(bad.code, 2);

      const young = await runParapet(['qman', 'expire', '--older-than', '1h', '--json'], env);
      assert.deepEqual(JSON.parse(young.stdout), { expired: [], dryRun: false });
      const del = await runParapet(['qman', 'delete', entry.id], env);
      assert.equal(del.code, 0, del.stderr);
      const gone = await runParapet(['qman', 'show', entry.id], env);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /no quarantined message/);
    } finally {
      await scenario.stop();
    }
  },
);

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageLogRecord } from '../../filter/index.js';
import { MessageLogTail, ReputationTracker, isBadRecord } from './reputation.js';

let seq = 0;
function record(ip: string, score: number, time: string, symbols: string[] = []): MessageLogRecord {
  seq++;
  return {
    nodeId: 'n1',
    seq,
    id: `id${String(seq)}`,
    time,
    queueId: null,
    client: { address: ip, name: null },
    helo: null,
    from: null,
    to: [],
    subject: null,
    sizeBytes: 1,
    verdict: 'accept',
    reason: null,
    disposition: 'reinjected',
    score,
    symbols: symbols.map((name) => ({ name, score: 0 })),
    rule: null,
    errorCode: null,
    timingsMs: {},
  };
}

test('bad records: spam score at the threshold, or a virus finding', () => {
  assert.equal(isBadRecord(record('1.1.1.1', 5, ''), 5), true);
  assert.equal(isBadRecord(record('1.1.1.1', 4.9, ''), 5), false);
  assert.equal(isBadRecord(record('1.1.1.1', 0, '', ['VIRUS_FOUND']), 5), true);
  assert.equal(isBadRecord(record('1.1.1.1', 0, '', ['VIRUS_UNSCANNED']), 5), false);
});

test('an address is refused once enough of its recent mail was bad, and heals as the window slides', () => {
  const t0 = Date.parse('2026-11-22T10:00:00Z');
  const at = (min: number): string => new Date(t0 + min * 60_000).toISOString();
  const tracker = new ReputationTracker({ windowMs: 3_600_000, minMessages: 10, badRatio: 0.9 });
  for (let i = 0; i < 9; i++) tracker.observe(record('198.51.100.1', 20, at(i)));
  assert.equal(tracker.judge('198.51.100.1', t0 + 10 * 60_000).refuse, false, 'below minimum');
  tracker.observe(record('198.51.100.1', 30, at(9)));
  assert.deepEqual(tracker.judge('198.51.100.1', t0 + 10 * 60_000), {
    total: 10,
    bad: 10,
    refuse: true,
  });
  tracker.observe(record('198.51.100.1', 0, at(10)));
  tracker.observe(record('198.51.100.1', 0, at(10)));
  assert.equal(tracker.judge('198.51.100.1', t0 + 11 * 60_000).refuse, false, '10/12 < 0.9');
  assert.equal(tracker.judge('203.0.113.5', t0).total, 0);
  // Two hours later everything has left the window.
  const later = t0 + 2 * 3_600_000;
  assert.equal(tracker.judge('198.51.100.1', later).total, 0);
  tracker.prune(later);
  assert.equal(tracker.trackedAddresses, 0);
});

test('the tail reads appended lines, waits for partial ones, survives junk and truncation', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parapet-tail-'));
  try {
    const path = join(dir, 'message-log.jsonl');
    const seen: MessageLogRecord[] = [];
    const tail = new MessageLogTail(path, (r) => seen.push(r));
    assert.equal(await tail.poll(), 0, 'missing file');
    writeFileSync(path, `${JSON.stringify(record('192.0.2.1', 1, 't'))}\nnot json\n`);
    assert.equal(await tail.poll(), 1);
    const line = JSON.stringify(record('192.0.2.2', 1, 't'));
    appendFileSync(path, line.slice(0, 10));
    assert.equal(await tail.poll(), 0, 'partial line waits');
    appendFileSync(path, `${line.slice(10)}\n`);
    assert.equal(await tail.poll(), 1);
    assert.deepEqual(
      seen.map((r) => r.client.address),
      ['192.0.2.1', '192.0.2.2'],
    );
    writeFileSync(path, `${JSON.stringify(record('192.0.2.3', 1, 't'))}\n`);
    assert.equal(await tail.poll(), 1, 'a truncated file is read from its start');
    // A new tail starting mid-file skips the partial first line.
    const big =
      Array.from({ length: 50 }, (_, i) =>
        JSON.stringify(record(`10.0.0.${String(i)}`, 1, 't')),
      ).join('\n') + '\n';
    writeFileSync(path, big);
    const fresh: MessageLogRecord[] = [];
    const late = new MessageLogTail(path, (r) => fresh.push(r), 1000);
    await late.poll();
    assert.ok(fresh.length > 0 && fresh.length < 50);
    assert.equal(fresh.at(-1)?.client.address, '10.0.0.49');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

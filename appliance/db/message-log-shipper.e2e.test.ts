import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MessageLog, type MessageLogEntry } from '../../filter/index.js';
import { MessageLogShipper, type ShipperEvent } from './message-log-shipper.js';
import { pgUnavailableReason, startTestPostgres, type TestPostgres } from './test-support.js';

const skip = pgUnavailableReason();
let t: TestPostgres;

before(async () => {
  if (skip === undefined) t = await startTestPostgres();
});
after(async () => {
  if (skip === undefined) await t.cleanup();
});

function entry(i: number): MessageLogEntry {
  return {
    id: `msg-${i}`,
    queueId: null,
    client: { address: `198.51.100.${i % 250}`, name: null },
    helo: 'client.example',
    from: `s${i}@example.com`,
    to: ['r@example.org'],
    subject: `message ${i}`,
    sizeBytes: 2000 + i,
    verdict: 'accept',
    reason: null,
    disposition: 'delivered',
    score: 0.5,
    symbols: [{ name: 'BAYES_00', score: -1 }],
    rule: 'main.sieve:3',
    errorCode: null,
    timingsMs: { scan: 1, total: 2 },
  };
}

async function counts(
  nodeId: string,
): Promise<{ n: number; distinct: number; min: number; max: number }> {
  const rows = await t.db.query<{ n: number; distinct: number; min: number; max: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT seq)::int AS distinct, min(seq)::int AS min,
            max(seq)::int AS max FROM message_log WHERE node_id = $1`,
    [nodeId],
  );
  return rows[0] ?? { n: 0, distinct: 0, min: 0, max: 0 };
}

async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test(
  'every record reaches the database exactly once across a database restart',
  { skip },
  async () => {
    const logPath = join(t.home, 'log', 'message-log.jsonl');
    const log = await MessageLog.open({
      path: logPath,
      nodeId: 'node-restart',
      syncIntervalMs: 20,
    });
    const events: ShipperEvent[] = [];
    const shipper = new MessageLogShipper({
      db: t.db,
      logPath,
      batchRecords: 150,
      idleMs: 20,
      retryInitialMs: 50,
      retryMaxMs: 400,
      onEvent: (e) => events.push(e),
    });
    shipper.start();
    const total = 3000;
    const appendSome = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) {
        log.append(entry(i));
        if (i % 100 === 99) await new Promise((r) => setTimeout(r, 5));
      }
    };
    await appendSome(0, 1000);
    await waitFor('some records shipped', async () => (await counts('node-restart')).n > 0, 30_000);
    // The database goes away while the node keeps logging.
    await t.pg.stop();
    await appendSome(1000, 2000);
    await waitFor('a failed batch', () => events.some((e) => e.type === 'retry'), 30_000);
    await t.pg.start();
    await appendSome(2000, total);
    await log.close();
    const size = (await stat(logPath)).size;
    await waitFor(
      'the shipper to catch up',
      async () => (await shipper.cursor()).offset === size,
      60_000,
    );
    await shipper.stop();

    assert.deepEqual(await counts('node-restart'), {
      n: total,
      distinct: total,
      min: 1,
      max: total,
    });
    const retry = events.find((e) => e.type === 'retry');
    assert.equal(retry?.type === 'retry' ? retry.error.code : undefined, 'ERR_DB_UNAVAILABLE');
    assert.equal((await shipper.cursor()).lastSeq, total);

    // A restarted shipper continues from its durable cursor: nothing left to send.
    const restarted = new MessageLogShipper({ db: t.db, logPath });
    assert.deepEqual(await restarted.drain(), { records: 0, inserted: 0, rejected: 0 });
    // Even with the cursor lost, re-sending everything doubles nothing.
    await rm(`${logPath}.cursor`);
    const fromScratch = new MessageLogShipper({ db: t.db, logPath });
    assert.deepEqual(await fromScratch.drain(), { records: total, inserted: 0, rejected: 0 });
    assert.equal((await counts('node-restart')).n, total);
  },
);

test(
  'torn and bad lines: a partial line waits, garbage and refused records are set aside',
  { skip },
  async () => {
    const logPath = join(t.home, 'log', 'bad.jsonl');
    const good = (seq: number): string =>
      JSON.stringify({
        nodeId: 'node-bad',
        seq,
        time: new Date().toISOString(),
        id: `b${seq}`,
        disposition: 'delivered',
      });
    // A year PostgreSQL cannot store although JavaScript can: the database refuses this record.
    const refused = JSON.stringify({
      nodeId: 'node-bad',
      seq: 3,
      time: '+200000-01-01T00:00:00.000Z',
      disposition: 'x',
    });
    await appendFile(
      logPath,
      `${good(1)}\n{not json\n${refused}\n${good(4)}\n${good(5).slice(0, 20)}`,
    );
    const shipper = new MessageLogShipper({ db: t.db, logPath });
    assert.deepEqual(await shipper.shipOnce(), { records: 4, inserted: 2, rejected: 2 });
    assert.deepEqual(await shipper.shipOnce(), { records: 0, inserted: 0, rejected: 0 });
    await appendFile(logPath, `${good(5).slice(20)}\n`);
    assert.deepEqual(await shipper.shipOnce(), { records: 1, inserted: 1, rejected: 0 });
    const rejected = (await readFile(join(t.home, 'log', 'bad.rejected.jsonl'), 'utf8'))
      .trim()
      .split('\n');
    assert.equal(rejected.length, 2);
    // The year-200000 record passed parsing and was isolated from its batch by the database.
    assert.ok(rejected.some((l) => l.includes('200000') && !l.includes('bad time')));
    assert.deepEqual(
      (
        await t.db.query<{ seq: number }>(
          `SELECT seq FROM message_log WHERE node_id = 'node-bad' ORDER BY seq`,
        )
      ).map((r) => r.seq),
      [1, 4, 5],
    );
  },
);

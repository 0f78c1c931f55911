// Reports over the roll-ups of migration 0006, against a real PostgreSQL: categories by hour
// and day, every top list, group scopes, IP-blocked connections, quarantine size, CSV, bad
// queries refused, idempotent recompute, and no report reading message_log.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ParapetError, type MessageLogRecord } from '../../filter/index.js';
import {
  insertMessageLogBatch,
  rollupMessageLog,
  type MessageLogExtras,
} from './message-log-repo.js';
import { parseRecord } from './message-log-shipper.js';
import { insertQuarantineRows } from './quarantine-repo.js';
import { rollupIpBlockLog, snapshotQuarantineSize } from './report-rollup-repo.js';
import {
  reportIpBlocked,
  reportMessageCategories,
  reportQuarantineSize,
  reportTop,
  reportToCsv,
  runReport,
  REPORT_IDS,
  type ReportQuery,
} from './reports-repo.js';
import { pgUnavailableReason, startTestPostgres, type TestPostgres } from './test-support.js';

const skip = pgUnavailableReason();
let t: TestPostgres;
let seq = 0;

type Rec = MessageLogRecord & MessageLogExtras;

function record(time: string, fields: Partial<Rec> = {}): Rec {
  seq += 1;
  return {
    nodeId: 'node-a',
    seq,
    id: `m${String(seq)}`,
    time,
    queueId: null,
    client: { address: '192.0.2.10', name: null },
    helo: null,
    from: 'someone@sender.example',
    to: ['u3@corp.example'],
    subject: 'hello',
    sizeBytes: 1000,
    verdict: 'accept',
    reason: null,
    disposition: 'reinjected',
    score: 0,
    symbols: [],
    rule: null,
    errorCode: null,
    timingsMs: {},
    ...fields,
  };
}

function times(n: number, make: (i: number) => Rec): Rec[] {
  return Array.from({ length: n }, (_, i) => make(i));
}

const D1 = '2026-03-01';
const D2 = '2026-03-02';
const range3Days: ReportQuery = {
  from: new Date(`${D1}T00:00:00Z`),
  to: new Date('2026-03-04T00:00:00Z'),
};

const spamHigh = (i: number): Rec =>
  record(`${D1}T10:0${String(i)}:00Z`, {
    from: 'A@Spam.example',
    client: { address: '198.51.100.1', name: null },
    to: ['u1@corp.example'],
    score: 12,
    marks: ['spam-high'],
    rule: 'policy.sieve:40',
    verdict: 'quarantine',
    disposition: 'quarantined',
  });

before(async () => {
  if (skip !== undefined) return;
  t = await startTestPostgres();
  const records: Rec[] = [
    ...times(3, spamHigh),
    // Spam by score alone (no marks), to two domains.
    record(`${D1}T11:00:00Z`, {
      from: 'b@spam.example',
      client: { address: '198.51.100.2', name: null },
      to: ['u2@corp.example', 'u1@other.example'],
      score: 6,
    }),
    ...times(2, (i) =>
      record(`${D1}T12:0${String(i)}:00Z`, {
        from: 'v@bad.example',
        client: { address: '203.0.113.9', name: null },
        to: ['u1@corp.example'],
        virusNames: ['Eicar-Test-Signature'],
        attachmentTypes: ['zip'],
        verdict: 'quarantine',
        disposition: 'quarantined',
        sizeBytes: 5000,
      }),
    ),
    // A virus known only from its finding (no names in the record).
    record(`${D1}T12:30:00Z`, {
      from: 'w@bad.example',
      client: { address: '203.0.113.9', name: null },
      symbols: [{ name: 'VIRUS_FOUND', score: 10 }],
      score: 10,
    }),
    ...times(4, (i) =>
      record(`${D1}T13:0${String(i)}:00Z`, {
        symbols: i === 0 ? [{ name: 'FILE_EXECUTABLE_CONTENT', score: 3 }] : [],
        score: i === 0 ? 3 : 0,
      }),
    ),
    record(`${D1}T14:00:00Z`, {
      disposition: 'rejected',
      verdict: 'reject',
      rule: 'policy.sieve:9',
    }),
    ...times(2, (i) => record(`${D2}T09:0${String(i)}:00Z`)),
  ];
  await insertMessageLogBatch(t.db, records);
  await rollupMessageLog(t.db, range3Days.from, range3Days.to);
});
after(async () => {
  if (skip === undefined) await t.cleanup();
});

test('message categories per day, with zero days filled and totals', { skip }, async () => {
  const r = await reportMessageCategories(t.db, range3Days);
  assert.equal(r.granularity, 'day');
  assert.deepEqual(
    r.buckets.map((b) => [
      b.bucket.toISOString().slice(0, 10),
      b.clean,
      b.spam,
      b.virus,
      b.blocked,
    ]),
    [
      [D1, 4, 4, 3, 1],
      [D2, 2, 0, 0, 0],
      ['2026-03-03', 0, 0, 0, 0],
    ],
  );
  assert.equal(r.totals.total, 14);
  assert.equal(r.totals.bytes, 12 * 1000 + 2 * 5000);
});

test('ranges of 48 hours or less are hourly', { skip }, async () => {
  const r = await reportMessageCategories(t.db, {
    from: new Date(`${D1}T00:00:00Z`),
    to: new Date(`${D2}T00:00:00Z`),
  });
  assert.equal(r.granularity, 'hour');
  assert.equal(r.buckets.length, 24);
  const at = (h: number): number =>
    r.buckets.find((b) => b.bucket.getUTCHours() === h)?.total ?? -1;
  assert.deepEqual([at(9), at(10), at(11), at(12), at(13), at(14)], [0, 3, 1, 3, 4, 1]);
  const byNode = await reportMessageCategories(t.db, { ...range3Days, nodeId: 'node-b' });
  assert.equal(byNode.totals.total, 0);
});

test(
  'top lists: senders, relays, recipients, viruses, rules, marks, attachments',
  {
    skip,
  },
  async () => {
    const top = async (d: Parameters<typeof reportTop>[1]): Promise<[string, number][]> =>
      (await reportTop(t.db, d, range3Days)).map((r) => [r.key, r.messages]);
    assert.deepEqual(await top('sender_spam'), [
      ['a@spam.example', 3],
      ['b@spam.example', 1],
    ]);
    assert.deepEqual(await top('sender_virus'), [
      ['v@bad.example', 2],
      ['w@bad.example', 1],
    ]);
    assert.deepEqual(await top('relay_spam'), [
      ['198.51.100.1', 3],
      ['198.51.100.2', 1],
    ]);
    assert.deepEqual(await top('relay_virus'), [['203.0.113.9', 3]]);
    assert.deepEqual(await top('virus'), [
      ['Eicar-Test-Signature', 2],
      ['unknown', 1],
    ]);
    assert.deepEqual(await top('rule'), [
      ['policy.sieve:40', 3],
      ['policy.sieve:9', 1],
    ]);
    assert.deepEqual(await top('mark'), [['spam-high', 3]]);
    assert.deepEqual(await top('attachment_type'), [
      ['zip', 2],
      ['FILE_EXECUTABLE_CONTENT', 1],
    ]);
    assert.deepEqual((await top('recipient')).slice(0, 2), [
      ['u3@corp.example', 8],
      ['u1@corp.example', 5],
    ]);
    assert.deepEqual(await top('recipient_spam'), [
      ['u1@corp.example', 3],
      ['u1@other.example', 1],
      ['u2@corp.example', 1],
    ]);
    const limited = await reportTop(t.db, 'recipient', { ...range3Days, limit: 1 });
    assert.equal(limited.length, 1);
  },
);

test(
  'group scopes see only their domains and addresses; an empty scope sees nothing',
  {
    skip,
  },
  async () => {
    const other = { ...range3Days, scope: { domains: ['@Other.example'], addresses: [] } };
    const cats = await reportMessageCategories(t.db, other);
    assert.equal(cats.granularity, 'day');
    assert.deepEqual([cats.totals.total, cats.totals.spam], [1, 1]);
    assert.deepEqual(await reportTop(t.db, 'sender_spam', other), [
      { key: 'b@spam.example', messages: 1 },
    ]);
    // Only the domain's own recipient, not u2@corp.example of the same message.
    assert.deepEqual(await reportTop(t.db, 'recipient', other), [
      { key: 'u1@other.example', messages: 1 },
    ]);

    const user = { ...range3Days, scope: { domains: [], addresses: ['U3@corp.example'] } };
    const userCats = await reportMessageCategories(t.db, user);
    assert.deepEqual(
      [userCats.totals.total, userCats.totals.clean, userCats.totals.blocked],
      [8, 6, 1],
    );
    assert.deepEqual(await reportTop(t.db, 'sender_spam', user), []);
    assert.deepEqual(await reportTop(t.db, 'recipient', user), [
      { key: 'u3@corp.example', messages: 8 },
    ]);
    assert.equal((await reportIpBlocked(t.db, user)).total, 0);
    assert.ok((await reportQuarantineSize(t.db, user)).buckets.every((b) => b.held === null));

    const none = { ...range3Days, scope: { domains: [], addresses: [] } };
    assert.equal((await reportMessageCategories(t.db, none)).totals.total, 0);
    for (const id of REPORT_IDS) {
      const table = await runReport(t.db, id, none);
      if (table.kind === 'top') assert.deepEqual(table.rows, [], id);
    }
  },
);

test(
  'IP-blocked connections from the IP Blocker log, recomputed idempotently',
  {
    skip,
  },
  async () => {
    const log = join(t.home, 'ipblock.jsonl');
    const line = (time: string, client: string, source: string): string =>
      JSON.stringify({ time, nodeId: 'node-a', client, source, action: 'reject' });
    // The day straddles a rotation: its first refusals are in the older generation.
    await writeFile(
      `${log}.1`,
      [
        line(`${D1}T01:00:00Z`, '192.0.2.66', 'local'),
        line(`${D1}T02:00:00Z`, '192.0.2.66', 'local'),
        '',
      ].join('\n'),
    );
    await writeFile(
      log,
      [
        line(`${D1}T03:00:00Z`, '192.0.2.67', 'dnsbl:zen.example'),
        line(`${D2}T03:00:00Z`, '192.0.2.67', 'reputation'),
        JSON.stringify({ time: `${D1}T04:00:00Z`, nodeId: 'node-b', client: '192.0.2.1' }),
        'not json',
        '',
      ].join('\n'),
    );
    const options = {
      nodeId: 'node-a',
      logFiles: [`${log}.1`, log],
      from: range3Days.from,
      to: range3Days.to,
    };
    const first = await rollupIpBlockLog(t.db, options);
    const again = await rollupIpBlockLog(t.db, options);
    assert.deepEqual([first.refusals, first.skipped], [4, 1]);
    assert.deepEqual(again, first);
    const r = await reportIpBlocked(t.db, range3Days);
    assert.equal(r.total, 4);
    assert.deepEqual(
      r.buckets.map((b) => [b.connections, b.bySource]),
      [
        [3, { local: 2, 'dnsbl:zen.example': 1 }],
        [1, { reputation: 1 }],
        [0, {}],
      ],
    );
    assert.deepEqual(r.top[0], { key: '192.0.2.66', messages: 2 });
    const missing = await rollupIpBlockLog(t.db, { ...options, logFiles: [join(t.home, 'none')] });
    assert.equal(missing.refusals, 0);
    assert.equal((await reportIpBlocked(t.db, range3Days)).total, 0);
  },
);

test('quarantine size: quarantined per day and the held snapshot', { skip }, async () => {
  await insertQuarantineRows(
    t.db,
    [1, 2, 3].map((i) => ({
      id: `q${String(i)}`,
      nodeId: 'node-a',
      time: new Date(`${D1}T10:00:00Z`),
      from: 'a@spam.example',
      to: ['u1@corp.example'],
      subject: 'x',
      sizeBytes: 100 * i,
      reason: 'high spam score',
      score: 12,
      symbols: [],
      rule: null,
      path: '/nonexistent',
    })),
  );
  const held = await snapshotQuarantineSize(t.db, new Date(`${D2}T12:00:00Z`));
  assert.equal(held, 3);
  const r = await reportQuarantineSize(t.db, range3Days);
  assert.deepEqual(
    r.buckets.map((b) => [b.quarantined, b.quarantinedBytes, b.held, b.heldBytes]),
    [
      [5, 3 * 1000 + 2 * 5000, null, null],
      [0, 0, 3, 600],
      [0, 0, null, null],
    ],
  );
});

test('runReport tables and CSV export (quoting, formula cells neutralised)', { skip }, async () => {
  const cats = await runReport(t.db, 'message-categories', range3Days);
  assert.deepEqual(cats.columns, [
    'bucket',
    'clean',
    'spam',
    'virus',
    'blocked',
    'tempfail',
    'total',
    'bytes',
  ]);
  assert.equal(cats.rows.length, 3);
  const relays = await runReport(t.db, 'top-spam-relays', range3Days);
  assert.deepEqual(relays.columns, ['client', 'messages']);
  const csv = reportToCsv({
    columns: ['key', 'messages'],
    rows: [
      ['=HYPERLINK("x")', 1],
      ['a,b', 2],
      ['plain', null],
    ],
  });
  assert.equal(csv, `key,messages\r\n"'=HYPERLINK(""x"")",1\r\n"a,b",2\r\nplain,\r\n`);
});

test('bad queries are refused with ERR_REPORT_INVALID', { skip }, async () => {
  const refused = async (fn: () => Promise<unknown>): Promise<void> => {
    await assert.rejects(
      fn,
      (err: unknown) => err instanceof ParapetError && err.code === 'ERR_REPORT_INVALID',
    );
  };
  await refused(() => reportMessageCategories(t.db, { from: range3Days.to, to: range3Days.from }));
  await refused(() => reportTop(t.db, 'recipient', { ...range3Days, limit: 0 }));
  await refused(() => reportTop(t.db, 'recipient', { ...range3Days, limit: 501 }));
  await refused(() => reportTop(t.db, 'nope' as 'recipient', range3Days));
  await refused(() => runReport(t.db, 'nope' as 'viruses', range3Days));
  await refused(() =>
    reportMessageCategories(t.db, { from: new Date(0), to: new Date('2030-01-01T00:00:00Z') }),
  );
  await refused(() => reportMessageCategories(t.db, { from: new Date(NaN), to: range3Days.to }));
});

test(
  'the shipper keeps the report fields of a record; late records are counted once',
  {
    skip,
  },
  async () => {
    const parsed = parseRecord(
      JSON.stringify({
        ...record(`${D2}T15:00:00Z`),
        marks: ['spam', 7, ''],
        virusNames: 'not a list',
        attachmentTypes: ['pdf'],
      }),
    );
    assert.ok(typeof parsed !== 'string');
    assert.deepEqual(
      [parsed.marks, parsed.virusNames, parsed.attachmentTypes],
      [['spam'], undefined, ['pdf']],
    );
    await insertMessageLogBatch(t.db, [parsed]);
    await rollupMessageLog(t.db, new Date(`${D2}T00:00:00Z`), new Date(`${D2}T01:00:00Z`));
    await rollupMessageLog(t.db, new Date(`${D2}T00:00:00Z`), new Date(`${D2}T01:00:00Z`));
    const r = await reportMessageCategories(t.db, range3Days);
    assert.deepEqual(
      r.buckets.map((b) => [b.clean, b.spam]),
      [
        [4, 4],
        [2, 1],
        [0, 0],
      ],
    );
    assert.deepEqual(await reportTop(t.db, 'attachment_type', { ...range3Days, limit: 5 }), [
      { key: 'zip', messages: 2 },
      { key: 'FILE_EXECUTABLE_CONTENT', messages: 1 },
      { key: 'pdf', messages: 1 },
    ]);
  },
);

test('reports read only roll-ups: emptying message_log changes no report', { skip }, async () => {
  const before = await Promise.all(REPORT_IDS.map((id) => runReport(t.db, id, range3Days)));
  await t.db.execute('TRUNCATE message_log');
  const afterwards = await Promise.all(REPORT_IDS.map((id) => runReport(t.db, id, range3Days)));
  assert.deepEqual(afterwards, before);
  assert.ok(before.some((table) => table.rows.length > 0));
});

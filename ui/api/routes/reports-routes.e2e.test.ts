/**
 * /api/v1/reports against a real embedded PostgreSQL: message-log rows rolled up by the real
 * roll-up, read back through the API as JSON and CSV; roles, bad input and a missing database.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rollupMessageLog, type Db } from '../../../appliance/index.js';
import { ParapetError } from '../../../filter/index.js';
import { startWebNode, WebClient, type WebNode } from '../../test/web-node.js';
import { PG_SKIP, startTestDatabase, type TestDatabase } from '../../test/test-database.js';

interface TableBody {
  kind: string;
  granularity: string | null;
  columns: string[];
  rows: (string | number | null)[][];
}

/** An attacker-chosen sender: a formula, a comma and quotes, to check the CSV cell. */
const NASTY_SENDER = '=cmd,"x"@evil.example';

/** `n` message-log rows spread over the last two days. */
async function insertLog(
  db: Db,
  first: number,
  n: number,
  fields: {
    sender: string;
    disposition: string;
    score: number;
    virus?: string;
    client: string;
  },
): Promise<void> {
  await db.execute(
    `INSERT INTO message_log (node_id, seq, id, ts, client_address, sender, recipients, size_bytes,
       verdict, disposition, score, symbols, rule, virus_names)
     SELECT 'n1', $1::bigint + g, 'm' || ($1::bigint + g), now() - (g % 48) * interval '1 hour',
       $2, $3, ARRAY['rcpt' || (g % 3) || '@corp.example'], 2000, 'v', $4, $5, '[]'::jsonb,
       'policy.sieve:' || (g % 2 + 10), CASE WHEN $6::text IS NULL THEN '{}'::text[] ELSE ARRAY[$6::text] END
     FROM generate_series(1, $7::int) AS g`,
    [
      first,
      fields.client,
      fields.sender,
      fields.disposition,
      fields.score,
      fields.virus ?? null,
      n,
    ],
  );
}

describe('reports routes', { skip: PG_SKIP }, () => {
  let database: TestDatabase | undefined;
  let db: Db;
  let node: WebNode;
  let admin: WebClient;
  let viewer: WebClient;
  const range = (): string => {
    const from = new Date(Date.now() - 4 * 86_400_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    return `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
  };

  before(async () => {
    database = await startTestDatabase('parapet-rr-pg-');
    db = database.db;
    await insertLog(db, 0, 100, {
      sender: 'friend@good.example',
      disposition: 'accepted',
      score: 0,
      client: '192.0.2.1',
    });
    await insertLog(db, 1000, 30, {
      sender: 'spammer@bad.example',
      disposition: 'quarantined',
      score: 9,
      client: '198.51.100.9',
    });
    await insertLog(db, 2000, 5, {
      sender: NASTY_SENDER,
      disposition: 'quarantined',
      score: 8,
      client: '198.51.100.10',
    });
    await insertLog(db, 3000, 2, {
      sender: 'worm@bad.example',
      disposition: 'rejected',
      score: 0,
      virus: 'Eicar-Test-Signature',
      client: '203.0.113.5',
    });
    await rollupMessageLog(
      db,
      new Date(Date.now() - 3 * 86_400_000),
      new Date(Date.now() + 3_600_000),
    );
    node = await startWebNode({ database: () => Promise.resolve(db) });
    await node.addUser('root', 'admin', 'correct horse battery');
    await node.addUser('watcher', 'viewer', 'correct horse battery');
    admin = new WebClient(node.manager.url);
    viewer = new WebClient(node.manager.url);
    await admin.signIn('root', 'correct horse battery');
    await viewer.signIn('watcher', 'correct horse battery');
  });

  after(async () => {
    await node.close();
    await database?.stop();
  });

  test('strangers get 401; viewers and administrators read', async () => {
    const stranger = new WebClient(node.manager.url);
    assert.equal((await stranger.request('GET', '/api/v1/reports')).status, 401);
    assert.equal(
      (await stranger.request('GET', '/api/v1/reports/message-categories?format=csv')).status,
      401,
    );
    const list = await viewer.request('GET', '/api/v1/reports');
    assert.equal(list.status, 200);
    const ids = (list.json() as { reports: { id: string }[] }).reports.map((r) => r.id);
    for (const id of ['message-categories', 'top-spam-senders', 'viruses', 'quarantine-size']) {
      assert.ok(ids.includes(id), id);
    }
    assert.equal(
      (await viewer.request('GET', `/api/v1/reports/top-recipients?${range()}`)).status,
      200,
    );
  });

  test('message categories and top lists count what the log holds', async () => {
    const r = await admin.request('GET', `/api/v1/reports/message-categories?${range()}`);
    assert.equal(r.status, 200, r.text);
    const t = r.json() as TableBody;
    assert.equal(t.kind, 'series');
    assert.equal(t.granularity, 'day');
    const col = (name: string): number => t.columns.indexOf(name);
    const sum = (name: string): number =>
      t.rows.reduce((acc, row) => acc + Number(row[col(name)]), 0);
    assert.equal(sum('total'), 137);
    assert.equal(sum('spam'), 35);
    assert.equal(sum('virus'), 2);
    assert.equal(sum('clean'), 100);

    const top = (await admin.request('GET', `/api/v1/reports/top-spam-senders?${range()}`)).json();
    assert.deepEqual(top.rows[0], ['spammer@bad.example', 30]);
    assert.deepEqual(top.rows[1], [NASTY_SENDER, 5]);
    const viruses = (await admin.request('GET', `/api/v1/reports/viruses?${range()}`)).json();
    assert.deepEqual(viruses.rows, [['Eicar-Test-Signature', 2]]);
    const relays = (
      await admin.request('GET', `/api/v1/reports/top-spam-relays?${range()}&limit=1`)
    ).json();
    assert.deepEqual(relays.rows, [['198.51.100.9', 30]]);
  });

  test('CSV export: content type, file name, RFC 4180 quoting and no formulas', async () => {
    const r = await admin.request('GET', `/api/v1/reports/top-spam-senders?${range()}&format=csv`);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/csv; charset=utf-8/);
    assert.match(
      String(r.headers['content-disposition']),
      /^attachment; filename="parapet-top-spam-senders-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.csv"$/,
    );
    const lines = r.text.split('\r\n');
    assert.equal(lines[0], 'key,messages');
    assert.equal(lines[1], 'spammer@bad.example,30');
    assert.equal(lines[2], `"'=cmd,""x""@evil.example",5`);
    assert.equal(lines.at(-1), '');
    const series = await viewer.request(
      'GET',
      `/api/v1/reports/message-categories?${range()}&format=csv`,
    );
    assert.equal(series.status, 200);
    assert.match(series.text, /^bucket,clean,spam,virus,blocked,tempfail,total,bytes\r\n/);
  });

  test('bad input is refused with 400', async () => {
    assert.equal((await admin.request('GET', '/api/v1/reports/no-such-report')).status, 400);
    assert.equal(
      (await admin.request('GET', '/api/v1/reports/viruses?from=2026-02-01&to=2026-01-01')).status,
      400,
    );
    assert.equal((await admin.request('GET', '/api/v1/reports/viruses?from=soon')).status, 400);
    assert.equal((await admin.request('GET', '/api/v1/reports/viruses?limit=0')).status, 400);
    assert.equal((await admin.request('GET', '/api/v1/reports/viruses?format=xls')).status, 400);
    assert.equal(
      (await admin.request('GET', '/api/v1/reports/viruses?from=1900-01-01&to=2026-01-01')).status,
      400,
    );
  });
});

describe('reports routes without a database', () => {
  test('a report answers 503 with a clear message', async () => {
    const node = await startWebNode({
      database: () =>
        Promise.reject(new ParapetError('ERR_DB_UNAVAILABLE', 'connection refused (test)')),
    });
    try {
      await node.addUser('root', 'admin', 'correct horse battery');
      const admin = new WebClient(node.manager.url);
      await admin.signIn('root', 'correct horse battery');
      const r = await admin.request('GET', '/api/v1/reports/message-categories');
      assert.equal(r.status, 503);
      assert.equal(r.json().error, 'ERR_UI_UNAVAILABLE');
      assert.match((r.json() as { message: string }).message, /database is not reachable/);
      assert.doesNotMatch(r.text, /connection refused/);
    } finally {
      await node.close();
    }
  });
});

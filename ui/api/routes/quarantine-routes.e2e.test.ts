/**
 * /api/v1/quarantine against a real embedded PostgreSQL and a real quarantine file store:
 * roles and CSRF, keyset search, the message view, approve (through the outbound queue),
 * forward, bulk delete, the audit trail, and the file-store fallback when the database is away.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  OutboundQueue,
  insertQuarantineRows,
  type Db,
  type NewQuarantineRow,
} from '../../../appliance/index.js';
import { ParapetError, QuarantineWriter, messageFromBytes } from '../../../filter/index.js';
import { startWebNode, WebClient, type WebNode } from '../../test/web-node.js';
import { PG_SKIP, startTestDatabase, type TestDatabase } from '../../test/test-database.js';

interface PageBody {
  rows: { id: string; time: string }[];
  next: string | null;
  source: string;
  notice: string | null;
}
interface ViewBody {
  rule: string | null;
  symbols: { name: string; score: number | null }[];
  onThisNode: boolean;
  message: {
    headers: { name: string; value: string }[];
    text: string;
    fromHtml: boolean;
  } | null;
}
interface BulkBody {
  ok: number;
  failed: number;
  results: { id: string; ok: boolean }[];
}
interface ActionBody {
  ok: boolean;
  outcome: string;
}
interface ErrorBody {
  error: string;
  message: string;
}
const ids = (p: PageBody): string[] => p.rows.map((r) => r.id);

/** Writes a message into the node's quarantine for real and gives its database row. */
async function quarantine(
  node: WebNode,
  raw: string,
  fields: { from: string; to: string[]; subject: string; score: number; rule: string },
): Promise<NewQuarantineRow> {
  const message = await messageFromBytes(Buffer.from(raw), { from: fields.from, to: fields.to });
  const writer = new QuarantineWriter({ dir: node.config.paths.quarantine });
  const meta = await writer.write(message, {
    reason: 'spam',
    from: fields.from,
    to: fields.to,
    subject: fields.subject,
    score: fields.score,
    symbols: ['GTUBE', 'SUBJ_ALL_CAPS'],
    rule: fields.rule,
    client: '192.0.2.7',
  });
  const time = new Date(meta.time);
  return {
    id: meta.id,
    nodeId: node.config.nodeId,
    time,
    from: fields.from,
    to: fields.to,
    subject: fields.subject,
    sizeBytes: meta.sizeBytes,
    reason: 'spam',
    score: fields.score,
    symbols: [
      { name: 'GTUBE', score: 1000 },
      { name: 'SUBJ_ALL_CAPS', score: 1.5 },
    ],
    rule: fields.rule,
    path: writer.pathsFor(meta.id, time).eml,
  };
}

const TEXT_MESSAGE = [
  'From: Spammer <spam@bad.example>',
  'To: alice@corp.example',
  'Subject: BUY NOW',
  'Message-ID: <q1@bad.example>',
  '',
  'Cheap pills, click here.',
  '',
].join('\r\n');

const HTML_MESSAGE = [
  'From: promo@bad.example',
  'To: bob@corp.example',
  'Subject: html only',
  'MIME-Version: 1.0',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<html><head><script>alert(1)</script></head><body><p>Hello <b>Bob</b></p><img src="http://x.test/t.gif"></body></html>',
  '',
].join('\r\n');

describe('quarantine routes', { skip: PG_SKIP }, () => {
  let database: TestDatabase | undefined;
  let db: Db;
  let node: WebNode;
  let admin: WebClient;
  let viewer: WebClient;
  let first: NewQuarantineRow;
  let html: NewQuarantineRow;

  before(async () => {
    database = await startTestDatabase('parapet-qr-pg-');
    db = database.db;
    node = await startWebNode({ database: () => Promise.resolve(db) });
    await node.addUser('root', 'admin', 'correct horse battery');
    await node.addUser('watcher', 'viewer', 'correct horse battery');
    admin = new WebClient(node.manager.url);
    viewer = new WebClient(node.manager.url);
    assert.equal((await admin.signIn('root', 'correct horse battery')).status, 200);
    assert.equal((await viewer.signIn('watcher', 'correct horse battery')).status, 200);

    first = await quarantine(node, TEXT_MESSAGE, {
      from: 'spam@bad.example',
      to: ['alice@corp.example'],
      subject: 'BUY NOW',
      score: 1001.5,
      rule: 'policy.sieve:12',
    });
    html = await quarantine(node, HTML_MESSAGE, {
      from: 'promo@bad.example',
      to: ['bob@corp.example'],
      subject: 'html only',
      score: 7,
      rule: 'policy.sieve:20',
    });
    // Older filler rows (metadata only, as forwarded from other nodes) for paging.
    const filler: NewQuarantineRow[] = Array.from({ length: 120 }, (_, i) => ({
      id: `filler${String(i).padStart(6, '0')}`,
      nodeId: 'other-node',
      time: new Date(Date.now() - 3_600_000 - i * 60_000),
      from: `bulk${String(i % 7)}@noise.example`,
      to: ['carol@corp.example'],
      subject: `filler ${String(i)}`,
      sizeBytes: 1000 + i,
      reason: 'spam',
      score: 5 + (i % 10),
      symbols: [{ name: 'BAYES_99', score: 5 }],
      rule: null,
      path: `/elsewhere/${String(i)}.eml`,
    }));
    await insertQuarantineRows(db, [first, html, ...filler]);
  });

  after(async () => {
    await node.close();
    await database?.stop();
  });

  test('strangers get 401, viewers read but cannot act, state changes need the CSRF token', async () => {
    const stranger = new WebClient(node.manager.url);
    assert.equal((await stranger.request('GET', '/api/v1/quarantine')).status, 401);
    assert.equal((await stranger.request('GET', `/api/v1/quarantine/${first.id}`)).status, 401);
    const seen = await viewer.request('GET', '/api/v1/quarantine?limit=5');
    assert.equal(seen.status, 200);
    assert.equal(seen.json().rows.length, 5);
    const refused = await viewer.send('POST', `/api/v1/quarantine/${first.id}/approve`, {});
    assert.equal(refused.status, 403);
    assert.equal((await viewer.send('DELETE', `/api/v1/quarantine/${first.id}`)).status, 403);
    assert.equal(
      (
        await viewer.send('POST', '/api/v1/quarantine/bulk', {
          action: 'delete',
          ids: [first.id],
        })
      ).status,
      403,
    );
    assert.equal((await viewer.request('GET', `/api/v1/quarantine/${first.id}/raw`)).status, 403);
    const noCsrf = await admin.request('POST', `/api/v1/quarantine/${first.id}/approve`, {});
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.json().error, 'ERR_UI_CSRF');
  });

  test('search: newest first, filters, keyset pages without overlap', async () => {
    const page1 = (await admin.request('GET', '/api/v1/quarantine?limit=50')).json() as PageBody;
    assert.equal(page1.source, 'database');
    assert.equal(page1.rows.length, 50);
    assert.deepEqual(
      page1.rows
        .slice(0, 2)
        .map((r) => r.id)
        .sort(),
      [first.id, html.id].sort(),
    );
    const times = page1.rows.map((r) => Date.parse(r.time));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
    );
    assert.equal(typeof page1.next, 'string');
    const page2 = (
      await admin.request(
        'GET',
        `/api/v1/quarantine?limit=50&after=${encodeURIComponent(page1.next ?? '')}`,
      )
    ).json() as PageBody;
    const ids1 = new Set(page1.rows.map((r) => r.id));
    assert.equal(page2.rows.length, 50);
    assert.ok(page2.rows.every((r) => !ids1.has(r.id)));
    const page3 = (
      await admin.request(
        'GET',
        `/api/v1/quarantine?limit=50&after=${encodeURIComponent(page2.next ?? '')}`,
      )
    ).json() as PageBody;
    assert.equal(page3.rows.length, 22);
    assert.equal(page3.next, null);

    const bySender = (
      await admin.request('GET', '/api/v1/quarantine?sender=bad.example')
    ).json() as PageBody;
    assert.deepEqual(bySender.rows.map((r) => r.id).sort(), [first.id, html.id].sort());
    const bySubject = (
      await admin.request('GET', '/api/v1/quarantine?subject=buy%20now')
    ).json() as PageBody;
    assert.deepEqual(
      bySubject.rows.map((r) => r.id),
      [first.id],
    );
    const byScore = (
      await admin.request('GET', '/api/v1/quarantine?minScore=14&maxScore=14&limit=200')
    ).json() as PageBody;
    assert.equal(byScore.rows.length, 12);
    const since = new Date(Date.now() - 600_000).toISOString();
    const recent = (
      await admin.request('GET', `/api/v1/quarantine?since=${encodeURIComponent(since)}`)
    ).json() as PageBody;
    assert.equal(recent.rows.length, 2);
    const bad = await admin.request('GET', '/api/v1/quarantine?since=yesterday-ish');
    assert.equal(bad.status, 400);
    assert.equal((await admin.request('GET', '/api/v1/quarantine?limit=5000')).status, 400);
  });

  test('message view: symbols with scores, the rule, headers and text; HTML is never passed on', async () => {
    const r = await admin.request('GET', `/api/v1/quarantine/${first.id}`);
    assert.equal(r.status, 200);
    const v = r.json() as ViewBody;
    assert.equal(v.rule, 'policy.sieve:12');
    assert.deepEqual(v.symbols[0], { name: 'GTUBE', score: 1000 });
    assert.equal(v.onThisNode, true);
    assert.ok(v.message?.headers.some((f) => f.name === 'Subject' && f.value === 'BUY NOW'));
    assert.match(v.message?.text ?? '', /Cheap pills/);

    const h = (await admin.request('GET', `/api/v1/quarantine/${html.id}`)).json() as ViewBody;
    const hText = h.message?.text ?? '';
    assert.equal(h.message?.fromHtml, true);
    assert.match(hText, /Hello Bob/);
    assert.doesNotMatch(hText, /<|alert\(1\)|x\.test/);

    // Metadata from another node: shown without the message.
    const other = (
      await admin.request('GET', '/api/v1/quarantine/filler000003')
    ).json() as ViewBody;
    assert.equal(other.onThisNode, false);
    assert.equal(other.message, null);
    assert.equal((await admin.request('GET', '/api/v1/quarantine/nosuchid0000')).status, 404);
    assert.equal((await admin.request('GET', '/api/v1/quarantine/bad!id%20here')).status, 400);

    const raw = await admin.request('GET', `/api/v1/quarantine/${first.id}/raw`);
    assert.equal(raw.status, 200);
    assert.match(String(raw.headers['content-disposition']), /attachment; filename=".*\.eml"/);
    assert.match(raw.text, /Subject: BUY NOW/);
  });

  test('approve queues the release once, records it in the database and the audit log', async () => {
    const r = await admin.send('POST', `/api/v1/quarantine/${first.id}/approve`, {});
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json().ok, true);
    assert.match((r.json() as ActionBody).outcome, /^released to alice@corp\.example/);
    const items = await new OutboundQueue(node.config.paths.queue).list();
    const release = items.filter((i) => i.origin === first.id);
    assert.equal(release.length, 1);
    assert.equal(release[0]?.kind, 'release');
    const again = await admin.send('POST', `/api/v1/quarantine/${first.id}/approve`, {});
    assert.match((again.json() as ActionBody).outcome, /^already released/);
    assert.equal(
      (await new OutboundQueue(node.config.paths.queue).list()).filter((i) => i.origin === first.id)
        .length,
      1,
    );
    const rows = await db.query<{ status: string; released_by: string }>(
      'SELECT status, released_by FROM quarantine WHERE id = $1',
      [first.id],
    );
    assert.deepEqual(rows[0], { status: 'released', released_by: 'web:root' });
    const released = (
      await admin.request('GET', '/api/v1/quarantine?status=released')
    ).json() as PageBody;
    assert.deepEqual(
      released.rows.map((x: { id: string }) => x.id),
      [first.id],
    );
    const audit = await node.manager.context.audit.query({ action: 'quarantine.approve' });
    assert.ok(audit.some((e) => e.object === first.id && e.actor === 'root' && e.outcome === 'ok'));
  });

  test('forward checks the address; bulk delete reports each id', async () => {
    const bad = await admin.send('POST', `/api/v1/quarantine/${html.id}/forward`, {
      to: 'not an address',
    });
    assert.equal(bad.status, 400);
    const fwd = await admin.send('POST', `/api/v1/quarantine/${html.id}/forward`, {
      to: 'analyst@corp.example',
    });
    assert.equal(fwd.status, 200, fwd.text);
    const bulk = await admin.send('POST', '/api/v1/quarantine/bulk', {
      action: 'delete',
      ids: [html.id, 'nosuchid0000'],
    });
    assert.equal(bulk.status, 200);
    const body = bulk.json() as BulkBody;
    assert.equal(body.ok, 1);
    assert.equal(body.failed, 1);
    assert.equal(body.results[1]?.ok, false);
    const day = html.time.toISOString().slice(0, 10);
    const left = readdirSync(join(node.config.paths.quarantine, day));
    assert.ok(!left.some((n) => n.startsWith(html.id)));
    const rows = await db.query<{ status: string }>('SELECT status FROM quarantine WHERE id = $1', [
      html.id,
    ]);
    assert.equal(rows[0]?.status, 'deleted');
    const audit = await node.manager.context.audit.query({ action: 'quarantine.delete' });
    assert.ok(audit.some((e) => e.object === html.id && e.outcome === 'ok'));
    assert.ok(audit.some((e) => e.object === 'nosuchid0000' && e.outcome === 'failed'));
  });
});

describe('quarantine routes without a database', () => {
  test('search falls back to the node’s files, or answers 503 for what only the database knows', async () => {
    const node = await startWebNode({
      database: () =>
        Promise.reject(new ParapetError('ERR_DB_UNAVAILABLE', 'connection refused (test)')),
    });
    try {
      await node.addUser('root', 'admin', 'correct horse battery');
      const admin = new WebClient(node.manager.url);
      await admin.signIn('root', 'correct horse battery');
      const row = await quarantine(node, TEXT_MESSAGE, {
        from: 'spam@bad.example',
        to: ['alice@corp.example'],
        subject: 'BUY NOW',
        score: 9,
        rule: 'policy.sieve:3',
      });
      const r = await admin.request('GET', '/api/v1/quarantine?sender=bad.example');
      assert.equal(r.status, 200, r.text);
      const page = r.json() as PageBody;
      assert.equal(page.source, 'files');
      assert.match(page.notice ?? '', /not reachable/);
      assert.deepEqual(ids(page), [row.id]);
      const deleted = await admin.request('GET', '/api/v1/quarantine?status=deleted');
      assert.equal(deleted.status, 503);
      assert.equal(deleted.json().error, 'ERR_UI_UNAVAILABLE');
      assert.match((deleted.json() as ErrorBody).message, /database is not reachable/);
      const view = (await admin.request('GET', `/api/v1/quarantine/${row.id}`)).json() as ViewBody;
      assert.deepEqual(view.symbols.map((s: { name: string }) => s.name).sort(), [
        'GTUBE',
        'SUBJ_ALL_CAPS',
      ]);
      // Approving still works: the file store and the queue are local.
      const ok = await admin.send('POST', `/api/v1/quarantine/${row.id}/approve`, {});
      assert.equal(ok.status, 200, ok.text);
      const released = (
        await admin.request('GET', '/api/v1/quarantine?status=released')
      ).json() as PageBody;
      assert.deepEqual(
        released.rows.map((x: { id: string }) => x.id),
        [row.id],
      );
    } finally {
      await node.close();
    }
  });
});

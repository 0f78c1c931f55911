/**
 * The Dashboard's "today" with a real PostgreSQL (the node's embedded cluster under a temp
 * home, migrated): the other nodes' figures come from the hourly roll-ups, this node's from
 * its own message log (fresher than a roll-up), added up. Skips without PostgreSQL binaries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DATABASE_CONFIG, migrate, openDatabase } from '../../../appliance/index.js';
import { startWebNode, WebClient, type WebNode } from '../../test/web-node.js';
import { freePort } from '../../test/free-port.js';

function hasPostgres(): boolean {
  try {
    return readdirSync('/usr/lib/postgresql').some((v) =>
      existsSync(`/usr/lib/postgresql/${v}/bin/postgres`),
    );
  } catch {
    return false;
  }
}

const skip = hasPostgres() ? false : 'no PostgreSQL server binaries';

test(
  'dashboard today: other nodes from the roll-ups, this node from its log',
  { skip, timeout: 120_000 },
  async (t) => {
    const pgHome = await mkdtemp(join(tmpdir(), 'parapet-dash-pg-'));
    const held: { opened?: Awaited<ReturnType<typeof openDatabase>>; node?: WebNode } = {};
    // One hook, in order: the web node, then PostgreSQL (its pid file is in the home), then the home.
    t.after(async () => {
      await held.node?.close();
      await held.opened?.db.close();
      await held.opened?.embedded?.stop();
      await rm(pgHome, { recursive: true, force: true });
    });
    const opened = await openDatabase(pgHome, {
      ...DEFAULT_DATABASE_CONFIG,
      port: await freePort(),
      poolMax: 2,
    });
    held.opened = opened;
    const db = opened.db;
    await migrate(db);
    const node = await startWebNode({ database: () => Promise.resolve(db) });
    held.node = node;
    await node.addUser('boss', 'admin', 'admin password 0001');

    const now = new Date();
    const hour = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000);
    const yesterday = new Date(hour.getTime() - 86_400_000);
    const insert = (bucket: Date, nodeId: string, disposition: string, messages: number) =>
      db.execute(
        `INSERT INTO message_log_hourly
         (bucket, node_id, disposition, verdict, messages, recipients, bytes, score_sum)
       VALUES ($1, $2, $3, 'accept', $4::bigint, $4::bigint, $4::bigint * 1000, 0)`,
        [bucket, nodeId, disposition, messages],
      );
    await insert(hour, 'other-node', 'reinjected', 40);
    await insert(hour, 'other-node', 'rejected', 7);
    await insert(yesterday, 'other-node', 'reinjected', 1000); // not today
    // This node's own roll-up lags behind its log: the log's figure wins.
    await insert(hour, node.config.nodeId, 'reinjected', 1);
    await mkdir(join(node.home, 'log'), { recursive: true });
    const line = (seq: number, disposition: string): string =>
      `${JSON.stringify({ nodeId: node.config.nodeId, seq, id: `x${String(seq)}`, time: now.toISOString(), sizeBytes: 500, disposition })}\n`;
    await writeFile(
      join(node.home, 'log', 'message-log.jsonl'),
      line(1, 'reinjected') + line(2, 'reinjected') + line(3, 'quarantined'),
    );

    const admin = new WebClient(node.manager.url);
    assert.equal((await admin.signIn('boss', 'admin password 0001')).status, 200);
    const r = await admin.request('GET', '/api/v1/dashboard');
    assert.equal(r.status, 200, r.text);
    const s = r.json() as {
      now: { messages: number };
      today: {
        messages: number;
        bytes: number;
        source: string;
        nodes: number;
        mix: Record<string, number>;
      };
    };
    assert.equal(s.now.messages, 3);
    assert.equal(s.today.source, 'database+local-log');
    assert.equal(s.today.nodes, 2);
    assert.equal(s.today.messages, 40 + 7 + 3);
    assert.equal(s.today.bytes, 47_000 + 1500);
    assert.deepEqual(s.today.mix, {
      delivered: 42,
      quarantined: 1,
      rejected: 7,
      discarded: 0,
      tempfailed: 0,
    });
  },
);

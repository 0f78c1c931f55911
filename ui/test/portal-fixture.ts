/**
 * Test support for the End User and Groups Web Interfaces: a web node on a real embedded
 * PostgreSQL (migrated), with two end users, two groups (each with its administrator) and
 * quarantined messages for each — rows in the database and the files on the node.
 *
 * Mail: alice@a.example (group "ga", domain a.example) and bob@b.example (group "gb",
 * b.example). MESSAGES names each message by what the tests use it for.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  insertQuarantineRows,
  loadNodeConfig,
  migrate,
  openDatabase,
  type Db,
} from '../../appliance/index.js';
import { startWebNode, WebClient, type WebNode } from './web-node.js';
import { freePort } from './free-port.js';

export const PASSWORD = 'correct horse battery staple 42';

/** id, recipients, subject. Ids are 8+ characters of [A-Za-z0-9_-]. */
export const MESSAGES = {
  aliceOnly: { id: 'qa-alice-0001', to: ['alice@a.example'], subject: 'Alice invoice 1' },
  aliceOther: { id: 'qa-alice-0002', to: ['alice@a.example'], subject: 'Alice newsletter' },
  shared: {
    id: 'qa-shared-0003',
    to: ['alice@a.example', 'bob@b.example'],
    subject: 'Shared meeting notes',
  },
  bobOnly: { id: 'qb-bob-0004', to: ['bob@b.example'], subject: 'Bob secret offer' },
  carol: { id: 'qa-carol-0005', to: ['carol@a.example'], subject: 'Carol lottery win' },
} as const;

export interface PortalFixture {
  readonly web: WebNode;
  readonly db: Db;
  /** A new client of the 28443 surface (not signed in). */
  client(): WebClient;
  /** A client signed in as `username`. */
  signedIn(username: string): Promise<WebClient>;
  close(): Promise<void>;
}

function rawMessage(from: string, to: readonly string[], subject: string, body: string): Buffer {
  return Buffer.from(
    [
      `From: ${from}`,
      `To: ${to.join(', ')}`,
      `Subject: ${subject}`,
      'Message-ID: <test@parapet.invalid>',
      'Date: Sun, 22 Nov 2026 08:00:00 +0000',
      '',
      body,
      '',
    ].join('\r\n'),
  );
}

export async function startPortalFixture(): Promise<PortalFixture> {
  const dbHome = await mkdtemp(join(tmpdir(), 'parapet-portal-db-'));
  const dbConfig = (await loadNodeConfig({ ...process.env, PARAPET_HOME: dbHome })).database;
  const { db, embedded } = await openDatabase(dbHome, { ...dbConfig, port: await freePort() });
  const web = await (async () => {
    try {
      await migrate(db);
      return await startWebNode({ database: () => Promise.resolve(db) });
    } catch (err) {
      await db.close();
      await embedded?.stop();
      throw err;
    }
  })();
  const cfg = web.config;
  await web.addUser('alice@a.example', 'user', PASSWORD);
  await web.addUser('bob@b.example', 'user', PASSWORD);
  await web.addUser('root', 'admin', PASSWORD);
  await web.addUser('gadmin-a', 'groupadmin', PASSWORD);
  await web.addUser('gadmin-b', 'groupadmin', PASSWORD);
  const all = { quarantine: true, reports: true, lists: true, policySettings: false };
  await writeFile(
    join(cfg.paths.config, 'groups.json'),
    JSON.stringify({
      version: 1,
      groups: [
        {
          name: 'ga',
          domains: ['a.example'],
          addresses: [],
          admins: ['gadmin-a'],
          permissions: all,
        },
        {
          name: 'gb',
          domains: ['b.example'],
          addresses: [],
          admins: ['gadmin-b'],
          permissions: all,
        },
      ],
    }),
  );
  const day = '2026-11-22';
  await mkdir(join(cfg.paths.quarantine, day), { recursive: true });
  const rows = Object.values(MESSAGES).map((m, i) => {
    const time = new Date(Date.UTC(2026, 10, 22, 8, i));
    return { ...m, time, from: `sender${String(i)}@spam.example` };
  });
  for (const m of rows) {
    const base = join(cfg.paths.quarantine, day, m.id);
    const raw = rawMessage(m.from, m.to, m.subject, `Cheap offers number ${m.id} click now`);
    await writeFile(`${base}.eml`, raw);
    await writeFile(
      `${base}.json`,
      JSON.stringify({
        id: m.id,
        time: m.time.toISOString(),
        reason: 'high spam score',
        from: m.from,
        to: m.to,
        subject: m.subject,
        sizeBytes: raw.length,
        score: 12.5,
        symbols: ['BAYES_99'],
        rule: 'spam-high',
        client: '192.0.2.1',
      }),
    );
  }
  await insertQuarantineRows(
    db,
    rows.map((m) => ({
      id: m.id,
      nodeId: cfg.nodeId,
      time: m.time,
      from: m.from,
      to: [...m.to],
      subject: m.subject,
      sizeBytes: 300,
      reason: 'high spam score',
      score: 12.5,
      symbols: [],
      rule: 'spam-high',
      path: join(cfg.paths.quarantine, day, `${m.id}.eml`),
    })),
  );
  // One day of roll-up per group domain for the group report.
  await db.execute(
    `INSERT INTO report_category_daily
       (scope, bucket, node_id, category, messages, bytes, quarantined, quarantined_bytes)
     VALUES ('a.example', current_date, 'n1', 'spam', 7, 7000, 3, 3000),
            ('a.example', current_date, 'n1', 'clean', 20, 20000, 0, 0),
            ('b.example', current_date, 'n1', 'spam', 99, 99000, 9, 9000)`,
  );
  const client = (): WebClient => new WebClient(web.rpcui.url);
  return {
    web,
    db,
    client,
    signedIn: async (username) => {
      const c = client();
      const r = await c.signIn(username, PASSWORD);
      if (r.status !== 200)
        throw new Error(`sign-in of ${username}: ${String(r.status)} ${r.text}`);
      return c;
    },
    close: async () => {
      await web.close();
      await db.close();
      await embedded?.stop();
      await rm(dbHome, { recursive: true, force: true });
    },
  };
}

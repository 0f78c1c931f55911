// The quarantine-digest job against a real PostgreSQL, run through runJob as the Scheduler
// does: two users each get a digest of only their own held messages, with links that verify
// for their address; a second run with nothing new queues nothing; a new message is listed
// alone; a user who turned digests off gets none; with the database away the job reads the
// quarantine files instead.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNodeConfig, type NodeConfig } from '../config/node-config.js';
import { insertQuarantineRows, type NewQuarantineRow } from '../db/index.js';
import { pgUnavailableReason, startTestPostgres, type TestPostgres } from '../db/test-support.js';
import { linkKey, verifyDigestLink } from '../quarantine/digest-link.js';
import { readDigestState } from '../quarantine/digest-state.js';
import { OutboundQueue } from '../queue/outbound-queue.js';
import { findFreePort } from '../test/e2e/support/free-port.js';
import { JobStore } from './jobs.js';
import { runJob } from './run-job.js';

const skip = pgUnavailableReason();
const HOUR = 3_600_000;
const now = Date.now();
let t: TestPostgres;
let home: string;
let config: NodeConfig;
let store: JobStore;

async function makeHome(databaseUrl: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'parapet-digest-'));
  await mkdir(join(dir, 'config'), { recursive: true });
  await writeFile(
    join(dir, 'config', 'node.json'),
    JSON.stringify({
      database: { url: databaseUrl },
      web: { publicUrl: 'https://quarantine.corp.example:28443/' },
      digest: { from: 'quarantine@corp.example' },
    }),
  );
  return dir;
}

function row(id: string, to: string[], subject: string, hoursAgo: number): NewQuarantineRow {
  return {
    id,
    nodeId: config.nodeId,
    time: new Date(now - hoursAgo * HOUR),
    from: `sender-${id}@spam.example`,
    to,
    subject,
    sizeBytes: 100,
    reason: 'spam score 12.0',
    score: 12,
    symbols: [],
    rule: null,
    path: '/nonexistent',
  };
}

interface Digest {
  readonly to: readonly string[];
  readonly from: string;
  readonly text: string;
  readonly html: string;
  readonly tokens: string[];
}

/** The digests in the queue, their parts decoded. */
async function digests(queueDir: string): Promise<Digest[]> {
  const queue = new OutboundQueue(queueDir);
  const out: Digest[] = [];
  for (const item of await queue.list()) {
    if (item.kind !== 'digest') continue;
    const raw = (await queue.message(item.id)).toString('utf8');
    const parts = [
      ...raw.matchAll(
        /Content-Type: (text\/\w+); charset=utf-8\r\n.*\r\n\r\n([A-Za-z0-9+/=\r\n]+)/g,
      ),
    ];
    const decode = (type: string): string =>
      Buffer.from(parts.find((p) => p[1] === type)?.[2] ?? '', 'base64').toString('utf8');
    const text = decode('text/plain');
    out.push({
      to: item.to,
      from: item.from,
      text,
      html: decode('text/html'),
      tokens: [...text.matchAll(/\/api\/v1\/session\/link\?token=([^\s&]+)/g)].map((m) =>
        decodeURIComponent(m[1] ?? ''),
      ),
    });
  }
  return out.sort((a, b) => (a.to[0] ?? '').localeCompare(b.to[0] ?? ''));
}

async function runDigest(): Promise<string> {
  const run = await runJob(store, await store.get('quarantine-digest'), { home, trigger: 'test' });
  assert.equal(run.ok, true, run.output);
  return run.output;
}

before(async () => {
  if (skip !== undefined) return;
  t = await startTestPostgres();
  const c = await t.pg.connection();
  home = await makeHome(
    `postgres://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${c.host}:${String(c.port)}/${c.database}`,
  );
  config = await loadNodeConfig({ PARAPET_HOME: home });
  store = new JobStore(config.paths.config, join(home, 'log'));
  await insertQuarantineRows(t.db, [
    row('alice-1', ['Alice@corp.example'], 'Cheap <script>alert(1)</script> & pills', 1),
    row('alice-2', ['alice@corp.example'], 'Invoice 42', 2),
    row('both-1', ['alice@corp.example', 'bob@corp.example'], 'Hello both', 3),
    row('bob-1', ['bob@corp.example'], 'Prize for bob', 4),
    row('alice-old', ['alice@corp.example'], 'Too old', 20 * 24),
    row('alice-released', ['alice@corp.example'], 'Already released', 5),
    { ...row('other-node', ['alice@corp.example'], 'Held elsewhere', 1), nodeId: 'other' },
  ]);
  await t.db.execute(`UPDATE quarantine SET status = 'released' WHERE id = 'alice-released'`);
});
after(async () => {
  if (skip !== undefined) return;
  await t.cleanup();
  await rm(home, { recursive: true, force: true });
});

test('each user gets a digest of their own new messages, links verify', { skip }, async () => {
  assert.match(
    await runDigest(),
    /queued 2 digest\(s\) listing 5 message\(s\) \(from the database\)/,
  );
  const [alice, bob] = await digests(config.paths.queue);
  assert.ok(alice !== undefined && bob !== undefined);
  assert.deepEqual([alice.to, bob.to], [['alice@corp.example'], ['bob@corp.example']]);
  assert.equal(alice.from, 'quarantine@corp.example');
  for (const subject of ['Invoice 42', 'Hello both', 'Cheap <script>alert(1)</script> & pills']) {
    assert.ok(alice.text.includes(subject), subject);
  }
  for (const absent of ['Prize for bob', 'Too old', 'Already released', 'Held elsewhere']) {
    assert.ok(!alice.text.includes(absent) && !alice.html.includes(absent), absent);
  }
  assert.ok(bob.text.includes('Prize for bob') && bob.text.includes('Hello both'));
  assert.ok(!bob.text.includes('Invoice 42'));
  // Attacker-chosen text is escaped in HTML.
  assert.ok(!alice.html.includes('<script>'));
  assert.ok(alice.html.includes('Cheap &#60;script&#62;alert(1)&#60;/script&#62; &#38; pills'));
  assert.ok(alice.text.includes('sender-alice-2@spam.example'));
  const key = await linkKey(config.paths.config);
  assert.ok(alice.tokens.length >= 3);
  for (const [digest, address] of [
    [alice, 'alice@corp.example'],
    [bob, 'bob@corp.example'],
  ] as const) {
    for (const token of digest.tokens) {
      const check = verifyDigestLink(key, token);
      assert.ok(check.ok && check.address === address, JSON.stringify(check));
    }
  }
  assert.ok(
    alice.text.includes('https://quarantine.corp.example:28443/api/v1/session/link?token='),
  );
  // Each listed message links to itself.
  assert.match(alice.text, /\/api\/v1\/session\/link\?token=[^\s&]+&message=alice-1\b/);
  const state = await readDigestState(home);
  assert.deepEqual(Object.keys(state.addresses['alice@corp.example']?.listed ?? {}).sort(), [
    'alice-1',
    'alice-2',
    'both-1',
  ]);
});

test(
  'a second run with nothing new queues nothing; a new message is listed alone',
  { skip },
  async () => {
    assert.match(await runDigest(), /queued 0 digest\(s\)/);
    assert.equal((await digests(config.paths.queue)).length, 2);
    await insertQuarantineRows(t.db, [row('bob-2', ['bob@corp.example'], 'Second prize', 0.5)]);
    assert.match(await runDigest(), /queued 1 digest\(s\) listing 1 message\(s\)/);
    const bobs = (await digests(config.paths.queue)).filter((d) => d.to[0] === 'bob@corp.example');
    assert.equal(bobs.length, 2);
    const newest = bobs.find((d) => d.text.includes('Second prize'));
    assert.ok(newest !== undefined && !newest.text.includes('Prize for bob'));
  },
);

test('a user who turned digests off gets none; weekly waits a week', { skip }, async () => {
  await writeFile(
    join(config.paths.config, 'digest-preferences.json'),
    JSON.stringify({
      version: 1,
      addresses: {
        'carol@corp.example': { enabled: false, frequency: 'daily' },
        'bob@corp.example': { enabled: true, frequency: 'weekly' },
      },
    }),
  );
  await insertQuarantineRows(t.db, [
    row('carol-1', ['carol@corp.example'], 'For carol', 0.2),
    row('bob-3', ['bob@corp.example'], 'Third prize', 0.2),
  ]);
  const before = (await digests(config.paths.queue)).length;
  assert.match(await runDigest(), /queued 0 digest\(s\).*2 address\(es\) skipped/);
  assert.equal((await digests(config.paths.queue)).length, before);
  assert.equal((await readDigestState(home)).addresses['carol@corp.example'], undefined);
});

test('with the database away the quarantine files are the source', { skip }, async () => {
  const other = await makeHome(
    `postgres://parapet:x@127.0.0.1:${String(await findFreePort())}/parapet`,
  );
  try {
    const otherConfig = await loadNodeConfig({ PARAPET_HOME: other });
    const day = join(otherConfig.paths.quarantine, new Date(now).toISOString().slice(0, 10));
    await mkdir(day, { recursive: true });
    await writeFile(join(day, 'filemsg0001.eml'), 'Subject: x\r\n\r\nx\r\n');
    await writeFile(
      join(day, 'filemsg0001.json'),
      JSON.stringify({
        id: 'filemsg0001',
        time: new Date(now - HOUR).toISOString(),
        reason: 'virus Eicar-Test-Signature',
        from: 'bad@virus.example',
        to: ['dave@corp.example'],
        subject: 'From the files',
        sizeBytes: 20,
        score: null,
        symbols: [],
        rule: null,
        client: null,
      }),
    );
    const otherStore = new JobStore(otherConfig.paths.config, join(other, 'log'));
    const run = await runJob(otherStore, await otherStore.get('quarantine-digest'), {
      home: other,
      trigger: 'test',
    });
    assert.equal(run.ok, true, run.output);
    assert.match(
      run.output,
      /queued 1 digest\(s\) listing 1 message\(s\) \(from the quarantine files\)/,
    );
    const [dave] = await digests(otherConfig.paths.queue);
    assert.ok(dave?.text.includes('From the files') && dave.to[0] === 'dave@corp.example');
  } finally {
    await rm(other, { recursive: true, force: true });
  }
});

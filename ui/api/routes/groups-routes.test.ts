// The Groups Web Interface's API against a real embedded PostgreSQL: the administrator makes
// and delegates groups; a group administrator sees and changes only their groups' data, and
// another group's group, messages, lists or report answer 403 with no data.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { OutboundQueue } from '../../../appliance/index.js';
import { MESSAGES, startPortalFixture, type PortalFixture } from '../../test/portal-fixture.js';

let f: PortalFixture;

type Named = { groups: { name: string }[] };
type Page = { messages: { id: string; subject: string }[]; next: string | null };
const names = (body: unknown): string[] => (body as Named).groups.map((g) => g.name);

before(async () => {
  f = await startPortalFixture();
});
after(async () => {
  await f.close();
});

test('a group administrator sees only their groups and their groups’ messages', async () => {
  const ga = await f.signedIn('gadmin-a');
  assert.deepEqual(names((await ga.request('GET', '/api/v1/groups')).json()), ['ga']);
  const msgs = await ga.request('GET', '/api/v1/groups/ga/messages');
  assert.equal(msgs.status, 200);
  const subjects = (msgs.json() as Page).messages.map((m) => m.subject).sort();
  assert.deepEqual(subjects, [
    MESSAGES.aliceOnly.subject,
    MESSAGES.aliceOther.subject,
    MESSAGES.carol.subject,
    MESSAGES.shared.subject,
  ]);
  assert.ok(!msgs.text.includes(MESSAGES.bobOnly.subject));
  // Paging is exact: two at a time gives the same four, once each.
  const seen: string[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 5; i++) {
    const q: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const reply = await ga.request('GET', `/api/v1/groups/ga/messages?limit=2${q}`);
    const page = reply.json() as Page;
    seen.push(...page.messages.map((m) => m.id));
    cursor = page.next;
    if (cursor === null) break;
  }
  assert.equal(seen.length, 4);
  assert.equal(new Set(seen).size, 4);
});

test('another group’s objects answer 403, never data', async () => {
  const ga = await f.signedIn('gadmin-a');
  const bob = MESSAGES.bobOnly.id;
  const replies = [
    await ga.request('GET', '/api/v1/groups/gb'),
    await ga.request('GET', '/api/v1/groups/gb/messages'),
    await ga.request('GET', '/api/v1/groups/gb/requests'),
    await ga.request('GET', '/api/v1/groups/gb/report'),
    await ga.request('GET', '/api/v1/groups/gb/senders?address=bob@b.example'),
    await ga.request('GET', '/api/v1/groups/ga/senders?address=bob@b.example'),
    await ga.request('GET', '/api/v1/groups/nosuch/messages'),
    await ga.send('POST', `/api/v1/groups/gb/messages/${bob}/approve`),
    await ga.send('POST', `/api/v1/groups/ga/messages/${bob}/approve`),
    await ga.send('DELETE', `/api/v1/groups/ga/messages/${bob}`),
    await ga.send('PUT', '/api/v1/groups/ga/senders/block', {
      address: 'bob@b.example',
      add: ['x@y.example'],
    }),
    await ga.send('PUT', '/api/v1/groups/ga', { domains: ['b.example'], admins: ['gadmin-a'] }),
    await ga.send('DELETE', '/api/v1/groups/gb'),
  ];
  for (const r of replies) {
    assert.equal(r.status, 403, r.text);
    assert.ok(!r.text.includes(MESSAGES.bobOnly.subject));
    assert.ok(!r.text.includes('b.example'), r.text);
  }
  const row = await f.db.query<{ status: string }>('SELECT status FROM quarantine WHERE id = $1', [
    bob,
  ]);
  assert.equal(row[0]?.status, 'held');
});

test('a group approval releases to the group’s recipients only', async () => {
  const gb = await f.signedIn('gadmin-b');
  const r = await gb.send('POST', `/api/v1/groups/gb/messages/${MESSAGES.shared.id}/approve`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json().releasedTo, ['bob@b.example']);
  const items = await new OutboundQueue(f.web.config.paths.queue).list();
  assert.deepEqual(items.find((i) => i.origin === MESSAGES.shared.id)?.to, ['bob@b.example']);
  const del = await gb.send('DELETE', `/api/v1/groups/gb/messages/${MESSAGES.bobOnly.id}`);
  assert.equal(del.status, 200, del.text);
  const row = await f.db.query<{ status: string }>('SELECT status FROM quarantine WHERE id = $1', [
    MESSAGES.bobOnly.id,
  ]);
  assert.equal(row[0]?.status, 'deleted');
});

test('group lists and the group report stay inside the group', async () => {
  const ga = await f.signedIn('gadmin-a');
  const put = await ga.send('PUT', '/api/v1/groups/ga/senders/block', {
    address: 'carol@a.example',
    add: ['spam.example'],
  });
  assert.equal(put.status, 200, put.text);
  const got = (await ga.request('GET', '/api/v1/groups/ga/senders?address=carol@a.example')).json();
  assert.deepEqual(got.block, ['spam.example']);
  const report = await ga.request('GET', '/api/v1/groups/ga/report?days=7');
  assert.equal(report.status, 200, report.text);
  const body = report.json();
  assert.deepEqual(body.categories, [
    { category: 'clean', messages: 20, bytes: 20000 },
    { category: 'spam', messages: 7, bytes: 7000 },
  ]);
  assert.equal(typeof body.held, 'number');
});

test('the administrator makes and delegates groups; permissions limit the group administrator', async () => {
  const root = await f.signedIn('root');
  assert.deepEqual(names((await root.request('GET', '/api/v1/groups')).json()), ['ga', 'gb']);
  const notAdmin = await root.send('PUT', '/api/v1/groups/gc', { admins: ['alice@a.example'] });
  assert.equal(notAdmin.status, 400);
  const badDomain = await root.send('PUT', '/api/v1/groups/gc', { domains: ['not a domain'] });
  assert.equal(badDomain.status, 400);
  const made = await root.send('PUT', '/api/v1/groups/ga', {
    domains: ['a.example'],
    admins: ['gadmin-a'],
    permissions: { quarantine: true, reports: false, lists: false, policySettings: false },
  });
  assert.equal(made.status, 200, made.text);
  const ga = await f.signedIn('gadmin-a');
  assert.equal((await ga.request('GET', '/api/v1/groups/ga/report')).status, 403);
  assert.equal(
    (await ga.request('GET', '/api/v1/groups/ga/senders?address=carol@a.example')).status,
    403,
  );
  assert.equal((await ga.request('GET', '/api/v1/groups/ga/messages')).status, 200);
  const gone = await root.send('DELETE', '/api/v1/groups/ga');
  assert.equal(gone.status, 200);
  assert.equal((await ga.request('GET', '/api/v1/groups/ga/messages')).status, 403);
  assert.deepEqual((await ga.request('GET', '/api/v1/groups')).json().groups, []);
  const user = await f.signedIn('alice@a.example');
  assert.equal((await user.request('GET', '/api/v1/groups')).status, 403);
  assert.equal((await f.client().request('GET', '/api/v1/groups')).status, 401);
});

// The End User Web Interface's API against a real embedded PostgreSQL: a user sees and acts on
// their own quarantine only, a release goes to their own address only, the administrator's
// settings are checked on every action, and digest links sign in to one address (or 401).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { linkKey, OutboundQueue, signDigestLink } from '../../../appliance/index.js';
import { MESSAGES, startPortalFixture, type PortalFixture } from '../../test/portal-fixture.js';
import { WebClient } from '../../test/web-node.js';

let f: PortalFixture;

before(async () => {
  f = await startPortalFixture();
});
after(async () => {
  await f.close();
});

const subjects = (body: unknown): string[] =>
  (body as { messages: { subject: string }[] }).messages.map((m) => m.subject).sort();

test('a user lists only messages addressed to them', async () => {
  const alice = await f.signedIn('alice@a.example');
  const r = await alice.request('GET', '/api/v1/portal/messages');
  assert.equal(r.status, 200);
  assert.deepEqual(subjects(r.json()), [
    MESSAGES.aliceOnly.subject,
    MESSAGES.aliceOther.subject,
    MESSAGES.shared.subject,
  ]);
  assert.ok(!r.text.includes(MESSAGES.bobOnly.subject));
  assert.ok(!r.text.includes(MESSAGES.carol.subject));
  assert.ok(!r.text.includes('/quarantine/'), 'no file paths in replies');
  const search = await alice.request('GET', '/api/v1/portal/messages?subject=invoice&limit=1');
  assert.deepEqual(subjects(search.json()), [MESSAGES.aliceOnly.subject]);
  const other = await alice.request('GET', '/api/v1/portal/messages?address=bob@b.example');
  assert.equal(other.status, 403);
});

test('a user cannot view or act on another user’s message (404, never data)', async () => {
  const alice = await f.signedIn('alice@a.example');
  const id = MESSAGES.bobOnly.id;
  const replies = [
    await alice.request('GET', `/api/v1/portal/messages/${id}`),
    await alice.send('POST', `/api/v1/portal/messages/${id}/approve`, {}),
    await alice.send('DELETE', `/api/v1/portal/messages/${id}`),
    await alice.send('POST', `/api/v1/portal/messages/${id}/report`, { as: 'spam' }),
    await alice.send('POST', `/api/v1/portal/messages/${id}/request-release`),
  ];
  for (const r of replies) {
    assert.equal(r.status, 404, r.text);
    assert.ok(!r.text.includes(MESSAGES.bobOnly.subject));
  }
  const unknown = await alice.request('GET', '/api/v1/portal/messages/qx-none-0000');
  assert.equal(unknown.status, 404);
  // Without a session: 401; without the CSRF token: 403.
  assert.equal((await f.client().request('GET', '/api/v1/portal/messages')).status, 401);
  const noCsrf = await alice.request(
    'POST',
    `/api/v1/portal/messages/${MESSAGES.aliceOnly.id}/approve`,
    {},
  );
  assert.equal(noCsrf.status, 403);
  // Group routes and the settings are not for end users.
  assert.equal((await alice.request('GET', '/api/v1/groups')).status, 403);
  assert.equal((await alice.request('GET', '/api/v1/portal/settings')).status, 403);
});

test('approving a shared message releases it to the user’s address only', async () => {
  const alice = await f.signedIn('alice@a.example');
  const bob = await f.signedIn('bob@b.example');
  const view = await alice.request('GET', `/api/v1/portal/messages/${MESSAGES.shared.id}`);
  assert.equal(view.status, 200);
  assert.match(String(view.json().headers), /Subject: Shared meeting notes/);
  const r = await alice.send('POST', `/api/v1/portal/messages/${MESSAGES.shared.id}/approve`, {});
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json().releasedTo, ['alice@a.example']);
  const items = await new OutboundQueue(f.web.config.paths.queue).list();
  const release = items.find((i) => i.origin === MESSAGES.shared.id);
  assert.deepEqual(release?.to, ['alice@a.example']);
  // Gone from Alice's held list, still held for Bob.
  const mine = await alice.request('GET', '/api/v1/portal/messages');
  assert.ok(!subjects(mine.json()).includes(MESSAGES.shared.subject));
  const his = await bob.request('GET', '/api/v1/portal/messages');
  assert.ok(subjects(his.json()).includes(MESSAGES.shared.subject));
  const row = await f.db.query<{ status: string }>('SELECT status FROM quarantine WHERE id = $1', [
    MESSAGES.shared.id,
  ]);
  assert.equal(row[0]?.status, 'held');
});

test('delete and block the sender; report as spam trains Bayes; sender lists per user', async () => {
  const alice = await f.signedIn('alice@a.example');
  const bob = await f.signedIn('bob@b.example');
  const rep = await alice.send('POST', `/api/v1/portal/messages/${MESSAGES.aliceOther.id}/report`, {
    as: 'spam',
  });
  assert.equal(rep.status, 200, rep.text);
  assert.ok(existsSync(join(f.web.home, 'bayes', 'tokens.json')));
  const del = await alice.send(
    'DELETE',
    `/api/v1/portal/messages/${MESSAGES.aliceOther.id}?blockSender=true`,
  );
  assert.equal(del.status, 200, del.text);
  const row = await f.db.query<{ status: string }>('SELECT status FROM quarantine WHERE id = $1', [
    MESSAGES.aliceOther.id,
  ]);
  assert.equal(row[0]?.status, 'deleted');
  const lists = (await alice.request('GET', '/api/v1/portal/senders')).json();
  assert.deepEqual(lists.lists, [
    { address: 'alice@a.example', allow: [], block: ['sender1@spam.example'] },
  ]);
  // Allowing takes the sender off the blocked list; Bob's lists are his own.
  const allow = await alice.send('PUT', '/api/v1/portal/senders/allow', {
    add: ['sender1@spam.example', 'friends.example'],
  });
  assert.deepEqual(allow.json().entries, ['sender1@spam.example', 'friends.example']);
  const map = JSON.parse(
    await readFile(join(f.web.home, 'config', 'lists', 'user-allow-senders.json'), 'utf8'),
  );
  assert.equal(map.entries['alice@a.example'], 'sender1@spam.example friends.example');
  const blocked = JSON.parse(
    await readFile(join(f.web.home, 'config', 'lists', 'user-block-senders.json'), 'utf8'),
  );
  assert.equal(blocked.entries['alice@a.example'], undefined);
  assert.deepEqual((await bob.request('GET', '/api/v1/portal/senders')).json().lists, [
    { address: 'bob@b.example', allow: [], block: [] },
  ]);
  const foreign = await alice.send('PUT', '/api/v1/portal/senders/block', {
    address: 'bob@b.example',
    add: ['x@y.example'],
  });
  assert.equal(foreign.status, 403);
  const bad = await alice.send('PUT', '/api/v1/portal/senders/block', { add: ['10.0.0.0/8'] });
  assert.equal(bad.status, 400);
});

test('digest preferences are kept per address', async () => {
  const alice = await f.signedIn('alice@a.example');
  assert.deepEqual((await alice.request('GET', '/api/v1/portal/digest')).json(), {
    enabled: true,
    frequency: 'daily',
  });
  const put = await alice.send('PUT', '/api/v1/portal/digest', {
    enabled: false,
    frequency: 'weekly',
  });
  assert.equal(put.status, 200);
  const file = JSON.parse(
    await readFile(join(f.web.home, 'config', 'digest-preferences.json'), 'utf8'),
  );
  assert.deepEqual(file.addresses['alice@a.example'], { enabled: false, frequency: 'weekly' });
  const bad = await alice.send('PUT', '/api/v1/portal/digest', {
    enabled: true,
    frequency: 'hourly',
  });
  assert.equal(bad.status, 400);
});

test('the administrator’s settings are checked on every action', async () => {
  const root = await f.signedIn('root');
  const alice = await f.signedIn('alice@a.example');
  const set = await root.send('PUT', '/api/v1/portal/settings', {
    release: 'request',
    reportSpam: false,
    senderLists: false,
    digestPreferences: false,
    view: false,
  });
  assert.equal(set.status, 200, set.text);
  assert.equal(set.json().release, 'request');
  const me = (await alice.request('GET', '/api/v1/portal/me')).json();
  assert.equal(me.may.release, 'request');
  const id = MESSAGES.aliceOnly.id;
  assert.equal((await alice.send('POST', `/api/v1/portal/messages/${id}/approve`, {})).status, 403);
  assert.equal((await alice.request('GET', `/api/v1/portal/messages/${id}`)).status, 403);
  const rep = await alice.send('POST', `/api/v1/portal/messages/${id}/report`, { as: 'spam' });
  assert.equal(rep.status, 403);
  const lists = await alice.send('PUT', '/api/v1/portal/senders/allow', { add: ['a@b.example'] });
  assert.equal(lists.status, 403);
  const digest = await alice.send('PUT', '/api/v1/portal/digest', {
    enabled: true,
    frequency: 'daily',
  });
  assert.equal(digest.status, 403);
  // The administrator refuses a first request; a second one goes to the group administrator.
  const first = await alice.send('POST', `/api/v1/portal/messages/${id}/request-release`);
  assert.equal(first.status, 200, first.text);
  const all = (await root.request('GET', '/api/v1/portal/requests')).json() as {
    requests: { id: string; username: string }[];
  };
  assert.deepEqual(
    all.requests.map((r) => [r.id, r.username]),
    [[id, 'alice@a.example']],
  );
  assert.equal((await alice.request('GET', '/api/v1/portal/requests')).status, 403);
  const refuse = await root.send('POST', `/api/v1/portal/requests/${id}`, {
    username: 'alice@a.example',
    decision: 'refuse',
  });
  assert.equal(refuse.status, 200, refuse.text);
  assert.equal(
    ((await root.request('GET', '/api/v1/portal/requests')).json() as { requests: unknown[] })
      .requests.length,
    0,
  );
  const ask = await alice.send('POST', `/api/v1/portal/messages/${id}/request-release`);
  assert.equal(ask.status, 200, ask.text);
  // The group administrator of a.example sees the request and approves it.
  const gadmin = await f.signedIn('gadmin-a');
  const pending = (await gadmin.request('GET', '/api/v1/groups/ga/requests')).json().requests;
  assert.equal(pending.length, 1);
  assert.equal(pending[0].id, id);
  const gadminB = await f.signedIn('gadmin-b');
  assert.equal(
    (await gadminB.request('GET', '/api/v1/groups/gb/requests')).json().requests.length,
    0,
  );
  const wrong = await gadminB.send('POST', `/api/v1/groups/gb/requests/${id}`, {
    username: 'alice@a.example',
    decision: 'approve',
  });
  assert.equal(wrong.status, 403);
  const ok = await gadmin.send('POST', `/api/v1/groups/ga/requests/${id}`, {
    username: 'alice@a.example',
    decision: 'approve',
  });
  assert.equal(ok.status, 200, ok.text);
  const row = await f.db.query<{ status: string }>('SELECT status FROM quarantine WHERE id = $1', [
    id,
  ]);
  assert.equal(row[0]?.status, 'released');
  // Back to the defaults for the other tests.
  const reset = await root.send('PUT', '/api/v1/portal/settings', {
    release: 'release',
    reportSpam: true,
    senderLists: true,
    digestPreferences: true,
    view: true,
  });
  assert.equal(reset.status, 200);
});

test('a digest link signs in to that one address; expired, tampered or foreign links are 401', async () => {
  const key = await linkKey(f.web.config.paths.config);
  const future = new Date(Date.now() + 3600_000);
  const token = signDigestLink(key, 'bob@b.example', future);
  const c = new WebClient(f.web.rpcui.url);
  const r = await c.request('GET', `/api/v1/session/link?token=${encodeURIComponent(token)}`);
  assert.equal(r.status, 303);
  assert.equal(r.headers['location'], '/#/quarantine');
  const one = await new WebClient(f.web.rpcui.url).request(
    'GET',
    `/api/v1/session/link?token=${encodeURIComponent(token)}&message=abc123`,
  );
  assert.equal(one.headers['location'], '/#/quarantine?message=abc123', 'opens on that message');
  const tracked = await new WebClient(f.web.rpcui.url).request(
    'GET',
    `/api/v1/session/link?utm_source=digest&token=${encodeURIComponent(token)}&message=abc123`,
  );
  assert.equal(tracked.status, 303, 'a tracker parameter added to the link is ignored');
  const bad = await new WebClient(f.web.rpcui.url).request(
    'GET',
    `/api/v1/session/link?token=${encodeURIComponent(token)}&message=${encodeURIComponent('../x"<')}`,
  );
  assert.equal(bad.status, 400);
  const session = (await c.request('GET', '/api/v1/session')).json();
  assert.deepEqual(session.addresses, ['bob@b.example']);
  const list = await c.request('GET', '/api/v1/portal/messages');
  assert.ok(subjects(list.json()).includes(MESSAGES.bobOnly.subject));
  assert.ok(!list.text.includes(MESSAGES.aliceOnly.subject));

  // A new address gets an end-user account of its own, limited to it.
  const carol = new WebClient(f.web.rpcui.url);
  const made = await carol.request(
    'POST',
    `/api/v1/session/link?token=${encodeURIComponent(signDigestLink(key, 'carol@a.example', future))}`,
  );
  assert.equal(made.status, 200, made.text);
  assert.deepEqual(made.json().addresses, ['carol@a.example']);
  carol.csrf = String(made.json().csrf);
  assert.deepEqual(subjects((await carol.request('GET', '/api/v1/portal/messages')).json()), [
    MESSAGES.carol.subject,
  ]);

  const expired = signDigestLink(key, 'bob@b.example', new Date(Date.now() - 1000));
  const [v, payload = '', sig = ''] = token.split('.');
  const forged = Buffer.from(
    JSON.stringify({ a: 'alice@a.example', e: Math.floor(future.getTime() / 1000) }),
  ).toString('base64url');
  const foreign = signDigestLink(Buffer.alloc(32, 1), 'bob@b.example', future);
  for (const bad of [
    expired,
    `${v}.${forged}.${sig}`,
    `${v}.${payload}x.${sig}`,
    foreign,
    'junk',
  ]) {
    for (const method of ['GET', 'POST']) {
      const x = new WebClient(f.web.rpcui.url);
      const reply = await x.request(
        method,
        `/api/v1/session/link?token=${encodeURIComponent(bad)}`,
      );
      assert.equal(reply.status, 401, `${method} ${bad}`);
      assert.equal(reply.headers['set-cookie'], undefined);
      assert.equal((await x.request('GET', '/api/v1/portal/messages')).status, 401);
    }
  }
  // The admin's account cannot be reached by a link.
  const admin = signDigestLink(key, 'root@a.example', future);
  await f.web.manager.context.accounts.update('root', (a) => ({
    ...a,
    addresses: ['root@a.example'],
  }));
  const clash = await new WebClient(f.web.rpcui.url).request(
    'POST',
    `/api/v1/session/link?token=${encodeURIComponent(admin)}`,
  );
  assert.equal(clash.status, 200, 'a new user account is made for the address, not the admin');
  assert.equal(clash.json().username, 'root@a.example');
  assert.equal(clash.json().role, 'user');
  const audit = await readdir(join(f.web.home, 'log'));
  assert.ok(audit.includes('audit.jsonl'));
});

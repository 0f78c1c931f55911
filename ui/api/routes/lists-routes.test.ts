/**
 * /api/v1/lists through the real Manager on a temp home: the same files `parapet list` uses,
 * validated entries, audited changes, viewers read only; and a list edit reaches a policy test.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { policy } from '../../../filter/index.js';
import { startWebNode, WebClient, type WebNode } from '../../test/web-node.js';

let node: WebNode;
let admin: WebClient;
let viewer: WebClient;

const PASSWORD = 'correct horse battery staple 2';

before(async () => {
  node = await startWebNode();
  await node.addUser('root', 'admin', PASSWORD);
  await node.addUser('watcher', 'viewer', PASSWORD);
  admin = new WebClient(node.manager.url);
  viewer = new WebClient(node.manager.url);
  assert.equal((await admin.signIn('root', PASSWORD)).status, 200);
  assert.equal((await viewer.signIn('watcher', PASSWORD)).status, 200);
});

after(async () => {
  await node.close();
});

const listFile = (name: string): string =>
  join(node.config.home, 'config', 'lists', `${name}.json`);

test('GET /api/v1/lists shows the default policy’s lists before they exist; 401 without session', async () => {
  const r = await viewer.request('GET', '/api/v1/lists');
  assert.equal(r.status, 200);
  const rows = (r.json() as { lists: { name: string; exists: boolean }[] }).lists;
  for (const n of policy.DEFAULT_POLICY_LISTS) {
    assert.ok(rows.some((l) => l.name === n && !l.exists));
  }
  assert.equal((await new WebClient(node.manager.url).request('GET', '/api/v1/lists')).status, 401);
  assert.equal((await viewer.request('GET', '/api/v1/lists/block-senders')).status, 404);
  assert.equal((await viewer.request('GET', '/api/v1/lists/bad%20name')).status, 400);
});

test('add and remove list entries: validated, merged case-insensitively, stored, audited', async () => {
  const denied = await viewer.send('POST', '/api/v1/lists/block-senders/entries', {
    entries: ['spam@bad.example'],
  });
  assert.equal(denied.status, 403);
  const bad = await admin.send('POST', '/api/v1/lists/block-senders/entries', {
    entries: ['not an address'],
  });
  assert.equal(bad.status, 400);
  assert.match(String(bad.json().message), /not an address/);

  const added = await admin.send('POST', '/api/v1/lists/block-senders/entries', {
    entries: ['spam@bad.example', '*.junk.example', '192.0.2.0/24', 'SPAM@bad.example'],
  });
  assert.equal(added.status, 200);
  assert.deepEqual(added.json().entries, ['spam@bad.example', '*.junk.example', '192.0.2.0/24']);
  const stored = JSON.parse(await readFile(listFile('block-senders'), 'utf8')) as {
    entries: string[];
  };
  assert.equal(stored.entries.length, 3);
  const one = (await viewer.request('GET', '/api/v1/lists/block-senders')).json();
  assert.deepEqual([one.kind, one.entries.length], ['list', 3]);

  const removed = await admin.send('DELETE', '/api/v1/lists/block-senders/entries', {
    entries: ['192.0.2.0/24'],
  });
  assert.equal(removed.status, 200);
  assert.deepEqual([removed.json().removed, removed.json().entries.length], [1, 2]);

  const audit = (await admin.request('GET', '/api/v1/audit?limit=20')).json().entries as {
    action: string;
    object: string;
    details: Record<string, unknown>;
  }[];
  const add = audit.find((e) => e.action === 'list.add');
  assert.deepEqual([add?.object, add?.details['after']], ['block-senders', 3]);
  assert.ok(audit.some((e) => e.action === 'list.remove' && e.details['removed'] === 1));
});

test('maps: replace with PUT, add a pair, a list name cannot take pairs', async () => {
  const put = await admin.send('PUT', '/api/v1/lists/routes', {
    kind: 'map',
    description: 'where mail goes',
    entries: { 'example.com': 'mx1', '*.example.org': 'mx2' },
  });
  assert.equal(put.status, 200);
  const add = await admin.send('POST', '/api/v1/lists/routes/entries', {
    map: { 'a@b.example': 'x' },
  });
  assert.equal(add.status, 200);
  assert.equal(Object.keys(add.json().entries as Record<string, string>).length, 3);
  const wrong = await admin.send('POST', '/api/v1/lists/block-senders/entries', {
    map: { k: 'v' },
  });
  assert.equal(wrong.status, 400);
  const both = await admin.send('POST', '/api/v1/lists/routes/entries', {});
  assert.equal(both.status, 400);
  const rows = (await viewer.request('GET', '/api/v1/lists')).json().lists as {
    name: string;
    kind: string;
    count: number;
  }[];
  assert.deepEqual(
    rows.find((r) => r.name === 'routes'),
    { name: 'routes', kind: 'map', description: 'where mail goes', count: 3, exists: true },
  );
  assert.equal(
    (await viewer.send('PUT', '/api/v1/lists/routes', { kind: 'list', entries: [] })).status,
    403,
  );
});

test('a list changed here is what a policy test sees (listed :sender)', async () => {
  const r = await viewer.send('POST', '/api/v1/policy/test', {
    script: policy.DEFAULT_POLICY_TEXT,
    message: 'From: x@y.example\nTo: a@b.example\nSubject: hi\n\nbody\n',
    envelope: { from: 'spam@bad.example', to: ['a@b.example'] },
  });
  assert.equal(r.status, 200);
  assert.equal(r.json().verdict.kind, 'reject');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWebNode, WebClient } from '../../test/web-node.js';
import { currentTotp } from '../auth/totp.js';

test('a role that requires TOTP enrols before anything else, then signs in with a code', async (t) => {
  const node = await startWebNode({
    nodeJson: {
      web: {
        manager: { host: '127.0.0.1', port: 0 },
        rpcui: { host: '127.0.0.1', port: 0 },
        requireTotpFor: ['admin'],
      },
    },
  });
  t.after(() => node.close());
  await node.addUser('admin', 'admin', 'admin password 1');
  const c = new WebClient(node.manager.url);
  const first = await c.signIn('admin', 'admin password 1');
  assert.equal(first.status, 200);
  assert.equal(first.json().mustEnrolTotp, true);
  const blocked = await c.request('GET', '/api/v1/users');
  assert.equal(blocked.status, 403);
  assert.equal(blocked.json().error, 'ERR_UI_TOTP_REQUIRED');
  const enrol = await c.send('POST', '/api/v1/session/totp');
  assert.equal(enrol.status, 200, enrol.text);
  const { secret, uri } = enrol.json() as { secret: string; uri: string };
  assert.match(uri, /^otpauth:\/\/totp\/Parapet:admin\?/);
  assert.equal((await c.send('PUT', '/api/v1/session/totp', { code: '000000' })).status, 400);
  const confirmed = await c.send('PUT', '/api/v1/session/totp', { code: currentTotp(secret) });
  assert.equal(confirmed.status, 200, confirmed.text);
  c.csrf = String(confirmed.json().csrf);
  assert.equal((await c.request('GET', '/api/v1/users')).status, 200);

  const d = new WebClient(node.manager.url);
  const needsCode = await d.signIn('admin', 'admin password 1');
  assert.equal(needsCode.status, 401);
  assert.equal(needsCode.json().totpRequired, true);
  const withCode = await d.request('POST', '/api/v1/session', {
    username: 'admin',
    password: 'admin password 1',
    totp: currentTotp(secret),
  });
  assert.equal(withCode.status, 200, withCode.text);
  assert.equal(withCode.json().mustEnrolTotp, false);
  assert.equal((await d.request('GET', '/api/v1/users')).status, 200);
});

test('changing one’s password needs the current one and ends the other sessions', async (t) => {
  const node = await startWebNode();
  t.after(() => node.close());
  await node.addUser('bob@example.com', 'user', 'first password 1');
  const a = new WebClient(node.rpcui.url);
  const b = new WebClient(node.rpcui.url);
  await a.signIn('bob@example.com', 'first password 1');
  await b.signIn('bob@example.com', 'first password 1');
  const wrong = await a.send('PUT', '/api/v1/session/password', {
    current: 'nope',
    password: 'second password 2',
  });
  assert.equal(wrong.status, 403);
  const weak = await a.send('PUT', '/api/v1/session/password', {
    current: 'first password 1',
    password: 'short',
  });
  assert.equal(weak.status, 400);
  const ok = await a.send('PUT', '/api/v1/session/password', {
    current: 'first password 1',
    password: 'second password 2',
  });
  assert.equal(ok.status, 200, ok.text);
  assert.equal((await a.request('GET', '/api/v1/session')).status, 200, 'this session stays');
  assert.equal((await b.request('GET', '/api/v1/session')).status, 401, 'the other one ends');
  assert.equal(
    (await new WebClient(node.rpcui.url).signIn('bob@example.com', 'second password 2')).status,
    200,
  );
  // An end user cannot sign in to the Manager at all.
  assert.equal(
    (await new WebClient(node.manager.url).signIn('bob@example.com', 'second password 2')).status,
    401,
  );
});

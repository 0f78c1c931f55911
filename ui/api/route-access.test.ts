/**
 * Issue 6, "Done when": a table-driven test over every API route of both surfaces, read back
 * from the OpenAPI document (so a new route is covered the day it is added): without a
 * principal → 401; with a session or token of a role the route does not allow → 403; a
 * state change without the CSRF token → 403; a read-only token that writes → 403; none of
 * these answers carries data. Then sign-in throttling, and no secret in any response body or
 * log line written during the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWebNode, WebClient, type Reply, type WebNode } from '../test/web-node.js';
import { ROLES, SURFACE_ROLES, type Role } from './auth/roles.js';

interface RouteRule {
  readonly path: string;
  readonly method: string;
  readonly access: 'public' | { roles: Role[] };
}

const PASSWORD: Record<Role, string> = {
  admin: 'admin password 0001',
  viewer: 'viewer password 0002',
  groupadmin: 'group admin password 3',
  user: 'end user password 0004',
};
const NAME: Record<Role, string> = {
  admin: 'root-admin',
  viewer: 'read-only',
  groupadmin: 'group-boss',
  user: 'alice@example.com',
};

async function routesOf(client: WebClient): Promise<RouteRule[]> {
  const doc = (await client.request('GET', '/api/v1/openapi.json')).json() as {
    paths: Record<string, Record<string, { 'x-parapet-access': RouteRule['access'] }>>;
  };
  const out: RouteRule[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      out.push({
        path: path.replace(/\{[^}]+\}/g, 'x1'),
        method: method.toUpperCase(),
        access: op['x-parapet-access'],
      });
    }
  }
  return out;
}

/** An error answer: exactly {error, message} (and nothing from the resource). */
function assertNoData(r: Reply, what: string): void {
  const body = r.json() as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['error', 'message'], `${what}: ${r.text}`);
}

const isWrite = (m: string): boolean => !['GET', 'HEAD'].includes(m);

test('every API route: 401 without a principal, 403 for other roles, CSRF and token scope', async (t) => {
  const log: string[] = [];
  const bodies: string[] = [];
  const node: WebNode = await startWebNode({ logStream: { write: (l) => log.push(l) } });
  t.after(() => node.close());
  for (const role of ROLES) await node.addUser(NAME[role], role, PASSWORD[role]);
  const accounts = node.manager.context.accounts;
  const tokens: Record<string, string> = {};
  for (const role of ROLES) {
    tokens[`${role}:write`] = (await accounts.createToken(NAME[role], 't', 'write', null)).secret;
    tokens[`${role}:read`] = (await accounts.createToken(NAME[role], 't', 'read', null)).secret;
  }

  let checked = 0;
  for (const surface of ['manager', 'rpcui'] as const) {
    const url = node[surface].url;
    const sessions = new Map<Role, WebClient>();
    for (const role of SURFACE_ROLES[surface]) {
      const c = new WebClient(url);
      assert.equal(
        (await c.signIn(NAME[role], PASSWORD[role])).status,
        200,
        `${role} on ${surface}`,
      );
      sessions.set(role, c);
    }
    // A role that does not belong to this surface cannot sign in to it.
    for (const role of ROLES.filter(
      (r) => !(SURFACE_ROLES[surface] as readonly Role[]).includes(r),
    )) {
      const r = await new WebClient(url).signIn(NAME[role], PASSWORD[role]);
      assert.equal(r.status, 401, `${role} signs in to ${surface}: ${r.text}`);
    }
    const routes = await routesOf(sessions.get('admin') ?? new WebClient(url));
    assert.ok(routes.length >= 6, `${surface}: ${routes.length} routes`);
    for (const route of routes) {
      const label = `${surface} ${route.method} ${route.path}`;
      const anon = await new WebClient(url).request(
        route.method,
        route.path,
        isWrite(route.method) ? {} : undefined,
      );
      if (route.access === 'public') continue;
      assert.equal(anon.status, 401, `${label} anonymous: ${anon.text}`);
      assertNoData(anon, label);
      bodies.push(anon.text);
      const allowed = route.access.roles;
      for (const role of ROLES) {
        // Bearer tokens reach every surface, so every role is tried with one.
        const token = tokens[`${role}:write`] ?? '';
        const viaToken = await new WebClient(url).request(
          route.method,
          route.path,
          isWrite(route.method) ? {} : undefined,
          { authorization: `Bearer ${token}` },
        );
        bodies.push(viaToken.text);
        if (!allowed.includes(role)) {
          assert.equal(viaToken.status, 403, `${label} token of ${role}: ${viaToken.text}`);
          assertNoData(viaToken, label);
          const s = sessions.get(role);
          if (s !== undefined) {
            const r = await s.send(
              route.method,
              route.path,
              isWrite(route.method) ? {} : undefined,
            );
            assert.equal(r.status, 403, `${label} session of ${role}: ${r.text}`);
            assertNoData(r, label);
          }
          checked += 1;
          continue;
        }
        assert.notEqual(viaToken.status, 401, `${label} token of ${role}`);
        if (isWrite(route.method)) {
          const readOnly = await new WebClient(url).request(
            route.method,
            route.path,
            {},
            {
              authorization: `Bearer ${tokens[`${role}:read`] ?? ''}`,
            },
          );
          assert.equal(
            readOnly.status,
            403,
            `${label} read-only token of ${role}: ${readOnly.text}`,
          );
          const s = sessions.get(role);
          if (s !== undefined) {
            const noCsrf = await s.request(route.method, route.path, {});
            assert.equal(noCsrf.status, 403, `${label} without CSRF for ${role}: ${noCsrf.text}`);
            assert.equal(noCsrf.json().error, 'ERR_UI_CSRF', label);
          }
        }
        checked += 1;
      }
    }
  }
  assert.ok(checked > 50, `checked ${checked} route × role cases`);

  // Unknown API paths do not tell strangers what exists.
  assert.equal(
    (await new WebClient(node.manager.url).request('GET', '/api/v1/nothing-here')).status,
    401,
  );

  // No secret in any answer or log line.
  const users = await accounts.list();
  const secrets = [
    ...Object.values(PASSWORD),
    ...Object.values(tokens),
    ...users.map((u) => u.passwordHash),
    ...(await accounts.listTokens()).map((tk) => tk.hash),
  ];
  const everything = `${bodies.join('\n')}\n${log.join('')}`;
  for (const s of secrets)
    assert.ok(!everything.includes(s), `a secret leaked: ${s.slice(0, 12)}…`);
  assert.ok(!everything.includes('scrypt$'), 'a password hash leaked');
  assert.ok(log.length > 0, 'the services logged the requests');
});

test('sign-in is throttled per account, failures look alike, and a session ends on sign-out', async (t) => {
  const log: string[] = [];
  const node = await startWebNode({ logStream: { write: (l) => log.push(l) } });
  t.after(() => node.close());
  await node.addUser('admin', 'admin', 'the right password');
  const c = new WebClient(node.manager.url);
  const unknown = await c.signIn('nobody', 'whatever password');
  const wrong = await c.signIn('admin', 'the wrong password');
  assert.equal(unknown.status, 401);
  assert.equal(wrong.status, 401);
  assert.equal(unknown.text, wrong.text, 'unknown user and wrong password answer alike');
  let last: Reply = wrong;
  for (let i = 0; i < 10 && last.status !== 429; i++)
    last = await c.signIn('admin', `guess ${i} password`);
  assert.equal(last.status, 429, last.text);
  assert.ok(Number(last.headers['retry-after']) > 0);
  // Even the right password waits now.
  assert.equal((await c.signIn('admin', 'the right password')).status, 429);
  assert.ok(!log.join('').includes('the right password'));

  await node.addUser('second', 'admin', 'another password');
  const s = new WebClient(node.manager.url);
  assert.equal((await s.signIn('second', 'another password')).status, 200);
  assert.equal((await s.request('GET', '/api/v1/users')).status, 200);
  assert.equal((await s.send('DELETE', '/api/v1/session')).status, 200);
  assert.equal((await s.request('GET', '/api/v1/users')).status, 401);
  const audit = await node.manager.context.audit.query({ action: 'session.' });
  assert.ok(audit.some((e) => e.action === 'session.sign-in' && e.outcome === 'denied'));
  assert.ok(audit.some((e) => e.action === 'session.sign-out' && e.actor === 'second'));
});

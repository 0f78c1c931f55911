/**
 * The web certificate: read it, replace it with an uploaded pair (administrators only) and
 * see the listener serve the new one on the next connection, and the other listener within its
 * poll of the files, without a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { makeSelfSignedCertificate } from '../tls-certificate.js';
import { startWebNode, WebClient } from '../../test/web-node.js';

function servedSubject(url: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: u.hostname, port: Number(u.port), rejectUnauthorized: false, servername: 'x' },
      () => {
        const cn = socket.getPeerCertificate().subject.CN;
        socket.end();
        resolve(Array.isArray(cn) ? cn.join(',') : (cn ?? ''));
      },
    );
    socket.on('error', reject);
  });
}

test('TLS certificate: view, replace (checked, applied at once), roles', async (t) => {
  const node = await startWebNode({ certificatePollMs: 50 });
  t.after(() => node.close());
  await node.addUser('boss', 'admin', 'admin password 0001');
  await node.addUser('watcher', 'viewer', 'viewer password 0002');
  const url = node.manager.url;
  const admin = new WebClient(url);
  assert.equal((await admin.signIn('boss', 'admin password 0001')).status, 200);
  const viewer = new WebClient(url);
  assert.equal((await viewer.signIn('watcher', 'viewer password 0002')).status, 200);

  const current = await viewer.request('GET', '/api/v1/settings/tls');
  assert.equal(current.status, 200, current.text);
  const view = current.json() as { subject: string; selfSigned: boolean; daysLeft: number };
  assert.equal(view.selfSigned, true);
  assert.ok(view.daysLeft > 800, String(view.daysLeft));
  assert.ok(!current.text.includes('PRIVATE KEY'));

  const pair = makeSelfSignedCertificate(['mail-gw.example.net']);
  const other = makeSelfSignedCertificate(['other.example.net']);
  assert.equal((await viewer.send('PUT', '/api/v1/settings/tls', pair)).status, 403);
  const mismatch = await admin.send('PUT', '/api/v1/settings/tls', {
    key: other.key,
    cert: pair.cert,
  });
  assert.equal(mismatch.status, 400, mismatch.text);
  const garbage = await admin.send('PUT', '/api/v1/settings/tls', {
    key: 'x'.repeat(100),
    cert: 'y'.repeat(100),
  });
  assert.equal(garbage.status, 400, garbage.text);
  assert.notEqual(await servedSubject(url), 'mail-gw.example.net');

  const replaced = await admin.send('PUT', '/api/v1/settings/tls', pair);
  assert.equal(replaced.status, 200, replaced.text);
  assert.equal(replaced.json().appliedNow, true);
  assert.match(String(replaced.json().subject), /CN=mail-gw\.example\.net/);
  assert.equal(await servedSubject(url), 'mail-gw.example.net');
  // The End User listener (another process in a node) follows the files on disk.
  let rpcuiSubject = await servedSubject(node.rpcui.url);
  for (let i = 0; i < 100 && rpcuiSubject !== 'mail-gw.example.net'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    rpcuiSubject = await servedSubject(node.rpcui.url);
  }
  assert.equal(rpcuiSubject, 'mail-gw.example.net');
  const after = (await admin.request('GET', '/api/v1/settings/tls')).json() as { subject: string };
  assert.match(after.subject, /mail-gw\.example\.net/);

  const audit = (await admin.request('GET', '/api/v1/audit?action=settings.tls')).json() as {
    entries: { outcome: string; details: Record<string, unknown> }[];
  };
  assert.deepEqual(
    audit.entries.map((e) => e.outcome),
    ['ok', 'denied', 'denied'],
  );
  assert.ok(!JSON.stringify(audit).includes('PRIVATE KEY'));

  // What a route does not know is refused, never dropped: a mistyped filter would widen a
  // search (or a bulk action) to everything.
  const typo = await admin.request('GET', '/api/v1/audit?actoor=boss');
  assert.equal(typo.status, 400, typo.text);
  assert.equal((typo.json() as { error: string }).error, 'ERR_UI_BAD_REQUEST');
  const extra = await admin.send('PUT', '/api/v1/settings/tls', { ...pair, chain: 'x' });
  assert.equal(extra.status, 400, extra.text);
});

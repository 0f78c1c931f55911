// The policy service with its real Sieve policy, in-process: the content filter answers by the
// node's config/policy.sieve and lists, a changed policy is picked up without a restart, a
// broken change keeps the running policy, and an invalid policy stops the start with positions.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadNodeConfig } from '../config/node-config.js';
import { findFreePorts } from '../test/e2e/support/free-port.js';
import { sendMessages, type SendResult } from '../test/e2e/support/smtp-send.js';
import { startPolicyService } from './policy.js';
import { OutboundQueue } from '../queue/outbound-queue.js';

const homes: string[] = [];
after(async () => {
  await Promise.all(homes.map((h) => rm(h, { recursive: true, force: true })));
});

async function makeHome(policyText: string | null): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'parapet-policy-svc-'));
  homes.push(home);
  const [filter, reinject] = await findFreePorts(2);
  await mkdir(join(home, 'config', 'lists'), { recursive: true });
  await writeFile(
    join(home, 'config', 'node.json'),
    JSON.stringify({
      policy: {
        milterTcp: null,
        smtpFilter: { host: '127.0.0.1', port: filter },
        // Nothing listens here: accepted mail tempfails, which the test tells apart.
        reinject: { host: '127.0.0.1', port: reinject },
      },
    }),
  );
  if (policyText !== null) await writeFile(join(home, 'config', 'policy.sieve'), policyText);
  return home;
}

function message(subject: string): Buffer {
  return Buffer.from(
    `From: a@example.net\r\nTo: b@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@t>\r\n\r\nbody\r\n`,
  );
}

async function send(port: number, subject: string, from = 'a@example.net'): Promise<SendResult> {
  const [r] = await sendMessages([{ raw: message(subject), from, to: ['b@example.com'] }], {
    port,
    sessions: 1,
    seqHeader: false,
  });
  assert.ok(r !== undefined);
  return r;
}

const silent = pino({ level: 'silent' });

test('the node policy decides, reloads on change, keeps the old one on a broken change', async () => {
  const home = await makeHome(
    'require ["reject"];\nif header :contains "subject" "block me" { reject "blocked by test"; }\n',
  );
  const config = await loadNodeConfig({ PARAPET_HOME: home });
  const service = await startPolicyService(config, silent);
  try {
    assert.ok(service.listeners.some((l) => l.includes('sieve (policy.sieve, version 1)')));
    const port = config.policy.smtpFilter?.port ?? 0;
    const blocked = await send(port, 'please block me');
    assert.equal(blocked.status, 'rejected');
    assert.match(blocked.text, /blocked by test/);
    const other = await send(port, 'hello');
    assert.equal(other.status, 'tempfail', 'accepted, then re-injection to a closed port');

    await writeFile(
      join(home, 'config', 'policy.sieve'),
      'require ["reject"];\nif header :contains "subject" "hello" { reject "now hello is blocked"; }\n',
    );
    let reloaded: SendResult | undefined;
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 250));
      reloaded = await send(port, 'hello');
      if (reloaded.status === 'rejected') break;
    }
    assert.ok(reloaded !== undefined);
    assert.equal(reloaded.status, 'rejected');
    assert.match(reloaded.text, /now hello is blocked/);

    // A change that does not compile is not applied.
    await writeFile(join(home, 'config', 'policy.sieve'), 'if header :nosuchtag "x" { stop; }\n');
    await new Promise((r) => setTimeout(r, 3000));
    const still = await send(port, 'hello');
    assert.equal(still.status, 'rejected');
  } finally {
    await service.close();
  }
});

test('the shipped default policy rejects a sender on the block list', async () => {
  const home = await makeHome(null);
  await writeFile(
    join(home, 'config', 'lists', 'block-senders.json'),
    JSON.stringify({ name: 'block-senders', entries: ['spammer.example'] }),
  );
  const config = await loadNodeConfig({ PARAPET_HOME: home });
  const service = await startPolicyService(config, silent);
  try {
    assert.ok(service.listeners.some((l) => l.includes('default.sieve')));
    const port = config.policy.smtpFilter?.port ?? 0;
    const r = await send(port, 'offer', 'boss@spammer.example');
    assert.equal(r.status, 'rejected', JSON.stringify(r));
    assert.equal((await send(port, 'fine', 'friend@example.org')).status, 'tempfail');
  } finally {
    await service.close();
  }
});

test('an invalid policy stops the start with FILE:LINE:COLUMN', async () => {
  const home = await makeHome('require ["fileinto"];\n\nfileinto;\n');
  const config = await loadNodeConfig({ PARAPET_HOME: home });
  await assert.rejects(startPolicyService(config, silent), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ERR_POLICY_INVALID');
    assert.match(err.message, /policy\.sieve:3:\d+: /);
    return true;
  });
});

test('redirect and vacation land in the outbound queue before the MTA is answered', async () => {
  const home = await makeHome(
    'require ["vacation"];\nredirect "desk@example.org";\nvacation :days 1 "Away until Monday.";\n',
  );
  const config = await loadNodeConfig({ PARAPET_HOME: home });
  const service = await startPolicyService(config, silent);
  try {
    const port = config.policy.smtpFilter?.port ?? 0;
    const r = await send(port, 'please handle', 'customer@example.net');
    assert.equal(r.status, 'accepted', JSON.stringify(r));
    const queue = new OutboundQueue(config.paths.queue);
    const items = await queue.list();
    const redirect = items.find((i) => i.kind === 'redirect');
    const vacation = items.find((i) => i.kind === 'vacation');
    assert.deepEqual(redirect?.to, ['desk@example.org']);
    assert.match((await queue.message(redirect.id)).toString(), /Subject: please handle/);
    assert.deepEqual(vacation?.to, ['customer@example.net']);
    assert.equal(vacation.from, '');
    assert.match((await queue.message(vacation.id)).toString(), /Away until Monday\./);
  } finally {
    await service.close();
  }
});

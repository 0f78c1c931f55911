import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { authenticate, dkimSign } from 'mailauth';
import { messageFromRaw } from '../../test-support.js';
import { DnsResolver } from '../dns/dns-resolver.js';
import { startTestDnsServer, type TestDnsRecords } from '../dns/dns-test-server.js';
import { createAuthScanner } from './auth-scanner.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
const PRIVATE_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const PUBLIC_B64 = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

const ZONE = new Map<string, TestDnsRecords>([
  ['example.org', { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'] }],
  ['_dmarc.example.org', { TXT: ['v=DMARC1; p=reject'] }],
  ['s1._domainkey.example.org', { TXT: [`v=DKIM1; k=rsa; p=${PUBLIC_B64}`] }],
  ['softy.example', { TXT: ['v=spf1 ip4:198.51.100.1 ~all'] }],
  ['_dmarc.softy.example', { TXT: ['v=DMARC1; p=quarantine'] }],
]);

const BODY = [
  'From: Bob <bob@example.org>',
  'To: alice@example.net',
  'Subject: quarterly report',
  'Date: Sat, 21 Nov 2026 10:00:00 +0000',
  'Message-ID: <r1@example.org>',
  '',
  'Hello Alice, the report is ready.',
  '',
].join('\r\n');

async function signed(raw: string): Promise<string> {
  // mailauth's typings name the top-level fields; its code reads signatureData (both given).
  const key = { signingDomain: 'example.org', selector: 's1', privateKey: PRIVATE_PEM };
  const options = { ...key, signatureData: [key] };
  const result = await dkimSign(raw, options);
  return result.signatures + raw;
}

function envelopeFor(ip: string, sender: string) {
  return {
    client: { address: ip, port: 25, name: null },
    helo: 'mail.example.org',
    mailFrom: { address: sender, args: {} },
  };
}

function symbols(out: { findings: readonly { symbol: string }[] }): string[] {
  return out.findings.map((f) => f.symbol);
}

test('signed mail from an allowed client: SPF, DKIM (aligned) and DMARC pass', async () => {
  const dns = await startTestDnsServer(ZONE);
  try {
    const scanner = createAuthScanner({
      resolver: new DnsResolver({ servers: [dns.address] }),
      mta: 'mx.test',
    });
    const message = await messageFromRaw(
      await signed(BODY),
      envelopeFor('192.0.2.10', 'bob@example.org'),
    );
    const out = await scanner.scan(message, new AbortController().signal);
    assert.deepEqual(out.facts?.auth, {
      spf: 'pass',
      dkim: 'pass',
      dmarc: 'pass',
      arc: 'none',
      dmarcPolicy: 'reject',
    });
    assert.deepEqual(symbols(out), ['SPF_PASS', 'DKIM_VALID', 'DKIM_VALID_AU', 'DMARC_PASS']);
  } finally {
    await dns.close();
  }
});

test('forged sender from a foreign client: SPF_FAIL and DMARC_REJECT with their scores', async () => {
  const dns = await startTestDnsServer(ZONE);
  try {
    const scanner = createAuthScanner({
      resolver: new DnsResolver({ servers: [dns.address] }),
      scores: { DMARC_REJECT: 4.2 },
    });
    const message = await messageFromRaw(BODY, envelopeFor('203.0.113.9', 'bob@example.org'));
    const out = await scanner.scan(message, new AbortController().signal);
    assert.equal(out.facts?.auth?.spf, 'fail');
    assert.equal(out.facts.auth.dmarc, 'fail');
    assert.deepEqual(symbols(out), ['SPF_FAIL', 'DKIM_NONE', 'DMARC_REJECT']);
    assert.equal(out.findings.find((f) => f.symbol === 'DMARC_REJECT')?.score, 4.2);
    assert.equal(out.findings.find((f) => f.symbol === 'SPF_FAIL')?.score, 1.5);
  } finally {
    await dns.close();
  }
});

test('a body changed after signing gives DKIM_INVALID; softfail and p=quarantine map too', async () => {
  const dns = await startTestDnsServer(ZONE);
  try {
    const scanner = createAuthScanner({ resolver: new DnsResolver({ servers: [dns.address] }) });
    const tampered = (await signed(BODY)).replace('report is ready', 'invoice is overdue');
    const out = await scanner.scan(
      await messageFromRaw(tampered, envelopeFor('192.0.2.10', 'bob@example.org')),
      new AbortController().signal,
    );
    // mailauth reports a body-hash mismatch as "neutral" (with a comment), not "fail".
    assert.equal(out.facts?.auth?.dkim, 'neutral');
    assert.ok(symbols(out).includes('DKIM_INVALID'));
    // SPF still passes and aligns, so DMARC passes.
    assert.equal(out.facts.auth.dmarc, 'pass');

    const softy = BODY.replace('bob@example.org>', 'eve@softy.example>');
    const soft = await scanner.scan(
      await messageFromRaw(softy, envelopeFor('203.0.113.9', 'eve@softy.example')),
      new AbortController().signal,
    );
    assert.deepEqual(symbols(soft), ['SPF_SOFTFAIL', 'DKIM_NONE', 'DMARC_QUARANTINE']);
  } finally {
    await dns.close();
  }
});

test('an ARC chain sealed by a forwarder verifies (ARC_PASS); a broken one is ARC_FAIL', async () => {
  const dns = await startTestDnsServer(ZONE);
  try {
    const resolver = new DnsResolver({ servers: [dns.address] });
    // The forwarder (example.org's own relay here) authenticates the mail and seals it.
    const original = await signed(BODY);
    const sealing = await authenticate(original, {
      ip: '192.0.2.10',
      helo: 'mail.example.org',
      sender: 'bob@example.org',
      mta: 'relay.example.org',
      resolver: resolver.toNodeStyleResolver() as never,
      disableBimi: true,
      seal: { signingDomain: 'example.org', selector: 's1', privateKey: PRIVATE_PEM },
    });
    const forwarded = sealing.headers + original;
    assert.match(forwarded, /^ARC-Seal: /m);
    const scanner = createAuthScanner({ resolver });
    // Forwarded from a client SPF does not allow: SPF fails, the chain still verifies.
    const out = await scanner.scan(
      await messageFromRaw(forwarded, envelopeFor('203.0.113.9', 'bob@example.org')),
      new AbortController().signal,
    );
    assert.equal(out.facts?.auth?.arc, 'pass');
    assert.ok(symbols(out).includes('ARC_PASS'));
    // Changed after sealing: the ARC-Message-Signature no longer matches.
    const broken = forwarded.replace('report is ready', 'invoice is overdue');
    const bad = await scanner.scan(
      await messageFromRaw(broken, envelopeFor('203.0.113.9', 'bob@example.org')),
      new AbortController().signal,
    );
    assert.equal(bad.facts?.auth?.arc, 'fail');
    assert.ok(symbols(bad).includes('ARC_FAIL'));
  } finally {
    await dns.close();
  }
});

test('a DNS server that never answers gives temperrors within the scanner budget', async () => {
  const dns = await startTestDnsServer(ZONE, { silent: true });
  try {
    const scanner = createAuthScanner({
      resolver: new DnsResolver({ servers: [dns.address], queryTimeoutMs: 300 }),
      timeoutMs: 700,
    });
    const message = await messageFromRaw(
      await signed(BODY),
      envelopeFor('192.0.2.10', 'bob@example.org'),
    );
    const started = performance.now();
    const out = await scanner.scan(message, new AbortController().signal);
    const elapsed = performance.now() - started;
    assert.equal(out.facts?.auth?.spf, 'temperror');
    assert.equal(out.facts.auth.dkim, 'temperror');
    assert.ok(symbols(out).includes('SPF_TEMPERROR'));
    console.log(`auth with a dead DNS server: ${elapsed.toFixed(0)} ms (scanner budget 700)`);
  } finally {
    await dns.close();
  }
});

test('an injected resolver function is used as is; cost per scan (printed)', async () => {
  const asked: string[] = [];
  const records = new Map<string, string[][]>([
    ['TXT example.org', [['v=spf1 ip4:192.0.2.0/24 -all']]],
    ['TXT _dmarc.example.org', [['v=DMARC1; p=reject']]],
    ['TXT s1._domainkey.example.org', [[`v=DKIM1; k=rsa; p=${PUBLIC_B64}`]]],
  ]);
  const resolver = (name: string, rrtype: string): Promise<unknown> => {
    asked.push(`${rrtype} ${name}`);
    const found = records.get(`${rrtype} ${name}`);
    if (found !== undefined) return Promise.resolve(found);
    return Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));
  };
  const scanner = createAuthScanner({ resolver });
  const message = await messageFromRaw(
    await signed(BODY),
    envelopeFor('192.0.2.10', 'bob@example.org'),
  );
  const signal = new AbortController().signal;
  const first = await scanner.scan(message, signal);
  assert.equal(first.facts?.auth?.dmarc, 'pass');
  assert.ok(asked.includes('TXT s1._domainkey.example.org'));
  const rounds = 200;
  const cpu = process.cpuUsage();
  for (let i = 0; i < rounds; i++) await scanner.scan(message, signal);
  const used = process.cpuUsage(cpu);
  console.log(
    `auth scanner (SPF+DKIM+DMARC, resolver answers at once): ${((used.user + used.system) / rounds).toFixed(0)} µs CPU per scan`,
  );
});

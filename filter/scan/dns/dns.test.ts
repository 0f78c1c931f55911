import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messageFromRaw } from '../../test-support.js';
import { DnsResolver } from './dns-resolver.js';
import {
  createDnsblScanner,
  createUriblScanner,
  isPublicAddress,
  reverseIpForDnsbl,
} from './dnsbl-scanner.js';
import { extractLinkDomains, registrableDomain } from './link-domains.js';
import { startTestDnsServer, type TestDnsRecords } from './dns-test-server.js';

const ZONE = new Map<string, TestDnsRecords>([
  ['2.0.0.127.dnsbl.test', { A: ['127.0.0.2'] }],
  ['99.2.0.192.dnsbl.test', { A: ['127.0.0.4'] }],
  ['98.2.0.192.dnsbl.test', { A: ['127.255.255.254'] }],
  ['evil.example.uribl.test', { A: ['127.0.0.2'] }],
  ['phish.co.uk.uribl.test', { A: ['127.0.0.8'] }],
  ['example.org', { TXT: ['v=spf1 -all'], MX: [{ exchange: 'mx.example.org', priority: 10 }] }],
]);

const ZONES = [{ zone: 'dnsbl.test', symbol: 'DNSBL_TEST', score: 3 }];
const URI_ZONES = [{ zone: 'uribl.test', symbol: 'URIBL_TEST', score: 4 }];

function clientMessage(ip: string, body = 'hello\r\n') {
  return messageFromRaw(`From: a@example.org\r\nSubject: x\r\n\r\n${body}`, {
    client: { address: ip, port: 25, name: null },
  });
}

test('the resolver answers records, NXDOMAIN and no data, and caches them', async () => {
  const server = await startTestDnsServer(ZONE);
  try {
    const resolver = new DnsResolver({ servers: [server.address], queryTimeoutMs: 1000 });
    assert.deepEqual(await resolver.lookup('2.0.0.127.dnsbl.test', 'A'), {
      kind: 'records',
      records: ['127.0.0.2'],
    });
    assert.deepEqual(await resolver.lookup('nothing.dnsbl.test', 'A'), { kind: 'nxdomain' });
    assert.deepEqual(await resolver.lookup('example.org', 'A'), { kind: 'nodata' });
    assert.deepEqual(await resolver.lookup('example.org', 'TXT'), {
      kind: 'records',
      records: [['v=spf1 -all']],
    });
    const before = server.queries.length;
    await resolver.lookup('2.0.0.127.DNSBL.test.', 'A');
    await resolver.lookup('nothing.dnsbl.test', 'A');
    assert.equal(server.queries.length, before, 'answered from the cache');
    assert.equal(resolver.stats.hits, 2);
    // The shape mailauth expects from dns.promises.resolve.
    const nodeStyle = resolver.toNodeStyleResolver();
    assert.deepEqual(await nodeStyle('example.org', 'MX'), [
      { exchange: 'mx.example.org', priority: 10 },
    ]);
    await assert.rejects(nodeStyle('nothing.dnsbl.test', 'TXT'), { code: 'ENOTFOUND' });
    await assert.rejects(nodeStyle('example.org', 'A'), { code: 'ENODATA' });
  } finally {
    await server.close();
  }
});

test('concurrent identical queries share one packet; the cache is bounded', async () => {
  const server = await startTestDnsServer(ZONE);
  try {
    const resolver = new DnsResolver({ servers: [server.address], cacheMaxEntries: 2 });
    await Promise.all([1, 2, 3].map(() => resolver.lookup('example.org', 'TXT')));
    assert.equal(server.queries.filter((q) => q === 'TXT example.org').length, 1);
    for (const n of ['a', 'b', 'c']) await resolver.lookup(`${n}.dnsbl.test`, 'A');
    assert.equal(resolver.stats.entries, 2);
  } finally {
    await server.close();
  }
});

test('a DNS server that never answers gives unavailable within the query timeout', async () => {
  const server = await startTestDnsServer(ZONE, { silent: true });
  try {
    const resolver = new DnsResolver({ servers: [server.address], queryTimeoutMs: 200 });
    const started = performance.now();
    const answer = await resolver.lookup('2.0.0.127.dnsbl.test', 'A');
    const elapsed = performance.now() - started;
    assert.equal(answer.kind, 'unavailable');
    assert.ok(server.queries.length >= 1, 'the query reached the silent server');
    console.log(`silent DNS server: unavailable after ${elapsed.toFixed(0)} ms (budget 200)`);
    const nodeStyle = resolver.toNodeStyleResolver();
    await assert.rejects(nodeStyle('x.dnsbl.test', 'TXT'), { code: 'ETIMEOUT' });
  } finally {
    await server.close();
  }
});

test('an aborted lookup resolves as unavailable at once', async () => {
  const server = await startTestDnsServer(ZONE, { silent: true });
  try {
    const resolver = new DnsResolver({ servers: [server.address], queryTimeoutMs: 800 });
    const controller = new AbortController();
    const pending = resolver.lookup('a.dnsbl.test', 'A', controller.signal);
    controller.abort();
    assert.deepEqual(await pending, { kind: 'unavailable', reason: 'aborted' });
  } finally {
    await server.close();
  }
});

test('DNSBL: a listed client gives the zone symbol, an unlisted one nothing', async () => {
  const server = await startTestDnsServer(ZONE);
  try {
    const resolver = new DnsResolver({ servers: [server.address] });
    const scanner = createDnsblScanner({ resolver, zones: ZONES });
    assert.equal(scanner.phase, 'connection');
    assert.equal(scanner.onError, 'skip');
    const signal = new AbortController().signal;
    const listed = await scanner.scan(await clientMessage('192.0.2.99'), signal);
    assert.deepEqual(
      listed.findings.map((f) => [f.symbol, f.score]),
      [['DNSBL_TEST', 3]],
    );
    assert.match(listed.findings[0]?.evidence ?? '', /192\.0\.2\.99 listed in dnsbl\.test/);
    const clean = await scanner.scan(await clientMessage('192.0.2.1'), signal);
    assert.deepEqual(clean.findings, []);
    // A refusal code (public-resolver block) is "unavailable", never "listed".
    const refused = await scanner.scan(await clientMessage('192.0.2.98'), signal);
    assert.deepEqual(
      refused.findings.map((f) => f.symbol),
      ['DNS_UNAVAILABLE'],
    );
    // Private and loopback clients are not looked up.
    const before = server.queries.length;
    assert.deepEqual((await scanner.scan(await clientMessage('10.1.2.3'), signal)).findings, []);
    assert.equal(server.queries.length, before);
  } finally {
    await server.close();
  }
});

test('DNSBL and URIBL with a DNS server that never answers: DNS_UNAVAILABLE, within the timeout', async () => {
  const server = await startTestDnsServer(ZONE, { silent: true });
  try {
    const resolver = new DnsResolver({ servers: [server.address], queryTimeoutMs: 150 });
    const dnsbl = createDnsblScanner({
      resolver,
      zones: [...ZONES, { zone: 'other.test', symbol: 'DNSBL_OTHER', score: 1 }],
    });
    const uribl = createUriblScanner({ resolver, zones: URI_ZONES });
    const message = await clientMessage(
      '192.0.2.99',
      'see https://www.evil.example/login and http://shop.phish.co.uk/x\r\n',
    );
    const signal = new AbortController().signal;
    const started = performance.now();
    const [a, b] = await Promise.all([dnsbl.scan(message, signal), uribl.scan(message, signal)]);
    const elapsed = performance.now() - started;
    assert.deepEqual(
      a.findings.map((f) => f.symbol),
      ['DNS_UNAVAILABLE'],
    );
    assert.deepEqual(
      b.findings.map((f) => f.symbol),
      ['DNS_UNAVAILABLE'],
    );
    assert.match(a.findings[0]?.evidence ?? '', /dnsbl\.test \(timeout/);
    console.log(
      `DNSBL+URIBL scan with a dead DNS server: ${elapsed.toFixed(0)} ms (query budget 150, scanner budget ${dnsbl.timeoutMs})`,
    );
  } finally {
    await server.close();
  }
});

test('URIBL: link domains of text and HTML are looked up by registrable domain', async () => {
  const server = await startTestDnsServer(ZONE);
  try {
    const resolver = new DnsResolver({ servers: [server.address] });
    const scanner = createUriblScanner({ resolver, zones: URI_ZONES });
    const raw = [
      'From: a@example.org',
      'Subject: x',
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      '<a href=3D"https://login.evil.example/verify">your bank</a>',
      '<a href=3D"https://docs.fine.example/">ok</a> www.shop.phish.co.uk',
      '',
    ].join('\r\n');
    const out = await scanner.scan(await messageFromRaw(raw), new AbortController().signal);
    assert.deepEqual(out.findings.map((f) => f.symbol).sort(), ['URIBL_TEST', 'URIBL_TEST']);
    assert.ok(server.queries.includes('A fine.example.uribl.test'));
  } finally {
    await server.close();
  }
});

test('reversed IPs and registrable domains', () => {
  assert.equal(reverseIpForDnsbl('192.0.2.99'), '99.2.0.192');
  assert.equal(reverseIpForDnsbl('::ffff:192.0.2.1'), '1.2.0.192');
  assert.equal(
    reverseIpForDnsbl('2001:db8::1'),
    '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2',
  );
  assert.equal(reverseIpForDnsbl('not an ip'), null);
  assert.equal(isPublicAddress('192.168.1.1'), false);
  assert.equal(isPublicAddress('127.0.0.1'), false);
  assert.equal(isPublicAddress('203.0.113.5'), true);
  assert.equal(isPublicAddress('fd00::1'), false);
  assert.equal(registrableDomain('a.b.example.com'), 'example.com');
  assert.equal(registrableDomain('mail.shop.example.co.uk'), 'example.co.uk');
  assert.equal(registrableDomain('192.0.2.1'), null);
  assert.deepEqual(
    extractLinkDomains(['http://user@A.Example.com/x https://b.example.com www.other.net'], 10),
    ['example.com', 'other.net'],
  );
  assert.equal(extractLinkDomains(['http://a.com http://b.com http://c.com'], 2).length, 2);
});

test('scan cost with a warm cache (printed)', async () => {
  const server = await startTestDnsServer(ZONE);
  try {
    const resolver = new DnsResolver({ servers: [server.address] });
    const dnsbl = createDnsblScanner({ resolver, zones: ZONES });
    const uribl = createUriblScanner({ resolver, zones: URI_ZONES });
    const message = await clientMessage(
      '192.0.2.99',
      'see https://www.evil.example/login and http://shop.phish.co.uk/x\r\n',
    );
    const signal = new AbortController().signal;
    await dnsbl.scan(message, signal);
    await uribl.scan(message, signal);
    const rounds = 3000;
    const measure = async (scan: () => Promise<unknown>): Promise<string> => {
      const cpu = process.cpuUsage();
      for (let i = 0; i < rounds; i++) await scan();
      const used = process.cpuUsage(cpu);
      return ((used.user + used.system) / rounds).toFixed(1);
    };
    const a = await measure(() => dnsbl.scan(message, signal));
    const b = await measure(() => uribl.scan(message, signal));
    console.log(`DNSBL ${a} µs, URIBL ${b} µs CPU per scan (cache warm, MIME view cached)`);
  } finally {
    await server.close();
  }
});

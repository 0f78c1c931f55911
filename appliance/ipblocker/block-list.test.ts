import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  IpBlockList,
  normaliseCidr,
  parseIp,
  readBlockEntries,
  writeBlockEntries,
  type IpBlockEntry,
} from './block-list.js';

function entry(
  cidr: string,
  action: 'block' | 'allow' = 'block',
  expiresAt: string | null = null,
): IpBlockEntry {
  const norm = normaliseCidr(cidr);
  assert.ok(norm !== null, cidr);
  return { cidr: norm, action, reason: `r ${cidr}`, addedBy: 'test', addedAt: '', expiresAt };
}

test('CIDRs are normalised to their network, v4 and v6, or refused', () => {
  assert.equal(normaliseCidr('192.0.2.77/24'), '192.0.2.0/24');
  assert.equal(normaliseCidr('192.0.2.77'), '192.0.2.77/32');
  assert.equal(normaliseCidr('2001:DB8:0:0:1::1/32'), '2001:db8::/32');
  assert.equal(normaliseCidr('2001:db8::1'), '2001:db8::1/128');
  assert.equal(normaliseCidr('::ffff:198.51.100.9'), '198.51.100.9/32');
  assert.equal(normaliseCidr('::ffff:198.51.100.0/120'), '198.51.100.0/24');
  assert.equal(normaliseCidr('::/0'), '::/0');
  for (const bad of [
    '',
    '1.2.3',
    '1.2.3.4/33',
    '1.2.3.4/-1',
    '300.1.1.1',
    'x::y',
    '1.2.3.4/8a',
    '::1/129',
  ]) {
    assert.equal(normaliseCidr(bad), null, bad);
  }
});

test('lookup: the most specific block wins, any allow beats blocks, expired entries are ignored', () => {
  const now = Date.parse('2026-11-22T00:00:00Z');
  const list = new IpBlockList([
    entry('10.0.0.0/8'),
    entry('10.1.0.0/16'),
    entry('10.1.2.3', 'allow'),
    entry('192.0.2.0/24', 'block', '2026-11-21T00:00:00Z'),
    entry('2001:db8::/32'),
  ]);
  assert.equal(list.lookup('10.9.9.9', now)?.cidr, '10.0.0.0/8');
  assert.equal(list.lookup('10.1.9.9', now)?.cidr, '10.1.0.0/16');
  assert.equal(list.lookup('10.1.2.3', now)?.action, 'allow');
  assert.equal(list.lookup('192.0.2.1', now), null, 'expired');
  assert.equal(list.lookup('2001:db8:1::5', now)?.cidr, '2001:db8::/32');
  assert.equal(list.lookup('::ffff:10.9.9.9', now)?.cidr, '10.0.0.0/8', 'mapped v4');
  assert.equal(list.lookup('11.0.0.1', now), null);
  assert.equal(list.lookup('not an ip', now), null);
});

test('property: an address inside a random prefix is found, one outside is not', () => {
  fc.assert(
    fc.property(fc.ipV4(), fc.integer({ min: 1, max: 32 }), (ip, prefix) => {
      const cidr = normaliseCidr(`${ip}/${String(prefix)}`);
      assert.ok(cidr !== null);
      const list = new IpBlockList([entry(cidr)]);
      assert.equal(list.lookup(ip)?.cidr, cidr);
      const v = parseIp(ip);
      assert.ok(v !== null);
      // Flip the last bit of the network part: outside the prefix.
      const flipped = v.value ^ (1n << BigInt(32 - prefix));
      const other = [24n, 16n, 8n, 0n].map((s) => String((flipped >> s) & 0xffn)).join('.');
      assert.equal(list.lookup(other), null);
    }),
    { numRuns: 300 },
  );
});

test('entries round-trip through the file; bad files are clear errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parapet-ipblock-'));
  try {
    const path = join(dir, 'ipblock.json');
    assert.deepEqual(await readBlockEntries(path), []);
    const entries = [entry('203.0.113.0/24'), entry('2001:db8::1', 'allow')];
    await writeBlockEntries(path, entries);
    assert.deepEqual(await readBlockEntries(path), entries);
    writeFileSync(path, '{nope');
    await assert.rejects(readBlockEntries(path), /not valid JSON/);
    writeFileSync(path, '[{"cidr":"1.2.3.4/40"}]');
    await assert.rejects(readBlockEntries(path), /bad cidr/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lookup: an IPv6 block that covers ::ffff:0:0/96 also covers IPv4 clients', () => {
  assert.equal(normaliseCidr('::ffff:0:0/95'), '::fffe:0:0/95');
  const list = new IpBlockList([entry('::/0'), entry('198.51.100.0/24', 'allow')]);
  assert.equal(list.lookup('2001:db8::1')?.cidr, '::/0');
  assert.equal(list.lookup('192.0.2.1')?.cidr, '::/0');
  assert.equal(list.lookup('::ffff:192.0.2.1')?.cidr, '::/0');
  assert.equal(list.lookup('198.51.100.7')?.action, 'allow');
  const v6Only = new IpBlockList([entry('2001:db8::/32')]);
  assert.equal(v6Only.lookup('192.0.2.1'), null);
});

test('lookup: a CIDR listed twice counts once, as its later entry', () => {
  const now = Date.parse('2026-11-22T00:00:00Z');
  const list = new IpBlockList([
    entry('10.0.0.0/8', 'allow'),
    entry('10.0.0.0/8'),
    entry('10.1.0.0/16'),
    entry('10.1.0.0/16', 'block', '2026-11-21T00:00:00Z'),
  ]);
  assert.equal(list.lookup('10.9.9.9', now)?.action, 'block');
  assert.equal(list.lookup('10.1.0.1', now)?.cidr, '10.0.0.0/8', 'the later /16 expired');
});

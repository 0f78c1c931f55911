import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP, isIPv4 } from 'node:net';
import fc from 'fast-check';
import {
  CidrSet,
  PolicyList,
  PolicyMap,
  compilePolicyData,
  parseCidr,
  parseIp,
  parsePolicyListJson,
  validatePolicyListData,
} from './index.js';

test('addresses, domains, *.domains and CIDRs match as documented', () => {
  const list = new PolicyList({
    name: 'block-senders',
    entries: [
      'Spammer@Example.COM',
      'bad.test',
      '*.evil.test',
      '192.0.2.0/24',
      '2001:db8::/32',
      '198.51.100.7',
    ],
  });
  assert.equal(list.size, 6);
  assert.equal(list.has('spammer@example.com'), true);
  assert.equal(list.has('<SPAMMER@example.com>'), true);
  assert.equal(list.has('spammer+promo@example.com'), true, 'subaddress ignored');
  assert.equal(list.has('spammer+promo@example.com', null), false, 'no separator');
  assert.equal(list.has('other@example.com'), false);
  assert.equal(list.has('anyone@bad.test'), true);
  assert.equal(list.has('anyone@sub.bad.test'), false, 'plain domain is exact');
  assert.equal(list.has('anyone@evil.test'), false, '*.domain excludes the domain itself');
  assert.equal(list.has('x@a.b.evil.test'), true);
  assert.equal(list.has('mail.evil.test'), true);
  assert.equal(list.has('192.0.2.200'), true);
  assert.equal(list.has('192.0.3.1'), false);
  assert.equal(list.has('::ffff:192.0.2.9'), true, 'v4-mapped v6');
  assert.equal(list.has('2001:db8:ffff::1'), true);
  assert.equal(list.has('2001:db9::1'), false);
  assert.equal(list.has('198.51.100.7'), true);
  assert.equal(list.has('198.51.100.8'), false);
  assert.equal(list.has(''), false);
});

test('invalid entries are reported and skipped', () => {
  const data = {
    name: 'x',
    entries: ['ok.test', 'not a domain', '10.0.0.0/33', '@nodomain', 'a@', '300.1.1.1'],
  };
  const problems = validatePolicyListData(data);
  assert.deepEqual(
    problems.map((p) => p.index),
    [1, 2, 3, 4, 5],
  );
  assert.equal(new PolicyList(data).size, 1);
  assert.equal(validatePolicyListData({ name: 'bad name', entries: [] }).length, 1);
});

test('maps look up exact keys, addresses, domains and *.parents', () => {
  const map = new PolicyMap({
    name: 'routes',
    entries: {
      'ceo@corp.test': 'vip',
      'corp.test': 'corp',
      '*.lab.test': 'lab',
      plain: 'value',
    },
  });
  assert.equal(map.get('PLAIN'), 'value');
  assert.deepEqual(map.lookup('ceo+x@corp.test'), { key: 'ceo@corp.test', value: 'vip' });
  assert.deepEqual(map.lookup('bob@corp.test'), { key: 'corp.test', value: 'corp' });
  assert.deepEqual(map.lookup('bob@a.b.lab.test'), { key: '*.lab.test', value: 'lab' });
  assert.equal(map.lookup('lab.test'), null);
  assert.equal(map.lookup('bob@other.test'), null);
});

test('stored JSON round-trips into lists and maps', () => {
  const list = parsePolicyListJson('{"name":"a","entries":["x.test"]}');
  assert.equal(list.kind, 'list');
  const map = parsePolicyListJson('{"name":"m","description":"d","entries":{"k":"v"}}');
  assert.equal(map.kind, 'map');
  assert.throws(() => parsePolicyListJson('{"name":"a","entries":[1]}'), TypeError);
  assert.throws(() => parsePolicyListJson('[]'), TypeError);
  assert.throws(() => parsePolicyListJson('{"name":"a"}'), TypeError);
  const data = compilePolicyData([list.data], [map.data]);
  assert.equal(data.lists.get('a')?.has('x.test'), true);
  assert.equal(data.maps.get('m')?.get('k'), 'v');
});

test('property: parseIp agrees with node:net on random text and on real addresses', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
  fc.assert(
    fc.property(fc.oneof(v4, fc.ipV6(), fc.string({ maxLength: 20 })), (text) => {
      const ours = parseIp(text);
      const theirs = isIP(text);
      if (theirs === 0) assert.equal(ours, null, text);
      else assert.notEqual(ours, null, text);
    }),
    { numRuns: 2000 },
  );
});

/** Reference membership: compare the top `prefix` bits by arithmetic on bigint. */
function v4ToBig(text: string): bigint {
  return text.split('.').reduce((acc, p) => (acc << 8n) | BigInt(p), 0n);
}

test('property: CidrSet membership equals a naive prefix check (IPv4)', () => {
  const addr = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
  const block = fc.tuple(addr, fc.integer({ min: 0, max: 32 }));
  fc.assert(
    fc.property(fc.array(block, { maxLength: 12 }), fc.array(addr, { maxLength: 20 }), (bs, as) => {
      const set = new CidrSet(bs.map(([a, p]) => parseCidr(`${a}/${p}`)).filter((c) => c !== null));
      for (const a of as) {
        assert.ok(isIPv4(a));
        const naive = bs.some(([b, p]) => {
          const shift = BigInt(32 - p);
          return v4ToBig(a) >> shift === v4ToBig(b) >> shift;
        });
        assert.equal(set.has(a), naive, `${a} in ${JSON.stringify(bs)}`);
      }
    }),
    { numRuns: 500 },
  );
});

test('property: IPv6 blocks contain their own first and last address, not the neighbours', () => {
  fc.assert(
    fc.property(fc.ipV6(), fc.integer({ min: 1, max: 128 }), (a, p) => {
      const r = parseCidr(`${a}/${p}`);
      if (r === null || r.family !== 6) return; // v4-mapped addresses become IPv4 blocks
      // Addresses in ::ffff:0:0/96 are looked up as IPv4, so a v6 block that reaches into that
      // range does not match them (known limitation, noted for the lists module).
      const mappedStart = 0xffffn << 32n;
      if (r.start <= mappedStart + 0xffffffffn && r.end >= mappedStart) return;
      const set = new CidrSet([r]);
      const hex = (v: bigint): string =>
        v.toString(16).padStart(32, '0').match(/.{4}/g)?.join(':') ?? '';
      assert.equal(set.has(hex(r.start)), true);
      assert.equal(set.has(hex(r.end)), true);
      if (r.start > 0n && (r.start - 1n) >> 32n !== 0xffffn) {
        assert.equal(set.has(hex(r.start - 1n)), false);
      }
      if (r.end < (1n << 128n) - 1n && (r.end + 1n) >> 32n !== 0xffffn) {
        assert.equal(set.has(hex(r.end + 1n)), false);
      }
    }),
    { numRuns: 500 },
  );
});

test('property: arbitrary entries never throw, and listed addresses are found', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.string({ maxLength: 40 }), fc.emailAddress(), fc.domain())),
      fc.string({ maxLength: 40 }),
      (entries, probe) => {
        const list = new PolicyList({ name: 'p', entries });
        list.has(probe);
        for (const e of entries) {
          if (
            /^[^@\s<>]+@/.test(e) &&
            validatePolicyListData({ name: 'p', entries: [e] }).length === 0
          ) {
            assert.equal(list.has(e, null), true, e);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('overlapping and adjacent blocks merge', () => {
  const set = new CidrSet(
    ['10.0.0.0/25', '10.0.0.128/25', '10.0.0.0/24', '10.0.2.0/24'].flatMap((c) => {
      const r = parseCidr(c);
      return r === null ? [] : [r];
    }),
  );
  assert.equal(set.rangeCount, 2);
  assert.equal(set.has('10.0.0.255'), true);
  assert.equal(set.has('10.0.1.0'), false);
});

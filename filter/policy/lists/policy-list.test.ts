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
      // Addresses in ::ffff:0:0/96 are looked up as IPv4; the block covers them all the same.
      const set = new CidrSet([{ ...r, payload: 'p' }]);
      const hex = (v: bigint): string =>
        v.toString(16).padStart(32, '0').match(/.{4}/g)?.join(':') ?? '';
      for (const inside of [r.start, r.end, (r.start + r.end) / 2n]) {
        assert.equal(set.has(hex(inside)), true);
        assert.deepEqual(set.lookup(hex(inside)), ['p']);
      }
      if (r.start > 0n) {
        assert.equal(set.has(hex(r.start - 1n)), false);
        assert.deepEqual(set.lookup(hex(r.start - 1n)), []);
      }
      if (r.end < (1n << 128n) - 1n) {
        assert.equal(set.has(hex(r.end + 1n)), false);
        assert.deepEqual(set.lookup(hex(r.end + 1n)), []);
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

test('IPv6 blocks that reach into ::ffff:0:0/96 cover the mapped IPv4 addresses', () => {
  const blocks = ['::/0', '::ffff:0:0/95', '2001:db8::/32'].flatMap((c) => {
    const r = parseCidr(c);
    return r === null ? [] : [{ ...r, payload: c }];
  });
  const set = new CidrSet(blocks);
  for (const a of ['192.0.2.1', '::ffff:192.0.2.1', '::ffff:c000:201', '0.0.0.0']) {
    assert.equal(set.has(a), true, a);
    assert.deepEqual(set.lookup(a), ['::ffff:0:0/95', '::/0'], a);
  }
  assert.deepEqual(set.lookup('2001:db8::1'), ['2001:db8::/32', '::/0']);
  assert.deepEqual(set.lookup('::fffe:0:1'), ['::ffff:0:0/95', '::/0']);
  assert.deepEqual(set.lookup('2001:db9::1'), ['::/0']);
  const only64 = new CidrSet([parseCidr('64:ff9b::/96')].filter((c) => c !== null));
  assert.equal(only64.has('192.0.2.1'), false, 'NAT64 prefix is not the mapped range');
  assert.equal(
    new CidrSet([parseCidr('2001:db8::/32')].filter((c) => c !== null)).has('1.2.3.4'),
    false,
  );
});

test('lookup returns the payloads of every containing block, narrowest first', () => {
  const entries = [
    ['10.0.0.0/8', 'wide'],
    ['10.1.0.0/16', 'mid'],
    ['10.1.2.3', 'host'],
    ['10.1.0.0/16', 'mid again'],
    ['192.0.2.0/24', 'other'],
  ] as const;
  const set = new CidrSet(
    entries.flatMap(([c, payload]) => {
      const r = parseCidr(c);
      return r === null ? [] : [{ ...r, payload }];
    }),
  );
  assert.deepEqual(set.lookup('10.1.2.3'), ['host', 'mid again', 'mid', 'wide']);
  assert.deepEqual(set.lookup('::ffff:10.1.9.9'), ['mid again', 'mid', 'wide']);
  assert.deepEqual(set.lookup('10.200.0.1'), ['wide']);
  assert.deepEqual(set.lookup('11.0.0.1'), []);
  assert.deepEqual(set.lookup('not an ip'), []);
  assert.deepEqual(set.lookup({ family: 4, value: 0xc0000201 }), ['other']);
  // Blocks without a payload count for has() only; any inclusive range is accepted.
  const mixed = new CidrSet<string>([
    { family: 4, start: 5, end: 20 },
    { family: 4, start: 3, end: 9, payload: 'odd range' },
    { family: 4, start: 9, end: 3, payload: 'empty' },
  ]);
  assert.equal(mixed.has({ family: 4, value: 15 }), true);
  assert.deepEqual(mixed.lookup({ family: 4, value: 15 }), []);
  assert.deepEqual(mixed.lookup({ family: 4, value: 3 }), ['odd range']);
  assert.deepEqual(mixed.lookup({ family: 4, value: 9 }), ['odd range']);
  assert.deepEqual(mixed.lookup({ family: 4, value: 10 }), []);
  assert.equal(mixed.rangeCount, 1);
});

const MAPPED_START = 0xffffn << 32n;
const MAPPED_END = MAPPED_START + 0xffffffffn;

test('property: lookup equals a naive scan of the blocks (IPv4, IPv6, mapped)', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
  const v6 = fc.oneof(
    fc.ipV6(),
    // Blocks around ::ffff:0:0/96 with short prefixes reach into the mapped range.
    fc.constantFrom('::', '::fffe:0:0', '::ffff:0:0', '::1:0:0'),
    v4.map((a) => `::ffff:${a}`),
    fc
      .tuple(fc.nat(0xffff), fc.nat(0xffff))
      .map(([h, l]) => `::ffff:${h.toString(16)}:${l.toString(16)}`),
  );
  const block = fc.oneof(
    fc.tuple(v4, fc.integer({ min: 0, max: 32 })),
    fc.tuple(v6, fc.integer({ min: 0, max: 128 })),
  );
  const toBig = (ip: NonNullable<ReturnType<typeof parseIp>>): bigint =>
    ip.family === 4 ? MAPPED_START + BigInt(ip.value) : ip.value;
  fc.assert(
    fc.property(
      fc.array(block, { maxLength: 10 }),
      fc.array(fc.oneof(v4, v6), { maxLength: 10 }),
      (bs, as) => {
        const parsed = bs.flatMap(([a, p], i) => {
          const r = parseCidr(`${a}/${p}`);
          return r === null ? [] : [{ ...r, payload: i }];
        });
        // Reference: every block and address in one 128-bit space (IPv4 as ::ffff:a.b.c.d).
        const span = (r: (typeof parsed)[number]): [bigint, bigint] =>
          r.family === 4
            ? [toBig({ family: 4, value: r.start }), toBig({ family: 4, value: r.end })]
            : [r.start, r.end];
        const set = new CidrSet(parsed);
        for (const a of as) {
          const ip = parseIp(a);
          assert.ok(ip !== null, a);
          const v = toBig(ip);
          const naive = parsed.filter((r) => {
            const [s, e] = span(r);
            return s <= v && v <= e;
          });
          const got = set.lookup(a);
          assert.deepEqual([...got].sort(), naive.map((r) => r.payload).sort(), a);
          assert.equal(set.has(a), naive.length > 0, a);
          // Narrowest first, measured in the address's family (an IPv4 address sees only the
          // mapped part of an IPv6 block).
          const sizes = got.map((i) => {
            const r = parsed.find((b) => b.payload === i);
            assert.ok(r !== undefined);
            const [s, e] = span(r);
            if (ip.family === 6) return e - s;
            return (e < MAPPED_END ? e : MAPPED_END) - (s > MAPPED_START ? s : MAPPED_START);
          });
          for (let k = 1; k < sizes.length; k++)
            assert.ok((sizes[k - 1] ?? 0n) <= (sizes[k] ?? 0n));
        }
      },
    ),
    { numRuns: 500 },
  );
});

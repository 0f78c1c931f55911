import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import fc from 'fast-check';
import { refusedAnswer, startRefusingDnsStub } from './rspamd-dns-stub.js';

test('a real resolver pointed at the stub gets REFUSED for A, MX and TXT lookups', async () => {
  const stub = await startRefusingDnsStub();
  try {
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${String(stub.port)}`]);
    for (const lookup of [
      () => resolver.resolve4('example.com'),
      () => resolver.resolveMx('example.org'),
      () => resolver.resolveTxt('2.0.0.127.zen.spamhaus.org'),
    ]) {
      await assert.rejects(lookup(), (err: NodeJS.ErrnoException) => err.code === 'EREFUSED');
    }
    assert.ok(stub.answered() >= 3);
  } finally {
    await stub.close();
  }
});

test('the answer keeps the ID and question and sets QR and RCODE 5', () => {
  // ID 0x1234, RD, one question: example.com A IN.
  const query = Buffer.from('123401000001000000000000076578616d706c6503636f6d0000010001', 'hex');
  const answer = refusedAnswer(query);
  assert.ok(answer !== null);
  assert.equal(answer.readUInt16BE(0), 0x1234);
  assert.equal(answer.readUInt16BE(2) & 0x8000, 0x8000);
  assert.equal(answer.readUInt16BE(2) & 0x0100, 0x0100);
  assert.equal(answer.readUInt16BE(2) & 0x000f, 5);
  assert.equal(answer.readUInt16BE(4), 1);
  assert.deepEqual(answer.subarray(12), query.subarray(12));
  // A response is not answered.
  assert.equal(refusedAnswer(answer), null);
  assert.equal(refusedAnswer(Buffer.alloc(5)), null);
});

test('any datagram gives null or a header-sized-or-longer REFUSED answer, never a throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const answer = refusedAnswer(Buffer.from(bytes));
      if (answer === null) return;
      assert.ok(answer.length >= 12 && answer.length <= Math.max(12, bytes.length));
      assert.equal(answer.readUInt16BE(2) & 0x000f, 5);
    }),
    { numRuns: 2000 },
  );
});

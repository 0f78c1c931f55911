import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  PolicyRequestDecoder,
  formatPolicyAction,
  type PolicyDecodeEvent,
} from './policy-protocol.js';

const REQUEST = [
  'request=smtpd_access_policy',
  'protocol_state=RCPT',
  'protocol_name=ESMTP',
  'client_address=192.0.2.7',
  'client_name=mail.example.net',
  'helo_name=mail.example.net',
  'sender=alice@example.net',
  'recipient=bob@example.com',
  'instance=123.456.7',
  'ccert_subject=',
  '',
  '',
].join('\n');

function decodeAll(decoder: PolicyRequestDecoder, chunks: Buffer[]): PolicyDecodeEvent[] {
  return chunks.flatMap((c) => decoder.push(c));
}

test('one request, split at every byte boundary, decodes the same', () => {
  const bytes = Buffer.from(REQUEST + REQUEST);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const events = decodeAll(new PolicyRequestDecoder(), [
      bytes.subarray(0, cut),
      bytes.subarray(cut),
    ]);
    assert.equal(events.length, 2, `cut ${cut}`);
    for (const e of events) {
      if (e.kind !== 'request') assert.fail(`cut ${String(cut)}: ${e.message}`);
      assert.equal(e.attributes.get('client_address'), '192.0.2.7');
      assert.equal(e.attributes.get('ccert_subject'), '');
      assert.equal(e.attributes.get('recipient'), 'bob@example.com');
    }
  }
});

test('CRLF lines are accepted and values keep their "=" signs', () => {
  const [e] = new PolicyRequestDecoder().push(Buffer.from('sender=a=b@x\r\n\r\n'));
  assert.deepEqual(e, { kind: 'request', attributes: new Map([['sender', 'a=b@x']]) });
});

test('a line over the cap is refused before it is buffered', () => {
  const decoder = new PolicyRequestDecoder({ maxLineBytes: 64, maxAttributes: 8 });
  const events = decoder.push(Buffer.alloc(65, 0x61));
  assert.equal(events[0]?.kind, 'error');
  assert.deepEqual(decoder.push(Buffer.from('a=b\n\n')), [], 'unusable after an error');
});

test('too many attributes and lines without "=" are errors', () => {
  const many = Array.from({ length: 9 }, (_, i) => `k${String(i)}=v`).join('\n') + '\n\n';
  const a = new PolicyRequestDecoder({ maxLineBytes: 64, maxAttributes: 8 }).push(
    Buffer.from(many),
  );
  assert.equal(a.at(-1)?.kind, 'error');
  const b = new PolicyRequestDecoder().push(Buffer.from('garbage\n\n'));
  assert.equal(b[0]?.kind, 'error');
  const c = new PolicyRequestDecoder().push(Buffer.from('=value\n\n'));
  assert.equal(c[0]?.kind, 'error');
});

test('fuzz: random and mutated bytes never throw and never buffer past the cap', () => {
  const base = Buffer.from(REQUEST);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 4000 }),
        fc
          .array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), {
            maxLength: 20,
          })
          .map((edits) => {
            const copy = Buffer.from(base);
            for (const [at, byte] of edits) copy[at] = byte;
            return new Uint8Array(copy);
          }),
      ),
      fc.array(fc.nat(4000), { maxLength: 6 }),
      (bytes, cuts) => {
        const decoder = new PolicyRequestDecoder({ maxLineBytes: 256, maxAttributes: 16 });
        const buf = Buffer.from(bytes);
        const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((x, y) => x - y);
        let last = 0;
        for (const p of [...points, buf.length]) {
          for (const e of decoder.push(buf.subarray(last, p))) {
            if (e.kind === 'request') assert.ok(e.attributes.size <= 16);
            else assert.equal(typeof e.message, 'string');
          }
          last = p;
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('answers are single safe lines', () => {
  assert.equal(formatPolicyAction({ kind: 'dunno' }), 'action=DUNNO\n\n');
  assert.equal(
    formatPolicyAction({ kind: 'reject', code: 554, enhanced: '5.7.1', text: 'no\nway\r\x00' }),
    'action=554 5.7.1 no?way??\n\n',
  );
  assert.equal(
    formatPolicyAction({ kind: 'defer', code: 450, enhanced: '4.7.1', text: 'later' }),
    'action=450 4.7.1 later\n\n',
  );
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyModifications } from './apply.js';
import { BodySpool } from '../message/body-spool.js';
import { createEnvelope } from '../message/envelope.js';
import { parseHeaderBlock } from '../message/header-list.js';
import { Message } from '../message/message.js';
import { ParapetError } from '../errors.js';

async function makeMessage(body = 'hello\r\n'): Promise<Message> {
  const spool = new BodySpool();
  await spool.write(Buffer.from(body));
  await spool.seal();
  const envelope = createEnvelope({ address: '192.0.2.1' });
  envelope.mailFrom = { address: 'a@example.org', args: {} };
  envelope.recipients.push({ address: 'b@example.net', args: {} });
  return new Message({
    id: 'x',
    envelope,
    headers: parseHeaderBlock(Buffer.from('Subject: hi\r\nX-Old: 1\r\nX-Old: 2\r\n')),
    body: spool,
  });
}

describe('applyModifications', () => {
  it('returns the same message when the body is untouched, headers changed in place', async () => {
    const m = await makeMessage();
    const out = await applyModifications(m, [
      { kind: 'addHeader', name: 'X-Parapet-Id', value: 'abc' },
      { kind: 'insertHeader', index: 0, name: 'X-Top', value: 'yes' },
      { kind: 'changeHeader', name: 'x-old', occurrence: 2, value: 'two' },
      { kind: 'changeHeader', name: 'X-Old', occurrence: 1, value: null },
      { kind: 'changeHeader', name: 'X-Missing', occurrence: 1, value: 'ignored' },
    ]);
    assert.equal(out, m);
    assert.equal(
      m.headers.toBuffer().toString(),
      'X-Top: yes\r\nSubject: hi\r\nX-Old: two\r\nX-Parapet-Id: abc\r\n',
    );
    await m.dispose();
  });

  it('adds, deletes recipients and changes the sender', async () => {
    const m = await makeMessage();
    await applyModifications(m, [
      { kind: 'addRecipient', address: '<c@example.net>', args: { NOTIFY: 'NEVER' } },
      { kind: 'addRecipient', address: 'B@example.net', args: {} },
      { kind: 'deleteRecipient', address: 'b@example.net' },
      { kind: 'changeSender', address: '<>', args: {} },
    ]);
    assert.deepEqual(m.envelope.recipients, [
      { address: 'c@example.net', args: { NOTIFY: 'NEVER' } },
    ]);
    assert.deepEqual(m.envelope.mailFrom, { address: '', args: {} });
    await m.dispose();
  });

  it('replaces the body with a new spool and a new Message, CRLF normalised', async () => {
    const m = await makeMessage();
    const out = await applyModifications(m, [
      { kind: 'replaceBody', body: Buffer.from('first\n') },
      { kind: 'replaceBody', body: Buffer.from('new\nbody\r\n') },
    ]);
    assert.notEqual(out, m);
    assert.equal(out.id, m.id);
    assert.equal(out.headers, m.headers);
    assert.equal((await out.body.toBuffer()).toString(), 'new\r\nbody\r\n');
    assert.equal((await m.body.toBuffer()).toString(), 'hello\r\n');
    await out.dispose();
    await m.dispose();
  });

  it('refuses header injection before changing anything', async () => {
    const m = await makeMessage();
    const before = m.headers.toBuffer().toString();
    for (const value of ['a\r\nBcc: x@y', 'a\nB: c', 'a\r\n', 'a\r\n\r\nbody']) {
      await assert.rejects(
        applyModifications(m, [
          { kind: 'addHeader', name: 'X-Ok', value: 'fine' },
          { kind: 'addHeader', name: 'X-Bad', value },
        ]),
        (err: unknown) => err instanceof ParapetError && err.code === 'ERR_MODIFICATION_INVALID',
      );
    }
    await assert.rejects(
      applyModifications(m, [{ kind: 'addHeader', name: 'Bad:Name', value: 'x' }]),
    );
    await assert.rejects(
      applyModifications(m, [{ kind: 'addRecipient', address: 'a b@c', args: {} }]),
    );
    assert.equal(m.headers.toBuffer().toString(), before);
    await m.dispose();
  });

  it('keeps folding, written with CRLF', async () => {
    const m = await makeMessage();
    await applyModifications(m, [{ kind: 'addHeader', name: 'X-Fold', value: 'a\n\tb' }]);
    assert.match(m.headers.toBuffer().toString(), /X-Fold: a\r\n\tb\r\n$/);
    // CRLF folding as it comes from the wire (a marked folded Subject): accepted as is.
    await applyModifications(m, [
      { kind: 'addHeader', name: 'X-Crlf', value: '[SPAM] =?a?B?x?=\r\n\t=?a?B?y?=\r\n z' },
    ]);
    assert.match(
      m.headers.toBuffer().toString(),
      /X-Crlf: \[SPAM\] =\?a\?B\?x\?=\r\n\t=\?a\?B\?y\?=\r\n z\r\n$/,
    );
    for (const bad of ['a\rb', 'a\r\nb', 'a\r\n\tb\r\nc']) {
      await assert.rejects(
        applyModifications(m, [{ kind: 'addHeader', name: 'X-Bad', value: bad }]),
      );
    }
    await m.dispose();
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { BodySpool } from './body-spool.js';
import { HeaderList, parseHeaderBlock, unfoldHeaderValue } from './header-list.js';
import { isParapetId, newParapetId } from './message-id.js';
import { messageFromRaw, withTempDir } from '../test-support.js';

const RAW =
  'Received: from a\r\n\tby b\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\nHello\r\n.dot\r\n';

test('header block keeps raw bytes and order, lookups are case-insensitive', () => {
  const end = RAW.indexOf('\r\n\r\n') + 2;
  const headers = parseHeaderBlock(Buffer.from(RAW.slice(0, end)));
  assert.equal(headers.length, 4);
  assert.equal(headers.toBuffer().toString(), RAW.slice(0, end));
  assert.deepEqual(headers.getAll('X-DUP'), ['1', '2']);
  assert.equal(headers.getFirst('received'), 'from a\tby b');
});

test('change, insert and remove follow milter occurrence semantics', () => {
  const h = new HeaderList();
  h.append('A', '1');
  h.append('B', '2');
  h.append('a', '3');
  assert.equal(h.change('a', 2, 'three'), true);
  assert.equal(h.change('a', 3, 'x'), false);
  h.insert(0, 'Top', 't');
  assert.equal(h.toBuffer().toString(), 'Top: t\r\nA: 1\r\nB: 2\r\na: three\r\n');
  assert.equal(h.change('A', 1, null), true);
  assert.equal(h.removeAll('b'), 1);
  assert.equal(h.toBuffer().toString(), 'Top: t\r\na: three\r\n');
});

test('unfolding removes CRLF before whitespace only', () => {
  assert.equal(unfoldHeaderValue('a\r\n b\r\n\tc'), 'a b\tc');
});

test('a message is re-emitted byte for byte', async () => {
  const message = await messageFromRaw(RAW);
  assert.equal((await message.toBuffer()).toString(), RAW);
  const streamed: Buffer[] = [];
  for await (const chunk of message.toStream()) streamed.push(chunk as Buffer);
  assert.equal(Buffer.concat(streamed).toString(), RAW);
  assert.equal(message.size, Buffer.byteLength(RAW));
  const mime = await message.mime();
  assert.equal(mime.subject, 'café');
  await message.dispose();
});

test('raw() is built once and shared; toBuffer() copies; both byte-exact on disk too', async () => {
  const inMemory = await messageFromRaw(RAW);
  const first = await inMemory.raw();
  assert.equal(first.toString(), RAW);
  assert.equal(await inMemory.raw(), first, 'the same buffer for every reader');
  const copy = await inMemory.toBuffer();
  assert.notEqual(copy, first);
  assert.deepEqual(copy, first);
  await inMemory.dispose();
  const onDisk = await messageFromRaw(RAW, {}, 4);
  assert.equal(onDisk.body.onDisk, true);
  assert.equal((await onDisk.raw()).toString(), RAW);
  assert.equal((await onDisk.mime()).subject, 'café');
  await onDisk.dispose();
});

test('body spool moves to disk past the memory limit and removes its file on dispose', async () => {
  await withTempDir(async (dir) => {
    const spool = new BodySpool({ spoolMemoryBytes: 10, spoolDir: dir });
    await spool.write(Buffer.from('12345'));
    assert.equal(spool.onDisk, false);
    await spool.write(Buffer.from('6789012345'));
    assert.equal(spool.onDisk, true);
    await spool.seal();
    await assert.rejects(spool.write(Buffer.from('x')), { code: 'ERR_SPOOL_SEALED' });
    assert.equal((await spool.toBuffer()).toString(), '123456789012345');
    assert.equal((await spool.head(4)).toString(), '1234');
    assert.equal((await readdir(dir)).length, 1);
    await spool.dispose();
    assert.equal((await readdir(dir)).length, 0);
  });
});

test('parapet ids are time-ordered and well-formed', () => {
  const a = newParapetId(1_000);
  const b = newParapetId(2_000);
  assert.ok(isParapetId(a) && isParapetId(b));
  assert.ok(a < b);
  assert.equal(isParapetId('not-an-id'), false);
});

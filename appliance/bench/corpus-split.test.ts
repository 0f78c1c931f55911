import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countByKind, loadCorpusSplit, mboxReceivedAt } from './corpus-split.js';

test('the corpus protocol split: TRAIN and TEST have the documented groups and sizes and never share a message', async () => {
  const [train, test_] = await Promise.all([loadCorpusSplit('train'), loadCorpusSplit('test')]);
  assert.deepEqual(countByKind(train), { spam: 500, 'easy-ham': 2500, 'hard-ham': 125 });
  assert.deepEqual(countByKind(test_), { spam: 1396, 'easy-ham': 1400, 'hard-ham': 125 });
  assert.deepEqual(
    new Set(train.map((m) => m.group)),
    new Set(['easy-ham-1', 'spam-1', 'hard-ham-1']),
  );
  assert.deepEqual(
    new Set(test_.map((m) => m.group)),
    new Set(['easy-ham-2', 'spam-2', 'hard-ham-1']),
  );
  for (const m of train) if (m.group === 'hard-ham-1') assert.equal(m.id % 2, 1, m.name);
  for (const m of test_) if (m.group === 'hard-ham-1') assert.equal(m.id % 2, 0, m.name);
  const trainNames = new Set(train.map((m) => m.name));
  assert.ok(test_.every((m) => !trainNames.has(m.name)));
  // Every corpus message has a receipt time, and it is in the corpus era.
  for (const m of [...train, ...test_]) {
    assert.ok(m.receivedAt !== null, m.name);
    const year = m.receivedAt.getUTCFullYear();
    assert.ok(year >= 2001 && year <= 2002, `${m.name}: ${String(year)}`);
  }
});

test('mboxReceivedAt reads the date of an mbox From line, and nothing else', () => {
  const line = (text: string): Buffer => Buffer.from(`${text}\nSubject: x\n`);
  assert.equal(
    mboxReceivedAt(line('From a@b.example  Tue Aug  6 11:01:33 2002'))?.toISOString(),
    '2002-08-06T11:01:33.000Z',
  );
  assert.equal(mboxReceivedAt(line('Subject: From Tue Aug  6 11:01:33 2002')), null);
  assert.equal(mboxReceivedAt(line('From a@b.example')), null);
  assert.equal(mboxReceivedAt(Buffer.from('From ')), null);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReinjectLedger, reinjectFingerprint } from './reinject-ledger.js';
import { messageFromRaw, withTempDir } from '../test-support.js';

const RAW =
  'Received: from x by y id ABC123; Sat, 21 Nov 2026 10:00:00 +0000\r\nSubject: s\r\n\r\nbody\r\n';
const rcpt = { recipients: [{ address: 'u@example.org', args: {} }] };

test('fingerprints match for a retry of the same upstream message, differ otherwise', async () => {
  const a = reinjectFingerprint(await messageFromRaw(RAW, rcpt));
  const retry = reinjectFingerprint(await messageFromRaw(RAW, rcpt));
  const other = reinjectFingerprint(await messageFromRaw(RAW.replace('ABC123', 'ABC124'), rcpt));
  const otherRcpt = reinjectFingerprint(
    await messageFromRaw(RAW, { recipients: [{ address: 'v@example.org', args: {} }] }),
  );
  assert.equal(a, retry);
  assert.notEqual(a, other);
  assert.notEqual(a, otherRcpt);
});

test('a commit survives a crash (reopen in the same boot); settle and release forget it', async () => {
  await withTempDir((dir) => {
    const path = join(dir, 'ledger');
    const first = ReinjectLedger.open({ path, bootId: 'boot-1' });
    first.commit('fp-a', 'id-a');
    first.commit('fp-b', 'id-b');
    first.commit('fp-c', 'id-c');
    first.release('fp-b');
    first.settle('fp-c');
    // No close(): a SIGKILL leaves what write(2) handed to the kernel, and lazy lines are lost.
    const second = ReinjectLedger.open({ path, bootId: 'boot-1' });
    assert.deepEqual(second.lookup('fp-a')?.id, 'id-a');
    assert.equal(second.lookup('fp-b'), null);
    // The settle line was lazy and lost with the "crash": keeping fp-c is harmless.
    assert.equal(second.lookup('fp-c')?.id, 'id-c');
    second.settle('fp-c');
    second.close();
    const third = ReinjectLedger.open({ path, bootId: 'boot-1' });
    assert.equal(third.lookup('fp-c'), null);
    assert.equal(third.size, 1);
    third.close();
    return Promise.resolve();
  });
});

test('after a machine crash (new boot id) unsettled commits are dropped: duplicate, never loss', async () => {
  await withTempDir((dir) => {
    const path = join(dir, 'ledger');
    const before = ReinjectLedger.open({ path, bootId: 'boot-1' });
    before.commit('fp-a', 'id-a');
    const after = ReinjectLedger.open({ path, bootId: 'boot-2' });
    assert.equal(after.lookup('fp-a'), null);
    assert.equal(readFileSync(path, 'utf8'), '');
    after.close();
    return Promise.resolve();
  });
});

test('stale records are forgotten and torn lines ignored', async () => {
  await withTempDir((dir) => {
    const path = join(dir, 'ledger');
    const old = Date.now() - 8 * 24 * 3600 * 1000;
    writeFileSync(
      path,
      `C fp-old id-old ${old} boot-1\nC fp-new id-new ${Date.now()} boot-1\nC fp-torn`,
    );
    const ledger = ReinjectLedger.open({ path, bootId: 'boot-1' });
    assert.equal(ledger.lookup('fp-old'), null);
    assert.equal(ledger.lookup('fp-new')?.id, 'id-new');
    assert.equal(ledger.lookup('fp-torn'), null);
    ledger.close();
    return Promise.resolve();
  });
});

test('a prepared record is decided by the receipt: committed when present, else released', async () => {
  await withTempDir((dir) => {
    const path = join(dir, 'ledger');
    const receiptsPath = join(dir, 'receipts.log');
    const crashed = ReinjectLedger.open({ path, bootId: 'b', receiptsPath });
    crashed.prepare('fp-delivered', 'id-delivered');
    crashed.prepare('fp-lost', 'id-lost');
    crashed.prepare('fp-done', 'id-done');
    crashed.commit('fp-done', 'id-done');
    // The witness saw id-delivered (its "." had reached the MTA); nobody saw id-lost.
    writeFileSync(`${receiptsPath}.1`, 'id-delivered\n');
    writeFileSync(receiptsPath, 'id-other\n');
    const restarted = ReinjectLedger.open({ path, bootId: 'b', receiptsPath });
    assert.equal(restarted.lookup('fp-delivered')?.state, 'committed');
    assert.equal(restarted.lookup('fp-lost'), null);
    assert.equal(restarted.lookup('fp-done')?.id, 'id-done');
    // The decisions are on file: a second restart needs no receipts.
    writeFileSync(`${receiptsPath}.1`, '');
    const again = ReinjectLedger.open({ path, bootId: 'b', receiptsPath });
    assert.equal(again.lookup('fp-delivered')?.id, 'id-delivered');
    assert.equal(again.lookup('fp-lost'), null);
    again.close();
    return Promise.resolve();
  });
});

test('without a witness a prepared record counts as not delivered (duplicate, never loss)', async () => {
  await withTempDir((dir) => {
    const path = join(dir, 'ledger');
    const crashed = ReinjectLedger.open({ path, bootId: 'b' });
    crashed.prepare('fp', 'id');
    const restarted = ReinjectLedger.open({ path, bootId: 'b' });
    assert.equal(restarted.lookup('fp'), null);
    assert.equal(restarted.size, 0);
    restarted.close();
    return Promise.resolve();
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createPipeline, PARAPET_ID_HEADER } from './pipeline.js';
import { MessageLog, type MessageLogRecord } from '../log/message-log.js';
import { QuarantineWriter } from '../quarantine/writer.js';
import { messageFromRaw, withTempDir } from '../test-support.js';
import type { Scanner } from '../scan/scanner.js';
import { smtpReply } from '../smtp/reply.js';

const RAW = 'Subject: hi\r\nX-Parapet-Id: forged1\r\nX-Parapet-Id: forged2\r\n\r\nbody\r\n';

test('accept adds X-Parapet-Id and removes forged ones, last first', async () => {
  const message = await messageFromRaw(RAW);
  const verdict = await createPipeline().run(message, new AbortController().signal);
  assert.equal(verdict.kind, 'accept');
  assert.deepEqual(verdict.modifications, [
    { kind: 'changeHeader', name: PARAPET_ID_HEADER, occurrence: 2, value: null },
    { kind: 'changeHeader', name: PARAPET_ID_HEADER, occurrence: 1, value: null },
    { kind: 'addHeader', name: PARAPET_ID_HEADER, value: message.id },
  ]);
});

test('a throwing policy tempfails, never accepts', async () => {
  const pipeline = createPipeline({ policy: () => Promise.reject(new Error('boom')) });
  const verdict = await pipeline.run(await messageFromRaw(RAW), new AbortController().signal);
  assert.equal(verdict.kind, 'tempfail');
  assert.equal(verdict.reply.code, 451);
});

test('the per-message deadline tempfails a policy that hangs', async () => {
  const pipeline = createPipeline({
    messageTimeoutMs: 50,
    policy: () => new Promise(() => undefined),
  });
  const started = Date.now();
  const verdict = await pipeline.run(await messageFromRaw(RAW), new AbortController().signal);
  assert.equal(verdict.kind, 'tempfail');
  assert.ok(Date.now() - started < 2_000);
});

test('a failing required scanner tempfails; a skippable one is recorded', async () => {
  const failing = (onError: 'tempfail' | 'skip'): Scanner => ({
    name: 'broken',
    phase: 'content',
    timeoutMs: 1_000,
    onError,
    scan: () => Promise.reject(new Error('scanner down')),
  });
  const msg = await messageFromRaw(RAW);
  const hard = await createPipeline({ scanners: [failing('tempfail')] }).run(
    msg,
    new AbortController().signal,
  );
  assert.equal(hard.kind, 'tempfail');
  let seen: string[] = [];
  const soft = await createPipeline({
    scanners: [failing('skip')],
    policy: ({ scan }) => {
      seen = scan.findings.map((f) => f.symbol);
      return Promise.resolve({ kind: 'accept', modifications: [] });
    },
  }).run(msg, new AbortController().signal);
  assert.equal(soft.kind, 'accept');
  assert.deepEqual(seen, ['SCANNER_FAILED']);
});

test('a slow scanner is cut at its own timeout', async () => {
  const slow: Scanner = {
    name: 'slow',
    phase: 'headers',
    timeoutMs: 30,
    onError: 'skip',
    scan: () => new Promise(() => undefined),
  };
  const verdict = await createPipeline({ scanners: [slow] }).run(
    await messageFromRaw(RAW),
    new AbortController().signal,
  );
  assert.equal(verdict.kind, 'accept');
});

test('quarantine is durable before the verdict and logged with its reason', async () => {
  await withTempDir(async (dir) => {
    const log = await MessageLog.open({ path: join(dir, 'log.jsonl'), nodeId: 'n1' });
    const quarantine = new QuarantineWriter({ dir: join(dir, 'q') });
    const pipeline = createPipeline({
      quarantine,
      messageLog: log,
      scanners: [
        {
          name: 'gtube',
          phase: 'content',
          timeoutMs: 100,
          onError: 'skip',
          scan: () => Promise.resolve({ findings: [{ symbol: 'GTUBE', score: 1000 }] }),
        },
      ],
      policy: ({ scan }) =>
        Promise.resolve(
          scan.score > 5
            ? { kind: 'quarantine', reason: 'spam', rule: 'test:1', marks: ['spam-high'] }
            : { kind: 'accept', modifications: [] },
        ),
    });
    const message = await messageFromRaw(RAW, {
      recipients: [{ address: 'u@example.org', args: {} }],
    });
    const verdict = await pipeline.run(message, new AbortController().signal);
    assert.equal(verdict.kind, 'quarantine');
    const [day] = await readdir(join(dir, 'q'));
    const stored = await readFile(join(dir, 'q', day ?? '', `${message.id}.eml`), 'utf8');
    assert.equal(stored, RAW);
    const meta = JSON.parse(
      await readFile(join(dir, 'q', day ?? '', `${message.id}.json`), 'utf8'),
    ) as { reason: string; to: string[]; rule: string };
    assert.deepEqual([meta.reason, meta.to, meta.rule], ['spam', ['u@example.org'], 'test:1']);
    pipeline.recordOutcome(message, verdict, 'quarantined');
    await log.close();
    const lines = (await readFile(join(dir, 'log.jsonl'), 'utf8')).trim().split('\n');
    const record = JSON.parse(lines[0] ?? '{}') as MessageLogRecord;
    assert.equal(record.seq, 1);
    assert.equal(record.id, message.id);
    assert.equal(record.disposition, 'quarantined');
    assert.deepEqual(record.symbols, [{ name: 'GTUBE', score: 1000 }]);
    assert.equal(record.rule, 'test:1');
    // Reports read these (appliance/db roll-ups): the policy's marks, virus names, attachment types.
    assert.deepEqual(record.marks, ['spam-high']);
    assert.deepEqual(record.virusNames, []);
    assert.deepEqual(record.attachmentTypes, []);
  });
});

test('message-log sequence continues across reopen, even after a torn last line', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'log.jsonl');
    const pipeline = async (log: MessageLog): Promise<void> => {
      const p = createPipeline({ messageLog: log });
      const m = await messageFromRaw(RAW);
      p.recordOutcome(m, await p.run(m, new AbortController().signal), 'reinjected');
    };
    const first = await MessageLog.open({ path, nodeId: 'n1' });
    await pipeline(first);
    await pipeline(first);
    await first.close();
    const { appendFile } = await import('node:fs/promises');
    await appendFile(path, '{"seq": 99, "torn');
    const second = await MessageLog.open({ path, nodeId: 'n1' });
    assert.equal(second.lastSequence, 2);
    await pipeline(second);
    await second.close();
  });
});

test('envelope checkers answer in order; a throwing checker tempfails', async () => {
  const reply = smtpReply(550, '5.7.1', 'blocked');
  const pipeline = createPipeline({
    envelopeCheckers: [
      (stage) =>
        Promise.resolve(stage === 'rcptTo' ? { kind: 'reject', reply } : { kind: 'continue' }),
    ],
  });
  const env = (await messageFromRaw(RAW)).envelope;
  assert.deepEqual(await pipeline.checkEnvelope('helo', env), { kind: 'continue' });
  assert.deepEqual(await pipeline.checkEnvelope('rcptTo', env), { kind: 'reject', reply });
  const broken = createPipeline({ envelopeCheckers: [() => Promise.reject(new Error('x'))] });
  assert.equal((await broken.checkEnvelope('connect', env)).kind, 'tempfail');
});

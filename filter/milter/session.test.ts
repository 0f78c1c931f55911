import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Verdict } from '../actions/verdict.js';
import type { Envelope } from '../message/envelope.js';
import type { Message } from '../message/message.js';
import type { Disposition, EnvelopeCheck, EnvelopeStage, Pipeline } from '../pipeline/types.js';
import { smtpReply } from '../smtp/reply.js';
import { MilterFrameDecoder } from './frame-decoder.js';
import { MilterSession, type MilterSessionOptions } from './session.js';
import {
  MilterCommandCode as C,
  MilterProtocolFlag as P,
  decodeMilterReply,
  encodeMilterCommand,
  type MilterCommand,
  type MilterReply,
} from './wire.js';

interface Outcome {
  message: Message;
  verdict: Verdict | null;
  disposition: Disposition;
  errorCode: string | undefined;
  body: string;
}

class FakePipeline implements Pipeline {
  checks: { stage: EnvelopeStage; rcpts: number }[] = [];
  outcomes: Outcome[] = [];
  seen: { envelope: Envelope; headers: string; body: string }[] = [];
  onCheck: (stage: EnvelopeStage, env: Envelope) => EnvelopeCheck = () => ({ kind: 'continue' });
  onRun: (message: Message, signal: AbortSignal) => Promise<Verdict> = () =>
    Promise.resolve({ kind: 'accept', modifications: [] });

  checkEnvelope(stage: EnvelopeStage, envelope: Envelope): Promise<EnvelopeCheck> {
    this.checks.push({ stage, rcpts: envelope.recipients.length });
    return Promise.resolve(this.onCheck(stage, envelope));
  }
  async run(message: Message, signal: AbortSignal): Promise<Verdict> {
    this.seen.push({
      envelope: message.envelope,
      headers: message.headers.toBuffer().toString(),
      body: (await message.body.toBuffer()).toString(),
    });
    return this.onRun(message, signal);
  }
  recordOutcome(
    message: Message,
    verdict: Verdict | null,
    disposition: Disposition,
    errorCode?: string,
  ): void {
    this.outcomes.push({ message, verdict, disposition, errorCode, body: '' });
  }
}

class MemoryTransport {
  readonly replies: MilterReply[] = [];
  closed = false;
  readonly #decoder = new MilterFrameDecoder({ maxFrameBytes: 1 << 20 });
  write(data: Buffer): Promise<void> {
    this.#decoder.push(data);
    for (;;) {
      const r = this.#decoder.next();
      if (r.kind !== 'frame') break;
      this.replies.push(decodeMilterReply(r.frame));
    }
    return Promise.resolve();
  }
  close(): void {
    this.closed = true;
  }
  take(): string[] {
    return this.replies.splice(0).map(show);
  }
}

function show(r: MilterReply): string {
  if (r.kind === 'replyCode') return `replyCode ${r.text}`;
  if (r.kind === 'addHeader') return `addHeader ${r.name}:${r.value}`;
  if (r.kind === 'replaceBody') return `replaceBody ${r.chunk.length}`;
  return r.kind;
}

function setup(extra: Partial<MilterSessionOptions> = {}) {
  const pipeline = new FakePipeline();
  const transport = new MemoryTransport();
  const session = new MilterSession(transport, {
    pipeline,
    messageTimeoutMs: 2000,
    progressIntervalMs: 1000,
    maxMessageBytes: 1 << 20,
    maxRecipients: 100,
    ...extra,
  });
  const send = async (...cmds: MilterCommand[]): Promise<string[]> => {
    for (const cmd of cmds) {
      const frame = encodeMilterCommand(cmd);
      await session.handleFrame({ code: frame[4]!, payload: frame.subarray(5) });
    }
    return transport.take();
  };
  const sendRaw = async (...cmds: MilterCommand[]): Promise<MilterReply[]> => {
    await send(...cmds.slice(0, -1));
    const last = cmds.at(-1);
    if (last !== undefined) {
      const frame = encodeMilterCommand(last);
      await session.handleFrame({ code: frame[4]!, payload: frame.subarray(5) });
    }
    return transport.replies.splice(0);
  };
  return { pipeline, transport, session, send, sendRaw };
}

const optneg: MilterCommand = { kind: 'optneg', version: 6, actions: 0x1ff, protocol: 0x1fffff };
const connect: MilterCommand = {
  kind: 'connect',
  hostname: 'client.example',
  family: 'inet',
  port: 4242,
  address: '192.0.2.7',
};
const header = (name: string, value: string): MilterCommand => ({
  kind: 'header',
  name,
  value: Buffer.from(value),
});
const body = (text: string): MilterCommand => ({ kind: 'body', chunk: Buffer.from(text) });
const eom: MilterCommand = { kind: 'eom', chunk: Buffer.alloc(0) };

async function openMessage(s: ReturnType<typeof setup>): Promise<void> {
  assert.deepEqual(
    await s.send(
      optneg,
      { kind: 'macro', stage: C.Connect, macros: [['j', 'mx.example']] },
      connect,
      { kind: 'helo', name: 'client.example' },
      { kind: 'macro', stage: C.Mail, macros: [['i', 'QID1']] },
      { kind: 'mail', args: ['<a@example.org>', 'SIZE=42', 'SMTPUTF8'] },
      { kind: 'rcpt', args: ['<b@example.net>'] },
    ),
    ['optneg', 'continue', 'continue', 'continue', 'continue'],
  );
}

test('accept: envelope, raw headers, body reach the pipeline; modifications then accept', async () => {
  const s = setup();
  s.pipeline.onRun = () =>
    Promise.resolve({
      kind: 'accept',
      modifications: [{ kind: 'addHeader', name: 'X-Parapet-Id', value: 'abc' }],
    });
  await openMessage(s);
  assert.deepEqual(
    await s.send(
      header('Subject', ' Hello\n\tworld'),
      header('X-Tab', '\tv'),
      { kind: 'eoh' },
      body('Hi\r\n'),
      eom,
    ),
    ['continue', 'continue', 'continue', 'continue', 'addHeader X-Parapet-Id: abc', 'accept'],
  );
  const seen = s.pipeline.seen[0]!;
  assert.deepEqual(seen.envelope.client, {
    address: '192.0.2.7',
    port: 4242,
    name: 'client.example',
  });
  assert.equal(seen.envelope.helo, 'client.example');
  assert.deepEqual(seen.envelope.mailFrom, {
    address: 'a@example.org',
    args: { SIZE: '42', SMTPUTF8: true },
  });
  assert.deepEqual(seen.envelope.recipients, [{ address: 'b@example.net', args: {} }]);
  assert.equal(seen.envelope.queueId, 'QID1');
  assert.equal(seen.envelope.macros.get('j'), 'mx.example');
  // HDR_LEADSPC was negotiated: the header bytes are rebuilt exactly, folding as CRLF.
  assert.equal(seen.headers, 'Subject: Hello\r\n\tworld\r\nX-Tab:\tv\r\n');
  assert.equal(seen.body, 'Hi\r\n');
  const out = s.pipeline.outcomes[0]!;
  assert.equal(out.disposition, 'released');
  assert.equal(out.message.headers.getFirst('subject'), 'Hello\tworld');
  assert.deepEqual(
    s.pipeline.checks.map((c) => c.stage),
    ['connect', 'helo', 'mailFrom', 'rcptTo'],
  );
});

test('without HDR_LEADSPC: values arrive without the space, edits go without it', async () => {
  const s = setup({ negotiation: { headerLeadingSpace: false } });
  s.pipeline.onRun = () =>
    Promise.resolve({
      kind: 'accept',
      modifications: [{ kind: 'changeHeader', name: 'Subject', occurrence: 1, value: 'a\r\n\tb' }],
    });
  await openMessage(s);
  await s.send(header('Subject', 'Hello'), header('X-Empty', ''), { kind: 'eoh' });
  assert.deepEqual(await s.sendRaw(eom), [
    { kind: 'changeHeader', index: 1, name: 'Subject', value: 'a\n\tb' },
    { kind: 'accept' },
  ]);
  assert.equal(s.pipeline.seen[0]!.headers, 'Subject: Hello\r\nX-Empty:\r\n');
});

test('verdict replies in detail', async () => {
  const s = setup();
  s.pipeline.onRun = () =>
    Promise.resolve({
      kind: 'accept',
      modifications: [
        { kind: 'changeHeader', name: 'Subject', occurrence: 1, value: 'a\r\n\tb' },
        { kind: 'changeHeader', name: 'X-Old', occurrence: 2, value: null },
        { kind: 'insertHeader', index: 0, name: 'X-Top', value: 't' },
        { kind: 'addRecipient', address: 'c@example.com', args: {} },
        { kind: 'addRecipient', address: 'd@example.com', args: { NOTIFY: 'NEVER' } },
        { kind: 'deleteRecipient', address: 'b@example.net' },
        { kind: 'changeSender', address: 'bounce@example.org', args: {} },
        { kind: 'replaceBody', body: Buffer.alloc(70000, 0x61) },
      ],
    });
  await openMessage(s);
  assert.deepEqual(await s.sendRaw(eom), [
    { kind: 'changeHeader', index: 1, name: 'Subject', value: ' a\n\tb' },
    { kind: 'changeHeader', index: 2, name: 'X-Old', value: '' },
    { kind: 'insertHeader', index: 0, name: 'X-Top', value: ' t' },
    { kind: 'addRecipient', address: '<c@example.com>' },
    { kind: 'addRecipientWithArgs', address: '<d@example.com>', args: 'NOTIFY=NEVER' },
    { kind: 'deleteRecipient', address: '<b@example.net>' },
    { kind: 'changeFrom', address: '<bounce@example.org>', args: null },
    { kind: 'replaceBody', chunk: Buffer.alloc(65535, 0x61) },
    { kind: 'replaceBody', chunk: Buffer.alloc(70000 - 65535, 0x61) },
    { kind: 'accept' },
  ]);
});

test('reject at RCPT keeps the transaction and drops that recipient', async () => {
  const s = setup();
  s.pipeline.onCheck = (stage, env) =>
    stage === 'rcptTo' && env.recipients.at(-1)?.address === 'nobody@example.net'
      ? { kind: 'reject', reply: smtpReply(550, '5.1.1', 'No such user') }
      : { kind: 'continue' };
  await openMessage(s);
  assert.deepEqual(await s.send({ kind: 'rcpt', args: ['<nobody@example.net>'] }), [
    'replyCode 550 5.1.1 No such user',
  ]);
  assert.deepEqual(await s.send(eom), ['accept']);
  assert.deepEqual(
    s.pipeline.seen[0]!.envelope.recipients.map((r) => r.address),
    ['b@example.net'],
  );
});

test('reject at MAIL is recorded and the next MAIL works', async () => {
  const s = setup();
  let first = true;
  s.pipeline.onCheck = (stage) => {
    if (stage === 'mailFrom' && first) {
      first = false;
      return { kind: 'tempfail', reply: smtpReply(451, '4.7.1', 'Greylisted') };
    }
    return { kind: 'continue' };
  };
  await s.send(optneg, connect, { kind: 'helo', name: 'h' });
  assert.deepEqual(await s.send({ kind: 'mail', args: ['<a@b>'] }), [
    'replyCode 451 4.7.1 Greylisted',
  ]);
  assert.equal(s.pipeline.outcomes[0]?.disposition, 'tempfailed');
  assert.deepEqual(
    await s.send(
      { kind: 'abort' },
      { kind: 'mail', args: ['<a@b>'] },
      { kind: 'rcpt', args: ['<c@d>'] },
      eom,
    ),
    ['continue', 'continue', 'accept'],
  );
});

test('abort mid-body records aborted with no verdict and frees the spool', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'milter-spool-'));
  try {
    const s = setup({ spoolMemoryBytes: 8, spoolDir: dir });
    await openMessage(s);
    await s.send(header('Subject', ' x'), { kind: 'eoh' }, body('a'.repeat(100)));
    assert.equal((await readdir(dir)).length, 1, 'body went to disk');
    assert.deepEqual(await s.send({ kind: 'abort' }), []);
    assert.equal(s.pipeline.outcomes[0]?.disposition, 'aborted');
    assert.equal(s.pipeline.outcomes[0].verdict, null);
    assert.deepEqual(await readdir(dir), []);
    assert.equal(s.session.inMessage, false);
    // macros of the message are gone, connection macros stay
    assert.deepEqual(await s.send({ kind: 'mail', args: ['<x@y>'] }), ['continue']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('pipeline throwing tempfails the message with 451 4.3.0', async () => {
  const s = setup();
  s.pipeline.onRun = () => Promise.reject(new Error('boom'));
  await openMessage(s);
  assert.deepEqual(await s.send(eom), [
    'replyCode 451 4.3.0 Temporary internal error, try again later',
  ]);
  const out = s.pipeline.outcomes[0]!;
  assert.equal(out.disposition, 'tempfailed');
  assert.equal(out.errorCode, 'ERR_PIPELINE_FAILED');
  assert.equal(out.verdict?.kind, 'tempfail');
  assert.equal(s.transport.closed, false, 'connection stays usable');
});

test('a pipeline past messageTimeoutMs is aborted and tempfailed; progress is sent meanwhile', async () => {
  const s = setup({ messageTimeoutMs: 120, progressIntervalMs: 30 });
  let aborted = false;
  s.pipeline.onRun = (_m, signal) =>
    new Promise((resolve) => {
      signal.addEventListener('abort', () => {
        aborted = true;
      });
      setTimeout(() => {
        resolve({ kind: 'accept', modifications: [] });
      }, 1000).unref();
    });
  await openMessage(s);
  const replies = await s.send(eom);
  assert.ok(aborted);
  assert.ok(replies.filter((r) => r === 'progress').length >= 2, replies.join());
  assert.equal(replies.at(-1), 'replyCode 451 4.3.0 Temporary internal error, try again later');
  assert.equal(s.pipeline.outcomes[0]?.errorCode, 'ERR_PIPELINE_DEADLINE');
});

test('a modification the MTA did not allow tempfails the message', async () => {
  const s = setup();
  s.pipeline.onRun = () =>
    Promise.resolve({
      kind: 'accept',
      modifications: [{ kind: 'changeSender', address: 'x@y', args: {} }],
    });
  await s.send({ kind: 'optneg', version: 6, actions: 0x01, protocol: 0 }, connect);
  await s.send({ kind: 'mail', args: ['<a@b>'] }, { kind: 'rcpt', args: ['<c@d>'] });
  assert.deepEqual(await s.send(eom), [
    'replyCode 451 4.3.0 Temporary internal error, try again later',
  ]);
  assert.equal(s.pipeline.outcomes[0]?.errorCode, 'ERR_MILTER_ACTION_NOT_ALLOWED');
});

test('discard, quarantine, reject verdicts', async () => {
  const cases: [Verdict, string, Disposition][] = [
    [{ kind: 'discard', reason: 'policy' }, 'discard', 'discarded'],
    [{ kind: 'quarantine', reason: 'spam', quarantineId: 'q1' }, 'discard', 'quarantined'],
    [
      { kind: 'reject', reply: smtpReply(554, '5.7.1', 'Spam') },
      'replyCode 554 5.7.1 Spam',
      'rejected',
    ],
    [
      { kind: 'tempfail', reply: smtpReply(450, '4.7.0', 'Later') },
      'replyCode 450 4.7.0 Later',
      'tempfailed',
    ],
    // a malformed verdict from the pipeline is a fault, never an accept
    [
      { kind: 'reject', reply: smtpReply(250, null, 'ok') },
      'replyCode 451 4.3.0 Temporary internal error, try again later',
      'tempfailed',
    ],
  ];
  for (const [verdict, reply, disposition] of cases) {
    const s = setup();
    s.pipeline.onRun = () => Promise.resolve(verdict);
    await openMessage(s);
    assert.deepEqual(await s.send(eom), [reply]);
    assert.equal(s.pipeline.outcomes[0]?.disposition, disposition);
  }
});

test('a command out of order tempfails and closes', async () => {
  const s = setup();
  await s.send(optneg, connect);
  assert.deepEqual(await s.send({ kind: 'rcpt', args: ['<a@b>'] }), [
    'replyCode 451 4.3.0 Temporary internal error, try again later',
  ]);
  assert.equal(s.transport.closed, true);
  assert.equal(s.session.isClosed(), true);
});

test('a command before OPTNEG closes without a reply', async () => {
  const s = setup();
  assert.deepEqual(await s.send(connect), []);
  assert.equal(s.transport.closed, true);
});

test('message over maxMessageBytes: 552 5.3.4, then ABORT', async () => {
  const s = setup({ maxMessageBytes: 50 });
  await openMessage(s);
  assert.deepEqual(await s.send(body('x'.repeat(60))), [
    'replyCode 552 5.3.4 Message size exceeds fixed limit',
  ]);
  assert.deepEqual(await s.send(body('more')), [
    'replyCode 552 5.3.4 Message size exceeds fixed limit',
  ]);
  assert.equal(s.pipeline.outcomes[0]?.disposition, 'rejected');
  assert.equal(s.pipeline.outcomes[0].errorCode, 'ERR_MESSAGE_LIMIT');
  assert.deepEqual(await s.send({ kind: 'abort' }, { kind: 'mail', args: ['<a@b>'] }), [
    'continue',
  ]);
});

test('connection lost mid-message records aborted', async () => {
  const s = setup();
  await openMessage(s);
  await s.send(header('Subject', ' x'));
  await s.session.connectionClosed();
  assert.equal(s.pipeline.outcomes[0]?.disposition, 'aborted');
});

test('connect-stage reject refuses every later step', async () => {
  const s = setup();
  s.pipeline.onCheck = (stage) =>
    stage === 'connect'
      ? { kind: 'reject', reply: smtpReply(554, '5.7.1', 'Blocked') }
      : { kind: 'continue' };
  assert.deepEqual(await s.send(optneg, connect), ['optneg', 'replyCode 554 5.7.1 Blocked']);
  assert.deepEqual(await s.send({ kind: 'helo', name: 'x' }), ['replyCode 554 5.7.1 Blocked']);
});

test('macros: HELO and ABORT drop message-stage macros; the queue id follows them', async () => {
  const s = setup();
  await openMessage(s);
  await s.send({ kind: 'abort' });
  await s.send({ kind: 'mail', args: ['<a@b>'] }, { kind: 'rcpt', args: ['<c@d>'] }, eom);
  const env = s.pipeline.seen[0]!.envelope;
  assert.equal(env.queueId, null, 'i from the aborted transaction is gone');
  assert.equal(env.macros.get('j'), 'mx.example', 'connect macros stay');
});

test('two messages on one connection get separate ids and envelopes', async () => {
  const s = setup();
  await openMessage(s);
  await s.send(eom, { kind: 'abort' });
  await s.send(
    { kind: 'macro', stage: C.Mail, macros: [['i', 'QID2']] },
    { kind: 'mail', args: ['<second@example.org>'] },
    { kind: 'rcpt', args: ['<r2@example.net>'] },
    eom,
  );
  const a = s.pipeline.outcomes[0]!;
  const b = s.pipeline.outcomes[1]!;
  assert.notEqual(a.message.id, b.message.id);
  assert.equal(b.message.envelope.mailFrom?.address, 'second@example.org');
  assert.equal(b.message.envelope.queueId, 'QID2');
  assert.equal(b.message.envelope.helo, 'client.example');
  assert.deepEqual(
    b.message.envelope.recipients.map((r) => r.address),
    ['r2@example.net'],
  );
});

const QUIET_ENVELOPE = {
  noReplyContent: true,
  noReplyEnvelope: ['connect', 'helo', 'mailFrom', 'rcptTo'],
} as const;

test('no-reply envelope steps: replies only to OPTNEG, DATA and EOM', async () => {
  const s = setup({ negotiation: QUIET_ENVELOPE });
  const replies = await s.send(
    optneg,
    { kind: 'macro', stage: C.Connect, macros: [['j', 'mx.example']] },
    connect,
    { kind: 'helo', name: 'client.example' },
    { kind: 'macro', stage: C.Mail, macros: [['i', 'QID1']] },
    { kind: 'mail', args: ['<a@example.org>'] },
    { kind: 'rcpt', args: ['<b@example.net>'] },
    { kind: 'rcpt', args: ['<c@example.net>'] },
    { kind: 'data' },
    header('Subject', ' Hi'),
    { kind: 'eoh' },
    body('Hi\r\n'),
    eom,
    { kind: 'mail', args: ['<d@example.org>'] },
    { kind: 'rcpt', args: ['<e@example.net>'] },
    { kind: 'data' },
    eom,
  );
  assert.deepEqual(replies, ['optneg', 'continue', 'accept', 'continue', 'accept']);
  const envelopeFlags = P.NoReplyConnect | P.NoReplyHelo | P.NoReplyMail | P.NoReplyRcpt;
  assert.equal((s.session.negotiated?.protocol ?? 0) & envelopeFlags, envelopeFlags);
  // The envelope is still checked at every stage and complete when the message is decided.
  assert.deepEqual(
    s.pipeline.checks.map((c) => c.stage),
    ['connect', 'helo', 'mailFrom', 'rcptTo', 'rcptTo', 'mailFrom', 'rcptTo'],
  );
  assert.deepEqual(
    s.pipeline.seen[0]!.envelope.recipients.map((r) => r.address),
    ['b@example.net', 'c@example.net'],
  );
  assert.equal(s.pipeline.seen[0]!.envelope.queueId, 'QID1');
  assert.deepEqual(
    s.pipeline.outcomes.map((o) => o.disposition),
    ['released', 'released'],
  );
});

test('no-reply MAIL refused anyway: the refusal answers DATA, and the next message works', async () => {
  const s = setup({ negotiation: QUIET_ENVELOPE });
  let first = true;
  s.pipeline.onCheck = (stage) => {
    if (stage !== 'mailFrom' || !first) return { kind: 'continue' };
    first = false;
    return { kind: 'reject', reply: smtpReply(550, '5.7.1', 'Sender refused') };
  };
  const replies = await s.send(
    optneg,
    connect,
    { kind: 'helo', name: 'h' },
    { kind: 'mail', args: ['<bad@example.org>'] },
    { kind: 'rcpt', args: ['<b@example.net>'] },
    { kind: 'data' },
    { kind: 'abort' },
    { kind: 'mail', args: ['<good@example.org>'] },
    { kind: 'rcpt', args: ['<b@example.net>'] },
    { kind: 'data' },
    eom,
  );
  assert.deepEqual(replies, ['optneg', 'replyCode 550 5.7.1 Sender refused', 'continue', 'accept']);
  assert.deepEqual(
    s.pipeline.outcomes.map((o) => o.disposition),
    ['rejected', 'released'],
  );
});

test('no-reply RCPT: a refused recipient or one over maxRecipients tempfails the message', async () => {
  const s = setup({ negotiation: QUIET_ENVELOPE, maxRecipients: 2 });
  s.pipeline.onCheck = (stage, env) =>
    stage === 'rcptTo' && env.recipients.at(-1)?.address === 'nobody@example.net'
      ? { kind: 'reject', reply: smtpReply(550, '5.1.1', 'No such user') }
      : { kind: 'continue' };
  const replies = await s.send(
    optneg,
    connect,
    { kind: 'mail', args: ['<a@example.org>'] },
    { kind: 'rcpt', args: ['<nobody@example.net>'] },
    { kind: 'data' },
    eom,
    { kind: 'mail', args: ['<a@example.org>'] },
    { kind: 'rcpt', args: ['<b@example.net>'] },
    { kind: 'rcpt', args: ['<c@example.net>'] },
    { kind: 'rcpt', args: ['<d@example.net>'] },
    { kind: 'rcpt', args: ['<e@example.net>'] },
    { kind: 'data' },
    eom,
  );
  assert.equal(replies.length, 5);
  assert.equal(replies[0], 'optneg');
  // One final reply per message, to DATA; EOM of a finished message repeats it.
  assert.match(replies[1] ?? '', /^replyCode 4/);
  assert.equal(replies[2], replies[1]);
  assert.match(replies[3] ?? '', /^replyCode 452 4\.5\.3/);
  assert.equal(replies[4], replies[3]);
  assert.deepEqual(
    s.pipeline.outcomes.map((o) => [o.disposition, o.errorCode]),
    [
      ['tempfailed', 'ERR_PIPELINE_FAILED'],
      ['tempfailed', undefined],
    ],
  );
  assert.equal(s.pipeline.seen.length, 0, 'neither message reached the pipeline');
});

test('no-reply connect and HELO refused anyway: later steps that wait get the refusal', async () => {
  const s = setup({ negotiation: QUIET_ENVELOPE });
  s.pipeline.onCheck = (stage) =>
    stage === 'helo'
      ? { kind: 'reject', reply: smtpReply(550, '5.7.1', 'Bad HELO') }
      : { kind: 'continue' };
  const replies = await s.send(
    optneg,
    connect,
    { kind: 'helo', name: 'bad' },
    { kind: 'mail', args: ['<a@example.org>'] },
    { kind: 'rcpt', args: ['<b@example.net>'] },
    { kind: 'data' },
    { kind: 'abort' },
  );
  assert.deepEqual(replies, ['optneg', 'replyCode 550 5.7.1 Bad HELO']);
  assert.equal(s.pipeline.seen.length, 0);
});

test('a session refused over the cap negotiates no no-reply flags', async () => {
  const s = setup({
    negotiation: QUIET_ENVELOPE,
    refuseWith: smtpReply(421, '4.3.2', 'Busy'),
  });
  assert.deepEqual(await s.send(optneg, connect), ['optneg', 'replyCode 421 4.3.2 Busy']);
  const noReply =
    P.NoReplyConnect | P.NoReplyHelo | P.NoReplyMail | P.NoReplyRcpt | P.NoReplyHeader;
  assert.equal((s.session.negotiated?.protocol ?? 0) & noReply, 0);
  assert.equal(s.transport.closed, true);
});

test('a pipeline fault at end of message still tempfails with no-reply envelope steps', async () => {
  const s = setup({ negotiation: QUIET_ENVELOPE });
  s.pipeline.onRun = () => Promise.reject(new Error('boom'));
  const replies = await s.send(
    optneg,
    connect,
    { kind: 'mail', args: ['<a@example.org>'] },
    { kind: 'rcpt', args: ['<b@example.net>'] },
    { kind: 'data' },
    eom,
  );
  assert.equal(replies.length, 3);
  assert.match(replies[2] ?? '', /^replyCode 451 4\.3\.0/);
  assert.equal(s.pipeline.outcomes[0]?.disposition, 'tempfailed');
});

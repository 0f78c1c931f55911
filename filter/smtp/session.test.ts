import { describe, it } from 'node:test';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { SmtpSession, resolveSmtpSessionOptions, DEFAULT_SMTP_SESSION_OPTIONS } from './session.js';
import { FakePipeline } from './test-support.js';
import type { MessageReinjector, ReinjectSendOptions } from './reinject-client.js';
import type { Message } from '../message/message.js';
import { smtpReply } from './reply.js';

class RecordingReinjector implements MessageReinjector {
  readonly sent: { message: Buffer; options: ReinjectSendOptions; rcpts: string[] }[] = [];
  async reinject(message: Message, options: ReinjectSendOptions) {
    this.sent.push({
      message: await message.toBuffer(),
      options,
      rcpts: message.envelope.recipients.map((r) => r.address),
    });
    return { reply: smtpReply(250, '2.0.0', 'Ok'), queueId: 'Q1' };
  }
  close() {
    return Promise.resolve();
  }
}

function makeSession(pipeline = new FakePipeline(), reinjector = new RecordingReinjector()) {
  const out: string[] = [];
  let closed = false;
  const session = new SmtpSession(
    { hostname: 'unit.test' },
    {
      pipeline,
      reinjector,
      client: { address: '127.0.0.1', port: 12345, name: null },
      transport: {
        write: (d) => out.push(d),
        close: () => {
          closed = true;
        },
      },
    },
  );
  return { session, out, pipeline, reinjector, isClosed: () => closed };
}

const conversation = Buffer.from(
  [
    'EHLO client.test',
    'XFORWARD ADDR=198.51.100.4 NAME=client.example HELO=helo.example PROTO=ESMTP',
    'MAIL FROM:<a@example.org>',
    'RCPT TO:<b@example.net>',
    'DATA',
    'Subject: hi',
    '',
    '..dotted',
    '.',
    'MAIL FROM:<a@example.org>',
    'RCPT TO:<c@example.net>',
    'DATA',
    'Subject: second',
    '',
    'body',
    '.',
    'QUIT',
    '',
  ].join('\r\n'),
);

describe('SmtpSession', () => {
  it('resolves options with documented defaults', () => {
    const o = resolveSmtpSessionOptions({ maxRecipients: 5 });
    assert.equal(o.maxRecipients, 5);
    assert.equal(o.maxMessageBytes, DEFAULT_SMTP_SESSION_OPTIONS.maxMessageBytes);
  });

  it('gives the same replies and messages whatever the chunking', async () => {
    const results: string[] = [];
    for (const size of [conversation.length, 1, 2, 3, 7, 64]) {
      const s = makeSession();
      await s.session.start();
      for (let i = 0; i < conversation.length; i += size) {
        await s.session.feed(conversation.subarray(i, i + size));
      }
      const replies = s.out.join('').replace(/parapet [0-9a-z]{20}/g, 'parapet ID');
      results.push(
        JSON.stringify({
          replies,
          sent: s.reinjector.sent.map((x) =>
            x.message.toString().replace(/X-Parapet-Id: \w+/, 'X-Parapet-Id: ID'),
          ),
          closed: s.isClosed(),
        }),
      );
      assert.equal(s.reinjector.sent.length, 2);
      assert.deepEqual(s.reinjector.sent[0]?.options.xforward, {
        ADDR: '198.51.100.4',
        NAME: 'client.example',
        HELO: 'helo.example',
        PROTO: 'ESMTP',
      });
      // XFORWARD applies to one transaction only.
      assert.equal(s.reinjector.sent[1]?.options.xforward, undefined);
      assert.equal(s.pipeline.seen[0]?.envelope.client.address, '198.51.100.4');
      const second = s.pipeline.seen[1];
      assert.ok(second !== undefined);
      assert.equal(second.envelope.client.address, '127.0.0.1');
      assert.equal(second.envelope.helo, 'client.test');
      assert.deepEqual(
        s.pipeline.outcomes.map((o) => o.disposition),
        ['reinjected', 'reinjected'],
      );
    }
    assert.equal(new Set(results).size, 1);
    assert.match(results[0] ?? '', /\.dotted/);
  });

  it('runs envelope checks with the forwarded client at MAIL', async () => {
    const s = makeSession();
    await s.session.start();
    await s.session.feed(conversation.subarray(0, conversation.indexOf('RCPT')));
    assert.deepEqual(
      s.pipeline.checked.map((c) => `${c.stage}:${c.envelope.client.address ?? '-'}`),
      [
        'connect:127.0.0.1',
        'helo:127.0.0.1',
        'connect:198.51.100.4',
        'helo:198.51.100.4',
        'mailFrom:198.51.100.4',
      ],
    );
  });

  it('refuses at connect when the connect check rejects', async () => {
    const pipeline = new FakePipeline();
    pipeline.checks.set('connect', { kind: 'reject', reply: smtpReply(554, '5.7.1', 'go away') });
    const s = makeSession(pipeline);
    await s.session.start();
    assert.equal(s.out.join(''), '554 5.7.1 go away\r\n');
    assert.equal(s.isClosed(), true);
  });

  it('records a message cut off mid-DATA as aborted and tempfails a modification fault', async () => {
    const pipeline = new FakePipeline();
    pipeline.runs.push({
      kind: 'verdict',
      verdict: {
        kind: 'accept',
        modifications: [{ kind: 'addHeader', name: 'Bad', value: 'x\r\nInjected: y' }],
      },
    });
    const s = makeSession(pipeline);
    await s.session.start();
    await s.session.feed(
      Buffer.from('EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nS: x\r\n\r\nb\r\n.\r\n'),
    );
    assert.match(s.out.join(''), /451 4\.3\.0/);
    assert.equal(pipeline.outcomes[0]?.errorCode, 'ERR_MODIFICATION_INVALID');
    assert.equal(s.reinjector.sent.length, 0);
    await s.session.feed(Buffer.from('MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: half'));
    await s.session.abort();
    assert.deepEqual(
      pipeline.outcomes.map((o) => o.disposition),
      ['tempfailed', 'aborted'],
    );
  });

  it('shutdown closes an idle session at once with 421', async () => {
    const s = makeSession();
    await s.session.start();
    await s.session.feed(Buffer.from('EHLO x\r\n'));
    s.session.requestShutdown();
    assert.match(s.out.join(''), /421 4\.3\.2/);
    assert.equal(s.isClosed(), true);
  });

  it('treats a policy that deletes every recipient as a discard', async () => {
    const pipeline = new FakePipeline();
    pipeline.runs.push({
      kind: 'verdict',
      verdict: { kind: 'accept', modifications: [{ kind: 'deleteRecipient', address: 'c@d' }] },
    });
    const s = makeSession(pipeline);
    await s.session.start();
    await s.session.feed(
      Buffer.from('EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n\r\nb\r\n.\r\n'),
    );
    assert.match(s.out.join(''), /250 2\.0\.0 Ok: message accepted/);
    assert.equal(s.reinjector.sent.length, 0);
    assert.deepEqual(
      pipeline.outcomes.map((o) => o.disposition),
      ['discarded'],
    );
  });
});

describe('SmtpSession spooling', () => {
  it('spools a large body to disk, re-injects it intact and removes the temp file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parapet-smtp-test-'));
    const pipeline = new FakePipeline();
    const reinjector = new RecordingReinjector();
    const out: string[] = [];
    const session = new SmtpSession(
      { spool: { spoolMemoryBytes: 64, spoolDir: dir } },
      {
        pipeline,
        reinjector,
        client: { address: '127.0.0.1', port: 1, name: null },
        transport: { write: (d) => out.push(d), close: () => undefined },
      },
    );
    await session.start();
    const body = Array.from({ length: 200 }, (_, i) => `line ${i} ${'x'.repeat(50)}\r\n`).join('');
    await session.feed(Buffer.from(`EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n`));
    await session.feed(Buffer.from(`Subject: big\r\n\r\n${body}.\r\n`));
    assert.match(out.join(''), /250 2\.0\.0 Ok: queued/);
    const sent = reinjector.sent[0]?.message.toString() ?? '';
    assert.ok(sent.endsWith(`\r\n\r\n${body}`));
    assert.deepEqual(await readdir(dir), [], 'temp file removed after the message');
    await rm(dir, { recursive: true });
  });

  it('answers 451 4.3.0 when the spool cannot be written, and goes on', async () => {
    const pipeline = new FakePipeline();
    const reinjector = new RecordingReinjector();
    const out: string[] = [];
    const session = new SmtpSession(
      { spool: { spoolMemoryBytes: 8, spoolDir: '/nonexistent/parapet-spool' } },
      {
        pipeline,
        reinjector,
        client: { address: '127.0.0.1', port: 1, name: null },
        transport: { write: (d) => out.push(d), close: () => undefined },
      },
    );
    await session.start();
    await session.feed(
      Buffer.from(
        `EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n\r\n${'y'.repeat(100)}\r\n.\r\nNOOP\r\n`,
      ),
    );
    assert.match(out.join(''), /451 4\.3\.0[^\n]*\r\n250 2\.0\.0 Ok\r\n$/);
    assert.equal(pipeline.outcomes[0]?.errorCode, 'ERR_SPOOL_IO');
    assert.equal(reinjector.sent.length, 0);
  });
});

describe('SmtpSession events', () => {
  it('emits smtp.reinject_failed with the stage when re-injection fails', async () => {
    const { ReinjectError } = await import('./reinject-client.js');
    const events: { event: string; fields: Readonly<Record<string, unknown>> }[] = [];
    const pipeline = new FakePipeline();
    const out: string[] = [];
    const session = new SmtpSession(
      { onEvent: (event, fields) => events.push({ event, fields }) },
      {
        pipeline,
        reinjector: {
          reinject: () =>
            Promise.reject(new ReinjectError('rcpt', '550 no', smtpReply(550, '5.1.1', 'no'))),
          close: () => Promise.resolve(),
        },
        client: { address: '127.0.0.1', port: 1, name: null },
        transport: { write: (d) => out.push(d), close: () => undefined },
      },
    );
    await session.start();
    await session.feed(
      Buffer.from('EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n\r\nbody\r\n.\r\n'),
    );
    assert.match(out.join(''), /451 4\.3\.0/);
    assert.equal(events.length, 1);
    const first = events[0];
    assert.ok(first !== undefined);
    assert.equal(first.event, 'smtp.reinject_failed');
    assert.equal(first.fields['stage'], 'rcpt');
    assert.equal(first.fields['code'], 'ERR_REINJECT_FAILED');
    assert.deepEqual(
      pipeline.outcomes.map((o) => [o.disposition, o.errorCode]),
      [['tempfailed', 'ERR_REINJECT_FAILED']],
    );
  });
});

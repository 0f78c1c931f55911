import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ReinjectClient, ReinjectError, buildXforwardCommands } from './reinject-client.js';
import { FakeMta } from './test-support.js';
import { BodySpool } from '../message/body-spool.js';
import { createEnvelope } from '../message/envelope.js';
import { parseHeaderBlock } from '../message/header-list.js';
import { Message } from '../message/message.js';

async function message(body: string, recipients = ['b@example.net']): Promise<Message> {
  const spool = new BodySpool();
  await spool.write(Buffer.from(body, 'latin1'));
  await spool.seal();
  const envelope = createEnvelope({ address: '127.0.0.1' });
  envelope.mailFrom = { address: 'a@example.org', args: { BODY: '8BITMIME', RET: 'HDRS' } };
  for (const r of recipients) envelope.recipients.push({ address: r, args: { NOTIFY: 'NEVER' } });
  return new Message({
    id: 'm1',
    envelope,
    headers: parseHeaderBlock(Buffer.from('Subject: t\r\n')),
    body: spool,
  });
}

describe('ReinjectClient', () => {
  let mta: FakeMta;
  let port: number;
  before(async () => {
    mta = new FakeMta();
    port = await mta.listen();
  });
  after(async () => {
    await mta.close();
  });

  it('delivers with pipelining, dot-stuffs, passes args and reuses the connection', async () => {
    mta.mode = 'accept';
    mta.transactions.length = 0;
    const connectionsBefore = mta.connections;
    const client = new ReinjectClient({ port });
    const m = await message('.one\r\ntwo\r\n..three\r\n');
    let dotWritten = 0;
    const r1 = await client.reinject(m, {
      xforward: { ADDR: '192.0.2.1', NAME: null, HELO: 'h e' },
      onEndOfDataWritten: () => dotWritten++,
    });
    assert.equal(dotWritten, 1);
    const r2 = await client.reinject(m, {});
    assert.equal(r1.reply.code, 250);
    assert.match(r1.queueId ?? '', /^FAKE/);
    assert.equal(r2.reply.code, 250);
    assert.equal(mta.connections - connectionsBefore, 1);
    const t1 = mta.transactions[0]!;
    const t2 = mta.transactions[1]!;
    assert.equal(t1.lines[0], 'XFORWARD ADDR=192.0.2.1 NAME=[UNAVAILABLE] HELO=h+20e');
    assert.match(t1.lines[1] ?? '', /^MAIL FROM:<a@example.org> SIZE=\d+ BODY=8BITMIME RET=HDRS$/);
    assert.equal(t1.lines[2], 'RCPT TO:<b@example.net> NOTIFY=NEVER');
    assert.equal(t1.raw?.toString(), 'Subject: t\r\n\r\n..one\r\ntwo\r\n...three\r\n');
    assert.equal(t1.data?.toString(), 'Subject: t\r\n\r\n.one\r\ntwo\r\n..three\r\n');
    assert.equal(t2.lines[0]?.startsWith('MAIL'), true, 'no XFORWARD when none given');
    await client.close();
    await m.dispose();
  });

  it('works without PIPELINING and ends a body that lacks a final CRLF', async () => {
    mta.mode = 'accept';
    mta.pipelining = false;
    mta.transactions.length = 0;
    const client = new ReinjectClient({ port });
    const m = await message('no final newline');
    await client.reinject(m);
    assert.equal(mta.delivered[0]?.data?.toString(), 'Subject: t\r\n\r\nno final newline\r\n');
    mta.pipelining = true;
    await client.close();
    await m.dispose();
  });

  it('is all-or-nothing when a recipient is refused', async () => {
    mta.mode = 'refuse-rcpt';
    mta.transactions.length = 0;
    for (const pipelining of [true, false]) {
      mta.pipelining = pipelining;
      const client = new ReinjectClient({ port });
      const m = await message('x\r\n', ['ok@example.net', 'refuse@example.net']);
      await assert.rejects(client.reinject(m), (err: unknown) => {
        assert.ok(err instanceof ReinjectError);
        assert.equal(err.code, 'ERR_REINJECT_FAILED');
        assert.equal(err.stage, 'rcpt');
        assert.equal(err.reply?.code, 550);
        return true;
      });
      // Without pipelining the connection is RSET and kept; with it, dropped (354 was given).
      assert.equal(client.idleConnections, pipelining ? 0 : 1);
      await client.close();
      await m.dispose();
    }
    assert.equal(mta.delivered.length, 0);
    mta.mode = 'accept';
    mta.pipelining = true;
  });

  it('replaces a pooled connection the server closed while idle', async () => {
    mta.mode = 'accept';
    mta.transactions.length = 0;
    const client = new ReinjectClient({ port });
    const m = await message('x\r\n');
    await client.reinject(m);
    mta.dropConnections();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await client.reinject(m);
    assert.equal(mta.delivered.length, 2);
    await client.close();
    await m.dispose();
  });

  it('times out and honours abort without delivering', async () => {
    mta.mode = 'hang-at-dot';
    const client = new ReinjectClient({ port, dataTimeoutMs: 100 });
    const m = await message('x\r\n');
    await assert.rejects(client.reinject(m), /no reply within 100 ms/);
    const controller = new AbortController();
    const pending = client.reinject(m, { signal: controller.signal });
    setTimeout(() => {
      controller.abort();
    }, 30);
    await assert.rejects(pending, /aborted/);
    assert.equal(client.idleConnections, 0);
    await client.close();
    await m.dispose();
    mta.mode = 'accept';
  });

  it('sends commands and message in one BDAT write once XFORWARD was accepted (CHUNKING)', async () => {
    mta.mode = 'accept';
    mta.chunking = true;
    mta.transactions.length = 0;
    const connectionsBefore = mta.connections;
    const client = new ReinjectClient({ port });
    const m = await message('.one\r\nno final newline');
    const xforward = { ADDR: '192.0.2.1' };
    let written = 0;
    await client.reinject(m, { xforward, onEndOfDataWritten: () => written++ });
    await client.reinject(m, { xforward, onEndOfDataWritten: () => written++ });
    const wanted = 'Subject: t\r\n\r\n.one\r\nno final newline';
    const t1 = mta.transactions[0];
    const t2 = mta.transactions[1];
    assert.ok(t1 !== undefined && t2 !== undefined);
    assert.ok(t1.lines.includes('DATA'), 'first transaction: XFORWARD not yet known to work');
    assert.deepEqual(t2.lines.slice(-1), [`BDAT ${Buffer.byteLength(wanted)} LAST`]);
    assert.equal(t2.raw?.toString('latin1'), wanted, 'sent as is: no dot-stuffing, no CRLF');
    assert.equal(written, 2);
    assert.equal(mta.delivered.length, 2);
    assert.equal(mta.connections - connectionsBefore, 1);
    // Several recipients: DATA, so that a refused one stops the whole transaction.
    const many = await message('x\r\n', ['b@example.net', 'c@example.net']);
    await client.reinject(many, { xforward });
    assert.ok(mta.transactions[2]?.lines.includes('DATA'));
    await client.close();
    await m.dispose();
    await many.dispose();
    mta.chunking = false;
  });

  it('runs the prepared-record hook right before the end of data; if it throws, nothing is delivered', async () => {
    mta.mode = 'accept';
    for (const chunking of [false, true]) {
      mta.chunking = chunking;
      mta.transactions.length = 0;
      const client = new ReinjectClient({ port });
      const m = await message('body\r\n');
      const xforward = { ADDR: '192.0.2.1' };
      const order: string[] = [];
      // Twice: on the CHUNKING path the second transaction is the one-write BDAT.
      for (let i = 0; i < 2; i++) {
        await client.reinject(m, {
          xforward,
          onBeforeEndOfData: () => order.push('prepare'),
          onEndOfDataWritten: () => order.push('commit'),
        });
      }
      assert.deepEqual(order, ['prepare', 'commit', 'prepare', 'commit']);
      assert.equal(mta.delivered.length, 2);
      await assert.rejects(
        client.reinject(m, {
          xforward,
          onBeforeEndOfData: () => {
            throw new Error('disk full');
          },
        }),
        (err: unknown) => err instanceof ReinjectError && /not sent: disk full/.test(err.message),
      );
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(mta.delivered.length, 2, `chunking=${String(chunking)}: nothing more delivered`);
      await client.close();
      await m.dispose();
    }
    mta.chunking = false;
  });

  it('delivers nothing and keeps the connection when BDAT is refused', async () => {
    mta.mode = 'refuse-rcpt';
    mta.chunking = true;
    mta.transactions.length = 0;
    const client = new ReinjectClient({ port });
    const m = await message('x\r\n', ['refuse@example.net']);
    await assert.rejects(client.reinject(m), (err: unknown) => {
      assert.ok(err instanceof ReinjectError);
      assert.equal(err.stage, 'rcpt');
      assert.equal(err.reply?.code, 550);
      return true;
    });
    assert.ok(mta.transactions[0]?.lines.some((l) => l.startsWith('BDAT')));
    assert.equal(mta.delivered.length, 0);
    assert.equal(client.idleConnections, 1, 'RSET and kept');
    mta.mode = 'accept';
    const ok = await message('y\r\n');
    await client.reinject(ok);
    assert.equal(mta.delivered.length, 1, 'the connection still works');
    await client.close();
    await m.dispose();
    await ok.dispose();
    mta.chunking = false;
  });

  it('fails with ERR_REINJECT_FAILED when nothing listens', async () => {
    const other = new FakeMta();
    const closedPort = await other.listen();
    await other.close();
    const client = new ReinjectClient({ port: closedPort });
    const m = await message('x\r\n');
    await assert.rejects(
      client.reinject(m),
      (err: unknown) => err instanceof ReinjectError && err.stage === 'connect',
    );
    await m.dispose();
  });
});

describe('buildXforwardCommands', () => {
  it('keeps every line within 512 octets and only sends advertised attributes', () => {
    const long = 'h'.repeat(255);
    const lines = buildXforwardCommands(
      { NAME: long, ADDR: '192.0.2.1', HELO: long, PROTO: 'ESMTP', SOURCE: 'REMOTE', IDENT: 'Q' },
      new Set(['NAME', 'ADDR', 'HELO', 'PROTO', 'SOURCE']),
    );
    assert.ok(lines.length >= 2);
    for (const l of lines) assert.ok(l.length + 2 <= 512, `${l.length}`);
    assert.ok(!lines.join(' ').includes('IDENT'));
    assert.deepEqual(buildXforwardCommands({ NAME: '[TEMPUNAVAIL]' }, new Set(['NAME'])), [
      'XFORWARD NAME=[TEMPUNAVAIL]',
    ]);
  });
});

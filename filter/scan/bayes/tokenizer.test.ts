import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseHeaderBlock } from '../../message/header-list.js';
import { messageFromFileBytes } from './raw-message.js';
import { tokenizeMessage, tokenizeParts } from './tokenizer.js';

async function tokensOf(text: string): Promise<Set<string>> {
  return tokenizeMessage(await messageFromFileBytes(Buffer.from(text)));
}

test('header fields get their own prefixes; body words are lower-cased, capitals noted', async () => {
  const tokens = await tokensOf(
    [
      'From: "Prize Desk" <winner@lottery.example>',
      'To: you@example.org',
      'Subject: =?utf-8?B?WW91IGhhdmUgV09O?= the lottery!!',
      'Message-ID: <12345.abc@mail.lottery.example>',
      'X-Mailer: Bulk Sender 5.1',
      '',
      'Dear friend, CLAIM your money now.',
      '',
    ].join('\n'),
  );
  for (const t of [
    'F:winner@lottery.example',
    'F@lottery.example',
    'FN:prize',
    'T#1',
    'S:you',
    'S:won',
    'S:lottery',
    'S:!!',
    'S:encoded',
    'MI:mail.lottery.example',
    'XM:bulk',
    'HN:x-mailer',
    'dear',
    'friend',
    'claim',
    'UC:claim',
    'money',
  ]) {
    assert.ok(tokens.has(t), `missing ${t} in ${[...tokens].join(' ')}`);
  }
  assert.ok(!tokens.has('Dear'));
  assert.ok(!tokens.has('T:you@example.org'), 'recipient addresses are the mailbox, not the mail');
});

test('header tokens skip the recipient side: own Received hops, delivery and list fields', async () => {
  const tokens = await tokensOf(
    [
      'Delivered-To: me@inbox.example',
      'Received: from localhost (localhost [127.0.0.1]) by mx.inbox.example; Mon, 2 Sep 2002',
      'Received: from relay.sender.example (relay.sender.example [192.0.2.7])',
      '  by mx.inbox.example (Postfix); Mon, 2 Sep 2002 15:59:46 +0100',
      'Received: from pc.sender.example by relay.sender.example; Mon, 2 Sep 2002',
      'List-Id: <talk.lists.example>',
      'X-Spam-Status: No',
      'From: a@sender.example',
      '',
      'hello there',
      '',
    ].join('\n'),
  );
  for (const t of ['RV:relay.sender.example', 'RV:pc.sender.example', 'RV#3', 'L:list']) {
    assert.ok(tokens.has(t), `missing ${t} in ${[...tokens].join(' ')}`);
  }
  for (const t of [
    'RV:localhost',
    'RV:mx.inbox.example',
    'HN:delivered-to',
    'HN:list-id',
    'HN:x-spam-status',
  ]) {
    assert.ok(!tokens.has(t), `unexpected ${t}`);
  }
});

test('multipart: text parts are decoded (base64, quoted-printable, charset), attachments give only type and name', async () => {
  const pdf = Buffer.from('%PDF-1.4 secretword '.repeat(20)).toString('base64');
  const tokens = await tokensOf(
    [
      'From: a@b.example',
      'Content-Type: multipart/mixed; boundary="XX"',
      '',
      'preamble words ignored',
      '--XX',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('Grüße aus Köln').toString('base64'),
      '--XX',
      'Content-Type: text/html; charset=iso-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      '<p>Caf=E9 <a href=3D"http://click.tracker.example/offer?id=3D1">lin=',
      'k</a> vi<!-- x -->agra</p>',
      '--XX',
      'Content-Type: application/pdf; name="invoice.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      pdf,
      '--XX--',
      'epilogue',
    ].join('\n'),
  );
  for (const t of [
    'grüße',
    'köln',
    'café',
    'link',
    'viagra',
    'U:click.tracker.example',
    'U:tracker.example',
    'UP:offer',
    'U:query',
    'HT:a',
    'CT:text/html',
    'CTE:base64',
    'A:application/pdf',
    'A:ext:pdf',
    'CT0:multipart/mixed',
  ]) {
    assert.ok(tokens.has(t), `missing ${t} in ${[...tokens].join(' ')}`);
  }
  assert.ok(!tokens.has('secretword'), 'attachment content is not tokenized');
  assert.ok(!tokens.has('preamble') && !tokens.has('epilogue'));
});

test('URLs in plain text give host, parent domains and numeric-host tokens', async () => {
  const tokens = await tokensOf(
    'Subject: x\n\nsee http://www.deals.shop.example/go/now and http://192.168.10.20:8080/x and www.plain.example\n',
  );
  for (const t of [
    'U:www.deals.shop.example',
    'U:shop.example',
    'UP:go',
    'U:ip',
    'U:192.168',
    'U:port',
    'U:www.plain.example',
  ]) {
    assert.ok(tokens.has(t), `missing ${t}`);
  }
});

test('tokenizing is bounded: token count and body bytes have limits', () => {
  const headers = parseHeaderBlock(Buffer.from('Subject: many\r\n'));
  const words = Array.from({ length: 20_000 }, (_, i) => `w${String(i)}x`).join(' ');
  const tokens = tokenizeParts(headers, Buffer.from(words), { maxTokens: 500 });
  assert.equal(tokens.size, 500);
  const few = tokenizeParts(headers, Buffer.from(words), { maxPartChars: 100 });
  assert.ok(few.size < 40, String(few.size));
});

test('fuzz: arbitrary bytes and broken MIME never throw', async () => {
  const mimeish = fc.array(
    fc.constantFrom(
      'Content-Type: multipart/mixed; boundary=b\r\n',
      'Content-Type: text/html; charset=x-unknown\r\n',
      'Content-Transfer-Encoding: base64\r\n',
      'Content-Transfer-Encoding: quoted-printable\r\n',
      'Content-Type: message/rfc822\r\n',
      '\r\n',
      '--b\r\n',
      '--b--\r\n',
      '=?utf-8?Q?=FF=?=',
      '<a href="http://[::1',
      '=\r\n',
      '&#x110000;',
      'http://%%/',
    ),
    { maxLength: 30 },
  );
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), mimeish, async (bytes, pieces) => {
      const file = Buffer.concat([Buffer.from(pieces.join('')), Buffer.from(bytes)]);
      const tokens = await tokenizeMessage(await messageFromFileBytes(file));
      assert.ok(tokens instanceof Set);
    }),
    { numRuns: 300 },
  );
});

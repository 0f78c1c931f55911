/**
 * The ratware-fingerprint and sales-phrase families: for each, one message it must catch and
 * one it must leave alone (written here, modelled on what bulk-mail tools do).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firedSymbols } from './test-support.js';

const fired = (headers: string, body = 'Hello,\n\nsee you on Monday.\n'): Promise<string[]> =>
  firedSymbols(headers, body);

const BASE = `From: Ann Smith <ann@example.org>
To: bob@example.net
Subject: lunch
Date: Sun, 01 Sep 2002 10:00:00 +0100`;

function check(symbol: string, hit: string[], miss: string[]): void {
  assert.ok(hit.includes(symbol), `${symbol} should fire, got ${hit.join(' ')}`);
  assert.ok(!miss.includes(symbol), `${symbol} should not fire, got ${miss.join(' ')}`);
}

test('MSGID_OE_NO_OUTLOOK / MSGID_RATWARE_ZEROES: Outlook-shaped id without Outlook', async () => {
  const id = 'Message-ID: <00003ed74393$00003e20$00002f2f@mx02.example.net>';
  const hit = await fired(`${BASE}\n${id}`);
  const miss = await fired(
    `${BASE}\n${id}\nX-Mailer: Microsoft Outlook Express 6.00.2600.0000\nX-MimeOLE: Produced By Microsoft MimeOLE V6.00.2600.0000`,
  );
  check('MSGID_OE_NO_OUTLOOK', hit, miss);
  check('MSGID_RATWARE_ZEROES', hit, await fired(`${BASE}\nMessage-ID: <a1b2@example.org>`));
});

test('DATE_TZ_ABSURD: a zone of -1800 does not exist, +0530 does', async () => {
  const base = BASE.replace(/^Date:.*$/m, '');
  check(
    'DATE_TZ_ABSURD',
    await fired(`${base}\nDate: Thu, 22 Aug 2002 20:49:30 -1800`),
    await fired(`${base}\nDate: Thu, 22 Aug 2002 20:49:30 +0530`),
  );
});

test('RCVD_FORGED_BIG_ISP: a HELO naming a big provider from an address not its own', async () => {
  const forged =
    'Received: from smtp-gw-4.msn.com (200.173.221.83 [200.173.221.83]) by mx.example.net with SMTP id AB12; Sun, 1 Sep 2002 10:00:01 +0100';
  const real =
    'Received: from web10201.mail.yahoo.com (web10201.mail.yahoo.com [216.136.130.65]) by mx.example.net with SMTP id AB13; Sun, 1 Sep 2002 10:00:01 +0100';
  const noAddress =
    'Received: from dms-www1.netscape.com (dms-mailcaster-s06.netcenter.com) by dms-mail01.netcenter.com with SMTP id <22.0003F109@dms-mail01.netcenter.com>; Sun, 1 Sep 2002 10:00:01 +0100';
  check('RCVD_FORGED_BIG_ISP', await fired(`${forged}\n${BASE}`), await fired(`${real}\n${BASE}`));
  assert.ok(!(await fired(`${noAddress}\n${BASE}`)).includes('RCVD_FORGED_BIG_ISP'));
});

test('RCVD_HELO_BARE_IP: a public IP as HELO, but not a NATed client or webmail', async () => {
  const bare =
    'Received: from 52.25.36.25 (host22.example.com [216.91.88.22]) by mx.example.net with SMTP id X1; Sun, 1 Sep 2002 10:00:01 +0100';
  const nat =
    'Received: from 192.168.1.2 (smtp.example.edu [216.204.12.219]) by mx.example.net with ESMTP id X2; Sun, 1 Sep 2002 10:00:01 +0100';
  const webmail =
    'Received: from 194.125.220.138 (SquirrelMail authenticated user ann) by www.example.org with HTTP; Sun, 1 Sep 2002 10:00:01 +0100';
  check('RCVD_HELO_BARE_IP', await fired(`${bare}\n${BASE}`), await fired(`${nat}\n${BASE}`));
  assert.ok(!(await fired(`${webmail}\n${BASE}`)).includes('RCVD_HELO_BARE_IP'));
});

test('XMAILER_CDO, XLIBRARY_INDY, XPRIORITY_NO_MUA: mailing components, not mail programs', async () => {
  const plain = await fired(`${BASE}\nX-Mailer: Mozilla 4.79 [en] (X11; U; Linux)`);
  check('XMAILER_CDO', await fired(`${BASE}\nX-Mailer: Microsoft CDO for Windows 2000`), plain);
  check('XLIBRARY_INDY', await fired(`${BASE}\nX-Library: Indy 8.0.25`), plain);
  check(
    'XPRIORITY_NO_MUA',
    await fired(`${BASE}\nX-Priority: 3`),
    await fired(`${BASE}\nX-Priority: 3\nX-Mailer: Mozilla 4.79 [en] (X11; U; Linux)`),
  );
});

test('FROM_NAME_SALES_DEPT: a department as sender name, not a person named Sales', async () => {
  const base = BASE.replace(/^From:.*$/m, '');
  check(
    'FROM_NAME_SALES_DEPT',
    await fired(`${base}\nFrom: "Sales Department" <info@example.com>`),
    await fired(`${base}\nFrom: "Jane Sales" <jane@example.com>`),
  );
});

test('HTML_NO_HTML_TAG: an HTML-only body without <html>', async () => {
  const html = `${BASE}\nMIME-Version: 1.0\nContent-Type: text/html; charset=us-ascii`;
  check(
    'HTML_NO_HTML_TAG',
    await fired(html, '<p>Great <b>deals</b> inside</p>\n'),
    await fired(html, '<html><body><p>Minutes of the meeting</p></body></html>\n'),
  );
});

test('sales phrases: toll-free, guarantee, no cost, dear stranger', async () => {
  const ham = await fired(BASE, 'Hi Bob,\n\nthe build is green again, thanks for the fix.\n');
  check('BODY_TOLL_FREE', await fired(BASE, 'Call us on 1-888-555-0134 today.\n'), ham);
  check('BODY_GUARANTEE', await fired(BASE, 'Try it risk-free for 30 days.\n'), ham);
  check('BODY_NO_COST', await fired(BASE, 'Quotes come with no obligation.\n'), ham);
  check('BODY_DEAR_STRANGER', await fired(BASE, 'Dear Sir or Madam,\n\nwe sell.\n'), ham);
});

test('ADVANCE_FEE_PHRASES: three 419 phrasings, not one', async () => {
  check(
    'ADVANCE_FEE_PHRASES',
    await fired(
      BASE,
      'Dear friend, I am a highly placed official and I contact you through this medium in utmost confidentiality.\n',
    ),
    await fired(BASE, 'Kindly review the attached agenda before Monday.\n'),
  );
});

test('MSGID_RELAY_PITCH: a relay wrote the Message-ID of a sales pitch', async () => {
  const relayed = `Received: from client.example.net (client.example.net [198.51.100.7]) by relay.example.org (8.11.6/8.11.6) with ESMTP id g7NIh1Z03950; Sun, 1 Sep 2002 10:00:01 +0100
${BASE}
Message-Id: <200209010900.g7NIh1Z03950@relay.example.org>`;
  const local = relayed.replace(
    'from client.example.net (client.example.net [198.51.100.7])',
    'from localhost (localhost [127.0.0.1])',
  );
  const pitch = 'Best rates.\n\nTo be removed from our list, reply with REMOVE in the subject.\n';
  check('MSGID_RELAY_PITCH', await fired(relayed, pitch), await fired(local, pitch));
});

test('RATWARE_MANY: three bulk-tool fingerprints together, not one', async () => {
  const one = `${BASE}\nX-Priority: 3`;
  const three = `${BASE.replace(/\+0100$/m, '-1800')}\nMessage-ID: <0001a2b3$0004c5d6$0007e8f9@mx.example.net>\nX-Priority: 3`;
  check('RATWARE_MANY', await fired(three), await fired(one));
});

test('FORGED_FREEMAIL_FROM: a webmail sender that webmail never relayed', async () => {
  const base = BASE.replace(/^From:.*$/m, 'From: Ann <ann1977@hotmail.com>');
  const foreign =
    'Received: from mx.example.biz (mx.example.biz [203.0.113.9]) by mx.example.net with SMTP id Q1; Sun, 1 Sep 2002 10:00:01 +0100';
  const hotmail =
    'Received: from hotmail.com (f12.law9.hotmail.com [64.4.8.12]) by mx.example.net with ESMTP id Q2; Sun, 1 Sep 2002 10:00:01 +0100';
  check(
    'FORGED_FREEMAIL_FROM',
    await fired(`${foreign}\n${base}`),
    await fired(`${hotmail}\n${base}`),
  );
});

test('MIME_OE_BOUNDARY_NO_OUTLOOK: an Outlook boundary without Outlook', async () => {
  const mime = `${BASE}\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="----=_NextPart_000_0037_01C24D21.FF37C620"`;
  const body =
    '------=_NextPart_000_0037_01C24D21.FF37C620\nContent-Type: text/plain\n\nhi\n------=_NextPart_000_0037_01C24D21.FF37C620--\n';
  check(
    'MIME_OE_BOUNDARY_NO_OUTLOOK',
    await fired(mime, body),
    await fired(`${mime}\nX-Mailer: Microsoft Outlook Express 6.00.2600.0000`, body),
  );
});

test('RATWARE_LOTS: five bulk-tool fingerprints together, not three', async () => {
  const three = `${BASE.replace(/\+0100$/m, '-1800')}\nMessage-ID: <0001a2b3$0004c5d6$0007e8f9@mx.example.net>\nX-Priority: 3`;
  const five = `Received: from 52.25.36.25 (host22.example.com [216.91.88.22]) by mx.example.net with SMTP id X1; Sun, 1 Sep 2002 10:00:01 +0100\n${three}\nX-Library: Indy 8.0.25`;
  check('RATWARE_LOTS', await fired(five), await fired(three));
});

test("MSGID_RELAY_PITCH: not when the sender's own mail host handed the message over", async () => {
  const own = `Received: from mail1.example.org (mail1.example.org [198.51.100.8]) by relay.example.net (8.11.6/8.11.6) with ESMTP id g7NIh1Z03951; Sun, 1 Sep 2002 10:00:01 +0100
${BASE}
Message-Id: <200209010900.g7NIh1Z03951@relay.example.net>`;
  const pitch = 'Best rates.\n\nTo be removed from our list, reply with REMOVE in the subject.\n';
  const foreign = own.replace(
    'from mail1.example.org (mail1.example.org',
    'from client.example.biz (client.example.biz',
  );
  check('MSGID_RELAY_PITCH', await fired(foreign, pitch), await fired(own, pitch));
});

test('XMAILER_CDO, XPRIORITY_NO_MUA: narrowed to what newsletter servers do not send', async () => {
  const exchange = await fired(
    `${BASE}\nX-Mailer: Microsoft CDO for Exchange 2000\nX-MimeOLE: Produced By Microsoft MimeOLE V6.00.2600.0000`,
  );
  check('XMAILER_CDO', await fired(`${BASE}\nX-Mailer: Microsoft CDO for Windows 2000`), exchange);
  // X-MSMail-Priority is FORGED_MSMAIL_PRIORITY's evidence; the pair is not counted twice.
  check(
    'XPRIORITY_NO_MUA',
    await fired(`${BASE}\nX-Priority: 3`),
    await fired(`${BASE}\nX-Priority: 3 (Normal)\nX-MSMail-Priority: Normal`),
  );
});

test('MIME_OE_BOUNDARY_NO_OUTLOOK: a list manager\'s bare "_NextPart_" is not Outlook\'s', async () => {
  const mime = `${BASE}\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="_NextPart_1_bvfoDiTVghto"`;
  const body =
    '--_NextPart_1_bvfoDiTVghto\nContent-Type: text/plain\n\nhi\n--_NextPart_1_bvfoDiTVghto--\n';
  assert.ok(!(await fired(mime, body)).includes('MIME_OE_BOUNDARY_NO_OUTLOOK'));
});

/**
 * Legitimate commercial mail (newsletters, alerts) must not add up to spam through rules that
 * misfire on it, while the lures those rules are for still fire. Messages written here,
 * modelled on the hard ham of the corpus protocol (issue 4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CORPUS_ERA_NOW, firedSymbols } from './test-support.js';
import { createRuleScanner, RULE_CATALOGUE } from './index.js';

const fired = (headers: string, body: string): Promise<string[]> => firedSymbols(headers, body);

const HEAD = `From: Tech Alerts <alerts@news.example.com>
To: reader@example.net
Subject: This week in support
Date: Sun, 01 Sep 2002 10:00:00 +0100
Message-ID: <20020901100000.1234@news.example.com>
MIME-Version: 1.0`;
const HTML = 'Content-Type: text/html; charset="us-ascii"';

function check(symbol: string, hit: string[], miss: string[]): void {
  assert.ok(hit.includes(symbol), `${symbol} should fire, got ${hit.join(' ')}`);
  assert.ok(!miss.includes(symbol), `${symbol} should not fire, got ${miss.join(' ')}`);
}

test('PHISH_PASSWORD_EXPIRY: a lure with a deadline, not a help-article title', async () => {
  const lure = await fired(
    HEAD,
    'Your password expires today. Keep using it: http://198.51.100.7/keep\n',
  );
  const later = await fired(HEAD, 'Your mailbox password will expire in 2 days.\n');
  const title = await fired(
    `${HEAD}\n${HTML}`,
    '<html><body><ul><li><a href="http://kb.example.com/redir?q=1">How to Log On If You Forget Your Password or Your Password Expires (Q321305)</a></li></ul></body></html>\n',
  );
  check('PHISH_PASSWORD_EXPIRY', lure, title);
  assert.ok(later.includes('PHISH_PASSWORD_EXPIRY'), later.join(' '));
});

test('LINK_TEXT_BRAND_MISMATCH: an address shown as link text, not a headline naming it', async () => {
  const phish = await fired(
    `${HEAD}\n${HTML}`,
    '<html><body><a href="http://secure-login.example.net/x">www.paypal.com</a></body></html>\n',
  );
  const headline = await fired(
    `${HEAD}\n${HTML}`,
    '<html><body><a href="http://clickthru.example.com/Click?q=2c">PayPal.com sour on sweetened bid</a></body></html>\n',
  );
  check('LINK_TEXT_BRAND_MISMATCH', phish, headline);
});

test('LINES_ALL_CAPS: not again when the whole text is in capitals (BODY_EXCESS_CAPS)', async () => {
  const line =
    'THE NATIONAL WEATHER SERVICE HAS ISSUED A SEVERE THUNDERSTORM WARNING FOR THE COUNTY\n';
  const alert = await fired(HEAD, line.repeat(8));
  assert.ok(alert.includes('BODY_EXCESS_CAPS'), alert.join(' '));
  assert.ok(!alert.includes('LINES_ALL_CAPS'), alert.join(' '));
  const shouts = await fired(
    HEAD,
    `${'Dear reader, this is an ordinary sentence in ordinary letters for you.\n'.repeat(8)}${line.repeat(3)}`,
  );
  assert.ok(shouts.includes('LINES_ALL_CAPS'), shouts.join(' '));
});

test('FORGED_MSMAIL_PRIORITY: a named non-Microsoft program, not a nameless HTML sender', async () => {
  const priority = 'X-Priority: 3 (Normal)\nX-MSMail-Priority: Normal';
  const named = await fired(`${HEAD}\n${priority}\nX-Mailer: Mailer Pro 4.2`, 'Hello there.\n');
  const nameless = await fired(
    `${HEAD}\n${priority}\n${HTML}`,
    '<html><body>Scores</body></html>\n',
  );
  check('FORGED_MSMAIL_PRIORITY', named, nameless);
  assert.ok(nameless.includes('MISSING_MUA_HTML'), nameless.join(' '));
});

test('RCVD_FROM_SENDER_DOMAIN: the newest public hop is the sender domain’s own server', async () => {
  const own =
    'Received: from mail1.example.com (mail1.example.com [192.0.2.10]) by mx.example.net (8.12.2) with ESMTP id g81; Sun, 1 Sep 2002 10:00:01 +0100';
  const local =
    'Received: from localhost (localhost [127.0.0.1]) by mx.example.net with ESMTP id g82; Sun, 1 Sep 2002 10:00:02 +0100';
  const other =
    'Received: from relay.example.org (relay.example.org [198.51.100.4]) by mx.example.net with ESMTP id g83; Sun, 1 Sep 2002 10:00:01 +0100';
  const dynamic =
    'Received: from pc (192-0-2-10.dsl.example.com [192.0.2.10]) by mx.example.net with SMTP id g84; Sun, 1 Sep 2002 10:00:01 +0100';
  const body = 'This week in support.\n';
  check(
    'RCVD_FROM_SENDER_DOMAIN',
    await fired(`${local}\n${own}\n${HEAD}`, body),
    // A line naming the sender's server below the real hand-over is not believed.
    await fired(`${other}\n${own}\n${HEAD}`, body),
  );
  assert.ok(!(await fired(`${dynamic}\n${HEAD}`, body)).includes('RCVD_FROM_SENDER_DOMAIN'));
  const webmail = `${own.replaceAll('example.com', 'yahoo.com')}\n${HEAD.replace('news.example.com>', 'yahoo.com>')}`;
  assert.ok(!(await fired(webmail, body)).includes('RCVD_FROM_SENDER_DOMAIN'));
  assert.ok((RULE_CATALOGUE.get('RCVD_FROM_SENDER_DOMAIN')?.score ?? 0) < 0);
});

test('HTML structure alone (form, script, frame, entities) adds nothing by default', async () => {
  const page =
    '<html><body><form action="https://news.example.com/s"><input name="q"></form>' +
    '<script>var a=1;</script><iframe src="https://news.example.com/ad"></iframe>' +
    '<p>&#104;&#101;&#108;&#108;&#111;&#33;&#104;&#101;&#108;&#108;&#111;</p></body></html>\n';
  const symbols = await fired(`${HEAD}\nX-Mailer: NewsMailer 2\n${HTML}`, page);
  for (const s of ['HTML_FORM', 'HTML_SCRIPT', 'HTML_IFRAME', 'HTML_ENTITY_OBFUSCATION']) {
    assert.ok(!symbols.includes(s), `${s} in ${symbols.join(' ')}`);
    assert.equal(RULE_CATALOGUE.get(s)?.score, 0, s);
  }
  // Still there for administrators who want them.
  const on = createRuleScanner({ now: () => CORPUS_ERA_NOW, scores: { HTML_FORM: 0.3 } });
  assert.ok((await firedSymbols(`${HEAD}\n${HTML}`, page, on)).includes('HTML_FORM'));
});

test('CHARSET_FARAWAY_BODY: not again when the Subject is in that charset too', async () => {
  const jp = 'Content-Type: text/plain; charset="iso-2022-jp"';
  const subject = 'Subject: =?iso-2022-jp?B?GyRCRnxLXDhsGyhC?=';
  const both = await fired(`${HEAD.replace(/^Subject:.*$/m, subject)}\n${jp}`, 'Hello.\n');
  assert.ok(both.includes('CHARSET_FARAWAY_HEADER'), both.join(' '));
  check('CHARSET_FARAWAY_BODY', await fired(`${HEAD}\n${jp}`, 'Hello.\n'), both);
});

/**
 * Issue 2: "each split at every chunk boundary". A whole pipelined conversation (two messages,
 * dot-stuffing, XFORWARD) fed to the session in two pieces, cut at every byte, gives the same
 * replies and re-injects the same messages as when fed whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpSession } from './session.js';
import { FakePipeline } from './test-support.js';
import type { MessageReinjector } from './reinject-client.js';
import { smtpReply } from './reply.js';

const CONVERSATION = [
  'EHLO mta.example',
  'XFORWARD NAME=client.example ADDR=192.0.2.7 PROTO=ESMTP HELO=client.example',
  'MAIL FROM:<a@example.org> SIZE=64',
  'RCPT TO:<b@example.net>',
  'DATA',
  'Subject: one',
  'X-Long: a',
  '\tfolded',
  '',
  '..leading dot',
  'body',
  '.',
  'MAIL FROM:<> BODY=8BITMIME',
  'RCPT TO:<c@example.net> NOTIFY=NEVER',
  'RCPT TO:<d@example.net>',
  'DATA',
  'Subject: two',
  '',
  '.',
  'QUIT',
  '',
].join('\r\n');

async function play(pieces: readonly Buffer[]): Promise<{ replies: string; delivered: string[] }> {
  const delivered: string[] = [];
  const reinjector: MessageReinjector = {
    reinject: async (message) => {
      const env = message.envelope;
      delivered.push(
        `${env.client.address ?? ''}|${env.mailFrom?.address ?? ''}|${env.recipients
          .map((r) => r.address)
          .join(
            ',',
          )}|${(await message.toBuffer()).toString('latin1').replace(/X-Parapet-Id: \w+/, 'ID')}`,
      );
      return { reply: smtpReply(250, '2.0.0', 'Ok'), queueId: null };
    },
    close: () => Promise.resolve(),
  };
  let replies = '';
  const session = new SmtpSession(
    {},
    {
      pipeline: new FakePipeline(),
      reinjector,
      client: { address: '127.0.0.1', port: 1, name: null },
      transport: {
        write: (d) => {
          replies += d;
        },
        close: () => undefined,
      },
    },
  );
  await session.start();
  for (const piece of pieces) await session.feed(piece);
  await session.abort();
  return { replies: replies.replace(/parapet \w+/g, 'parapet ID'), delivered };
}

test('the session gives the same replies and messages for every split of a transcript', async () => {
  const stream = Buffer.from(CONVERSATION, 'latin1');
  const whole = await play([stream]);
  assert.equal(whole.delivered.length, 2);
  assert.match(whole.delivered[0] ?? '', /^192\.0\.2\.7\|a@example\.org\|b@example\.net\|/);
  assert.match(whole.delivered[0] ?? '', /\r\n\.leading dot\r\n/);
  assert.match(whole.replies, /^221 /m);
  for (let at = 1; at < stream.length; at++) {
    const split = await play([stream.subarray(0, at), stream.subarray(at)]);
    assert.deepEqual(split, whole, `split at byte ${at}`);
  }
});

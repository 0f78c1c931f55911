import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParapetError } from '../errors.js';
import { smtpReply } from '../smtp/reply.js';
import {
  MilterCommandCode,
  MilterReplyCode,
  decodeMilterCommand,
  decodeMilterReply,
  encodeMilterCommand,
  encodeMilterFrame,
  encodeMilterReply,
  formatMilterReplyText,
  milterCommandName,
  milterReplyName,
  type MilterCommand,
  type MilterFrame,
  type MilterReply,
} from './wire.js';

/** Splits one encoded frame back into code + payload, checking the length prefix. */
function unframe(buf: Buffer): MilterFrame {
  assert.equal(buf.readUInt32BE(0), buf.length - 4);
  return { code: buf[4]!, payload: buf.subarray(5) };
}

const commands: MilterCommand[] = [
  { kind: 'optneg', version: 6, actions: 0x1ff, protocol: 0x1fffff },
  {
    kind: 'macro',
    stage: MilterCommandCode.Connect,
    macros: [
      ['j', 'mx.example'],
      ['{daemon_name}', 'smtpd'],
    ],
  },
  { kind: 'macro', stage: MilterCommandCode.EndOfMessage, macros: [] },
  {
    kind: 'connect',
    hostname: 'client.example',
    family: 'inet',
    port: 40001,
    address: '192.0.2.7',
  },
  { kind: 'connect', hostname: '[2001:db8::1]', family: 'inet6', port: 25, address: '2001:db8::1' },
  { kind: 'connect', hostname: 'localhost', family: 'unix', port: 0, address: '/run/x.sock' },
  { kind: 'connect', hostname: 'unknown', family: 'unknown', port: null, address: null },
  { kind: 'helo', name: 'client.example' },
  { kind: 'mail', args: ['<a@example.org>', 'SIZE=100', 'BODY=8BITMIME'] },
  { kind: 'rcpt', args: ['<b@example.net>'] },
  { kind: 'data' },
  { kind: 'header', name: 'Subject', value: Buffer.from(' Hello\n\tworld') },
  { kind: 'eoh' },
  { kind: 'body', chunk: Buffer.from('line 1\r\nline 2\r\n') },
  { kind: 'eom', chunk: Buffer.alloc(0) },
  { kind: 'abort' },
  { kind: 'quit' },
  { kind: 'quitNc' },
  { kind: 'unknown', command: 'XYZZY foo' },
];

test('every command survives encode → decode', () => {
  for (const cmd of commands) {
    assert.deepEqual(decodeMilterCommand(unframe(encodeMilterCommand(cmd))), cmd, cmd.kind);
  }
});

const replies: MilterReply[] = [
  { kind: 'optneg', version: 6, actions: 0x1ff, protocol: 0x300, symbolLists: [] },
  {
    kind: 'optneg',
    version: 6,
    actions: 0x100,
    protocol: 0,
    symbolLists: [{ stage: 2, macros: 'i {auth_authen}' }],
  },
  { kind: 'accept' },
  { kind: 'continue' },
  { kind: 'discard' },
  { kind: 'reject' },
  { kind: 'tempfail' },
  { kind: 'shutdown' },
  { kind: 'connectionFail' },
  { kind: 'progress' },
  { kind: 'skip' },
  { kind: 'replyCode', text: '550 5.7.1 No' },
  { kind: 'addHeader', name: 'X-Parapet-Id', value: 'abc' },
  { kind: 'insertHeader', index: 0, name: 'X-Top', value: 'first' },
  { kind: 'changeHeader', index: 2, name: 'Subject', value: '' },
  { kind: 'addRecipient', address: '<c@example.com>' },
  { kind: 'addRecipientWithArgs', address: '<c@example.com>', args: 'NOTIFY=NEVER' },
  { kind: 'deleteRecipient', address: '<b@example.net>' },
  { kind: 'changeFrom', address: '<new@example.org>', args: null },
  { kind: 'changeFrom', address: '<new@example.org>', args: 'SIZE=1' },
  { kind: 'replaceBody', chunk: Buffer.from('new body\r\n') },
  { kind: 'quarantine', reason: 'held' },
  { kind: 'setSymbolList', stage: 5, macros: 'i' },
];

test('every reply survives encode → decode', () => {
  for (const reply of replies) {
    assert.deepEqual(decodeMilterReply(unframe(encodeMilterReply(reply))), reply, reply.kind);
  }
});

test('reply codes on the wire are the sendmail letters', () => {
  assert.equal(encodeMilterReply({ kind: 'addHeader', name: 'a', value: 'b' })[4], 0x68); // 'h'
  assert.equal(encodeMilterReply({ kind: 'accept' })[4], 'a'.charCodeAt(0));
  assert.equal(encodeMilterReply({ kind: 'replyCode', text: '451 4.0.0 x' })[4], 'y'.charCodeAt(0));
  assert.equal(MilterReplyCode.AddRecipientWithArgs, '2'.charCodeAt(0));
  assert.equal(MilterCommandCode.QuitNewConnection, 'K'.charCodeAt(0));
});

test('name tables print spec names for logs', () => {
  assert.equal(milterCommandName(0x52), 'SMFIC_RCPT');
  assert.equal(milterCommandName(0x45), 'SMFIC_BODYEOB');
  assert.equal(milterReplyName(0x68), 'SMFIR_ADDHEADER');
  assert.equal(milterCommandName(0x01), 'SMFIC_? 0x01');
});

test('malformed payloads are ERR_MILTER_FRAME_INVALID', () => {
  const bad: MilterFrame[] = [
    { code: MilterCommandCode.OptionNegotiation, payload: Buffer.alloc(11) },
    { code: MilterCommandCode.Helo, payload: Buffer.from('no-nul') },
    { code: MilterCommandCode.Mail, payload: Buffer.alloc(0) },
    { code: MilterCommandCode.Connect, payload: Buffer.from('h\0X') },
    { code: MilterCommandCode.Connect, payload: Buffer.from('h\x004\x00') },
    { code: MilterCommandCode.Macro, payload: Buffer.from('Cname\0') },
    { code: MilterCommandCode.Header, payload: Buffer.from('Subject\0x') },
    { code: MilterCommandCode.Abort, payload: Buffer.from('x') },
    { code: 0x7a, payload: Buffer.alloc(0) },
  ];
  for (const frame of bad) {
    assert.throws(
      () => decodeMilterCommand(frame),
      (err: unknown) => err instanceof ParapetError && err.code === 'ERR_MILTER_FRAME_INVALID',
      milterCommandName(frame.code),
    );
  }
});

test('strings with NUL cannot be encoded', () => {
  assert.throws(
    () => encodeMilterReply({ kind: 'addHeader', name: 'X', value: 'a\0b' }),
    ParapetError,
  );
});

test('REPLBODY chunks over 65535 bytes are refused by the encoder', () => {
  assert.throws(
    () => encodeMilterReply({ kind: 'replaceBody', chunk: Buffer.alloc(65536) }),
    ParapetError,
  );
});

test('frames carry length = code + payload', () => {
  const frame = encodeMilterFrame(0x63);
  assert.deepEqual([...frame], [0, 0, 0, 1, 0x63]);
});

test('reply text: enhanced code, multi-line, percent doubled', () => {
  assert.equal(formatMilterReplyText(smtpReply(550, '5.7.1', 'Rejected')), '550 5.7.1 Rejected');
  assert.equal(formatMilterReplyText(smtpReply(451, null, 'later')), '451 4.0.0 later');
  assert.equal(formatMilterReplyText(smtpReply(550, '4.7.1', 'mismatch')), '550 5.0.0 mismatch');
  assert.equal(formatMilterReplyText(smtpReply(550, '5.7.1', '100% spam')), '550 5.7.1 100%% spam');
  assert.equal(
    formatMilterReplyText(smtpReply(550, '5.7.1', 'one\ntwo')),
    '550-5.7.1 one\r\n550 5.7.1 two',
  );
});

// Pure parts of the e2e harness: dot-stuffing, corpus normalization, smtp-sink dump parsing
// and the delivery comparison. No Postfix needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeCorpusMessage } from './corpus.js';
import { findDeliveryProblems, headerValues, parseSinkDump } from './delivery-check.js';
import type { DeliveryReport } from './delivery-check.js';
import { addSequenceHeader, dotStuff } from './smtp-send.js';

test('dotStuff doubles leading dots and terminates with CRLF.CRLF', () => {
  assert.equal(dotStuff(Buffer.from('.a\r\nb\r\n..c\r\n')).toString(), '..a\r\nb\r\n...c\r\n.\r\n');
  assert.equal(dotStuff(Buffer.from('x\r\n.\r\n')).toString(), 'x\r\n..\r\n.\r\n');
  assert.equal(dotStuff(Buffer.from('no end')).toString(), 'no end\r\n.\r\n');
});

test('addSequenceHeader puts the header first', () => {
  assert.equal(
    addSequenceHeader(Buffer.from('A: b\r\n'), 'X-E2E-Seq', 7).toString(),
    'X-E2E-Seq: 7\r\nA: b\r\n',
  );
});

test('normalizeCorpusMessage drops the mbox From line and makes CRLF', () => {
  const raw = Buffer.from('From a@b  Thu Aug 22 2002\nSubject: s\n\nbody\r\nmore');
  assert.equal(normalizeCorpusMessage(raw).toString(), 'Subject: s\r\n\r\nbody\r\nmore\r\n');
});

const dump = [
  'X-Client-Addr: 127.0.0.1',
  'X-Client-Proto: ESMTP',
  'X-Helo-Args: mta.e2e.test',
  'X-Mail-Args: <a@x.test> BODY=8BITMIME',
  'X-Rcpt-Args: <b@y.test> ORCPT=rfc822;b@y.test',
  'X-Rcpt-Args: <c@y.test>',
  'Received: from mta.e2e.test ([127.0.0.1])',
  '\tby smtp-sink (smtp-sink) with ESMTP id 1;',
  '\tSat, 21 Nov 2026 22:09:59 +0000 (UTC)',
  'Received: from client (localhost [127.0.0.1])',
  '\tby mta.e2e.test (Postfix) with ESMTP id ABC',
  'X-E2E-Seq: 3',
  'X-Parapet-Id: p-1',
  'Subject: folded',
  ' subject',
  '',
  'X-Not-A-Header: body',
  '',
].join('\n');

test('parseSinkDump separates smtp-sink envelope and Received from the message', () => {
  const d = parseSinkDump(Buffer.from(dump), 'm.1');
  assert.equal(d.clientAddr, '127.0.0.1');
  assert.equal(d.mailArgs, '<a@x.test> BODY=8BITMIME');
  assert.deepEqual(d.rcptArgs, ['<b@y.test> ORCPT=rfc822;b@y.test', '<c@y.test>']);
  const first = d.headers[0];
  assert.ok(first);
  assert.equal(first.name, 'Received');
  assert.match(first.value, /by mta\.e2e\.test \(Postfix\)/);
  assert.deepEqual(headerValues(d, 'x-e2e-seq'), ['3']);
  assert.deepEqual(headerValues(d, 'Subject'), ['folded subject']);
  assert.deepEqual(headerValues(d, 'X-Not-A-Header'), []);
  assert.ok(d.message.toString().startsWith('Received: from client'));
});

test('findDeliveryProblems reports missing, duplicated, unexpected and header problems', () => {
  const report: DeliveryReport = {
    total: 5,
    bySeq: new Map([
      [0, { count: 1, files: ['a'], values: [['id0']] }],
      [1, { count: 2, files: ['b', 'c'], values: [['id1'], ['id1']] }],
      [2, { count: 1, files: ['d'], values: [[]] }],
      [9, { count: 1, files: ['e'], values: [['id9']] }],
    ]),
    withoutSeq: [],
    deliveries: [],
  };
  assert.deepEqual(findDeliveryProblems(report, [0, 1, 2, 3], { requireHeader: true }), {
    ok: false,
    missing: [3],
    duplicated: [1],
    unexpected: [9],
    headerProblems: [2],
  });
});

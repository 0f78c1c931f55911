import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, evaluateSync, toContractJson } from './index.js';

const MSG = 'From: a@example.org\r\nSubject: x\r\nX-A: 1\r\n\r\nbody\r\n';

test('contract JSON: exact shapes and key order (CONTRACTS.md "Sieve evaluation output")', () => {
  const r = compile(
    'require ["fileinto","copy","imap4flags","editheader","vacation"];\n' +
      'addheader "X-B" "2"; deleteheader "X-A";\n' +
      'fileinto :copy :flags ["\\\\Seen","Work"] "Box"; redirect "r@example.net";\n' +
      'vacation :days 2 :subject "S" :from "me@example.org" "away"; keep :flags "K";',
  );
  if (!r.ok) throw new Error('expected a valid script');
  const json = JSON.stringify(toContractJson(evaluateSync(r.script, { message: MSG })));
  assert.equal(
    json,
    '{"valid":true,"runtime_error":false,"actions":[' +
      '{"type":"addheader","name":"X-B","value":"2"},' +
      '{"type":"deleteheader","name":"X-A","deleted":1},' +
      '{"type":"fileinto","mailbox":"Box","copy":true,"flags":["\\\\seen","Work"]},' +
      '{"type":"redirect","address":"r@example.net","copy":false},' +
      '{"type":"vacation","seconds":172800,"subject":"S","from":"me@example.org","reason":"away"},' +
      '{"type":"keep","flags":["K"]}]}',
  );
});

test('contract JSON: discard, reject, runtime error and invalid script', () => {
  const discard = compile('discard;');
  if (!discard.ok) throw new Error('expected a valid script');
  assert.equal(
    JSON.stringify(toContractJson(evaluateSync(discard.script, { message: MSG }))),
    '{"valid":true,"runtime_error":false,"actions":[{"type":"discard"}]}',
  );
  const reject = compile('require "reject"; reject "no thanks";');
  if (!reject.ok) throw new Error('expected a valid script');
  assert.equal(
    JSON.stringify(toContractJson(evaluateSync(reject.script, { message: MSG }))),
    '{"valid":true,"runtime_error":false,"actions":[{"type":"reject","reason":"no thanks"}]}',
  );
  const conflict = compile('require "reject"; reject "x"; keep;');
  if (!conflict.ok) throw new Error('expected a valid script');
  assert.equal(
    JSON.stringify(toContractJson(evaluateSync(conflict.script, { message: MSG }))),
    '{"valid":true,"runtime_error":true,"actions":[{"type":"keep","flags":[]}]}',
  );
  const bad = compile('keep');
  assert.equal(
    JSON.stringify(toContractJson(bad)),
    '{"valid":false,"errors":[{"line":1,"column":5,"code":"ERR_SIEVE_SYNTAX","message":"expected \';\' or \'{\', but found end of script"}]}',
  );
});

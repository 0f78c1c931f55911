import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CommandLineReader,
  decodeXtext,
  encodeXtext,
  parseEsmtpParams,
  parseSmtpCommand,
  parseXforwardValue,
  validateMailParams,
  validateRcptParams,
} from './command-parser.js';

const ext = { maxMessageBytes: 1000, dsn: true };

describe('parseSmtpCommand', () => {
  it('parses EHLO, HELO and LHLO with a domain', () => {
    assert.deepEqual(parseSmtpCommand('EHLO mx.example.org'), {
      kind: 'helo',
      verb: 'EHLO',
      domain: 'mx.example.org',
    });
    assert.equal(parseSmtpCommand('helo [127.0.0.1]').kind, 'helo');
    assert.deepEqual(parseSmtpCommand('LHLO x'), { kind: 'helo', verb: 'LHLO', domain: 'x' });
  });

  it('refuses EHLO without a domain with 501 5.5.4', () => {
    const c = parseSmtpCommand('EHLO');
    assert.ok(c.kind === 'invalid');
    assert.equal(c.reply.code, 501);
  });

  it('parses MAIL FROM with parameters, upper-casing keywords', () => {
    assert.deepEqual(parseSmtpCommand('MAIL FROM:<a@b.example> size=123 BODY=8BITMIME SMTPUTF8'), {
      kind: 'mail',
      address: 'a@b.example',
      args: { SIZE: '123', BODY: '8BITMIME', SMTPUTF8: true },
    });
  });

  it('accepts the null sender, a space after the colon and a source route', () => {
    assert.deepEqual(parseSmtpCommand('MAIL FROM:<>'), { kind: 'mail', address: '', args: {} });
    assert.deepEqual(parseSmtpCommand('MAIL FROM: <x@y>'), {
      kind: 'mail',
      address: 'x@y',
      args: {},
    });
    assert.deepEqual(parseSmtpCommand('RCPT TO:<@relay.example:u@d.example>'), {
      kind: 'rcpt',
      address: 'u@d.example',
      args: {},
    });
  });

  it('keeps quoted local parts with > and spaces', () => {
    assert.deepEqual(parseSmtpCommand('RCPT TO:<"a> b"@c.example> NOTIFY=NEVER'), {
      kind: 'rcpt',
      address: '"a> b"@c.example',
      args: { NOTIFY: 'NEVER' },
    });
  });

  it('refuses RCPT TO:<> and a missing TO:', () => {
    assert.equal(parseSmtpCommand('RCPT TO:<>').kind, 'invalid');
    assert.equal(parseSmtpCommand('RCPT <a@b>').kind, 'invalid');
    assert.equal(parseSmtpCommand('MAIL FROM:<a@b').kind, 'invalid');
  });

  it('maps DATA, RSET, NOOP, QUIT and unknown verbs', () => {
    assert.deepEqual(parseSmtpCommand('data'), { kind: 'data' });
    assert.deepEqual(parseSmtpCommand('RSET'), { kind: 'rset' });
    assert.deepEqual(parseSmtpCommand('NOOP hello'), { kind: 'noop' });
    assert.deepEqual(parseSmtpCommand('QUIT'), { kind: 'quit' });
    assert.deepEqual(parseSmtpCommand('VRFY root'), { kind: 'unknown', verb: 'VRFY' });
    assert.deepEqual(parseSmtpCommand('HELP'), { kind: 'unknown', verb: 'HELP' });
    assert.equal(parseSmtpCommand('DATA now').kind, 'invalid');
    assert.equal(parseSmtpCommand('').kind, 'invalid');
  });

  it('refuses bytes that are not UTF-8', () => {
    assert.equal(parseSmtpCommand(Buffer.from([0x4d, 0xff, 0x41])).kind, 'invalid');
  });

  it('parses XFORWARD attributes with xtext and placeholders', () => {
    const c = parseSmtpCommand(
      'XFORWARD NAME=spike.example ADDR=IPv6:2001:db8::1 helo=a+20b PROTO=[unavailable] IDENT=[TEMPUNAVAIL]',
    );
    assert.deepEqual(c, {
      kind: 'xforward',
      attributes: [
        { name: 'NAME', value: { kind: 'value', text: 'spike.example' } },
        { name: 'ADDR', value: { kind: 'value', text: 'IPv6:2001:db8::1' } },
        { name: 'HELO', value: { kind: 'value', text: 'a b' } },
        { name: 'PROTO', value: { kind: 'unavailable' } },
        { name: 'IDENT', value: { kind: 'tempUnavailable' } },
      ],
    });
  });

  it('refuses XFORWARD with unknown attributes or no attributes', () => {
    assert.equal(parseSmtpCommand('XFORWARD FOO=bar').kind, 'invalid');
    assert.equal(parseSmtpCommand('XFORWARD').kind, 'invalid');
    assert.equal(parseSmtpCommand('XFORWARD NAME').kind, 'invalid');
  });
});

describe('ESMTP parameters', () => {
  it('parses and refuses bad syntax and duplicates', () => {
    assert.deepEqual(parseEsmtpParams('A=1 b'), { A: '1', B: true });
    assert.equal(parseEsmtpParams('A=1 a=2'), null);
    assert.equal(parseEsmtpParams('=x'), null);
    assert.equal(parseEsmtpParams('A='), null);
  });

  it('validates MAIL parameters against what we advertise', () => {
    assert.equal(validateMailParams('a@b', { SIZE: '999' }, ext), null);
    assert.equal(validateMailParams('a@b', { SIZE: '1001' }, ext)?.code, 552);
    assert.equal(validateMailParams('a@b', { SIZE: 'x' }, ext)?.code, 501);
    assert.equal(validateMailParams('a@b', { FOO: true }, ext)?.code, 555);
    assert.equal(validateMailParams('a@b', { RET: 'HDRS', ENVID: 'x+2B' }, ext), null);
    assert.equal(validateMailParams('a@b', { RET: 'HDRS' }, { ...ext, dsn: false })?.code, 555);
    assert.equal(validateMailParams('ü@b', {}, ext)?.code, 553);
    assert.equal(validateMailParams('ü@b', { SMTPUTF8: true }, ext), null);
  });

  it('validates RCPT parameters', () => {
    assert.equal(validateRcptParams('a@b', { NOTIFY: 'SUCCESS,FAILURE' }, ext, false), null);
    assert.equal(validateRcptParams('a@b', { NOTIFY: 'NEVER,SUCCESS' }, ext, false)?.code, 501);
    assert.equal(validateRcptParams('a@b', { ORCPT: 'rfc822;a@b' }, ext, false), null);
    assert.equal(validateRcptParams('a@b', { X: true }, ext, false)?.code, 555);
  });
});

describe('xtext', () => {
  it('round-trips', () => {
    for (const text of ['plain', 'a b=c+d', 'ünï', '[x]']) {
      assert.equal(decodeXtext(encodeXtext(text)), text);
    }
    assert.equal(encodeXtext('a=b+c d'), 'a+3Db+2Bc+20d');
    assert.equal(decodeXtext('a+2'), null);
  });

  it('takes unencoded pre-2.3 Postfix values as they are', () => {
    assert.deepEqual(parseXforwardValue('a+zz'), { kind: 'value', text: 'a+zz' });
    assert.equal(parseXforwardValue(''), null);
    assert.equal(parseXforwardValue('x'.repeat(256)), null);
  });
});

describe('CommandLineReader', () => {
  it('splits lines across chunks and strips CR', () => {
    const r = new CommandLineReader(100);
    assert.deepEqual(r.next(Buffer.from('EH')), { kind: 'partial' });
    const step = r.next(Buffer.from('LO x\r\nNOOP\r\n'));
    assert.ok(step.kind === 'line');
    assert.equal(step.line.toString(), 'EHLO x');
    const next = r.next(step.rest);
    assert.equal(next.kind === 'line' && next.line.toString(), 'NOOP');
  });

  it('reports a too long line once and drops it to the next LF', () => {
    const r = new CommandLineReader(10);
    assert.equal(r.next(Buffer.from('x'.repeat(20))).kind, 'tooLong');
    assert.equal(r.pendingBytes, 0);
    assert.deepEqual(r.next(Buffer.from('y'.repeat(50))), { kind: 'partial' });
    const step = r.next(Buffer.from('zz\r\nQUIT\r\n'));
    assert.equal(step.kind === 'line' && step.line.toString(), 'QUIT');
  });

  it('counts the CRLF in the limit', () => {
    const r = new CommandLineReader(6);
    assert.equal(r.next(Buffer.from('QUIT\r\n')).kind, 'line');
    assert.equal(r.next(Buffer.from('QUITT\r\n')).kind, 'tooLong');
  });
});

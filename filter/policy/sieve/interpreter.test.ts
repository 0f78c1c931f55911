import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compile,
  evaluate,
  evaluateSync,
  toContractJson,
  type CompiledSieveScript,
} from './index.js';
import { interpretSieve } from './interpreter.js';
import { SieveRuntime } from './runtime.js';
import { parseSieveMessage } from './message-view.js';
import { DEFAULT_SIEVE_LIMITS, resolveSieveLimits } from './limits.js';

const MSG =
  'From: a@example.org\r\nTo: b@example.com\r\nSubject: Hello there\r\nMessage-ID: <m1@x>\r\n\r\nbody text\r\n';

function compiled(script: string, limits?: Parameters<typeof compile>[1]): CompiledSieveScript {
  const r = compile(script, limits);
  if (!r.ok) throw new Error(r.errors.map((e) => e.toPositionedString()).join('; '));
  return r.script;
}

function run(script: string, extra: Record<string, unknown> = {}): unknown {
  return toContractJson(
    evaluateSync(compiled(script), {
      message: MSG,
      envelopeFrom: 'a@example.org',
      envelopeTo: 'b@example.com',
      ...extra,
    }),
  );
}

test('implicit keep, explicit actions and contract order', () => {
  assert.deepEqual(run(''), {
    valid: true,
    runtime_error: false,
    actions: [{ type: 'keep', flags: [] }],
  });
  assert.deepEqual(
    run(
      'require ["fileinto","editheader","copy"]; fileinto :copy "A"; addheader "X-A" "1"; redirect "r@example.net"; deleteheader "subject";',
    ),
    {
      valid: true,
      runtime_error: false,
      actions: [
        { type: 'addheader', name: 'X-A', value: '1' },
        { type: 'deleteheader', name: 'subject', deleted: 1 },
        { type: 'fileinto', mailbox: 'A', copy: true, flags: [] },
        { type: 'redirect', address: 'r@example.net', copy: false },
      ],
    },
  );
});

test('reject with keep is a run-time error falling back to keep', () => {
  const out = evaluateSync(compiled('require "reject"; keep; reject "no";'), { message: MSG });
  assert.equal(out.runtimeError?.code, 'ERR_SIEVE_RUNTIME');
  assert.equal(out.runtimeError.line, 1);
  assert.deepEqual(toContractJson(out), {
    valid: true,
    runtime_error: true,
    actions: [{ type: 'keep', flags: [] }],
  });
});

test('vacation period is raised to one day and reported in seconds', () => {
  assert.deepEqual(run('require "vacation"; vacation :days 0 :subject "S" "away";'), {
    valid: true,
    runtime_error: false,
    actions: [
      { type: 'vacation', seconds: 86400, subject: 'S', from: null, reason: 'away' },
      { type: 'keep', flags: [] },
    ],
  });
});

test('spamtest and virustest use the scan inputs', () => {
  const s =
    'require ["spamtest","virustest","fileinto","relational","comparator-i;ascii-numeric"];' +
    'if spamtest :value "ge" :comparator "i;ascii-numeric" "8" { fileinto "Junk"; }' +
    'if virustest :value "eq" :comparator "i;ascii-numeric" "5" { discard; }';
  assert.deepEqual(run(s, { spamScore: 9, spamMax: 10 }), {
    valid: true,
    runtime_error: false,
    actions: [{ type: 'fileinto', mailbox: 'Junk', copy: false, flags: [] }],
  });
  assert.deepEqual(run(s, { virusLevel: 5 }), {
    valid: true,
    runtime_error: false,
    actions: [{ type: 'discard' }],
  });
});

test('the interpreter yields host requests and resumes with the answer', () => {
  const script = compiled(
    'require ["duplicate","include","fileinto"]; if duplicate { fileinto "dup"; } include "sub";',
  );
  const rt = new SieveRuntime(
    parseSieveMessage(MSG),
    {
      envelopeFrom: '',
      envelopeTo: '',
      spamScore: null,
      spamMax: 10,
      virusLevel: null,
      subaddressSeparator: '+',
      nowMs: 0,
      localZoneMinutes: 0,
    },
    DEFAULT_SIEVE_LIMITS,
  );
  const gen = interpretSieve(script, rt);
  const first = gen.next();
  assert.equal(first.done, false);
  assert.deepEqual(first.value, {
    kind: 'duplicate',
    id: '<m1@x>',
    handle: '',
    seconds: null,
    last: false,
  });
  const second = gen.next({ kind: 'duplicate', duplicate: true });
  assert.deepEqual(second.value, { kind: 'include', name: 'sub', location: 'personal' });
  const done = gen.next({ kind: 'include', script: 'require "fileinto"; fileinto "sub";' });
  if (done.done !== true) throw new Error('interpreter did not finish');
  assert.deepEqual(
    done.value.actions.map((a) => a.action),
    [
      { type: 'fileinto', mailbox: 'dup', copy: false, flags: [] },
      { type: 'fileinto', mailbox: 'sub', copy: false, flags: [] },
    ],
  );
  assert.equal(done.value.duplicateMarks.length, 1);
});

test('async evaluate answers requests through host callbacks', async () => {
  const out = await evaluate(compiled('require ["include"]; include :optional "x"; include "y";'), {
    message: MSG,
    host: { includeScript: (name) => Promise.resolve(name === 'y' ? 'discard;' : null) },
  });
  assert.deepEqual(toContractJson(out), {
    valid: true,
    runtime_error: false,
    actions: [{ type: 'discard' }],
  });
});

test('the step limit stops runaway scripts with a CPU-limit error', () => {
  const big =
    'require "variables";\n' + 'if string :matches "${x}" "*a*b*c*d*" { keep; }\n'.repeat(200);
  const script = compiled(big, { limits: { maxSteps: 100 } });
  const out = evaluateSync(script, { message: MSG });
  assert.equal(out.runtimeError?.code, 'ERR_SIEVE_CPU_LIMIT');
});

test('a catastrophic-backtracking regex finishes quickly', () => {
  const script = compiled(
    'require ["regex","variables"]; set "s" "${x}"; if string :regex "${y}" "(a+)+$" { keep; } if header :regex "subject" "(a|aa)+$" { discard; }',
  );
  const long = 'a'.repeat(50_000) + 'b';
  const started = Date.now();
  const out = evaluateSync(script, { message: `Subject: ${long}\r\n\r\n` });
  assert.ok(Date.now() - started < 2000);
  assert.equal(out.runtimeError, null);
});

test('match variables and variable limits', () => {
  assert.deepEqual(
    run(
      'require ["variables","fileinto"]; if header :matches "subject" "* *" { fileinto "${2}-${1}"; }',
    ),
    {
      valid: true,
      runtime_error: false,
      actions: [{ type: 'fileinto', mailbox: 'there-Hello', copy: false, flags: [] }],
    },
  );
  const script = compiled(
    'require ["variables","fileinto"]; set "a" "0123456789"; set "b" "${a}${a}${a}"; fileinto "${b}";',
    {
      limits: resolveSieveLimits({ maxVariableChars: 12 }),
    },
  );
  const out = toContractJson(evaluateSync(script, { message: MSG }));
  assert.deepEqual(out, {
    valid: true,
    runtime_error: false,
    actions: [{ type: 'fileinto', mailbox: '012345678901', copy: false, flags: [] }],
  });
});

test('Message objects are accepted', async () => {
  const { Message } = await import('../../message/message.js');
  const { BodySpool } = await import('../../message/body-spool.js');
  const { parseHeaderBlock } = await import('../../message/header-list.js');
  const { createEnvelope } = await import('../../message/envelope.js');
  const body = new BodySpool();
  await body.write(Buffer.from('hello\r\n'));
  await body.seal();
  const envelope = createEnvelope();
  envelope.mailFrom = { address: 's@example.org', args: {} };
  envelope.recipients.push({ address: 'r+tag@example.com', args: {} });
  const message = new Message({
    id: 'm1',
    envelope,
    headers: parseHeaderBlock(Buffer.from('Subject: x\r\n')),
    body,
  });
  const out = await evaluate(
    compiled('require ["envelope","subaddress"]; if envelope :detail "to" "tag" { discard; }'),
    { message },
  );
  assert.deepEqual(toContractJson(out), {
    valid: true,
    runtime_error: false,
    actions: [{ type: 'discard' }],
  });
  await message.dispose();
});

test('run-time include failures fall back to keep with a positioned error', () => {
  const script = compiled('require "include";\ninclude "missing";');
  const missing = evaluateSync(script, { message: MSG });
  assert.equal(missing.runtimeError?.code, 'ERR_SIEVE_RUNTIME');
  assert.equal(missing.runtimeError.line, 2);
  const broken = evaluateSync(script, { message: MSG }, (req) =>
    req.kind === 'include'
      ? { kind: 'include', script: 'frobnicate;' }
      : { kind: 'duplicate', duplicate: false },
  );
  assert.match(broken.runtimeError?.message ?? '', /failed to compile included script/);
  const wrong = evaluateSync(script, { message: MSG }, () => ({
    kind: 'duplicate',
    duplicate: false,
  }));
  assert.equal(wrong.runtimeError?.code, 'ERR_SIEVE_HOST');
});

test('include :once, nesting limit and global variables at run time', () => {
  const script = compiled(
    'require ["include","variables","fileinto"]; global "g"; set "g" "v"; include :once "a"; include :once "a"; fileinto "${g}";',
  );
  let calls = 0;
  const out = evaluateSync(script, { message: MSG }, (req) => {
    if (req.kind !== 'include') return { kind: 'duplicate', duplicate: false };
    calls++;
    return {
      kind: 'include',
      script: 'require ["variables","include"]; global "g"; set "g" "${g}w";',
    };
  });
  assert.equal(calls, 1);
  assert.deepEqual(toContractJson(out), {
    valid: true,
    runtime_error: false,
    actions: [{ type: 'fileinto', mailbox: 'vw', copy: false, flags: [] }],
  });
  const loop = compiled('require "include"; include "self";');
  const deep = evaluateSync(loop, { message: MSG }, () => ({
    kind: 'include',
    script: 'require "include"; include "self";',
  }));
  assert.equal(deep.runtimeError?.code, 'ERR_SIEVE_RUNTIME');
});

test('startSieveEvaluation exposes the generator', async () => {
  const { startSieveEvaluation } = await import('./index.js');
  const gen = startSieveEvaluation(compiled('discard;'), { message: MSG });
  const step = gen.next();
  assert.equal(step.done, true);
});

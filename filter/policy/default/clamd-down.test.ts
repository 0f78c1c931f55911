// Issue 4, "Done when": clamd down gives "unscanned" and, with the default policy, a tempfail —
// through the real pipeline, the real virus scanner (pointed at a socket nobody listens on)
// and the shipped default policy. The MTA keeps the message and retries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { messageFromRaw, withTempDir } from '../../test-support.js';
import { createPipeline } from '../../pipeline/pipeline.js';
import { createVirusScanner } from '../../scan/virus/index.js';
import { createRuleScanner } from '../../scan/rules/index.js';
import { createSievePolicy } from '../host.js';
import { compilePolicy } from './default-policy.js';

test('clamd unreachable → unscanned → default policy tempfails (4xx), the message is kept', async () => {
  await withTempDir(async (dir) => {
    const compiled = compilePolicy();
    assert.ok(compiled.ok);
    const pipeline = createPipeline({
      scanners: [
        createRuleScanner(),
        createVirusScanner({
          clamd: { address: { kind: 'unix', path: join(dir, 'no-clamd.sock') } },
        }),
      ],
      policy: createSievePolicy({ script: compiled.script, scriptName: 'default.sieve' }),
    });
    const message = await messageFromRaw(
      'From: a@example.org\r\nTo: b@example.net\r\nSubject: report\r\n\r\nsee attached\r\n',
      {
        mailFrom: { address: 'a@example.org', args: {} },
        recipients: [{ address: 'b@example.net', args: {} }],
      },
    );
    const verdict = await pipeline.run(message, new AbortController().signal);
    assert.ok(verdict.kind === 'tempfail', JSON.stringify(verdict));
    assert.equal(Math.floor(verdict.reply.code / 100), 4);
    assert.match(verdict.reply.text, /Virus scan unavailable/);
  });
});

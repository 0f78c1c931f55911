// Documentation and robustness of the gateway extensions: every command is documented, every
// README example compiles, and random scripts built from gateway snippets never crash the
// compiler or the runner (only positioned SieveErrors, outcomes within the limits).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { compile, SieveError } from '../sieve/index.js';
import { compilePolicyData } from '../lists/index.js';
import { emptyScanResult } from '../../scan/scanner.js';
import {
  GATEWAY_CAPABILITIES,
  GATEWAY_EXTENSIONS,
  MAX_GATEWAY_ACTIONS,
  gatewayContractJson,
  runGatewayPolicy,
} from './index.js';

const README = readFileSync(new URL('./README.md', import.meta.url), 'utf8');

test('every gateway command, test and capability is documented in README.md', () => {
  for (const ext of GATEWAY_EXTENSIONS) {
    for (const cap of ext.capabilities) assert.ok(README.includes(`\`${cap}\``), cap);
    for (const def of ext.commands ?? []) assert.ok(README.includes(`\`${def.name}\``), def.name);
  }
});

test('every sieve example in README.md compiles', () => {
  const blocks = [...README.matchAll(/```sieve\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  assert.ok(blocks.length >= 5);
  for (const b of blocks) {
    const c = compile(b, { extraExtensions: GATEWAY_EXTENSIONS });
    assert.ok(c.ok, c.ok ? '' : `${c.errors[0]?.toPositionedString() ?? ''}\n${b}`);
  }
});

const SNIPPETS = [
  'spam',
  'spamscore :gt "5.5"',
  'spamscore :threshold "${v}"',
  'spamsymbol :matches "*"',
  'spamsymbol :regex "(a|b)+"',
  'virus',
  'virus :contains "x"',
  'unscanned',
  'unscannable "encrypted"',
  'attachment :type :matches "*/*"',
  'attachment :encrypted',
  'attachmentsize :over 1K',
  'auth "${v}" "pass"',
  'auth "spf" :count "gt" "0"',
  'clientip :cidr ["10.0.0.0/8", "${v}"]',
  'listed :value "${v}" "l"',
  'listed :from ["l", "missing"]',
  'maplookup :set "v" "m" "${v}"',
  'maplookup "m" ["a", "b"]',
];
const COMMANDS = [
  'quarantine "${v}";',
  'tempfail;',
  'accept;',
  'setheader "X-${v}" "${v}";',
  'appendheader "X-A" "${v}";',
  'removeheader "${v}";',
  'marksubject "${v}";',
  'addrecipient "${v}@x.test";',
  'removerecipient "${v}";',
  'setsender "${v}";',
  'sendnotice ["${v}@x.test"] "t";',
  'copyto "a@${v}";',
  'logmark "${v}";',
  'set "v" "${v}${v}";',
  'set "v" "a";',
  'set "v" "1.5";',
  'set "v" "10.1.2.3/8";',
  'keep;',
  'discard;',
  'stop;',
];

const HEAD =
  `require ["variables", "relational", "regex", ${GATEWAY_CAPABILITIES.map((c) => `"${c}"`).join(', ')}];\n` +
  'set "v" "x";\n';

const SCRIPT = fc
  .array(
    fc.oneof(
      fc
        .tuple(
          fc.constantFrom(...SNIPPETS),
          fc.array(fc.constantFrom(...COMMANDS), { maxLength: 4 }),
        )
        .map(([t, cs]) => `if ${t} { ${cs.join(' ')} }`),
      fc.constantFrom(...COMMANDS),
    ),
    { maxLength: 12 },
  )
  .map((parts) => HEAD + parts.join('\n'));

test('property: random gateway scripts compile and run without crashing', async () => {
  const data = compilePolicyData(
    [{ name: 'l', entries: ['x', 'a@b.test'] }],
    [{ name: 'm', entries: { a: 'x', x: '2' } }],
  );
  const scan = { ...emptyScanResult(5), score: 7, spam: true };
  await fc.assert(
    fc.asyncProperty(SCRIPT, fc.string({ maxLength: 30 }), async (text, junk) => {
      for (const variant of [text, text.slice(0, Math.max(0, text.length - junk.length)) + junk]) {
        const c = compile(variant, {
          extraExtensions: GATEWAY_EXTENSIONS,
          limits: { maxSteps: 5000 },
        });
        if (!c.ok) {
          assert.ok(c.errors[0] instanceof SieveError);
          continue;
        }
        const o = await runGatewayPolicy(c.script, {
          message: 'Subject: x\r\n\r\nbody\r\n',
          envelopeFrom: 'a@b.test',
          envelopeTo: 'c@d.test',
          facts: { scan, clientAddress: '10.0.0.1', recipients: ['c@d.test'], data },
        });
        assert.ok(o.gateway.length <= MAX_GATEWAY_ACTIONS);
        assert.ok(o.sieve.steps <= 5000 + 100);
        assert.equal(gatewayContractJson(o).valid, true);
      }
    }),
    { numRuns: 300 },
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSieve } from './parser.js';
import { SieveError } from './errors.js';
import { resolveSieveLimits } from './limits.js';

test('parses commands, tests, blocks and argument kinds with positions', () => {
  const ast = parseSieve('if anyof (true, header :is "a" ["b"]) { fileinto "x"; } else { stop; }');
  assert.equal(ast.commands.length, 2);
  const ifc = ast.commands[0];
  const elsec = ast.commands[1];
  if (ifc === undefined || elsec === undefined) throw new Error('missing commands');
  assert.equal(ifc.name, 'if');
  const anyof = ifc.tests[0];
  if (anyof === undefined) throw new Error('missing test');
  assert.equal(anyof.name, 'anyof');
  assert.equal(anyof.testList, true);
  const header = anyof.tests[1];
  if (header === undefined) throw new Error('missing header test');
  assert.deepEqual(
    header.args.map((a) => a.kind),
    ['tag', 'string', 'string-list'],
  );
  assert.equal(header.column, 17);
  assert.equal(ifc.block?.[0]?.name, 'fileinto');
  assert.equal(elsec.name, 'else');
});

test('grammar errors are positioned', () => {
  const cases: [string, number, number][] = [
    ['keep', 1, 5],
    ['keep; }', 1, 7],
    ['if true { keep;', 1, 16],
    ['if anyof () { keep; }', 1, 11],
    ['x ["a",];', 1, 8],
    ['if ( {}', 1, 6],
    ['\n\n  keep "a" "b"', 3, 15],
  ];
  for (const [text, line, column] of cases) {
    assert.throws(
      () => parseSieve(text),
      (e: unknown) =>
        e instanceof SieveError &&
        e.code === 'ERR_SIEVE_SYNTAX' &&
        e.line === line &&
        e.column === column,
      text,
    );
  }
});

test('nesting limits stop deep input without exhausting the stack', () => {
  const limits = resolveSieveLimits({ maxBlockNesting: 5, maxTestNesting: 5 });
  assert.throws(
    () => parseSieve('if true {'.repeat(10) + '}'.repeat(10), limits),
    /nested too deeply/,
  );
  assert.throws(
    () => parseSieve('if ' + 'not '.repeat(10) + 'true {}', limits),
    /nested too deeply/,
  );
  assert.throws(
    () => parseSieve('if true {'.repeat(100_000)),
    (e: unknown) => e instanceof SieveError,
  );
});

test('script size limit', () => {
  assert.throws(
    () => parseSieve('keep;'.repeat(10), resolveSieveLimits({ maxScriptChars: 20 })),
    /too large/,
  );
});

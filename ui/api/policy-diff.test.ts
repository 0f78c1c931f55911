import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { diffLines, splitLines } from './policy-diff.js';

const rebuild = (lines: readonly { kind: string; text: string }[], side: 'old' | 'new'): string[] =>
  lines
    .filter((l) => l.kind === 'same' || l.kind === (side === 'old' ? 'removed' : 'added'))
    .map((l) => l.text);

/** LCS length by plain recursion with memo (a second, independent computation). */
function lcsLength(a: readonly string[], b: readonly string[]): number {
  const memo = new Map<string, number>();
  const go = (i: number, j: number): number => {
    if (i === a.length || j === b.length) return 0;
    const key = `${i},${j}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const v = a[i] === b[j] ? go(i + 1, j + 1) + 1 : Math.max(go(i + 1, j), go(i, j + 1));
    memo.set(key, v);
    return v;
  };
  return go(0, 0);
}

test('splitLines: a final newline does not add an empty line; CRLF and LF both split', () => {
  assert.deepEqual(splitLines(''), []);
  assert.deepEqual(splitLines('a\n'), ['a']);
  assert.deepEqual(splitLines('a\r\nb'), ['a', 'b']);
  assert.deepEqual(splitLines('a\n\n'), ['a', '']);
});

test('diffLines: one changed line in the middle, with line numbers on both sides', () => {
  const d = diffLines('a\nb\nc\nd\n', 'a\nb\nX\nd\ne\n');
  assert.deepEqual(
    d.lines.map((l) => [l.kind, l.text, l.oldLine, l.newLine]),
    [
      ['same', 'a', 1, 1],
      ['same', 'b', 2, 2],
      ['removed', 'c', 3, null],
      ['added', 'X', null, 3],
      ['same', 'd', 4, 4],
      ['added', 'e', null, 5],
    ],
  );
  assert.equal(d.added, 2);
  assert.equal(d.removed, 1);
  assert.equal(d.exact, true);
});

test('diffLines: identical texts have no changes; empty to text is all added', () => {
  assert.equal(
    diffLines('x\ny', 'x\ny').lines.every((l) => l.kind === 'same'),
    true,
  );
  const d = diffLines('', 'p\nq');
  assert.deepEqual([d.added, d.removed], [2, 0]);
});

test('diffLines: over the table bound the middle is replaced, still a correct edit script', () => {
  const d = diffLines('h\n1\n2\n3\nt', 'h\n3\n2\n1\nt', 4);
  assert.equal(d.exact, false);
  assert.deepEqual(rebuild(d.lines, 'old'), ['h', '1', '2', '3', 't']);
  assert.deepEqual(rebuild(d.lines, 'new'), ['h', '3', '2', '1', 't']);
});

test('diffLines (property): rebuilds both sides and keeps a longest common subsequence', () => {
  const text = fc.array(fc.constantFrom('a', 'b', 'c', 'd', ''), { maxLength: 14 });
  fc.assert(
    fc.property(text, text, (x, y) => {
      const before = x.join('\n');
      const after = y.join('\n');
      const d = diffLines(before, after);
      assert.deepEqual(rebuild(d.lines, 'old'), splitLines(before));
      assert.deepEqual(rebuild(d.lines, 'new'), splitLines(after));
      const same = d.lines.filter((l) => l.kind === 'same').length;
      assert.equal(same, lcsLength(splitLines(before), splitLines(after)));
    }),
    { numRuns: 300 },
  );
});

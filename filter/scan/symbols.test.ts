import { test } from 'node:test';
import assert from 'node:assert/strict';
import { symbolMap } from './symbols.js';
import { AUTH_SYMBOL_TABLE, AUTH_SYMBOLS } from './auth/index.js';

test('symbolMap: each table entry becomes a catalogue entry named by its key, in order', () => {
  const map = symbolMap({
    B_SECOND: { group: 'g', defaultScore: -1.5, description: 'second' },
    A_FIRST: { group: 'h', defaultScore: 0, description: 'first' },
  });
  assert.deepEqual(
    [...map.entries()],
    [
      ['B_SECOND', { symbol: 'B_SECOND', group: 'g', defaultScore: -1.5, description: 'second' }],
      ['A_FIRST', { symbol: 'A_FIRST', group: 'h', defaultScore: 0, description: 'first' }],
    ],
  );
  assert.equal(symbolMap({}).size, 0);
});

test("symbolMap: a scanner's catalogue covers its whole table", () => {
  assert.deepEqual([...AUTH_SYMBOLS.keys()], Object.keys(AUTH_SYMBOL_TABLE));
  for (const [name, def] of AUTH_SYMBOLS) {
    assert.equal(def.symbol, name);
    assert.equal(
      def.defaultScore,
      AUTH_SYMBOL_TABLE[name as keyof typeof AUTH_SYMBOL_TABLE].defaultScore,
    );
  }
});

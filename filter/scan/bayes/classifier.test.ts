import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chi2Q, combine, tokenProbability } from './classifier.js';

test('chi2Q matches the chi-square upper tail for even degrees of freedom', () => {
  assert.equal(chi2Q(0, 2), 1);
  // df 2: Q = e^(-x/2).
  assert.ok(Math.abs(chi2Q(2, 2) - Math.exp(-1)) < 1e-12);
  // df 4: Q = e^(-m)(1 + m), m = x/2.
  assert.ok(Math.abs(chi2Q(6, 4) - Math.exp(-3) * 4) < 1e-12);
  // Huge statistics underflow to 0 rather than NaN.
  assert.equal(chi2Q(1e6, 300), 0);
  assert.ok(chi2Q(1, 400) <= 1);
});

test('tokenProbability: Robinson f(w) leans to the prior for rare tokens and to the data for common ones', () => {
  const totals = { spam: 100, ham: 100 };
  assert.equal(tokenProbability({ spam: 0, ham: 0 }, totals), 0.5);
  const rare = tokenProbability({ spam: 1, ham: 0 }, totals);
  const common = tokenProbability({ spam: 40, ham: 0 }, totals);
  assert.ok(rare > 0.5 && rare < common, `${String(rare)} < ${String(common)}`);
  assert.ok(common > 0.98);
  assert.ok(tokenProbability({ spam: 0, ham: 40 }, totals) < 0.02);
  // Ratios, not raw counts: a token in 10% of spam and 10% of ham is neutral however the totals differ.
  assert.ok(
    Math.abs(tokenProbability({ spam: 10, ham: 100 }, { spam: 100, ham: 1000 }) - 0.5) < 1e-9,
  );
});

test('combine: telling tokens decide, neutral ones are ignored, nothing telling gives 0.5', () => {
  const totals = { spam: 100, ham: 100 };
  const spammy = combine(
    [
      ['viagra', { spam: 60, ham: 0 }],
      ['cheap', { spam: 50, ham: 2 }],
      ['the', { spam: 90, ham: 90 }],
    ],
    totals,
  );
  assert.ok(spammy.probability > 0.99, String(spammy.probability));
  assert.deepEqual(
    spammy.tokens.map((t) => t.token),
    ['viagra', 'cheap'],
  );
  const hammy = combine(
    [
      ['perl', { spam: 0, ham: 70 }],
      ['cvs', { spam: 1, ham: 50 }],
    ],
    totals,
  );
  assert.ok(hammy.probability < 0.01, String(hammy.probability));
  assert.equal(combine([['the', { spam: 90, ham: 90 }]], totals).probability, 0.5);
  assert.equal(combine([], totals).probability, 0.5);
  const mixed = combine(
    [
      ['viagra', { spam: 60, ham: 0 }],
      ['perl', { spam: 0, ham: 70 }],
    ],
    totals,
  );
  assert.ok(mixed.probability > 0.2 && mixed.probability < 0.8, String(mixed.probability));
});

test('combine keeps only the maxTokens most telling tokens', () => {
  const entries: [string, { spam: number; ham: number }][] = [];
  for (let i = 0; i < 20; i++) entries.push([`s${String(i)}`, { spam: 10 + i, ham: 0 }]);
  const verdict = combine(entries, { spam: 50, ham: 50 }, { maxTokens: 5 });
  assert.equal(verdict.tokens.length, 5);
  assert.equal(verdict.tokens[0]?.token, 's19');
});

test('balanceClasses weighs counts in units of the smaller class', () => {
  const totals = { spam: 500, ham: 2500 };
  const counts = { spam: 0, ham: 5 };
  const raw = tokenProbability(counts, totals);
  const balanced = tokenProbability(counts, totals, { balanceClasses: 1 });
  assert.ok(raw < balanced && balanced < 0.5, `${String(raw)} < ${String(balanced)} < 0.5`);
  // Equal totals: nothing to balance.
  assert.equal(
    tokenProbability(counts, { spam: 100, ham: 100 }, { balanceClasses: 1 }),
    tokenProbability(counts, { spam: 100, ham: 100 }),
  );
});

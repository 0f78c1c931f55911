import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BAYES_BANDS, BAYES_SYMBOLS, bandFor } from './bands.js';
import { classifyMessage, createBayesScanner } from './bayes-scanner.js';
import { messageFromFileBytes } from './raw-message.js';
import { MemoryTokenStore } from './token-store.js';
import { autoLearnClass, createBayesTrainer, expireTokens } from './trainer.js';
import type { Message } from '../../message/message.js';

const SPAM_WORDS = [
  'cheap',
  'pills',
  'winner',
  'prize',
  'casino',
  'bonus',
  'offer',
  'unsubscribe',
  'million',
  'dollars',
];
const HAM_WORDS = [
  'patch',
  'kernel',
  'meeting',
  'agenda',
  'review',
  'commit',
  'thanks',
  'branch',
  'release',
  'build',
];

/** A message built from a word list: `seed` varies which words and the Message-ID. */
function make(kind: 'spam' | 'ham', seed: number): Promise<Message> {
  const words = kind === 'spam' ? SPAM_WORDS : HAM_WORDS;
  const body = Array.from({ length: 12 }, (_, i) => words[(seed * 7 + i * 3) % words.length]).join(
    ' ',
  );
  const from =
    kind === 'spam'
      ? `promo${String(seed)}@deals.example`
      : `dev${String(seed % 5)}@project.example`;
  return messageFromFileBytes(
    Buffer.from(
      `From: ${from}\nSubject: ${words[seed % words.length] ?? ''} ${String(seed)}\nMessage-ID: <${kind}${String(seed)}@x>\n\n${body}\n`,
    ),
  );
}

async function trainedStore(perClass: number): Promise<MemoryTokenStore> {
  const store = new MemoryTokenStore();
  const trainer = createBayesTrainer(store, { now: () => new Date(0) });
  for (let i = 0; i < perClass; i++) {
    assert.equal(await trainer.learn(await make('spam', i), 'spam'), 'learned');
    assert.equal(await trainer.learn(await make('ham', i), 'ham'), 'learned');
  }
  return store;
}

const signal = new AbortController().signal;

test('bands cover [0, 1] in order; each symbol is in the catalogue once', () => {
  assert.equal(bandFor(0).symbol, 'BAYES_00');
  assert.equal(bandFor(0.5).symbol, 'BAYES_50');
  assert.equal(bandFor(0.995).symbol, 'BAYES_99');
  assert.equal(bandFor(1).symbol, 'BAYES_999');
  for (let i = 1; i < BAYES_BANDS.length; i++) {
    assert.ok((BAYES_BANDS[i]?.from ?? 0) > (BAYES_BANDS[i - 1]?.from ?? 1));
    assert.ok(
      (BAYES_BANDS[i]?.defaultScore ?? 0) >= (BAYES_BANDS[i - 1]?.defaultScore ?? 0),
      'scores rise with the band',
    );
  }
  assert.equal(BAYES_SYMBOLS.size, BAYES_BANDS.length);
});

test('the scanner says nothing until both classes reach their minimum, then reports one band with evidence', async () => {
  const store = await trainedStore(30);
  const untrained = createBayesScanner(store);
  assert.deepEqual((await untrained.scan(await make('spam', 99), signal)).findings, []);

  const scanner = createBayesScanner(store, {
    minSpam: 30,
    minHam: 30,
    scores: { BAYES_999: 4.2 },
  });
  assert.equal(scanner.name, 'bayes');
  assert.equal(scanner.onError, 'skip');
  const spam = (await scanner.scan(await make('spam', 101), signal)).findings;
  assert.equal(spam.length, 1);
  const spamFinding = spam[0];
  assert.ok(spamFinding);
  assert.equal(spamFinding.symbol, 'BAYES_999');
  assert.equal(spamFinding.score, 4.2);
  assert.match(spamFinding.evidence ?? '', /^p=(1\.0000|0\.99\d\d); \+/);
  const ham = (await scanner.scan(await make('ham', 102), signal)).findings;
  const hamFinding = ham[0];
  assert.ok(hamFinding);
  assert.equal(hamFinding.symbol, 'BAYES_00');
  assert.ok(hamFinding.score < 0);
  assert.match(
    hamFinding.evidence ?? '',
    /-(patch|kernel|meeting|agenda|review|commit|thanks|branch|release|build) 0\.0/,
  );
});

test('the scanner honours an aborted signal', async () => {
  const store = await trainedStore(5);
  const scanner = createBayesScanner(store, { minSpam: 1, minHam: 1 });
  const aborted = AbortSignal.abort();
  await assert.rejects(scanner.scan(await make('spam', 1), aborted));
});

test('trainer: learning twice counts once, relearning moves the message, unlearning forgets it', async () => {
  const store = new MemoryTokenStore();
  const trainer = createBayesTrainer(store);
  const message = await make('spam', 1);
  assert.equal(await trainer.learn(message, 'spam'), 'learned');
  assert.equal(await trainer.learn(message, 'spam'), 'already-learned');
  assert.deepEqual(await store.totals(), { spam: 1, ham: 0 });
  assert.equal(await trainer.learn(message, 'ham'), 'relearned');
  assert.deepEqual(await store.totals(), { spam: 0, ham: 1 });
  assert.equal(await trainer.unlearn(message), true);
  assert.equal(await trainer.unlearn(message), false);
  assert.deepEqual(await store.totals(), { spam: 0, ham: 0 });
  assert.equal(store.size, 0);
});

test('auto-learn: only decisive scores train, and never over a manual decision', async () => {
  assert.equal(autoLearnClass(12), 'spam');
  assert.equal(autoLearnClass(0.05), 'ham');
  assert.equal(autoLearnClass(-3), 'ham');
  assert.equal(autoLearnClass(5), null);
  assert.equal(autoLearnClass(3, { hamBelow: 4, spamAtOrAbove: 8 }), 'ham');
  const store = new MemoryTokenStore();
  const trainer = createBayesTrainer(store);
  assert.equal(await trainer.autoLearn(await make('ham', 3), 6), null);
  assert.equal(await trainer.autoLearn(await make('spam', 3), 15), 'spam');
  const manual = await make('ham', 4);
  await trainer.learn(manual, 'spam');
  assert.equal(await trainer.autoLearn(manual, -1), null);
  assert.deepEqual(await store.totals(), { spam: 2, ham: 0 });
});

test('expireTokens drops what was last seen before the age limit', async () => {
  const store = new MemoryTokenStore();
  const old = createBayesTrainer(store, { now: () => new Date('2026-01-01T00:00:00Z') });
  const recent = createBayesTrainer(store, { now: () => new Date('2026-06-01T00:00:00Z') });
  await old.learn(await make('ham', 1), 'ham');
  await recent.learn(await make('spam', 2), 'spam');
  const before = store.size;
  const removed = await expireTokens(store, 30, new Date('2026-06-10T00:00:00Z'));
  assert.ok(removed > 0 && store.size === before - removed);
  const left = await classifyMessage(store, await make('spam', 2), { minSpam: 0, minHam: 0 });
  assert.ok(left.tokens.length > 0, 'the recent message still has its tokens');
});

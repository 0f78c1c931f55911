/**
 * Soundness of the phrase prefilter (prefilter.ts): a regex that matches a text must never be
 * skipped because its keys were derived wrongly. Texts are sampled from the regexes themselves
 * (a small generator for the syntax the catalogue uses), so every phrase regex is checked on
 * texts it should match, not only on the fixtures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compilePhrase, deriveKeys, WordIndex } from './prefilter.js';
import { PHRASE_REGEXES } from './catalogue.js';

type Node =
  | { kind: 'alt'; options: Node[][] }
  | { kind: 'char'; pick: (random: () => number) => string }
  | { kind: 'empty' }
  | { kind: 'repeat'; node: Node; min: number; max: number };

/** Characters tried for `.`, negated classes and the like (ASCII, a space, a Latin-1 letter). */
const POOL = Array.from('abcdefghijklmnopqrstuvwxyz0123456789 -.,\'!$%&/:;?@_()#*+="é');

function pickFrom(chars: readonly string[], random: () => number): string {
  return chars[Math.floor(random() * chars.length)] ?? '';
}

/** A character class as a picker over the pool plus the characters written in the class. */
function classNode(body: string, flags: string): Node {
  const re = new RegExp(`^[${body}]$`, flags.replace(/[gy]/g, ''));
  const written = Array.from(body.replace(/\\./g, ''));
  const members = [...new Set([...POOL, ...written])].filter((c) => re.test(c));
  if (members.length === 0) throw new Error(`empty class [${body}]`);
  return { kind: 'char', pick: (random) => pickFrom(members, random) };
}

/** Parses a regex source into a generator tree; null on syntax the generator does not know. */
function parse(re: RegExp): Node[] | null {
  const src = re.source;
  let i = 0;
  const sequence = (): Node[][] | null => {
    const options: Node[][] = [[]];
    while (i < src.length && src[i] !== ')') {
      const c = src[i] ?? '';
      let node: Node;
      if (c === '|') {
        options.push([]);
        i++;
        continue;
      } else if (c === '(') {
        i++;
        if (src.startsWith('?:', i)) i += 2;
        else if (src[i] === '?') return null;
        const inner = sequence();
        if (inner === null || src[i] !== ')') return null;
        i++;
        node = { kind: 'alt', options: inner };
      } else if (c === '[') {
        let end = i + 1;
        if (src[end] === '^') end++;
        if (src[end] === ']') end++;
        while (end < src.length && src[end] !== ']') end += src[end] === '\\' ? 2 : 1;
        node = classNode(src.slice(i + 1, end), re.flags);
        i = end + 1;
      } else if (c === '\\') {
        const e = src[i + 1] ?? '';
        i += 2;
        if (e === 'b' || e === 'B') node = { kind: 'empty' };
        else if (/[dDwWsS]/.test(e)) node = classNode(`\\${e}`, re.flags);
        else if (/[a-zA-Z0-9]/.test(e)) return null;
        else node = { kind: 'char', pick: () => e };
      } else if (c === '^' || c === '$') {
        i++;
        node = { kind: 'empty' };
      } else if (c === '.') {
        i++;
        node = classNode('^\\n', re.flags);
      } else {
        i++;
        node = { kind: 'char', pick: () => c };
      }
      const q = src[i];
      let min = 1;
      let max = 1;
      if (q === '?' || q === '*' || q === '+') {
        i++;
        min = q === '+' ? 1 : 0;
        max = q === '?' ? 1 : 3;
      } else if (q === '{') {
        const end = src.indexOf('}', i);
        const [lo = '', hi] = src.slice(i + 1, end).split(',');
        min = Number(lo);
        max = hi === undefined ? min : hi === '' ? min + 3 : Math.min(Number(hi), min + 3);
        i = end + 1;
      }
      if (src[i] === '?' && (min !== 1 || max !== 1)) i++;
      options[options.length - 1]?.push(
        min === 1 && max === 1 ? node : { kind: 'repeat', node, min, max },
      );
    }
    return options;
  };
  const top = sequence();
  return top === null || i !== src.length ? null : [{ kind: 'alt', options: top }];
}

function generate(nodes: readonly Node[], random: () => number): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'char') out += node.pick(random);
    else if (node.kind === 'alt') {
      out += generate(node.options[Math.floor(random() * node.options.length)] ?? [], random);
    } else if (node.kind === 'repeat') {
      const n = node.min + Math.floor(random() * (node.max - node.min + 1));
      for (let k = 0; k < n; k++) out += generate([node.node], random);
    }
  }
  return out;
}

/** A fixed-seed generator: the same samples on every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 16807) % 2147483647;
    return state / 2147483647;
  };
}

const CONTEXTS: readonly [string, string][] = [
  ['', ''],
  ['see ', ' now.'],
  ['x: ', '!'],
  ['the offer\n', '\nthanks'],
];

/**
 * Samples texts from `re`; for each text the regex matches, the prefilter must let it run and
 * the runner must find a match. Returns how many sampled texts matched.
 */
function checkSound(re: RegExp, samples: number, seed: number): number {
  const tree = parse(re);
  assert.ok(tree !== null, `the sampler cannot read /${re.source}/`);
  const compiled = compilePhrase(re);
  const random = seeded(seed);
  let matched = 0;
  for (let n = 0; n < samples; n++) {
    const [before, after] = CONTEXTS[n % CONTEXTS.length] ?? ['', ''];
    const text = `${before}${generate(tree, random)}${after}`;
    if (re.exec(text) === null) continue;
    matched++;
    const index = new WordIndex(text);
    const where = `/${re.source.slice(0, 80)}/ on ${JSON.stringify(text.slice(0, 120))}`;
    assert.ok(
      compiled.keys === null || compiled.keys.some((k) => index.has(k)),
      `${where}: none of the keys ${JSON.stringify(compiled.keys)} is in the text`,
    );
    assert.ok(compiled.run(text, index) !== null, `${where}: missed by its runner`);
  }
  return matched;
}

test('prefilter: a group continuing a word keys on the whole word, not on the group', () => {
  // The bug class: keys '00'/'88' from `1-8(?:00|88)` are never words of "1-888".
  assert.deepEqual(
    deriveKeys(/\b1-8(?:00|88)\b/)
      ?.slice()
      .sort(),
    ['800', '888'],
  );
  assert.deepEqual(
    deriveKeys(/\bfree(?:dom|way)\b/)
      ?.slice()
      .sort(),
    ['freed', 'freew'],
  );
  assert.equal(deriveKeys(/\bfre(?:e|ed)/), null, 'too short to be a key, so always run');
  assert.deepEqual(deriveKeys(/\bcall 1-8(?:00|88) now/), ['call']);
  for (const text of ['call 1-888-555-0100', 'call 1-800 now']) {
    const compiled = compilePhrase(/\b1-8(?:00|88)\b/);
    assert.ok(compiled.run(text, new WordIndex(text)) !== null, text);
  }
});

test('prefilter: every phrase regex of the catalogue fires on texts sampled from it', () => {
  assert.ok(PHRASE_REGEXES.length > 100, `${String(PHRASE_REGEXES.length)} phrase regexes`);
  for (const [n, { re }] of PHRASE_REGEXES.entries()) {
    const matched = checkSound(re, 60, n + 1);
    assert.ok(matched > 0, `no sampled text matched /${re.source.slice(0, 80)}/`);
  }
});

/** Random regexes in the catalogue's style: words, digits, punctuation, groups, boundaries. */
const WORDS = [
  '1',
  '8',
  '00',
  '88',
  'free',
  'dom',
  'money',
  'back',
  'a',
  'click',
  'here',
  'e',
  '9',
];
const atom: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...WORDS),
  fc.constantFrom(' ', '-', '\\b', '\\s', '[- ]', '\\d', '\\d{3}', '\\.', "'"),
);
const piece: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: atom },
  { weight: 1, arbitrary: atom.map((a) => `(?:${a})?`) },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.array(atom, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 3 })
      .map((alts) => `(?:${alts.map((a) => a.join('')).join('|')})`),
  },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.constantFrom(...WORDS), { minLength: 2, maxLength: 3 })
      .map((alts) => `(?:${alts.join('|')})`),
  },
);

test('prefilter: sound on random regexes of the catalogue style (property)', () => {
  fc.assert(
    fc.property(
      fc.constantFrom('\\b', '', ' '),
      fc.array(piece, { minLength: 1, maxLength: 5 }),
      fc.constantFrom('\\b', '', ' ', '\\s'),
      fc.integer({ min: 1, max: 2 ** 30 }),
      (start, pieces, end, seed) => {
        checkSound(new RegExp(`${start}${pieces.join('')}${end}`), 20, seed);
      },
    ),
    { numRuns: 1000, seed: 4 },
  );
});

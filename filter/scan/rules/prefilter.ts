/**
 * A word prefilter for phrase regexes (the idea of hyperscan's literal factoring, in small):
 * from a regex source we derive "keys" — word prefixes of which every possible match must
 * contain at least one at a word start. The body's words are indexed once per message; a
 * phrase regex runs only when one of its keys is present, so most of the ~90 phrase regexes
 * never touch a message that has none of their words.
 *
 * Keys are the first five characters of a word (or a whole shorter word). Derivation is
 * conservative: any construct it does not understand makes the regex "always run" (null).
 */

type Item =
  | { kind: 'lit'; ch: string; optional: boolean; repeat: boolean }
  | { kind: 'group'; alts: Item[][]; optional: boolean }
  | { kind: 'boundary'; optional: boolean; zeroWidth?: boolean }
  | { kind: 'other'; optional: boolean };

const WORD = /[a-z0-9]/;

/** Parses the subset of regex syntax used by the catalogue; null when unsure. */
function parseRegexSource(src: string): Item[][] | null {
  let i = 0;
  const parseAlts = (): Item[][] | null => {
    const alts: Item[][] = [[]];
    while (i < src.length) {
      const c = src[i] ?? '';
      if (c === ')') return alts;
      if (c === '|') {
        alts.push([]);
        i++;
        continue;
      }
      let item: Item;
      if (c === '(') {
        i++;
        if (src.startsWith('?:', i)) i += 2;
        else if (src[i] === '?') return null; // lookarounds, named groups: give up
        const inner = parseAlts();
        if (inner === null || src[i] !== ')') return null;
        i++;
        item = { kind: 'group', alts: inner, optional: false };
      } else if (c === '[') {
        const end = src.indexOf(']', i + 2);
        if (end < 0) return null;
        const body = src.slice(i + 1, end);
        i = end + 1;
        // A class of punctuation only ("[- ]", "[,/ ]") is a word end like a space.
        const nonWord =
          !body.startsWith('^') && !/[a-z0-9]|\\[wdWDsS]/i.test(body.replace(/\\./g, ''));
        item = nonWord ? { kind: 'boundary', optional: false } : { kind: 'other', optional: false };
      } else if (c === '\\') {
        const e = src[i + 1] ?? '';
        i += 2;
        if (e === 'b') item = { kind: 'boundary', optional: false, zeroWidth: true };
        else if (e === 's') item = { kind: 'boundary', optional: false };
        else if (/[dwWSDB]/.test(e)) item = { kind: 'other', optional: false };
        else if (/[.$\-/?()[\]{}*+|^\\'"]/.test(e)) {
          item = { kind: 'lit', ch: e, optional: false, repeat: false };
        } else return null;
      } else if (c === '.' || c === '^' || c === '$') {
        i++;
        item = { kind: c === '^' ? 'boundary' : 'other', optional: false };
      } else {
        i++;
        item = { kind: 'lit', ch: c, optional: false, repeat: false };
      }
      // Quantifier?
      const q = src[i];
      if (q === '?' || q === '*') {
        i++;
        if (src[i] === '?') i++;
        item.optional = true;
      } else if (q === '+') {
        i++;
        if (item.kind === 'lit') item.repeat = true;
      } else if (q === '{') {
        const end = src.indexOf('}', i);
        if (end < 0) return null;
        const min = Number(src.slice(i + 1, end).split(',')[0]);
        i = end + 1;
        if (!Number.isFinite(min) || min === 0) item.optional = true;
        else if (item.kind === 'lit') item.repeat = true;
      }
      alts[alts.length - 1]?.push(item);
    }
    return alts;
  };
  const alts = parseAlts();
  return i === src.length ? alts : null;
}

/** Characters of a word prefix used as key (longer: fewer collisions, "withdraw" ≠ "with"). */
const KEY_LENGTH = 5;

/** The key of a word found in a literal run: 5-char prefix, or a whole shorter word. */
function wordKey(word: string, complete: boolean): string | null {
  if (word.length >= KEY_LENGTH) return word.slice(0, KEY_LENGTH);
  return complete && word.length >= 2 ? word : null;
}

/** Keys present in nearly every message: a regex keyed on them would always run. */
const COMMON_KEYS = new Set(
  (
    'the you your to of and in is it for on are with this that have from be or by not we our ' +
    'will can all no do if at as an my me so up was has more here now get use one any who what ' +
    'mail email info http www com list accou name make time just like some than them then ' +
    'they also been want need know new about only see send their there which would other'
  ).split(' '),
);

/** Usable keys of one literal run (characters known to appear in order). */
function keysFromRun(run: string, boundaryBefore: boolean, completeAtEnd: boolean): string[] {
  const out: string[] = [];
  let j = 0;
  while (j < run.length) {
    if (!WORD.test(run[j] ?? '')) {
      j++;
      continue;
    }
    const atStart = j === 0 ? boundaryBefore : !WORD.test(run[j - 1] ?? '');
    let k = j;
    while (k < run.length && WORD.test(run[k] ?? '')) k++;
    if (atStart) {
      const key = wordKey(run.slice(j, k), k < run.length || completeAtEnd);
      if (key !== null) out.push(key);
    }
    j = k;
  }
  return out;
}

/** The word characters at the end of a literal run ('' when it ends in punctuation). */
function trailingWord(run: string): string {
  let j = run.length;
  while (j > 0 && WORD.test(run[j - 1] ?? '')) j--;
  return run.slice(j);
}

/** Mandatory literal items spelling `word`. */
function literalItems(word: string): Item[] {
  return Array.from(word, (ch): Item => ({ kind: 'lit', ch, optional: false, repeat: false }));
}

/** Lower is better: few keys, and no key that nearly every message has. */
function costOf(keys: ReadonlySet<string>): number {
  let cost = 0;
  for (const k of keys) cost += COMMON_KEYS.has(k) ? 100 : 1;
  return cost;
}

/** Is the item after a group a guaranteed word end (a space, punctuation, \b or \s)? */
function endsWord(next: Item | undefined): boolean {
  if (next === undefined) return false;
  if (next.kind === 'boundary') return !next.optional;
  return next.kind === 'lit' && !next.optional && !WORD.test(next.ch);
}

/**
 * The cheapest key set for a sequence: any word of a literal run (one key), or the union of a
 * mandatory group's alternatives. `boundaryAfter`: the sequence is followed by a word end.
 */
function keysOfSequence(
  seq: readonly Item[],
  boundaryBefore: boolean,
  boundaryAfter: boolean,
): Set<string> | null {
  const candidates: Set<string>[] = [];
  let run = '';
  let runBoundary = boundaryBefore;
  let boundary = boundaryBefore;
  const flush = (completeAtEnd: boolean): void => {
    if (run !== '') {
      for (const key of keysFromRun(run, runBoundary, completeAtEnd))
        candidates.push(new Set([key]));
    }
    run = '';
  };
  for (let idx = 0; idx < seq.length; idx++) {
    const item = seq[idx];
    if (item === undefined) break;
    if (item.kind === 'lit' && !item.optional) {
      if (run === '') runBoundary = boundary;
      run += item.ch;
      if (item.repeat) {
        flush(false);
        boundary = !WORD.test(item.ch);
      }
      continue;
    }
    // A group starts a word only after a word end: the run's last character when there is a
    // run (`\b1-8(?:00|88)` continues the word "8", it does not start "00"), else `boundary`.
    const before = run === '' ? boundary : !WORD.test(run[run.length - 1] ?? '');
    // The word the run ends in, when the group continues it: its characters and whether it
    // starts a word, so that `\bfree(?:dom|way)` keys on "freed" and "freew".
    const tail = before ? '' : trailingWord(run);
    const tailStarts = tail !== '' && (tail.length < run.length || runBoundary);
    flush(endsWord(item));
    if (item.kind === 'boundary') {
      boundary = !item.optional;
      continue;
    }
    if (item.kind === 'group' && !item.optional) {
      const after = idx + 1 < seq.length ? endsWord(seq[idx + 1]) : boundaryAfter;
      const union = new Set<string>();
      let ok = true;
      for (const alt of item.alts) {
        const keys = tailStarts
          ? keysOfSequence([...literalItems(tail), ...alt], true, after)
          : keysOfSequence(alt, before, after);
        if (keys === null) {
          ok = false;
          break;
        }
        for (const k of keys) union.add(k);
      }
      if (ok && union.size > 0) candidates.push(union);
    }
    boundary = false;
  }
  flush(boundaryAfter);
  let best: Set<string> | null = null;
  for (const c of candidates) if (best === null || costOf(c) < costOf(best)) best = c;
  return best;
}

/** Keys of a regex (see the file comment), or null when it must always run. */
export function deriveKeys(re: RegExp): readonly string[] | null {
  if (re.flags.includes('i') || re.flags.includes('m')) return null;
  const alts = parseRegexSource(re.source);
  if (alts === null) return null;
  const union = new Set<string>();
  for (const alt of alts) {
    const keys = keysOfSequence(alt, false, false);
    if (keys === null) return null;
    for (const k of keys) union.add(k);
  }
  return union.size === 0 ? null : [...union];
}

/**
 * Keys of the words a match must *start* with, or null. With them a regex need not scan the
 * text at all: it is tried (sticky) only where one of those words starts.
 */
export function deriveLeadingKeys(re: RegExp): readonly string[] | null {
  if (re.flags.includes('i') || re.flags.includes('m')) return null;
  const alts = parseRegexSource(re.source);
  if (alts === null) return null;
  const union = new Set<string>();
  for (const alt of alts) {
    const keys = leadingOfSequence(alt, false, false);
    if (keys === null) return null;
    for (const k of keys) union.add(k);
  }
  return union.size === 0 ? null : [...union];
}

function leadingOfSequence(
  seq: readonly Item[],
  boundaryBefore: boolean,
  boundaryAfter: boolean,
): Set<string> | null {
  let i = 0;
  let boundary = boundaryBefore;
  for (let item = seq[i]; item?.kind === 'boundary' && item.zeroWidth === true; item = seq[++i]) {
    if (!item.optional) boundary = true;
  }
  if (!boundary) return null;
  const first = seq[i];
  if (first === undefined) return null;
  if (first.kind === 'group' && !first.optional) {
    const after = i + 1 < seq.length ? endsWord(seq[i + 1]) : boundaryAfter;
    const union = new Set<string>();
    for (const alt of first.alts) {
      const keys = leadingOfSequence(alt, true, after);
      if (keys === null) return null;
      for (const k of keys) union.add(k);
    }
    return union.size === 0 ? null : union;
  }
  if (first.kind !== 'lit' || first.optional || !WORD.test(first.ch)) return null;
  let word = '';
  let j = i;
  for (let item = seq[j]; item?.kind === 'lit' && !item.optional; item = seq[++j]) {
    if (!WORD.test(item.ch)) break;
    word += item.ch;
    if (item.repeat) break;
  }
  const next = seq[j];
  const complete =
    next === undefined
      ? boundaryAfter
      : (next.kind === 'lit' && !next.optional && !WORD.test(next.ch)) || endsWord(next);
  const key = wordKey(word, complete);
  return key === null ? null : new Set([key]);
}

/** How a phrase regex is run on a text and its word index. */
export type PhraseRunner = (text: string, index: WordIndex) => RegExpExecArray | null;

/** A phrase regex with its keys and the runner built from them. */
export interface CompiledPhrase {
  readonly re: RegExp;
  readonly keys: readonly string[] | null;
  readonly leading: readonly string[] | null;
  readonly run: PhraseRunner;
}

/**
 * Compiles a phrase regex into the cheapest sound runner: tried only where one of its leading
 * words starts (sticky), else run only when one of its words is present, else always run.
 */
export function compilePhrase(re: RegExp): CompiledPhrase {
  const keys = deriveKeys(re);
  const leading = deriveLeadingKeys(re);
  if (leading !== null) {
    const sticky = new RegExp(re.source, `${re.flags.replace(/[gy]/g, '')}y`);
    const run: PhraseRunner = (text, index) => {
      for (const k of leading) {
        for (const at of index.positions(k)) {
          sticky.lastIndex = at;
          const m = sticky.exec(text);
          if (m !== null) return m;
        }
      }
      return null;
    };
    return { re, keys, leading, run };
  }
  if (keys !== null) {
    const run: PhraseRunner = (text, index) => {
      for (const k of keys) if (index.has(k)) return re.exec(text);
      return null;
    };
    return { re, keys, leading, run };
  }
  return { re, keys, leading, run: (text) => re.exec(text) };
}

/**
 * Where each word key occurs in a lower-case text. Positions live in two flat arrays (a linked
 * list per key) so indexing a message allocates almost nothing per word.
 */
export class WordIndex {
  readonly #first = new Map<string, number>();
  readonly #starts: number[] = [];
  readonly #next: number[] = [];
  readonly #last = new Map<string, number>();

  constructor(text: string) {
    let start = -1;
    for (let i = 0; i <= text.length; i++) {
      const c = i < text.length ? text.charCodeAt(i) : 32;
      if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) {
        if (start < 0) start = i;
        continue;
      }
      if (start < 0) continue;
      const key = text.slice(start, Math.min(i, start + KEY_LENGTH));
      const slot = this.#starts.length;
      this.#starts.push(start);
      this.#next.push(-1);
      const tail = this.#last.get(key);
      if (tail === undefined) this.#first.set(key, slot);
      else this.#next[tail] = slot;
      this.#last.set(key, slot);
      start = -1;
    }
  }

  has(key: string): boolean {
    return this.#first.has(key);
  }

  /** Start offsets of the words with this key, in text order. */
  *positions(key: string): Generator<number> {
    for (let slot = this.#first.get(key) ?? -1; slot >= 0; slot = this.#next[slot] ?? -1) {
      yield this.#starts[slot] ?? 0;
    }
  }
}

/** The word keys present in a lower-case text: 4-char prefixes and whole shorter words. */
export function indexWordKeys(text: string): Set<string> {
  const keys = new Set<string>();
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 32;
    const word = (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
    if (word) {
      if (start < 0) start = i;
      continue;
    }
    if (start >= 0) {
      keys.add(text.slice(start, Math.min(i, start + KEY_LENGTH)));
      start = -1;
    }
  }
  return keys;
}

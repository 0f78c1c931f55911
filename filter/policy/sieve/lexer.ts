/**
 * Sieve lexer (RFC 5228 §8.1): identifiers, tags, numbers with K/M/G quantifiers, quoted and
 * multi-line (`text:`) strings with dot-stuffing, hash and bracket comments, and the
 * punctuation of the grammar. Every token carries its 1-based line and column; every lexical
 * error is a positioned {@link SieveError}. Line ends in string values become CRLF, as the
 * RFC's ABNF writes them and as Pigeonhole stores them.
 */
import { SieveError } from './errors.js';

/** Kinds of token produced by {@link tokenizeSieve}. */
export type SieveTokenKind =
  | 'identifier'
  | 'tag'
  | 'number'
  | 'string'
  | '['
  | ']'
  | '('
  | ')'
  | '{'
  | '}'
  | ','
  | ';'
  | 'eof';

/** One token with its position in the script text. */
export interface SieveToken {
  readonly kind: SieveTokenKind;
  /** Identifier/tag name (tag without the colon), string value, or the punctuation itself. */
  readonly text: string;
  /** The value of a number token (quantifier applied). */
  readonly number: number;
  /** True for a `text:` multi-line string. */
  readonly multiline: boolean;
  readonly line: number;
  readonly column: number;
}

/** Largest number accepted: Pigeonhole's 64-bit unsigned maximum (values above 2^53 lose precision). */
export const SIEVE_MAX_NUMBER = 2n ** 64n - 1n;

const PUNCT = new Set(['[', ']', '(', ')', '{', '}', ',', ';']);

function isAlpha(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
}
function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

/**
 * Splits a script into tokens. Throws a positioned SieveError on the first lexical error.
 * `maxStringChars` bounds every string literal (ERR_SIEVE_LIMIT).
 */
export function tokenizeSieve(text: string, maxStringChars = Infinity): SieveToken[] {
  const tokens: SieveToken[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const n = text.length;
  const col = (at: number): number => at - lineStart + 1;
  const newline = (at: number): void => {
    line++;
    lineStart = at + 1;
  };
  const push = (
    kind: SieveTokenKind,
    value: string,
    l: number,
    c: number,
    num = 0,
    multiline = false,
  ): void => {
    tokens.push({ kind, text: value, number: num, multiline, line: l, column: c });
  };

  while (i < n) {
    const c = text.charAt(i);
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '\n') {
      newline(i);
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && text.charAt(i) !== '\n') i++;
      continue;
    }
    if (c === '/' && text.charAt(i + 1) === '*') {
      const l = line;
      const cc = col(i);
      i += 2;
      let closed = false;
      while (i < n) {
        if (text.charAt(i) === '*' && text.charAt(i + 1) === '/') {
          i += 2;
          closed = true;
          break;
        }
        if (text.charAt(i) === '\n') newline(i);
        i++;
      }
      if (!closed) throw new SieveError('ERR_SIEVE_UNTERMINATED', 'unterminated comment', l, cc);
      continue;
    }
    if (PUNCT.has(c)) {
      push(c as SieveTokenKind, c, line, col(i));
      i++;
      continue;
    }
    if (c === '"') {
      const l = line;
      const cc = col(i);
      i++;
      let value = '';
      let closed = false;
      while (i < n) {
        const ch = text.charAt(i);
        if (ch === '"') {
          closed = true;
          i++;
          break;
        }
        if (ch === '\\') {
          if (i + 1 >= n) break;
          const next = text.charAt(i + 1);
          // RFC 5228 §2.4.2: "\\" and "\"" are the escapes; any other backslash is dropped.
          if (next === '\n' || next === '\r') {
            i++;
            continue;
          }
          value += next;
          i += 2;
        } else if (ch === '\r' && text.charAt(i + 1) === '\n') {
          value += '\r\n';
          newline(i + 1);
          i += 2;
        } else if (ch === '\n') {
          value += '\r\n';
          newline(i);
          i++;
        } else {
          value += ch;
          i++;
        }
        if (value.length > maxStringChars) {
          throw new SieveError('ERR_SIEVE_LIMIT', 'string literal too long', l, cc);
        }
      }
      if (!closed) {
        throw new SieveError('ERR_SIEVE_UNTERMINATED', 'unterminated quoted string', l, cc);
      }
      push('string', value, l, cc);
      continue;
    }
    if (isDigit(c)) {
      const l = line;
      const cc = col(i);
      let j = i;
      while (j < n && isDigit(text.charAt(j))) j++;
      let value = BigInt(text.slice(i, j));
      const q = text.charAt(j).toUpperCase();
      if (q === 'K' || q === 'M' || q === 'G') {
        value *= q === 'K' ? 1024n : q === 'M' ? 1024n * 1024n : 1024n * 1024n * 1024n;
        j++;
      }
      if (j < n && isAlpha(text.charAt(j))) {
        throw new SieveError('ERR_SIEVE_LEXICAL', 'invalid character after number', line, col(j));
      }
      if (value > SIEVE_MAX_NUMBER) {
        throw new SieveError('ERR_SIEVE_NUMBER_TOO_LARGE', 'number too large', l, cc);
      }
      push('number', text.slice(i, j), l, cc, Number(value));
      i = j;
      continue;
    }
    if (c === ':') {
      const l = line;
      const cc = col(i);
      let j = i + 1;
      if (j >= n || !isAlpha(text.charAt(j))) {
        throw new SieveError('ERR_SIEVE_LEXICAL', "expected a tag name after ':'", l, cc);
      }
      while (j < n && (isAlpha(text.charAt(j)) || isDigit(text.charAt(j)))) j++;
      push('tag', text.slice(i + 1, j), l, cc);
      i = j;
      continue;
    }
    if (isAlpha(c)) {
      const l = line;
      const cc = col(i);
      let j = i;
      while (j < n && (isAlpha(text.charAt(j)) || isDigit(text.charAt(j)))) j++;
      const word = text.slice(i, j);
      if (word.toLowerCase() === 'text' && text.charAt(j) === ':') {
        i = lexMultiline(j + 1, l, cc);
        continue;
      }
      push('identifier', word, l, cc);
      i = j;
      continue;
    }
    throw new SieveError(
      'ERR_SIEVE_LEXICAL',
      `unexpected character '${printable(c)}'`,
      line,
      col(i),
    );
  }
  push('eof', '', line, col(i));
  return tokens;

  /** RFC 5228 §8.1 multi-line: "text:" *(SP / HTAB) (hash-comment / CRLF) *line "." CRLF. */
  function lexMultiline(start: number, l: number, cc: number): number {
    let j = start;
    while (j < n && (text.charAt(j) === ' ' || text.charAt(j) === '\t')) j++;
    if (text.charAt(j) === '#') {
      while (j < n && text.charAt(j) !== '\n') j++;
    } else if (text.charAt(j) === '\r' && text.charAt(j + 1) === '\n') {
      j++;
    } else if (text.charAt(j) !== '\n') {
      throw new SieveError('ERR_SIEVE_LEXICAL', "expected end of line after 'text:'", line, col(j));
    }
    if (j >= n) throw new SieveError('ERR_SIEVE_UNTERMINATED', 'unterminated text: string', l, cc);
    newline(j);
    j++;
    let value = '';
    for (;;) {
      if (j >= n) {
        throw new SieveError('ERR_SIEVE_UNTERMINATED', 'unterminated text: string', l, cc);
      }
      let e = text.indexOf('\n', j);
      const hasEnd = e >= 0;
      if (!hasEnd) e = n;
      let lineText = text.slice(j, e);
      if (lineText.endsWith('\r')) lineText = lineText.slice(0, -1);
      if (lineText === '.') {
        if (hasEnd) newline(e);
        push('string', value, l, cc, 0, true);
        return hasEnd ? e + 1 : e;
      }
      if (!hasEnd) {
        throw new SieveError('ERR_SIEVE_UNTERMINATED', 'unterminated text: string', l, cc);
      }
      if (lineText.startsWith('.')) lineText = lineText.slice(1);
      value += lineText + '\r\n';
      if (value.length > maxStringChars) {
        throw new SieveError('ERR_SIEVE_LIMIT', 'string literal too long', l, cc);
      }
      newline(e);
      j = e + 1;
    }
  }
}

function printable(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : c;
}

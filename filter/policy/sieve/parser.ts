/**
 * Sieve parser (RFC 5228 §8.2): turns tokens into a {@link SieveScriptNode}. It checks only the
 * grammar; what a command means is the compiler's business. Nesting of blocks and tests is
 * bounded so hostile input cannot exhaust the stack.
 */
import type {
  SieveArgumentNode,
  SieveCommandNode,
  SieveScriptNode,
  SieveStringNode,
  SieveTestNode,
} from './ast.js';
import { SieveError } from './errors.js';
import { tokenizeSieve, type SieveToken } from './lexer.js';
import { DEFAULT_SIEVE_LIMITS, type SieveLimits } from './limits.js';

/** Parses script text into a syntax tree; throws a positioned SieveError on the first error. */
export function parseSieve(
  text: string,
  limits: SieveLimits = DEFAULT_SIEVE_LIMITS,
): SieveScriptNode {
  if (text.length > limits.maxScriptChars) {
    throw new SieveError('ERR_SIEVE_LIMIT', 'script too large', 1, 1);
  }
  const tokens = tokenizeSieve(text, limits.maxStringChars);
  return new SieveParser(tokens, limits).parseScript();
}

function describe(t: SieveToken): string {
  switch (t.kind) {
    case 'eof':
      return 'end of script';
    case 'identifier':
      return `identifier '${t.text}'`;
    case 'tag':
      return `tag ':${t.text}'`;
    case 'number':
      return `number ${t.text}`;
    case 'string':
      return 'string';
    case ',':
    case ';':
    case '(':
    case ')':
    case '[':
    case ']':
    case '{':
    case '}':
      return `'${t.kind}'`;
  }
}

class SieveParser {
  readonly #tokens: readonly SieveToken[];
  readonly #limits: SieveLimits;
  #pos = 0;

  constructor(tokens: readonly SieveToken[], limits: SieveLimits) {
    this.#tokens = tokens;
    this.#limits = limits;
  }

  #peek(): SieveToken {
    const t = this.#tokens[this.#pos] ?? this.#tokens[this.#tokens.length - 1];
    if (t === undefined) throw new SieveError('ERR_SIEVE_SYNTAX', 'empty token stream', 1, 1);
    return t;
  }

  #next(): SieveToken {
    const t = this.#peek();
    if (t.kind !== 'eof') this.#pos++;
    return t;
  }

  #fail(t: SieveToken, expected: string): never {
    throw new SieveError(
      'ERR_SIEVE_SYNTAX',
      `expected ${expected}, but found ${describe(t)}`,
      t.line,
      t.column,
    );
  }

  parseScript(): SieveScriptNode {
    const commands = this.#parseCommands(0);
    const t = this.#peek();
    if (t.kind !== 'eof') this.#fail(t, 'a command');
    return { commands };
  }

  #parseCommands(depth: number): SieveCommandNode[] {
    const out: SieveCommandNode[] = [];
    while (this.#peek().kind === 'identifier') out.push(this.#parseCommand(depth));
    return out;
  }

  #parseCommand(depth: number): SieveCommandNode {
    const id = this.#next();
    const args = this.#parseArguments();
    let tests: SieveTestNode[] = [];
    let testList = false;
    const t = this.#peek();
    if (t.kind === 'identifier') {
      tests = [this.#parseTest(1)];
    } else if (t.kind === '(') {
      tests = this.#parseTestList(1);
      testList = true;
    }
    const end = this.#next();
    if (end.kind === ';') {
      return {
        name: id.text,
        args,
        tests,
        testList,
        block: null,
        line: id.line,
        column: id.column,
      };
    }
    if (end.kind === '{') {
      if (depth + 1 > this.#limits.maxBlockNesting) {
        throw new SieveError('ERR_SIEVE_LIMIT', 'blocks nested too deeply', end.line, end.column);
      }
      const block = this.#parseCommands(depth + 1);
      const close = this.#next();
      if (close.kind !== '}') this.#fail(close, "end of compound block '}'");
      return { name: id.text, args, tests, testList, block, line: id.line, column: id.column };
    }
    return this.#fail(end, "';' or '{'");
  }

  #parseArguments(): SieveArgumentNode[] {
    const args: SieveArgumentNode[] = [];
    for (;;) {
      const t = this.#peek();
      if (t.kind === 'string') {
        this.#next();
        args.push({ kind: 'string', value: toStringNode(t), line: t.line, column: t.column });
      } else if (t.kind === 'number') {
        this.#next();
        args.push({ kind: 'number', value: t.number, line: t.line, column: t.column });
      } else if (t.kind === 'tag') {
        this.#next();
        args.push({ kind: 'tag', name: t.text, line: t.line, column: t.column });
      } else if (t.kind === '[') {
        this.#next();
        const values: SieveStringNode[] = [];
        for (;;) {
          const s = this.#next();
          if (s.kind !== 'string') this.#fail(s, 'a string in the string list');
          values.push(toStringNode(s));
          if (values.length > this.#limits.maxStringListItems) {
            throw new SieveError('ERR_SIEVE_LIMIT', 'string list too long', t.line, t.column);
          }
          const sep = this.#next();
          if (sep.kind === ']') break;
          if (sep.kind !== ',') this.#fail(sep, "',' or ']'");
        }
        args.push({ kind: 'string-list', values, line: t.line, column: t.column });
      } else {
        return args;
      }
    }
  }

  #parseTest(depth: number): SieveTestNode {
    const id = this.#next();
    if (id.kind !== 'identifier') this.#fail(id, 'a test');
    if (depth > this.#limits.maxTestNesting) {
      throw new SieveError('ERR_SIEVE_LIMIT', 'tests nested too deeply', id.line, id.column);
    }
    const args = this.#parseArguments();
    let tests: SieveTestNode[] = [];
    let testList = false;
    const t = this.#peek();
    if (t.kind === 'identifier') {
      tests = [this.#parseTest(depth + 1)];
    } else if (t.kind === '(') {
      tests = this.#parseTestList(depth + 1);
      testList = true;
    }
    return { name: id.text, args, tests, testList, line: id.line, column: id.column };
  }

  #parseTestList(depth: number): SieveTestNode[] {
    this.#next();
    const tests: SieveTestNode[] = [];
    for (;;) {
      tests.push(this.#parseTest(depth));
      const sep = this.#next();
      if (sep.kind === ')') return tests;
      if (sep.kind !== ',') this.#fail(sep, "',' or ')'");
    }
  }
}

function toStringNode(t: SieveToken): SieveStringNode {
  return { value: t.text, multiline: t.multiline, line: t.line, column: t.column };
}

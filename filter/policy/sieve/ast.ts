/**
 * Sieve syntax tree (RFC 5228 §8.2), as produced by the parser and before any validation.
 * Every node carries the 1-based line and column of its first token.
 */

/** A position in the script text. */
export interface SievePosition {
  readonly line: number;
  readonly column: number;
}

/** One string of a string argument or string list. */
export interface SieveStringNode extends SievePosition {
  readonly value: string;
  /** True when written as `text:` … `.`. */
  readonly multiline: boolean;
}

/** A positional or tagged argument as written. */
export type SieveArgumentNode =
  | (SievePosition & { readonly kind: 'string'; readonly value: SieveStringNode })
  | (SievePosition & { readonly kind: 'string-list'; readonly values: readonly SieveStringNode[] })
  | (SievePosition & { readonly kind: 'number'; readonly value: number })
  | (SievePosition & { readonly kind: 'tag'; readonly name: string });

/** A test: identifier, arguments and nested tests. */
export interface SieveTestNode extends SievePosition {
  readonly name: string;
  readonly args: readonly SieveArgumentNode[];
  readonly tests: readonly SieveTestNode[];
  /** True when the nested tests were written as a parenthesised test list. */
  readonly testList: boolean;
}

/** A command: identifier, arguments, optional test(s), and `;` or a block. */
export interface SieveCommandNode extends SievePosition {
  readonly name: string;
  readonly args: readonly SieveArgumentNode[];
  readonly tests: readonly SieveTestNode[];
  readonly testList: boolean;
  /** The block body, or null when the command ended with `;`. */
  readonly block: readonly SieveCommandNode[] | null;
}

/** A whole script. */
export interface SieveScriptNode {
  readonly commands: readonly SieveCommandNode[];
}

/**
 * The contract between the Sieve core (compiler, interpreter) and the extension files in
 * extensions/. An extension contributes commands and tests, tags on other extensions' commands,
 * match types and comparators; each command carries its compile-side shape and its run-side
 * behaviour side by side, so adding a command touches one file (STYLE.md B2).
 */
import type { SieveError } from './errors.js';

/** Type of a positional or tag argument. A `string-list` slot also takes a single string. */
export type SieveArgType = 'string' | 'string-list' | 'number';

/** A tagged argument a command accepts. */
export interface SieveTagDef {
  /** The tag name without the colon, lower case. */
  readonly name: string;
  /** The argument that follows the tag, when it takes one. */
  readonly arg?: SieveArgType;
  /** Tags of one group exclude each other (match-type, comparator, address-part, …). */
  readonly group?: string;
  /** Capability that must be required for this tag, when not the command's own. */
  readonly capability?: string;
}

/** A string after compilation: constant text, or a template with variable references. */
export interface CompiledString {
  /** The literal value (after encoded-character decoding). */
  readonly raw: string;
  /** Template parts when the string contains variable references, else null. */
  readonly parts: readonly (string | SieveVariableRef)[] | null;
  readonly line: number;
  readonly column: number;
}

/** `${name}` or `${N}` inside a string. */
export interface SieveVariableRef {
  /** Lower-cased variable name, or "" for a match variable. */
  readonly name: string;
  /** Match variable number, or -1 for a named variable. */
  readonly index: number;
}

/** A compiled argument. */
export type CompiledArg =
  | {
      readonly kind: 'string';
      readonly value: CompiledString;
      /** The value as a one-element list when it holds no variable reference (set by the compiler). */
      readonly constant?: readonly string[];
    }
  | {
      readonly kind: 'string-list';
      readonly values: readonly CompiledString[];
      /** The values when none holds a variable reference (set by the compiler). */
      readonly constant?: readonly string[];
    }
  | {
      readonly kind: 'number';
      readonly value: number;
      readonly line: number;
      readonly column: number;
    };

/** Match type names. */
export type SieveMatchTypeName = 'is' | 'contains' | 'matches' | 'regex' | 'count' | 'value';

/** Relational operators of RFC 5231. */
export type SieveRelation = 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';

/** Resolved match type and comparator of a test. */
export interface SieveMatchSpec {
  readonly type: SieveMatchTypeName;
  readonly relation: SieveRelation | null;
  readonly comparator: string;
}

/** A compiled command or test. */
export interface CompiledNode {
  readonly def: SieveCommandDef;
  readonly name: string;
  readonly line: number;
  readonly column: number;
  /** Tags given, by name (without colon), with their argument or null. */
  readonly tags: ReadonlyMap<string, CompiledArg | null>;
  /** Positional arguments in order. */
  readonly args: readonly CompiledArg[];
  readonly tests: readonly CompiledNode[];
  readonly block: readonly CompiledNode[] | null;
  /** The match type and comparator, for tests that match. */
  readonly match: SieveMatchSpec;
  /** Address part tag (all, localpart, domain, user, detail), for tests that take one. */
  readonly addressPart: string;
  /** Extension data prepared at compile time (for example capabilities of ihave). */
  data: unknown;
}

/** What an extension's compile-time check can see. */
export interface SieveValidateContext {
  /** True when the capability was required (or is implied). */
  hasCapability(name: string): boolean;
  /** True when the capability is one this engine offers. */
  isSupported(name: string): boolean;
  /** Builds a positioned compile error. */
  error(
    code: import('./errors.js').SieveErrorCodeName,
    message: string,
    at: { line: number; column: number },
  ): SieveError;
  /** Emits a compile warning (kept in the compiled script). */
  warn(message: string, at: { line: number; column: number }): void;
}

/** A request the interpreter yields to its host (STYLE.md B1.4). */
export type SieveRequest =
  | { readonly kind: 'include'; readonly name: string; readonly location: 'personal' | 'global' }
  | {
      readonly kind: 'duplicate';
      readonly id: string;
      readonly handle: string;
      readonly seconds: number | null;
      readonly last: boolean;
    };

/** The host's answer to a {@link SieveRequest}. */
export type SieveAnswer =
  | { readonly kind: 'include'; readonly script: string | null }
  | { readonly kind: 'duplicate'; readonly duplicate: boolean };

/** A test's outcome: a boolean, or a request whose answer decides it. */
export type SieveTestOutcome =
  boolean | { readonly request: SieveRequest; readonly resume: (answer: SieveAnswer) => boolean };

/** A command or test definition. */
export interface SieveCommandDef {
  readonly name: string;
  readonly kind: 'command' | 'test';
  /** Capability that provides it; null for the base language. */
  readonly capability: string | null;
  readonly tags?: readonly SieveTagDef[];
  /** Accepted positional signatures (chosen by argument count). */
  readonly positional: readonly (readonly SieveArgType[])[];
  /** Tests taken: none, exactly one (if, not), or a parenthesised list (allof, anyof). */
  readonly tests?: 'none' | 'one' | 'list';
  /** True when a block is required (if/elsif/else); otherwise a block is an error. */
  readonly block?: boolean;
  /** The test takes COMPARATOR and MATCH-TYPE. */
  readonly matching?: boolean;
  /** Comparator used when none is given (default i;ascii-casemap). */
  readonly defaultComparator?: string;
  /** The test takes ADDRESS-PART. */
  readonly addressPart?: boolean;
  /** Positions (0-based) of positional string arguments that must be constant. */
  readonly constantArgs?: readonly number[];
  /** Extra compile-time checks; throws a SieveError through `ctx.error`. */
  readonly validate?: (node: CompiledNode, ctx: SieveValidateContext) => void;
  /** Run a command. */
  readonly execute?: (node: CompiledNode, rt: import('./runtime.js').SieveRuntime) => void;
  /** Run a test. */
  readonly test?: (node: CompiledNode, rt: import('./runtime.js').SieveRuntime) => SieveTestOutcome;
}

/** One extension (one file in extensions/). */
export interface SieveExtension {
  /** Capability strings it provides (first is the main one). */
  readonly capabilities: readonly string[];
  readonly commands?: readonly SieveCommandDef[];
  /** Tags it adds to other commands, by command name. */
  readonly tagsFor?: Readonly<Record<string, readonly SieveTagDef[]>>;
  /** Match types it adds (name → capability). */
  readonly matchTypes?: readonly SieveMatchTypeName[];
  /** Address parts it adds. */
  readonly addressParts?: readonly string[];
}

/**
 * RFC 5229 variables: the set command with its modifiers, the string test, and `${…}`
 * references (parsed in the compiler, expanded in runtime.ts). Match variables are set by
 * :matches and :regex.
 */
import { validateRegexKeys } from '../compiler.js';
import type { CompiledNode, SieveExtension, SieveValidateContext } from '../extension-api.js';

const MODIFIERS: Readonly<Record<string, number>> = {
  lower: 40,
  upper: 40,
  lowerfirst: 30,
  upperfirst: 30,
  quotewildcard: 20,
  quoteregex: 20,
  encodeurl: 15,
  length: 10,
};

/** True for a valid variable name (RFC 5229 §3 identifier). */
export function isValidVariableName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

function validateSet(node: CompiledNode, ctx: SieveValidateContext): void {
  const name = node.args[0];
  if (name?.kind === 'string' && !isValidVariableName(name.value.raw)) {
    throw ctx.error(
      'ERR_SIEVE_INVALID_VALUE',
      `invalid variable name '${name.value.raw}'`,
      name.value,
    );
  }
  const seen = new Map<number, string>();
  for (const tag of node.tags.keys()) {
    const prec = MODIFIERS[tag];
    if (prec === undefined) continue;
    const other = seen.get(prec);
    if (other !== undefined) {
      throw ctx.error(
        'ERR_SIEVE_TAG_CONFLICT',
        `modifiers :${other} and :${tag} of the set command have the same precedence`,
        node,
      );
    }
    seen.set(prec, tag);
  }
}

function quoteRegex(s: string): string {
  return s.replace(/[\\^$.|?*+()[\]{}]/g, (c) => '\\' + c);
}

function applyModifier(mod: string, v: string): string {
  switch (mod) {
    // Pigeonhole maps case in ASCII only.
    case 'lower':
      return v.replace(/[A-Z]+/g, (m) => m.toLowerCase());
    case 'upper':
      return v.replace(/[a-z]+/g, (m) => m.toUpperCase());
    case 'lowerfirst':
      return v.replace(/^[A-Z]/, (m) => m.toLowerCase());
    case 'upperfirst':
      return v.replace(/^[a-z]/, (m) => m.toUpperCase());
    case 'quotewildcard':
      return v.replace(/[*?\\]/g, (c) => '\\' + c);
    case 'quoteregex':
      return quoteRegex(v);
    case 'encodeurl':
      return encodeURIComponent(v).replace(
        /[!'()*]/g,
        (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase(),
      );
    case 'length':
      return String(Array.from(v).length);
    default:
      return v;
  }
}

/** The variables extension. */
export const variablesExtension: SieveExtension = {
  capabilities: ['variables'],
  commands: [
    {
      name: 'set',
      kind: 'command',
      capability: 'variables',
      positional: [['string', 'string']],
      constantArgs: [0],
      tags: [
        { name: 'lower' },
        { name: 'upper' },
        { name: 'lowerfirst' },
        { name: 'upperfirst' },
        { name: 'quotewildcard' },
        { name: 'length' },
      ],
      validate: validateSet,
      execute: (node, rt) => {
        let value = rt.expandString(node.args[1]);
        const mods = [...node.tags.keys()]
          .filter((t) => MODIFIERS[t] !== undefined)
          .sort((a, b) => (MODIFIERS[b] ?? 0) - (MODIFIERS[a] ?? 0));
        for (const m of mods) value = applyModifier(m, value);
        const name = node.args[0];
        rt.setVariable(name?.kind === 'string' ? name.value.raw : '', value, node);
      },
    },
    {
      name: 'string',
      kind: 'test',
      capability: 'variables',
      positional: [['string-list', 'string-list']],
      matching: true,
      // Pigeonhole quirk: the string test defaults to i;octet, not i;ascii-casemap.
      defaultComparator: 'i;octet',
      validate: (node, ctx) => {
        validateRegexKeys(node, node.args[1], ctx);
      },
      test: (node, rt) => {
        const values = rt.expandList(node.args[0]);
        // RFC 5229 §5: :count counts the non-empty strings.
        const count = values.filter((v) => v !== '').length;
        return rt.matchValuesAgainst(node, values, rt.stringList(node.args[1]), { count });
      },
    },
  ],
};

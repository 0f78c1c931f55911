/**
 * The base language of RFC 5228: control commands (if/elsif/else, stop; require is handled by
 * the compiler), the actions keep, discard and redirect (§4), and the tests address, allof,
 * anyof, exists, false, header, not, size and true (§5).
 */
import {
  addressPartOf,
  headerFieldsAddresses,
  quoteLocalPart,
  selectHeaderFields,
} from '../address.js';
import { validateRegexKeys } from '../compiler.js';
import { SieveError } from '../errors.js';
import type {
  CompiledNode,
  SieveCommandDef,
  SieveExtension,
  SieveValidateContext,
} from '../extension-api.js';
import {
  hasHeaderField,
  headerFieldDecodedValue,
  messageSizeOver,
  messageSizeUnder,
  parseSingleMailbox,
  type SieveHeaderField,
} from '../message-view.js';
import type { SieveRuntime } from '../runtime.js';

/** True for a syntactically valid header field name (RFC 5322 §3.6.8 ftext). */
export function isValidHeaderName(name: string): boolean {
  return /^[\x21-\x39\x3b-\x7e]+$/.test(name);
}

/** The strings of a string or string-list argument (empty for anything else). */
export function stringArgValues(arg: CompiledNode['args'][number] | undefined) {
  return arg?.kind === 'string' ? [arg.value] : arg?.kind === 'string-list' ? arg.values : [];
}

/** Compile-time check of constant header names in argument `i`. */
export function checkHeaderNames(
  node: CompiledNode,
  i: number,
  ctx: SieveValidateContext,
  what: string,
  allowEmpty = false,
): void {
  for (const s of stringArgValues(node.args[i])) {
    if (allowEmpty && s.raw === '') continue;
    if (s.parts === null && !isValidHeaderName(s.raw)) {
      throw ctx.error(
        'ERR_SIEVE_INVALID_VALUE',
        `${what}: specified header name '${s.raw}' is invalid`,
        s,
      );
    }
  }
}

/** :index N [:last] of RFC 5260 §6, when present. */
export function indexOf(node: CompiledNode): { index: number | null; last: boolean } {
  const t = node.tags.get('index');
  return {
    index: t !== undefined && t !== null && t.kind === 'number' ? t.value : null,
    last: node.tags.has('last'),
  };
}

/** Validates :index/:last (RFC 5260 §6: :last needs :index; index must be positive). */
export function validateIndex(node: CompiledNode, ctx: SieveValidateContext): void {
  const t = node.tags.get('index');
  if (node.tags.has('last') && t === undefined) {
    throw ctx.error('ERR_SIEVE_ARGUMENT', 'the :last tag requires the :index tag', node);
  }
  if (t !== undefined && t !== null && t.kind === 'number' && t.value === 0) {
    throw ctx.error('ERR_SIEVE_INVALID_VALUE', 'the :index argument must be greater than zero', t);
  }
}

/** The single ASCII address of a redirect argument, or null (Pigeonhole refuses 8-bit). */
function redirectAddress(s: string): string | null {
  const addr = parseSingleMailbox(s);
  if (addr === null || addr.domain === null) return null;
  const text = `${quoteLocalPart(addr.localPart)}@${addr.domain}`;
  return /^[\x00-\x7f]*$/.test(text) ? text : null;
}

function matchAddressValues(
  node: CompiledNode,
  rt: SieveRuntime,
  fields: readonly SieveHeaderField[],
): boolean {
  const addrs = headerFieldsAddresses(fields);
  const sep = rt.env.subaddressSeparator;
  const values: string[] = [];
  for (const a of addrs) {
    const v = addressPartOf(a, node.addressPart, sep);
    if (v !== null) values.push(v);
  }
  return rt.matchValuesAgainst(node, values, rt.stringList(node.args[1]), { count: addrs.length });
}

const ALLOWED_ADDRESS_HEADERS = new Set([
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'bcc',
  'resent-from',
  'resent-sender',
  'resent-to',
  'resent-cc',
  'resent-bcc',
  'return-receipt-to',
  'disposition-notification-to',
  'errors-to',
  'delivered-to',
  'envelope-to',
  'x-original-to',
  'x-envelope-to',
  'original-recipient',
  'x-beenthere',
  'approved',
  'followup-to',
  'mail-followup-to',
  'mail-reply-to',
]);

const commands: SieveCommandDef[] = [
  { name: 'if', kind: 'command', capability: null, positional: [[]], tests: 'one', block: true },
  { name: 'elsif', kind: 'command', capability: null, positional: [[]], tests: 'one', block: true },
  { name: 'else', kind: 'command', capability: null, positional: [[]], block: true },
  { name: 'stop', kind: 'command', capability: null, positional: [[]] },
  {
    name: 'keep',
    kind: 'command',
    capability: null,
    positional: [[]],
    execute: (node, rt) => {
      rt.addStore(node, 'INBOX', false, rt.actionFlags(node));
    },
  },
  {
    name: 'discard',
    kind: 'command',
    capability: null,
    positional: [[]],
    execute: (node, rt) => {
      rt.addDiscard(node);
    },
  },
  {
    name: 'redirect',
    kind: 'command',
    capability: null,
    positional: [['string']],
    validate: (node, ctx) => {
      const a = node.args[0];
      if (a?.kind === 'string' && a.value.parts === null && redirectAddress(a.value.raw) === null) {
        throw ctx.error(
          'ERR_SIEVE_INVALID_VALUE',
          `specified redirect address '${a.value.raw}' is invalid`,
          a.value,
        );
      }
    },
    execute: (node, rt) => {
      const text = rt.expandString(node.args[0]);
      const address = redirectAddress(text);
      if (address === null) throw rtError(node, `specified redirect address '${text}' is invalid`);
      rt.addRedirect(node, address, node.tags.has('copy'));
    },
  },
  // Tests
  { name: 'true', kind: 'test', capability: null, positional: [[]], test: () => true },
  { name: 'false', kind: 'test', capability: null, positional: [[]], test: () => false },
  { name: 'not', kind: 'test', capability: null, positional: [[]], tests: 'one' },
  { name: 'allof', kind: 'test', capability: null, positional: [[]], tests: 'list' },
  { name: 'anyof', kind: 'test', capability: null, positional: [[]], tests: 'list' },
  {
    name: 'exists',
    kind: 'test',
    capability: null,
    positional: [['string-list']],
    test: (node, rt) => rt.stringList(node.args[0]).every((h) => hasHeaderField(rt.message, h)),
  },
  {
    name: 'size',
    kind: 'test',
    capability: null,
    positional: [['number']],
    tags: [
      { name: 'over', group: 'size' },
      { name: 'under', group: 'size' },
    ],
    validate: (node, ctx) => {
      if (!node.tags.has('over') && !node.tags.has('under')) {
        throw ctx.error(
          'ERR_SIEVE_ARGUMENT',
          'the size test requires either the :under or the :over tag',
          node,
        );
      }
    },
    test: (node, rt) => {
      const a = node.args[0];
      const limit = a?.kind === 'number' ? a.value : 0;
      return node.tags.has('over')
        ? messageSizeOver(rt.message, limit)
        : messageSizeUnder(rt.message, limit);
    },
  },
  {
    name: 'header',
    kind: 'test',
    capability: null,
    positional: [['string-list', 'string-list']],
    matching: true,
    validate: (node, ctx) => {
      validateIndex(node, ctx);
      validateRegexKeys(node, node.args[1], ctx);
    },
    test: (node, rt) => {
      const { index, last } = indexOf(node);
      const fields = selectHeaderFields(rt, rt.stringList(node.args[0]), index, last);
      const values = fields.map(headerFieldDecodedValue);
      return rt.matchValuesAgainst(node, values, rt.stringList(node.args[1]));
    },
  },
  {
    name: 'address',
    kind: 'test',
    capability: null,
    positional: [['string-list', 'string-list']],
    matching: true,
    addressPart: true,
    validate: (node, ctx) => {
      for (const s of stringArgValues(node.args[0])) {
        if (s.parts === null && !ALLOWED_ADDRESS_HEADERS.has(s.raw.toLowerCase())) {
          throw ctx.error(
            'ERR_SIEVE_INVALID_VALUE',
            `specified header '${s.raw}' is not allowed for the address test`,
            s,
          );
        }
      }
      validateIndex(node, ctx);
      validateRegexKeys(node, node.args[1], ctx);
    },
    test: (node, rt) => {
      const { index, last } = indexOf(node);
      const names = rt
        .stringList(node.args[0])
        .filter((n) => ALLOWED_ADDRESS_HEADERS.has(n.toLowerCase()));
      return matchAddressValues(node, rt, selectHeaderFields(rt, names, index, last));
    },
  },
];

/** A run-time error positioned at the node. */
export function rtError(node: CompiledNode, message: string): SieveError {
  return new SieveError('ERR_SIEVE_RUNTIME', message, node.line, node.column);
}

/** RFC 5228 base language. */
export const coreExtension: SieveExtension = {
  capabilities: ['comparator-i;octet', 'comparator-i;ascii-casemap'],
  commands,
};

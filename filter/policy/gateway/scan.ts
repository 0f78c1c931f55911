/**
 * "vnd.parapet.scan": tests on the scan result (filter/scan ScanResult). See README.md.
 *   spam                                          score >= threshold
 *   spamscore [:gt|:ge|:lt|:le|:eq|:ne] [:threshold] "<decimal>"
 *   spamsymbol [COMPARATOR] [MATCH-TYPE] <names>  symbols of the findings
 *   virus [COMPARATOR] [MATCH-TYPE] [<names>]     infected (and a signature matches)
 *   unscanned                                     the virus scanner could not scan it
 *   unscannable [COMPARATOR] [MATCH-TYPE] [<reasons>]
 *   attachment [:name|:type|:declaredtype|:detectedtype] [:encrypted] [COMPARATOR] [MATCH-TYPE] [<keys>]
 *   attachmentsize :over|:under <number>
 *   auth "spf"|"dkim"|"dmarc"|"arc"|"dmarc-policy" [COMPARATOR] [MATCH-TYPE] <results>
 *   clientip [:cidr | COMPARATOR MATCH-TYPE] <keys>
 * A message that was not scanned makes every test false.
 */
import { validateRegexKeys } from '../sieve/compiler.js';
import type { CompiledNode, SieveExtension, SieveRuntime } from '../sieve/index.js';
import type { SieveValidateContext } from '../sieve/extension-api.js';
import { CidrSet, parseCidr, type CidrRange } from '../lists/index.js';
import type { AttachmentInfo } from '../../scan/scanner.js';
import { constantString, constantStrings, gatewayError, gatewayState } from './context.js';

const CAP = 'vnd.parapet.scan';
const DECIMAL = /^-?[0-9]{1,9}(?:\.[0-9]{1,9})?$/;
const RELATIONS = ['gt', 'ge', 'lt', 'le', 'eq', 'ne'] as const;
type Relation = (typeof RELATIONS)[number];
const AUTH_METHODS = new Set(['spf', 'dkim', 'dmarc', 'arc', 'dmarc-policy']);

function keysValidate(index: number) {
  return (node: CompiledNode, ctx: SieveValidateContext): void => {
    validateRegexKeys(node, node.args[index], ctx);
  };
}

function compareNumbers(rel: Relation, a: number, b: number): boolean {
  switch (rel) {
    case 'gt':
      return a > b;
    case 'ge':
      return a >= b;
    case 'lt':
      return a < b;
    case 'le':
      return a <= b;
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
  }
}

function attachmentValues(node: CompiledNode, list: readonly AttachmentInfo[]): string[] {
  const out: string[] = [];
  for (const a of list) {
    if (node.tags.has('declaredtype')) out.push(a.declaredType);
    else if (node.tags.has('detectedtype')) {
      if (a.detectedType !== null) out.push(a.detectedType);
    } else if (node.tags.has('type')) {
      out.push(a.declaredType);
      if (a.detectedType !== null && a.detectedType !== a.declaredType) out.push(a.detectedType);
    } else if (a.filename !== null) out.push(a.filename);
  }
  return out;
}

function cidrBlocks(node: CompiledNode, rt: SieveRuntime): CidrSet {
  const cached = node.data;
  if (cached instanceof CidrSet) return cached;
  const blocks: CidrRange[] = [];
  for (const k of rt.expandList(node.args[0])) {
    const c = parseCidr(k);
    if (c !== null) blocks.push(c);
  }
  const set = new CidrSet(blocks);
  // Constant keys never change: keep the parsed set on the node for the next message.
  const arg = node.args[0];
  const constant =
    arg?.kind === 'string'
      ? arg.value.parts === null
      : arg?.kind === 'string-list' && arg.values.every((v) => v.parts === null);
  if (constant) node.data = set;
  return set;
}

/** The vnd.parapet.scan extension. */
export const gatewayScanExtension: SieveExtension = {
  capabilities: [CAP],
  commands: [
    {
      name: 'spam',
      kind: 'test',
      capability: CAP,
      positional: [[]],
      test: (node, rt) => gatewayState(node, rt).facts.scan?.spam ?? false,
    },
    {
      name: 'spamscore',
      kind: 'test',
      capability: CAP,
      positional: [['string']],
      tags: [...RELATIONS.map((name) => ({ name, group: 'relation' })), { name: 'threshold' }],
      validate: (node, ctx) => {
        const v = constantString(node, 0);
        if (v !== null && !DECIMAL.test(v)) {
          throw ctx.error(
            'ERR_SIEVE_INVALID_VALUE',
            `spamscore: '${v}' is not a decimal number`,
            node,
          );
        }
      },
      test: (node, rt) => {
        const scan = gatewayState(node, rt).facts.scan;
        if (scan === null) return false;
        const text = rt.expandString(node.args[0]).trim();
        if (!DECIMAL.test(text)) return false;
        let limit = Number(text);
        if (node.tags.has('threshold')) limit *= scan.threshold;
        const rel = RELATIONS.find((r) => node.tags.has(r)) ?? 'ge';
        return compareNumbers(rel, scan.score, limit);
      },
    },
    {
      name: 'spamsymbol',
      kind: 'test',
      capability: CAP,
      positional: [['string-list']],
      matching: true,
      validate: keysValidate(0),
      test: (node, rt) => {
        const scan = gatewayState(node, rt).facts.scan;
        if (scan === null) return false;
        const names = scan.findings.map((f) => f.symbol);
        return rt.matchValuesAgainst(node, names, rt.expandList(node.args[0]));
      },
    },
    {
      name: 'virus',
      kind: 'test',
      capability: CAP,
      positional: [[], ['string-list']],
      matching: true,
      validate: keysValidate(0),
      test: (node, rt) => {
        const virus = gatewayState(node, rt).facts.scan?.virus ?? null;
        if (virus?.status !== 'infected') return false;
        if (node.args.length === 0) return true;
        return rt.matchValuesAgainst(node, virus.names, rt.expandList(node.args[0]));
      },
    },
    {
      name: 'unscanned',
      kind: 'test',
      capability: CAP,
      positional: [[]],
      test: (node, rt) => gatewayState(node, rt).facts.scan?.virus?.status === 'unscanned',
    },
    {
      name: 'unscannable',
      kind: 'test',
      capability: CAP,
      positional: [[], ['string-list']],
      matching: true,
      validate: keysValidate(0),
      test: (node, rt) => {
        const scan = gatewayState(node, rt).facts.scan;
        if (scan === null) return false;
        const reasons: string[] = [];
        if (scan.unscannable !== null) reasons.push(scan.unscannable);
        if (scan.attachments.some((a) => a.encrypted)) reasons.push('encrypted');
        if (reasons.length === 0) return false;
        if (node.args.length === 0) return true;
        return rt.matchValuesAgainst(node, reasons, rt.expandList(node.args[0]));
      },
    },
    {
      name: 'attachment',
      kind: 'test',
      capability: CAP,
      positional: [[], ['string-list']],
      matching: true,
      tags: [
        { name: 'name', group: 'attachment-part' },
        { name: 'type', group: 'attachment-part' },
        { name: 'declaredtype', group: 'attachment-part' },
        { name: 'detectedtype', group: 'attachment-part' },
        { name: 'encrypted' },
      ],
      validate: keysValidate(0),
      test: (node, rt) => {
        const scan = gatewayState(node, rt).facts.scan;
        if (scan === null) return false;
        const list = node.tags.has('encrypted')
          ? scan.attachments.filter((a) => a.encrypted)
          : scan.attachments;
        if (node.args.length === 0) return list.length > 0;
        return rt.matchValuesAgainst(
          node,
          attachmentValues(node, list),
          rt.expandList(node.args[0]),
        );
      },
    },
    {
      name: 'attachmentsize',
      kind: 'test',
      capability: CAP,
      positional: [['number']],
      tags: [
        { name: 'over', group: 'size' },
        { name: 'under', group: 'size' },
      ],
      validate: (node, ctx) => {
        if (!node.tags.has('over') && !node.tags.has('under')) {
          throw ctx.error('ERR_SIEVE_ARGUMENT', 'attachmentsize needs :over or :under', node);
        }
      },
      test: (node, rt) => {
        const scan = gatewayState(node, rt).facts.scan;
        const limitArg = node.args[0];
        if (scan === null || limitArg?.kind !== 'number') return false;
        const over = node.tags.has('over');
        return scan.attachments.some((a) =>
          over ? a.sizeBytes > limitArg.value : a.sizeBytes < limitArg.value,
        );
      },
    },
    {
      name: 'auth',
      kind: 'test',
      capability: CAP,
      positional: [['string', 'string-list']],
      matching: true,
      validate: (node, ctx) => {
        const m = constantString(node, 0);
        if (m !== null && !AUTH_METHODS.has(m.toLowerCase())) {
          throw ctx.error(
            'ERR_SIEVE_INVALID_VALUE',
            `auth: unknown method '${m}' (spf, dkim, dmarc, arc, dmarc-policy)`,
            node,
          );
        }
        validateRegexKeys(node, node.args[1], ctx);
      },
      test: (node, rt) => {
        const auth = gatewayState(node, rt).facts.scan?.auth ?? null;
        if (auth === null) return false;
        const method = rt.expandString(node.args[0]).toLowerCase();
        let value: string | null | undefined;
        switch (method) {
          case 'spf':
          case 'dkim':
          case 'dmarc':
          case 'arc':
            value = auth[method];
            break;
          case 'dmarc-policy':
            value = auth.dmarcPolicy;
            break;
          default:
            throw gatewayError(node, `auth: unknown method '${method}'`);
        }
        if (value === null || value === undefined) return false;
        return rt.matchValuesAgainst(node, [value], rt.expandList(node.args[1]));
      },
    },
    {
      name: 'clientip',
      kind: 'test',
      capability: CAP,
      positional: [['string-list']],
      matching: true,
      tags: [{ name: 'cidr', group: 'match-type' }],
      validate: (node, ctx) => {
        if (node.tags.has('cidr')) {
          for (const k of constantStrings(node, 0)) {
            if (parseCidr(k) === null) {
              throw ctx.error(
                'ERR_SIEVE_INVALID_VALUE',
                `clientip: '${k}' is not a CIDR block`,
                node,
              );
            }
          }
          if (node.tags.has('comparator')) {
            throw ctx.error('ERR_SIEVE_TAG_CONFLICT', 'clientip: :cidr takes no comparator', node);
          }
        } else validateRegexKeys(node, node.args[0], ctx);
      },
      test: (node, rt) => {
        const ip = gatewayState(node, rt).facts.clientAddress;
        if (ip === null || ip === '') return false;
        if (node.tags.has('cidr')) return cidrBlocks(node, rt).has(ip);
        return rt.matchValuesAgainst(node, [ip], rt.expandList(node.args[0]));
      },
    },
  ],
};

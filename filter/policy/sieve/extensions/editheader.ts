/**
 * RFC 5293 editheader: addheader and deleteheader. Changes are visible to later tests and are
 * reported first in the result (CONTRACTS.md). Like Pigeonhole, Received and Auto-Submitted
 * fields are protected from deletion (a compile warning, and no change at run time).
 */
import { validateRegexKeys } from '../compiler.js';
import type { CompiledNode, SieveExtension, SieveValidateContext } from '../extension-api.js';
import { addedHeaderOctets, decodeHeaderValue } from '../message-view.js';
import { checkHeaderNames, isValidHeaderName, rtError } from './core.js';

const PROTECTED = new Set(['received', 'auto-submitted']);
/** Longest header field value addheader accepts, in characters (sieve_editheader_max_header_size). */
export const EDITHEADER_MAX_HEADER_CHARS = 2048;

function isValidValue(v: string): boolean {
  return !/[\x00]/.test(v) && !/\r(?!\n)|(?<!\r)\n/.test(v.replace(/\r\n[ \t]/g, '  '));
}

function validateAdd(node: CompiledNode, ctx: SieveValidateContext): void {
  // Pigeonhole quirk: an empty field name passes (and is reported as added).
  checkHeaderNames(node, 0, ctx, 'addheader command', true);
  const v = node.args[1];
  if (v?.kind === 'string' && v.value.parts === null) {
    if (v.value.raw.length > EDITHEADER_MAX_HEADER_CHARS) {
      throw ctx.error(
        'ERR_SIEVE_INVALID_VALUE',
        'addheader command: header value is too large',
        v.value,
      );
    }
  }
}

function validateDelete(node: CompiledNode, ctx: SieveValidateContext): void {
  checkHeaderNames(node, 0, ctx, 'deleteheader command');
  const name = node.args[0];
  if (
    name?.kind === 'string' &&
    name.value.parts === null &&
    PROTECTED.has(name.value.raw.toLowerCase())
  ) {
    ctx.warn(
      `deleteheader command: deleting specified header field '${name.value.raw}' is forbidden`,
      name.value,
    );
  }
  validateRegexKeys(node, node.args[1], ctx);
}

/** The editheader extension. */
export const editheaderExtension: SieveExtension = {
  capabilities: ['editheader'],
  commands: [
    {
      name: 'addheader',
      kind: 'command',
      capability: 'editheader',
      positional: [['string', 'string']],
      tags: [{ name: 'last' }],
      validate: validateAdd,
      execute: (node, rt) => {
        const name = rt.expandString(node.args[0]);
        const value = rt.expandString(node.args[1]);
        if (name !== '' && !isValidHeaderName(name))
          throw rtError(node, `addheader: invalid header name '${name}'`);
        if (!isValidValue(value) || value.length > EDITHEADER_MAX_HEADER_CHARS) {
          throw rtError(node, `addheader: invalid value for header '${name}'`);
        }
        if (rt.headerEdits.length >= rt.limits.maxHeaderEdits)
          throw rtError(node, 'too many header edits');
        const field = { name, value, octets: addedHeaderOctets(name, value) };
        rt.message.adjustSize(field.octets);
        if (node.tags.has('last')) rt.message.headers.push(field);
        else rt.message.headers.unshift(field);
        rt.headerEdits.push({ action: { type: 'addheader', name, value }, line: node.line });
      },
    },
    {
      name: 'deleteheader',
      kind: 'command',
      capability: 'editheader',
      // Pigeonhole accepts a string list for the field name and fails at run time unless it
      // holds exactly one name.
      positional: [['string-list'], ['string-list', 'string-list']],
      tags: [{ name: 'index', arg: 'number' }, { name: 'last' }],
      matching: true,
      validate: validateDelete,
      execute: (node, rt) => {
        const names = rt.expandList(node.args[0]);
        const name = names[0] ?? '';
        if (names.length !== 1 || !isValidHeaderName(name)) {
          throw rtError(node, `deleteheader: invalid header name '${names.join(', ')}'`);
        }
        if (PROTECTED.has(name.toLowerCase())) return;
        if (rt.headerEdits.length >= rt.limits.maxHeaderEdits)
          throw rtError(node, 'too many header edits');
        const key = name.toLowerCase();
        const positions: number[] = [];
        rt.message.headers.forEach((h, i) => {
          if (h.name.toLowerCase() === key) positions.push(i);
        });
        const idxTag = node.tags.get('index');
        let candidates = positions;
        if (idxTag?.kind === 'number' && idxTag.value > 0) {
          const n = idxTag.value;
          const pos = node.tags.has('last') ? positions[positions.length - n] : positions[n - 1];
          candidates = pos === undefined ? [] : [pos];
        }
        const patterns = node.args.length === 2 ? rt.expandList(node.args[1]) : null;
        const remove = new Set<number>();
        for (const pos of candidates) {
          const field = rt.message.headers[pos];
          if (field === undefined) continue;
          if (
            patterns === null ||
            rt.matchValuesAgainst(node, [decodeHeaderValue(field.value)], patterns, {
              setMatchVariables: false,
            })
          ) {
            remove.add(pos);
            rt.message.adjustSize(-field.octets);
          }
        }
        rt.message.headers = rt.message.headers.filter((_, i) => !remove.has(i));
        rt.headerEdits.push({
          action: { type: 'deleteheader', name, deleted: remove.size },
          line: node.line,
        });
      },
    },
  ],
};

/**
 * RFC 5228 §5.4 envelope: tests on the SMTP envelope ("from", "to").
 */
import { addressPartOf, parseEnvelopeAddress } from '../address.js';
import { validateRegexKeys } from '../compiler.js';
import type { SieveExtension } from '../extension-api.js';
import { stringArgValues } from './core.js';

const PARTS = new Set(['from', 'to']);

/** The envelope extension. */
export const envelopeExtension: SieveExtension = {
  capabilities: ['envelope'],
  commands: [
    {
      name: 'envelope',
      kind: 'test',
      capability: 'envelope',
      positional: [['string-list', 'string-list']],
      matching: true,
      addressPart: true,
      validate: (node, ctx) => {
        for (const s of stringArgValues(node.args[0])) {
          if (s.parts === null && !PARTS.has(s.raw.toLowerCase())) {
            throw ctx.error(
              'ERR_SIEVE_INVALID_VALUE',
              `specified envelope part '${s.raw}' is not supported`,
              s,
            );
          }
        }
        validateRegexKeys(node, node.args[1], ctx);
      },
      test: (node, rt) => {
        const values: string[] = [];
        let count = 0;
        for (const part of rt.stringList(node.args[0])) {
          const p = part.toLowerCase();
          const text = p === 'from' ? rt.env.envelopeFrom : p === 'to' ? rt.env.envelopeTo : null;
          if (text === null) continue;
          const addr = parseEnvelopeAddress(text);
          if (addr === null) continue;
          count++;
          if (addr.localPart === '' && addr.domain === null) {
            // The null reverse-path: only :all sees it, as "".
            if (node.addressPart === 'all') values.push('');
            continue;
          }
          const v = addressPartOf(addr, node.addressPart, rt.env.subaddressSeparator);
          if (v !== null) values.push(v);
        }
        return rt.matchValuesAgainst(node, values, rt.stringList(node.args[1]), { count });
      },
    },
  ],
};

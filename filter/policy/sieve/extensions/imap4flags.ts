/**
 * RFC 5232 imap4flags: setflag, addflag, removeflag on the internal flag variable (or a named
 * variable), the hasflag test, and the :flags tag on keep and fileinto.
 */
import { validateRegexKeys } from '../compiler.js';
import type { CompiledNode, SieveCommandDef, SieveExtension } from '../extension-api.js';
import { normalizeFlagList, type SieveRuntime } from '../runtime.js';

function target(
  node: CompiledNode,
  rt: SieveRuntime,
): { get: () => string[]; set: (f: string[]) => void } {
  if (node.args.length >= 2) {
    const name = rt.expandString(node.args[0]);
    return {
      get: () => normalizeFlagList([rt.getVariable(name)]),
      set: (f) => {
        rt.setVariable(name, f.join(' '), node);
      },
    };
  }
  return {
    get: () => rt.flags,
    set: (f) => {
      rt.flags = f;
    },
  };
}

function flagsArg(node: CompiledNode, rt: SieveRuntime): string[] {
  // Pigeonhole quirk: a third argument is accepted and ignored; the flags are the second.
  return normalizeFlagList(rt.expandList(node.args[node.args.length === 1 ? 0 : 1]));
}

function flagCommand(
  name: string,
  op: (current: string[], given: string[]) => string[],
): SieveCommandDef {
  return {
    name,
    kind: 'command',
    capability: 'imap4flags',
    positional: [
      ['string-list'],
      ['string', 'string-list'],
      ['string', 'string-list', 'string-list'],
    ],
    execute: (node, rt) => {
      const t = target(node, rt);
      t.set(op(t.get(), flagsArg(node, rt)));
    },
  };
}

const VALID_FLAG_KEY = /^\\?[^\s(){%*"\\\]\x00-\x1f\x7f]+$/;

/** The imap4flags extension. */
export const imap4flagsExtension: SieveExtension = {
  capabilities: ['imap4flags'],
  tagsFor: {
    keep: [{ name: 'flags', arg: 'string-list', capability: 'imap4flags' }],
    fileinto: [{ name: 'flags', arg: 'string-list', capability: 'imap4flags' }],
  },
  commands: [
    flagCommand('setflag', (_cur, given) => given),
    flagCommand('addflag', (cur, given) => normalizeFlagList([...cur, ...given])),
    flagCommand('removeflag', (cur, given) => {
      const drop = new Set(given.map((g) => g.toLowerCase()));
      return cur.filter((f) => !drop.has(f.toLowerCase()));
    }),
    {
      name: 'hasflag',
      kind: 'test',
      capability: 'imap4flags',
      positional: [['string-list'], ['string-list', 'string-list']],
      matching: true,
      validate: (node, ctx) => {
        validateRegexKeys(node, node.args[node.args.length - 1], ctx);
      },
      test: (node, rt) => {
        let values: string[];
        if (node.args.length === 2) {
          values = normalizeFlagList(rt.expandList(node.args[0]).map((v) => rt.getVariable(v)));
        } else values = rt.flags;
        // Pigeonhole quirk: except for :count/:value the keys are split into single flags, and
        // for :is keys that are not valid flag names are skipped.
        const raw = rt.expandList(node.args[node.args.length - 1]);
        const type = node.match.type;
        let keys = type === 'count' || type === 'value' ? raw : normalizeFlagList(raw);
        if (type === 'is') keys = keys.filter((k) => VALID_FLAG_KEY.test(k));
        return rt.matchValuesAgainst(node, values, keys);
      },
    },
  ],
};

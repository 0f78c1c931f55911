/**
 * "vnd.parapet.maps": key → value lookups in named policy maps. See README.md.
 *   maplookup [:set <variable>] <map-name> <keys>
 * True when a key is found (exactly, or for an address by base address, domain and "*.parent"
 * keys). With "variables" required, the match variables become ${0} = the key looked up,
 * ${1} = the value, ${2} = the map key that matched; :set stores the value in a variable.
 */
import type { SieveExtension } from '../sieve/index.js';
import { gatewayState } from './context.js';

const CAP = 'vnd.parapet.maps';
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The vnd.parapet.maps extension. */
export const gatewayMapsExtension: SieveExtension = {
  capabilities: [CAP],
  commands: [
    {
      name: 'maplookup',
      kind: 'test',
      capability: CAP,
      positional: [['string', 'string-list']],
      tags: [{ name: 'set', arg: 'string' }],
      validate: (node, ctx) => {
        const set = node.tags.get('set');
        if (set === undefined) return;
        if (!ctx.hasCapability('variables')) {
          throw ctx.error(
            'ERR_SIEVE_UNKNOWN_TAG',
            'maplookup :set needs require "variables"',
            node,
          );
        }
        if (
          set?.kind !== 'string' ||
          set.value.parts !== null ||
          !VARIABLE_NAME.test(set.value.raw)
        ) {
          throw ctx.error('ERR_SIEVE_INVALID_VALUE', 'maplookup :set needs a variable name', node);
        }
      },
      test: (node, rt) => {
        const state = gatewayState(node, rt);
        const name = rt.expandString(node.args[0]);
        const map = state.facts.data.maps.get(name);
        if (map === undefined) {
          state.warnings.push(`line ${node.line}: unknown map '${name}'`);
          return false;
        }
        const sep = state.facts.subaddressSeparator ?? '+';
        for (const key of rt.expandList(node.args[1])) {
          rt.step(node);
          const hit = map.lookup(key, sep);
          if (hit === null) continue;
          if (rt.recordMatches) rt.matchValues = [key, hit.value, hit.key];
          const set = node.tags.get('set');
          if (set?.kind === 'string') rt.setVariable(set.value.raw, hit.value, node);
          return true;
        }
        return false;
      },
    },
  ],
};

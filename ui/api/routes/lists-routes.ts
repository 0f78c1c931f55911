/**
 * /api/v1/lists on the Manager: the policy's named lists (addresses, domains, *.domains, CIDRs)
 * and maps (key → value), the same files `parapet list` manages
 * (`$PARAPET_HOME/config/lists/NAME.json`, written atomically; the policy service reloads them
 * with the policy). Viewers read; administrators replace a list, add and remove entries. Every
 * change is audited with the counts, not the entries' full text.
 */
import {
  listPolicyListNames,
  policyListsDir,
  readPolicyList,
  writePolicyList,
  type StoredPolicyList,
} from '../../../appliance/index.js';
import { ParapetError, policy } from '../../../filter/index.js';
import { ADMIN_ONLY, ADMIN_READ } from '../access.js';
import type { ApiModule } from '../modules.js';

/** Most entries one list or map may hold through the API. */
const MAX_ENTRIES = 100_000;
const ENTRY = { type: 'string', minLength: 1, maxLength: policy.MAX_ENTRY_CHARS } as const;
const MAP_VALUE = { type: 'string', maxLength: 4096 } as const;

const nameParam = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' } },
} as const;

/** A list or map as the page sees it. */
export interface ListView {
  readonly name: string;
  readonly kind: 'list' | 'map';
  readonly description: string;
  readonly entries: readonly string[] | Readonly<Record<string, string>>;
}

const countOf = (s: StoredPolicyList): number =>
  s.kind === 'list' ? s.data.entries.length : Object.keys(s.data.entries).length;

const view = (s: StoredPolicyList): ListView => ({
  name: s.data.name,
  kind: s.kind,
  description: s.data.description ?? '',
  entries: s.data.entries,
});

/** Entries that are not an address, domain, *.domain or CIDR (at most 5, for the message). */
function badListEntries(entries: readonly string[]): string[] {
  return entries.filter((e) => policy.classifyListEntry(e) === null).slice(0, 5);
}

function checkMap(name: string, entries: Readonly<Record<string, string>>): void {
  const problems = policy.validatePolicyMapData({ name, entries });
  const p = problems[0];
  if (p !== undefined) {
    throw new ParapetError('ERR_UI_BAD_REQUEST', `invalid map entry '${p.entry}': ${p.message}`);
  }
}

/** Case-insensitive, order-keeping union (as `parapet list add`). */
function mergeEntries(before: readonly string[], added: readonly string[]): string[] {
  const seen = new Set(before.map((e) => e.trim().toLowerCase()));
  const out = [...before];
  for (const e of added) {
    const k = e.trim().toLowerCase();
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(e.trim());
  }
  return out;
}

export const listsModule: ApiModule = {
  name: 'lists',
  surfaces: ['manager'],
  register(app, ctx) {
    const dir = policyListsDir(ctx.config.home);
    let writing: Promise<unknown> = Promise.resolve();
    const serialized = <T>(work: () => Promise<T>): Promise<T> => {
      const run = writing.then(work, work);
      writing = run.catch(() => undefined);
      return run;
    };
    const read = async (name: string): Promise<StoredPolicyList | null> => {
      try {
        return await readPolicyList(dir, name);
      } catch (err) {
        if (err instanceof ParapetError && err.code === 'ERR_LIST_INVALID') {
          throw new ParapetError('ERR_UI_CONFLICT', `the stored list '${name}' is not valid`, {
            cause: err,
          });
        }
        throw err;
      }
    };
    const tooMany = (n: number): void => {
      if (n > MAX_ENTRIES) {
        throw new ParapetError('ERR_UI_BAD_REQUEST', `more than ${String(MAX_ENTRIES)} entries`);
      }
    };

    app.get(
      '/api/v1/lists',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary: 'the policy lists and maps, with entry counts (and the default policy’s lists)',
          tags: ['lists'],
        },
      },
      async () => {
        const rows: {
          name: string;
          kind: string;
          description: string;
          count: number;
          exists: boolean;
        }[] = [];
        for (const name of await listPolicyListNames(dir)) {
          const s = await read(name).catch(() => null);
          if (s === null) continue;
          rows.push({
            name,
            kind: s.kind,
            description: s.data.description ?? '',
            count: countOf(s),
            exists: true,
          });
        }
        // The lists the shipped policy reads are shown even before they exist.
        for (const name of policy.DEFAULT_POLICY_LISTS) {
          if (!rows.some((r) => r.name === name)) {
            rows.push({ name, kind: 'list', description: '', count: 0, exists: false });
          }
        }
        rows.sort((a, b) => a.name.localeCompare(b.name));
        return { lists: rows };
      },
    );

    app.get<{ Params: { name: string } }>(
      '/api/v1/lists/:name',
      {
        config: { access: ADMIN_READ },
        schema: { summary: 'one list or map with its entries', tags: ['lists'], params: nameParam },
      },
      async (request) => {
        const s = await read(request.params.name);
        if (s === null) throw new ParapetError('ERR_UI_NOT_FOUND', 'no such list or map');
        return view(s);
      },
    );

    app.put<{
      Params: { name: string };
      Body: {
        kind: 'list' | 'map';
        description?: string;
        entries: string[] | Record<string, string>;
      };
    }>(
      '/api/v1/lists/:name',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'create or replace a list or map (import)',
          tags: ['lists'],
          params: nameParam,
          body: {
            type: 'object',
            required: ['kind', 'entries'],
            additionalProperties: false,
            properties: {
              kind: { type: 'string', enum: ['list', 'map'] },
              description: { type: 'string', maxLength: 500 },
              entries: {
                anyOf: [
                  { type: 'array', maxItems: MAX_ENTRIES, items: ENTRY },
                  {
                    type: 'object',
                    maxProperties: MAX_ENTRIES,
                    additionalProperties: MAP_VALUE,
                  },
                ],
              },
            },
          },
        },
      },
      (request) =>
        serialized(async () => {
          const { name } = request.params;
          const b = request.body;
          const description = b.description === undefined ? {} : { description: b.description };
          let next: StoredPolicyList;
          if (b.kind === 'list') {
            if (!Array.isArray(b.entries)) {
              throw new ParapetError('ERR_UI_BAD_REQUEST', 'a list has an array of entries');
            }
            const bad = badListEntries(b.entries);
            if (bad.length > 0) {
              throw new ParapetError(
                'ERR_UI_BAD_REQUEST',
                `not an address, domain, *.domain or CIDR: ${bad.join(', ')}`,
              );
            }
            next = {
              kind: 'list',
              data: { name, ...description, entries: mergeEntries([], b.entries) },
            };
          } else {
            if (Array.isArray(b.entries)) {
              throw new ParapetError('ERR_UI_BAD_REQUEST', 'a map has an object of entries');
            }
            checkMap(name, b.entries);
            next = { kind: 'map', data: { name, ...description, entries: { ...b.entries } } };
          }
          const before = await read(name);
          await writePolicyList(dir, next);
          await ctx.audited(request, 'list.replace', name, {
            kind: next.kind,
            before: before === null ? null : countOf(before),
            after: countOf(next),
          });
          return view(next);
        }),
    );

    app.post<{
      Params: { name: string };
      Body: { entries?: string[]; map?: Record<string, string> };
    }>(
      '/api/v1/lists/:name/entries',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'add entries to a list (created when missing) or key/value pairs to a map (map)',
          tags: ['lists'],
          params: nameParam,
          body: {
            type: 'object',
            additionalProperties: false,
            properties: {
              entries: { type: 'array', minItems: 1, maxItems: 10_000, items: ENTRY },
              map: {
                type: 'object',
                minProperties: 1,
                maxProperties: 10_000,
                additionalProperties: MAP_VALUE,
              },
            },
          },
        },
      },
      (request) =>
        serialized(async () => {
          const { name } = request.params;
          const b = request.body;
          if ((b.entries === undefined) === (b.map === undefined)) {
            throw new ParapetError('ERR_UI_BAD_REQUEST', 'give either entries (list) or map');
          }
          const stored = await read(name);
          let next: StoredPolicyList;
          if (b.entries !== undefined) {
            if (stored?.kind === 'map') {
              throw new ParapetError(
                'ERR_UI_BAD_REQUEST',
                `'${name}' is a map: add key/value pairs`,
              );
            }
            const bad = badListEntries(b.entries);
            if (bad.length > 0) {
              throw new ParapetError(
                'ERR_UI_BAD_REQUEST',
                `not an address, domain, *.domain or CIDR: ${bad.join(', ')}`,
              );
            }
            const entries = mergeEntries(stored?.data.entries ?? [], b.entries);
            tooMany(entries.length);
            next = { kind: 'list', data: { ...stored?.data, name, entries } };
          } else {
            if (stored?.kind === 'list') {
              throw new ParapetError('ERR_UI_BAD_REQUEST', `'${name}' is a list: add entries`);
            }
            const entries = { ...(stored?.data.entries ?? {}), ...b.map };
            checkMap(name, entries);
            tooMany(Object.keys(entries).length);
            next = { kind: 'map', data: { ...stored?.data, name, entries } };
          }
          await writePolicyList(dir, next);
          await ctx.audited(request, 'list.add', name, {
            kind: next.kind,
            given: b.entries?.length ?? Object.keys(b.map ?? {}).length,
            before: stored === null ? 0 : countOf(stored),
            after: countOf(next),
          });
          return view(next);
        }),
    );

    app.delete<{ Params: { name: string }; Body: { entries: string[] } }>(
      '/api/v1/lists/:name/entries',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary: 'remove entries from a list, or keys from a map (case-insensitive)',
          tags: ['lists'],
          params: nameParam,
          body: {
            type: 'object',
            required: ['entries'],
            additionalProperties: false,
            properties: {
              entries: {
                type: 'array',
                minItems: 1,
                maxItems: 10_000,
                items: { type: 'string', maxLength: policy.MAX_ENTRY_CHARS },
              },
            },
          },
        },
      },
      (request) =>
        serialized(async () => {
          const { name } = request.params;
          const stored = await read(name);
          if (stored === null) throw new ParapetError('ERR_UI_NOT_FOUND', 'no such list or map');
          const drop = new Set(request.body.entries.map((e) => e.trim().toLowerCase()));
          const next: StoredPolicyList =
            stored.kind === 'list'
              ? {
                  kind: 'list',
                  data: {
                    ...stored.data,
                    entries: stored.data.entries.filter((e) => !drop.has(e.trim().toLowerCase())),
                  },
                }
              : {
                  kind: 'map',
                  data: {
                    ...stored.data,
                    entries: Object.fromEntries(
                      Object.entries(stored.data.entries).filter(
                        ([k]) => !drop.has(k.trim().toLowerCase()),
                      ),
                    ),
                  },
                };
          const removed = countOf(stored) - countOf(next);
          if (removed > 0) await writePolicyList(dir, next);
          await ctx.audited(request, 'list.remove', name, {
            kind: next.kind,
            removed,
            after: countOf(next),
          });
          return { ...view(next), removed };
        }),
    );
  },
};

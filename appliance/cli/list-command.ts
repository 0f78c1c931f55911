/**
 * `parapet list show|add|remove|import` (issue 3): named policy lists (addresses, domains,
 * *.domains, CIDRs) and maps (key → value) stored as JSON, one file per name, under
 * `$PARAPET_HOME/config/lists/NAME.json` (`{"name","entries":[…]}` for a list,
 * `{"name","entries":{…}}` for a map). Writes are atomic (temp file + rename), so the policy
 * service never reads half a file. Exit codes: 0, 1 handled error (one line), 2 usage.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ParapetError, policy } from '../../filter/index.js';
import {
  checkName,
  listNames,
  loadPolicyData,
  policyListsDir,
  readPolicyList,
  writePolicyList,
  type StoredPolicyList,
} from '../config/policy-lists.js';

export { loadPolicyData, policyListsDir, readPolicyList, writePolicyList };
export type { StoredPolicyList };

function invalidEntries(entries: readonly string[]): string[] {
  return entries.filter((e) => policy.classifyListEntry(e) === null);
}

async function readInput(file: string): Promise<string> {
  try {
    if (file === '-') {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    }
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ParapetError('ERR_INPUT_UNREADABLE', `${file}: ${String(err)}`, { cause: err });
  }
}

/** Lines of an import file: one entry (or "key value" for maps) each; # starts a comment. */
export function parseImportLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter((l) => l !== '');
}

interface ListFlags {
  readonly json?: boolean;
  readonly map?: boolean;
  readonly replace?: boolean;
}

async function showCommand(name: string | undefined, flags: ListFlags): Promise<void> {
  const dir = policyListsDir();
  if (name === undefined) {
    const rows: { name: string; kind: string; entries: number }[] = [];
    for (const n of await listNames(dir)) {
      const s = await readPolicyList(dir, n);
      if (s === null) continue;
      const count = s.kind === 'list' ? s.data.entries.length : Object.keys(s.data.entries).length;
      rows.push({ name: n, kind: s.kind, entries: count });
    }
    if (flags.json === true) console.log(JSON.stringify(rows));
    else for (const r of rows) console.log(`${r.name}\t${r.kind}\t${r.entries}`);
    return;
  }
  const stored = await readPolicyList(dir, name);
  if (stored === null) throw new ParapetError('ERR_NOT_FOUND', `no list or map named '${name}'`);
  if (flags.json === true) {
    console.log(JSON.stringify(stored.data));
  } else if (stored.kind === 'list') {
    for (const e of stored.data.entries) console.log(e);
  } else {
    for (const [k, v] of Object.entries(stored.data.entries)) console.log(`${k}\t${v}`);
  }
}

async function addCommand(name: string, items: string[], flags: ListFlags): Promise<void> {
  const dir = policyListsDir();
  const stored = await readPolicyList(dir, name);
  if (flags.map === true || stored?.kind === 'map') {
    if (stored !== null && stored.kind !== 'map') {
      throw new ParapetError('ERR_LIST_INVALID', `'${name}' is a list, not a map`);
    }
    if (items.length !== 2) {
      throw new ParapetError('ERR_LIST_INVALID', 'map entries are added as: KEY VALUE');
    }
    const [key = '', value = ''] = items;
    const entries = { ...(stored?.data.entries ?? {}), [key]: value };
    const data = { name, entries };
    const problems = policy.validatePolicyMapData(data);
    if (problems.length > 0) {
      throw new ParapetError(
        'ERR_LIST_INVALID',
        `invalid map entry: ${problems[0]?.message ?? ''}`,
      );
    }
    await writePolicyList(dir, { kind: 'map', data: { ...stored?.data, ...data } });
    console.log(`${name}: ${Object.keys(entries).length} entries`);
    return;
  }
  const bad = invalidEntries(items);
  if (bad.length > 0) {
    throw new ParapetError(
      'ERR_LIST_INVALID',
      `not an address, domain, *.domain or CIDR: ${bad.slice(0, 5).join(', ')}`,
    );
  }
  const before = stored?.data.entries ?? [];
  const seen = new Set(before.map((e) => e.toLowerCase()));
  const added = items.filter((e) => {
    const k = e.trim().toLowerCase();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  const entries = [...before, ...added.map((e) => e.trim())];
  await writePolicyList(dir, { kind: 'list', data: { ...stored?.data, name, entries } });
  console.log(`${name}: added ${added.length}, ${entries.length} entries`);
}

async function removeCommand(name: string, items: string[]): Promise<void> {
  const dir = policyListsDir();
  const stored = await readPolicyList(dir, name);
  if (stored === null) throw new ParapetError('ERR_NOT_FOUND', `no list or map named '${name}'`);
  const drop = new Set(items.map((i) => i.trim().toLowerCase()));
  if (stored.kind === 'list') {
    const entries = stored.data.entries.filter((e) => !drop.has(e.trim().toLowerCase()));
    await writePolicyList(dir, { kind: 'list', data: { ...stored.data, entries } });
    console.log(
      `${name}: removed ${stored.data.entries.length - entries.length}, ${entries.length} entries`,
    );
  } else {
    const entries = Object.fromEntries(
      Object.entries(stored.data.entries).filter(([k]) => !drop.has(k.trim().toLowerCase())),
    );
    await writePolicyList(dir, { kind: 'map', data: { ...stored.data, entries } });
    const n = Object.keys(entries).length;
    console.log(`${name}: removed ${Object.keys(stored.data.entries).length - n}, ${n} entries`);
  }
}

async function importCommand(name: string, file: string, flags: ListFlags): Promise<void> {
  checkName(name);
  const dir = policyListsDir();
  const text = await readInput(file);
  const stored = flags.replace === true ? null : await readPolicyList(dir, name);
  let incoming: StoredPolicyList;
  if (text.trimStart().startsWith('{')) {
    try {
      incoming = policy.parsePolicyListJson(text);
    } catch (err) {
      throw new ParapetError('ERR_LIST_INVALID', `${file}: ${String(err)}`, { cause: err });
    }
  } else if (flags.map === true || stored?.kind === 'map') {
    const entries: Record<string, string> = {};
    for (const line of parseImportLines(text)) {
      const m = /^(\S+)\s+(.*)$/.exec(line);
      if (m === null)
        throw new ParapetError('ERR_LIST_INVALID', `${file}: not "KEY VALUE": ${line}`);
      entries[m[1] ?? ''] = m[2] ?? '';
    }
    incoming = { kind: 'map', data: { name, entries } };
  } else {
    incoming = { kind: 'list', data: { name, entries: parseImportLines(text) } };
  }
  if (stored !== null && stored.kind !== incoming.kind) {
    throw new ParapetError('ERR_LIST_INVALID', `'${name}' is a ${stored.kind}; use --replace`);
  }
  if (incoming.kind === 'list') {
    const bad = invalidEntries(incoming.data.entries);
    if (bad.length > 0) {
      throw new ParapetError(
        'ERR_LIST_INVALID',
        `${file}: ${bad.length} invalid entries, first: ${bad[0] ?? ''}`,
      );
    }
    const before = stored?.kind === 'list' ? stored.data.entries : [];
    const seen = new Set(before.map((e) => e.toLowerCase()));
    const entries = [...before];
    for (const e of incoming.data.entries) {
      if (seen.has(e.toLowerCase())) continue;
      seen.add(e.toLowerCase());
      entries.push(e);
    }
    await writePolicyList(dir, { kind: 'list', data: { ...stored?.data, name, entries } });
    console.log(`${name}: ${entries.length} entries`);
  } else {
    const before = stored?.kind === 'map' ? stored.data.entries : {};
    const data = { ...stored?.data, name, entries: { ...before, ...incoming.data.entries } };
    const problems = policy.validatePolicyMapData(data);
    if (problems.length > 0) {
      throw new ParapetError('ERR_LIST_INVALID', `${file}: ${problems[0]?.message ?? ''}`);
    }
    await writePolicyList(dir, { kind: 'map', data });
    console.log(`${name}: ${Object.keys(data.entries).length} entries`);
  }
}

/** Registers `parapet list …` on the program. */
export function registerListCommands(program: Command): void {
  const list = program
    .command('list')
    .description('named policy lists and maps under $PARAPET_HOME/config/lists');
  list
    .command('show')
    .description('show the entries of a list or map (without NAME: every list and map)')
    .argument('[name]', 'list or map name')
    .option('--json', 'print JSON')
    .action((name: string | undefined, flags: ListFlags) => showCommand(name, flags));
  list
    .command('add')
    .description('add entries to a list (created when missing); with --map: KEY VALUE')
    .argument('<name>', 'list or map name')
    .argument('<entries...>', 'addresses, domains, *.domains, CIDRs (or KEY VALUE)')
    .option('--map', 'the name is a map: add KEY VALUE')
    .action((name: string, entries: string[], flags: ListFlags) =>
      addCommand(name, entries, flags),
    );
  list
    .command('remove')
    .description('remove entries (or map keys)')
    .argument('<name>', 'list or map name')
    .argument('<entries...>', 'entries or keys to remove')
    .action((name: string, entries: string[]) => removeCommand(name, entries));
  list
    .command('import')
    .description('import entries from FILE ("-" = stdin): one per line, # comments, or JSON')
    .argument('<name>', 'list or map name')
    .argument('<file>', 'file to import')
    .option('--map', 'lines are "KEY VALUE"')
    .option('--replace', 'replace the list instead of merging')
    .action((name: string, file: string, flags: ListFlags) => importCommand(name, file, flags));
  for (const c of list.commands) c.exitOverride();
  list.exitOverride();
}

/**
 * Address extraction shared by the address, envelope and date-family tests: header values to
 * addresses (RFC 5322 §3.4), and ADDRESS-PART selection (RFC 5228 §2.7.4, RFC 5233 :user and
 * :detail with the configured separator).
 */
import {
  decodeHeaderValue,
  headerFieldAddresses,
  headerFieldsNamed,
  parseAddressListPrefix,
  type SieveAddress,
  type SieveHeaderField,
} from './message-view.js';
import type { SieveRuntime } from './runtime.js';

/** Selects an address part; null means the part does not exist (test does not match it). */
export function addressPartOf(addr: SieveAddress, part: string, separator: string): string | null {
  const domain = addr.domain;
  // An address that did not parse (or has no domain) only has the :all part: its raw text.
  if (domain === null) return part === 'all' ? addr.localPart : null;
  switch (part) {
    case 'localpart':
      return addr.localPart;
    case 'domain':
      return domain;
    case 'user': {
      const at = separator === '' ? -1 : addr.localPart.indexOf(separator);
      return at < 0 ? addr.localPart : addr.localPart.slice(0, at);
    }
    case 'detail': {
      const at = separator === '' ? -1 : addr.localPart.indexOf(separator);
      return at < 0 ? null : addr.localPart.slice(at + separator.length);
    }
    default:
      return `${quoteLocalPart(addr.localPart)}@${domain}`;
  }
}

/** Quotes a local part that is not a dot-atom (RFC 5322 §3.4.1), as Pigeonhole prints it. */
export function quoteLocalPart(local: string): string {
  if (
    /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\uffff]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\uffff]+)*$/.test(
      local,
    )
  ) {
    return local;
  }
  return `"${local.replace(/(["\\])/g, '\\$1')}"`;
}

/** Parses one envelope address ("" is the null address). */
export function parseEnvelopeAddress(text: string): SieveAddress | null {
  const t = text.trim().replace(/^<(.*)>$/, '$1');
  if (t === '') return { localPart: '', domain: null };
  const at = t.lastIndexOf('@');
  if (at < 0) return { localPart: t, domain: null };
  return { localPart: t.slice(0, at), domain: t.slice(at + 1) };
}

/** Addresses found in the given header fields' values, in order. */
export function headerAddresses(values: readonly string[]): SieveAddress[] {
  const out: SieveAddress[] = [];
  for (const raw of values) {
    const decoded = decodeHeaderValue(raw);
    const { addresses } = parseAddressListPrefix(decoded);
    // Pigeonhole: a value yielding no address at all (even an empty group such as
    // "undisclosed-recipients:;") counts as one unparsable address with its raw text.
    if (addresses.length > 0) out.push(...addresses);
    else out.push({ localPart: decoded, domain: null });
    if (out.length > 10_000) break;
  }
  return out;
}

/** Like {@link headerAddresses}, for fields (their parsed addresses are cached). */
export function headerFieldsAddresses(fields: readonly SieveHeaderField[]): SieveAddress[] {
  const out: SieveAddress[] = [];
  for (const field of fields) {
    for (const a of headerFieldAddresses(field)) out.push(a);
    if (out.length > 10_000) break;
  }
  return out;
}

/** Raw values of the named headers, optionally restricted to one :index. */
export function selectHeaderValues(
  rt: SieveRuntime,
  names: readonly string[],
  index: number | null,
  last: boolean,
): string[] {
  return selectHeaderFields(rt, names, index, last).map((f) => f.value);
}

/** The fields of the named headers, optionally restricted to one :index. */
export function selectHeaderFields(
  rt: SieveRuntime,
  names: readonly string[],
  index: number | null,
  last: boolean,
): SieveHeaderField[] {
  let all: SieveHeaderField[];
  if (names.length === 1) all = headerFieldsNamed(rt.message, names[0] ?? '');
  else {
    all = [];
    for (const name of names) for (const f of headerFieldsNamed(rt.message, name)) all.push(f);
  }
  if (index === null) return all;
  // Pigeonhole counts :index over the fields of all named headers, in the order of the names.
  const v = last ? all[all.length - index] : all[index - 1];
  return v === undefined ? [] : [v];
}

/**
 * Link domains of a message body for URI blocklists: hosts of http(s) URLs and bare "www."
 * names in text and HTML, cut to the registrable domain the way URIBL/SURBL list them
 * ("mail.shop.example.co.uk" → "example.co.uk"). Without the full
 * Public Suffix List, a short list of common two-level public suffixes covers the usual cases;
 * IP-literal hosts are skipped.
 */

const URL_HOST =
  /\b(?:https?:\/\/(?:[^\s/?#@"'<>]*@)?|www\.)([a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)/gi;

/** Second-level labels that act as public suffixes under a ccTLD ("co.uk", "com.au"). */
const SECOND_LEVEL = new Set([
  'co',
  'com',
  'net',
  'org',
  'gov',
  'edu',
  'ac',
  'ne',
  'or',
  'go',
  'gob',
  'nic',
  'mil',
  'ltd',
  'plc',
  'sch',
  'nhs',
  'police',
  'info',
  'biz',
  'gen',
  'firm',
  'nom',
]);

/** Distinct registrable domains of the links in `texts`, first seen first, at most `max`. */
export function extractLinkDomains(texts: readonly string[], max: number): string[] {
  const seen = new Set<string>();
  for (const text of texts) {
    if (text === '') continue;
    for (const match of text.matchAll(URL_HOST)) {
      const prefix = match[0].slice(0, 4).toLowerCase();
      const host = ((prefix === 'www.' ? 'www.' : '') + (match[1] ?? '')).toLowerCase();
      const domain = registrableDomain(host);
      if (domain === null || seen.has(domain)) continue;
      seen.add(domain);
      if (seen.size >= max) return [...seen];
    }
  }
  return [...seen];
}

/** The registrable domain of `host`, or null for IP literals and single labels. */
export function registrableDomain(host: string): string | null {
  const clean = host.toLowerCase().replace(/\.+$/, '');
  if (/^[0-9.]+$/.test(clean)) return null;
  const labels = clean.split('.').filter((l) => l !== '');
  if (labels.length < 2) return null;
  const tld = labels[labels.length - 1] ?? '';
  const second = labels[labels.length - 2] ?? '';
  const take = tld.length === 2 && SECOND_LEVEL.has(second) && labels.length >= 3 ? 3 : 2;
  return labels.slice(-take).join('.');
}

/** DNS for scanners (issue 4): the resolver, DNSBL and URIBL scanners. */
export * from './dns-resolver.js';
export * from './dnsbl-scanner.js';
// registrableDomain stays internal: filter/scan/rules exports its own under that name.
export { extractLinkDomains } from './link-domains.js';

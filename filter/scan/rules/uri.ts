/**
 * URI extraction and the facts URI rules look at: host, registrable domain (approximate, from
 * a short list of two-level suffixes: no public-suffix download), IP literals in every
 * spelling, user-info tricks, punycode, shorteners and redirectors.
 */
import { domainToUnicode } from 'node:url';

export interface UriInfo {
  /** The URI as written (entities decoded), trimmed, at most 2,000 characters. */
  readonly raw: string;
  /** Where it was found. */
  readonly source: 'text' | 'href' | 'img' | 'form';
  /** For HTML links: the visible link text. */
  readonly linkText?: string;
  /** Lower-case scheme ("http", "mailto", "tel", "data", …); "http" for bare "www.". */
  readonly scheme: string;
  /** Lower-case host without port or brackets, "" when the scheme has none. */
  readonly host: string;
  /** The host in Unicode when it is punycode (IDN), else equal to host. */
  readonly unicodeHost: string;
  /** Approximate registrable domain ("example.co.uk"), "" for IP literals. */
  readonly domain: string;
  readonly tld: string;
  /** The host is an IP address, in the form written. */
  readonly ip: 'dotted' | 'decimal' | 'hex' | 'octal' | 'ipv6' | null;
  /** "user@" in the authority ("http://paypal.com@evil.example/"). */
  readonly userinfo: boolean;
  /** A non-default port. */
  readonly port: string;
  /** Path, query and fragment. */
  readonly rest: string;
  /** Percent-escapes in the host, or other obfuscation of the authority. */
  readonly obfuscatedHost: boolean;
}

/** Link shorteners and free redirect hosts (phish hide the target behind them). */
export const SHORTENER_DOMAINS: ReadonlySet<string> = new Set([
  'bit.ly',
  'bitly.com',
  'tinyurl.com',
  't.co',
  'goo.gl',
  'ow.ly',
  'is.gd',
  'buff.ly',
  'rebrand.ly',
  'cutt.ly',
  'shorturl.at',
  'rb.gy',
  'tiny.cc',
  't.ly',
  'v.gd',
  'bl.ink',
  'short.io',
  'lnkd.in',
  's.id',
  'qrco.de',
  'shorturl.com',
  'urlz.fr',
  'tr.im',
  'x.co',
  'snip.ly',
  'clck.ru',
  'u.to',
  'soo.gd',
  'surl.li',
  'gg.gg',
  'urlr.me',
  'tinyurl.is',
  'shrtco.de',
  'qr.net',
  'snipurl.com',
  'go2l.ink',
]);

/** Hosting and form services often used to host phishing pages. */
export const FREE_HOSTING_DOMAINS: ReadonlySet<string> = new Set([
  'firebaseapp.com',
  'web.app',
  'glitch.me',
  'netlify.app',
  'vercel.app',
  'pages.dev',
  'workers.dev',
  'github.io',
  'herokuapp.com',
  '000webhostapp.com',
  'weebly.com',
  'wixsite.com',
  'blogspot.com',
  'sites.google.com',
  'forms.gle',
  'docs.google.com',
  'storage.googleapis.com',
  'firebasestorage.googleapis.com',
  'web.core.windows.net',
  'blob.core.windows.net',
  'r2.dev',
  'ipfs.io',
  'dweb.link',
  'ngrok.io',
  'ngrok-free.app',
  'trycloudflare.com',
  'typeform.com',
  'jotform.com',
  'formstack.com',
  'surveymonkey.com',
  'sharepoint.com',
  'azurewebsites.net',
  'onrender.com',
  'replit.app',
  'repl.co',
  'webflow.io',
  'square.site',
  'wcomhost.com',
  'godaddysites.com',
  'mystrikingly.com',
  'carrd.co',
  'linktr.ee',
  'notion.site',
  'canva.site',
  'dropboxusercontent.com',
]);

const TWO_LEVEL = new Set([
  'co.uk',
  'org.uk',
  'ac.uk',
  'gov.uk',
  'me.uk',
  'ltd.uk',
  'com.au',
  'net.au',
  'org.au',
  'co.nz',
  'co.jp',
  'ne.jp',
  'or.jp',
  'com.br',
  'co.za',
  'com.cn',
  'net.cn',
  'com.mx',
  'co.in',
  'com.tr',
  'com.sg',
  'com.hk',
  'co.kr',
  'com.tw',
  'com.ar',
  'com.my',
  'co.id',
  'com.ua',
  'com.pl',
  'co.il',
  'com.ru',
  'github.io',
  'blogspot.com',
  'herokuapp.com',
  'web.app',
  'firebaseapp.com',
  'netlify.app',
  'vercel.app',
  'pages.dev',
  'workers.dev',
  'azurewebsites.net',
  'r2.dev',
  'sharepoint.com',
  'wixsite.com',
  'weebly.com',
]);

/** Approximate registrable domain of a host name. */
export function registrableDomain(host: string): string {
  if (host.includes('..') || host.startsWith('.') || host.endsWith('.')) {
    return registrableDomain(
      host
        .split('.')
        .filter((l) => l !== '')
        .join('.'),
    );
  }
  const last = host.lastIndexOf('.');
  if (last < 0) return host;
  const second = host.lastIndexOf('.', last - 1);
  if (second < 0) return host;
  const last2 = host.slice(second + 1);
  if (!TWO_LEVEL.has(last2)) return last2;
  const third = host.lastIndexOf('.', second - 1);
  return third < 0 ? host : host.slice(third + 1);
}

function classifyIp(host: string): UriInfo['ip'] {
  if (host.includes(':')) return 'ipv6';
  // Names start with a letter almost always: skip the regexes for them.
  const c = host.charCodeAt(0);
  if (!(c >= 48 && c <= 57)) return null;
  if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(host)) return 'dotted';
  if (/^\d{7,10}$/.test(host)) return 'decimal';
  if (/^0x[0-9a-f]{1,8}$/i.test(host) || /^(?:0x[0-9a-f]{1,2}\.){3}0x[0-9a-f]{1,2}$/i.test(host)) {
    return 'hex';
  }
  if (/^(?:0\d{1,3}\.){3}0?\d{1,3}$/.test(host)) return 'octal';
  return null;
}

/** Parses one URI for rules; null for things that are not URIs worth looking at. */
export function parseUri(
  raw: string,
  source: UriInfo['source'],
  linkText?: string,
): UriInfo | null {
  let text = raw.length > 2000 ? raw.slice(0, 2000) : raw;
  if (/[\s\u0000-\u001f]/.test(text)) text = text.replace(/[\s\u0000-\u001f]+/g, '');
  if (text === '' || text.startsWith('#')) return null;
  let scheme = '';
  const sm = /^([a-zA-Z][a-zA-Z0-9+.-]{0,20}):/.exec(text);
  if (sm !== null) scheme = (sm[1] ?? '').toLowerCase();
  else if (/^www\./i.test(text)) {
    scheme = 'http';
    text = `http://${text}`;
  } else if (source === 'text') return null;
  const base = { raw: text, source, scheme, ...(linkText === undefined ? {} : { linkText }) };
  if (scheme !== 'http' && scheme !== 'https' && scheme !== 'ftp') {
    return {
      ...base,
      host: '',
      unicodeHost: '',
      domain: '',
      tld: '',
      ip: null,
      userinfo: false,
      port: '',
      rest: text.slice(scheme.length + 1),
      obfuscatedHost: false,
    };
  }
  // Browsers accept backslashes and any number of slashes after the scheme.
  const afterScheme = text.slice(scheme.length + 1).replace(/^[/\\]+/, '');
  const end = afterScheme.search(/[/\\?#]/);
  let authority = end < 0 ? afterScheme : afterScheme.slice(0, end);
  const rest = end < 0 ? '' : afterScheme.slice(end);
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0;
  if (at >= 0) authority = authority.slice(at + 1);
  let obfuscatedHost = false;
  if (authority.includes('%')) {
    obfuscatedHost = true;
    try {
      authority = decodeURIComponent(authority);
    } catch {
      // keep it as written
    }
  }
  let host = authority;
  let port = '';
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    port = close >= 0 ? host.slice(close + 2) : '';
    host = close >= 0 ? host.slice(1, close) : host.slice(1);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      port = host.slice(colon + 1);
      host = host.slice(0, colon);
    }
  }
  host = host
    .toLowerCase()
    .replace(/\.+$/, '')
    .replace(/[。．｡]/g, '.');
  if (port === '80' || port === '443') port = '';
  const ip = classifyIp(host);
  let unicodeHost = host;
  if (ip === null && host.includes('xn--')) {
    const u = domainToUnicode(host);
    if (u !== '') unicodeHost = u;
  }
  const labels = host.split('.');
  return {
    ...base,
    host,
    unicodeHost,
    domain: ip === null ? registrableDomain(host) : '',
    tld: ip === null ? (labels[labels.length - 1] ?? '') : '',
    ip,
    userinfo,
    port,
    rest,
    obfuscatedHost,
  };
}

/** http(s) and www. URIs in plain text, trailing punctuation dropped. */
export function extractTextUris(text: string, max: number): string[] {
  const out: string[] = [];
  // No leading \b: it defeats irregexp's first-character scan; the boundary is checked below.
  const re = /(?:https?:\/\/|www\.)[^\s<>"'`{}|\\^[\]]{1,2000}/gi;
  for (const m of text.matchAll(re)) {
    const before = m.index > 0 ? text.charCodeAt(m.index - 1) : 32;
    if (
      (before >= 48 && before <= 57) ||
      (before >= 65 && before <= 90) ||
      (before >= 97 && before <= 122)
    ) {
      continue;
    }
    out.push(m[0].replace(/[.,;:!?)\]]+$/, ''));
    if (out.length >= max) break;
  }
  return out;
}

/**
 * The built-in rule catalogue: every symbol with its default score, description and test.
 * Phrase rules run on the lower-cased visible body text; structural rules on the header index,
 * the MIME part headers, the HTML analysis and the URI list of the {@link MessageView}.
 *
 * Regexes here are native and audited: no nested quantifiers, bounded gaps ({0,40}), so each
 * runs in time linear in the text. Administrators' rules (README.md) run on re2js instead.
 */
import type { CompiledRule, RuleContext, RuleTest } from './engine.js';
import type { MessageView } from './message-view.js';
import type { UriInfo } from './uri.js';
import { SHORTENER_DOMAINS, FREE_HOSTING_DOMAINS, registrableDomain } from './uri.js';
import { parseMetaExpression } from './engine.js';
import { compilePhrase, type CompiledPhrase } from './prefilter.js';
import { domainToUnicode } from 'node:url';

const rules: CompiledRule[] = [];

function add(
  symbol: string,
  group: string,
  score: number,
  description: string,
  test: RuleTest,
): void {
  rules.push({ symbol, group, defaultScore: score, description, test });
}

function meta(
  symbol: string,
  group: string,
  score: number,
  description: string,
  expression: string,
): void {
  rules.push({
    symbol,
    group,
    defaultScore: score,
    description,
    meta: parseMetaExpression(symbol, expression),
  });
}

function short(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 60 ? `${t.slice(0, 57)}...` : t;
}

/** Phrase regexes with their prefilter keys and runner (exported for the soundness tests). */
export const PHRASE_REGEXES: CompiledPhrase[] = [];

/** A phrase regex over the body, run through its prefilter. */
function phrase(re: RegExp): (view: MessageView) => RegExpExecArray | null {
  const compiled = compilePhrase(re);
  PHRASE_REGEXES.push(compiled);
  return (view) => compiled.run(view.lowerBodyText(), view.bodyWordKeys());
}

/** A phrase rule on the lower-cased visible body text (subject included). */
function bodyPhrase(
  symbol: string,
  group: string,
  score: number,
  description: string,
  re: RegExp,
): void {
  const match = phrase(re);
  add(symbol, group, score, description, (view) => {
    const m = match(view);
    return m === null ? null : `body: '${short(m[0])}'`;
  });
}

/** A rule that fires when at least `min` distinct patterns of a list match the body. */
function bodyCount(
  symbol: string,
  group: string,
  score: number,
  description: string,
  min: number,
  list: readonly RegExp[],
): void {
  // Cheap (prefiltered) patterns first; stop as soon as `min` can no longer be reached.
  const entries = list.map((re) => {
    const match = phrase(re);
    const last = PHRASE_REGEXES[PHRASE_REGEXES.length - 1];
    return { match, cheap: last !== undefined && (last.leading !== null || last.keys !== null) };
  });
  const ordered = [...entries.filter((e) => e.cheap), ...entries.filter((e) => !e.cheap)];
  add(symbol, group, score, description, (view) => {
    const hits: string[] = [];
    for (let i = 0; i < ordered.length; i++) {
      if (hits.length + (ordered.length - i) < min) return null;
      const m = ordered[i]?.match(view) ?? null;
      if (m !== null) hits.push(m[0]);
      if (hits.length >= min) return `body: ${hits.map((h) => `'${short(h)}'`).join(', ')}`;
    }
    return null;
  });
}

function subjectRule(
  symbol: string,
  group: string,
  score: number,
  description: string,
  re: RegExp,
): void {
  add(symbol, group, score, description, (view) => {
    // Subjects are short; the cap keeps any regex here cheap on a hostile one.
    const m = re.exec(view.subject.slice(0, 400));
    return m === null ? null : `Subject: '${short(m[0])}'`;
  });
}

function headerRule(
  symbol: string,
  group: string,
  score: number,
  description: string,
  name: string,
  re: RegExp,
): void {
  add(symbol, group, score, description, (view) => {
    for (const v of view.headers(name)) {
      const m = re.exec(v);
      if (m !== null) return `${name}: '${short(m[0])}'`;
    }
    return null;
  });
}

function uriRule(
  symbol: string,
  group: string,
  score: number,
  description: string,
  test: (uri: UriInfo, view: MessageView) => boolean | string,
): void {
  add(symbol, group, score, description, (view) => {
    for (const uri of view.uris()) {
      const r = test(uri, view);
      if (r !== false) return typeof r === 'string' ? r : `URI ${short(uri.raw)}`;
    }
    return null;
  });
}

/* ----------------------------------------------------------------------------------------- */
/* Shared facts                                                                              */

/** Webmail providers anyone can sign up to. */
export const FREEMAIL_DOMAINS: ReadonlySet<string> = new Set([
  'gmail.com',
  'googlemail.com',
  'yahoo.com',
  'yahoo.co.uk',
  'yahoo.fr',
  'ymail.com',
  'rocketmail.com',
  'hotmail.com',
  'hotmail.co.uk',
  'hotmail.fr',
  'outlook.com',
  'live.com',
  'msn.com',
  'aol.com',
  'icloud.com',
  'me.com',
  'mail.com',
  'gmx.com',
  'gmx.net',
  'gmx.de',
  'web.de',
  'yandex.com',
  'yandex.ru',
  'mail.ru',
  'protonmail.com',
  'proton.me',
  'zoho.com',
  'tutanota.com',
  'qq.com',
  '163.com',
  '126.com',
  'naver.com',
  'inbox.com',
  'rediffmail.com',
  'usa.net',
  'excite.com',
  'lycos.com',
  'juno.com',
  'netscape.net',
  'email.com',
  'consultant.com',
  'post.com',
]);

/**
 * Brands phishers impersonate, with the registrable domains they really send from. `token`
 * brands are matched as whole words only (short or common words).
 */
interface Brand {
  readonly key: string;
  readonly names: readonly string[];
  readonly domains: readonly string[];
  readonly token?: boolean;
}

const BRANDS: readonly Brand[] = [
  {
    key: 'paypal',
    names: ['paypal'],
    domains: ['paypal.com', 'paypal.me', 'paypal-communication.com', 'paypalobjects.com'],
  },
  {
    key: 'microsoft',
    names: [
      'microsoft',
      'office 365',
      'office365',
      'microsoft 365',
      'outlook',
      'onedrive',
      'sharepoint',
      'teams',
    ],
    domains: [
      'microsoft.com',
      'office.com',
      'office365.com',
      'outlook.com',
      'live.com',
      'sharepoint.com',
      'microsoftonline.com',
      'onedrive.com',
      'hotmail.com',
      'skype.com',
      'microsoftstore.com',
      'msn.com',
      'azure.com',
      'linkedin.com',
      'github.com',
      'xbox.com',
      'windows.com',
    ],
  },
  {
    key: 'apple',
    names: ['apple', 'icloud', 'itunes', 'apple id', 'app store'],
    domains: ['apple.com', 'icloud.com', 'me.com', 'itunes.com', 'mac.com'],
    token: true,
  },
  {
    key: 'amazon',
    names: ['amazon', 'amazon prime', 'prime video', 'aws'],
    domains: [
      'amazon.com',
      'amazon.co.uk',
      'amazon.de',
      'amazon.fr',
      'amazonses.com',
      'amazonaws.com',
      'aws.com',
      'amazon.ca',
      'amazon.in',
      'primevideo.com',
      'amazon.jobs',
      'amazon.es',
      'amazon.it',
      'amazon.co.jp',
      'amazon.com.au',
    ],
  },
  { key: 'netflix', names: ['netflix'], domains: ['netflix.com', 'netflix.net', 'nflxext.com'] },
  { key: 'docusign', names: ['docusign', 'docu sign'], domains: ['docusign.com', 'docusign.net'] },
  {
    key: 'dhl',
    names: ['dhl', 'dhl express'],
    domains: ['dhl.com', 'dhl.de', 'dhl.co.uk', 'dpdhl.com', 'dhl-news.com'],
    token: true,
  },
  { key: 'fedex', names: ['fedex'], domains: ['fedex.com'], token: true },
  { key: 'ups', names: ['ups'], domains: ['ups.com'], token: true },
  {
    key: 'usps',
    names: ['usps', 'postal service'],
    domains: ['usps.com', 'usps.gov'],
    token: true,
  },
  {
    key: 'wellsfargo',
    names: ['wells fargo', 'wellsfargo'],
    domains: ['wellsfargo.com', 'wf.com'],
  },
  {
    key: 'bankofamerica',
    names: ['bank of america', 'bankofamerica'],
    domains: ['bankofamerica.com', 'bofa.com', 'ealerts.bankofamerica.com'],
  },
  {
    key: 'chase',
    names: ['chase bank', 'jpmorgan chase', 'chase online'],
    domains: ['chase.com', 'jpmorgan.com', 'jpmorganchase.com'],
  },
  {
    key: 'google',
    names: ['google', 'gmail', 'google drive', 'google docs'],
    domains: [
      'google.com',
      'gmail.com',
      'googlemail.com',
      'youtube.com',
      'withgoogle.com',
      'googlegroups.com',
      'google.co.uk',
      'googleusercontent.com',
    ],
    token: true,
  },
  {
    key: 'facebook',
    names: ['facebook', 'meta', 'instagram', 'whatsapp'],
    domains: [
      'facebook.com',
      'facebookmail.com',
      'meta.com',
      'instagram.com',
      'whatsapp.com',
      'fb.com',
    ],
    token: true,
  },
  { key: 'linkedin', names: ['linkedin'], domains: ['linkedin.com', 'licdn.com'] },
  { key: 'dropbox', names: ['dropbox'], domains: ['dropbox.com', 'dropboxmail.com'] },
  {
    key: 'adobe',
    names: ['adobe', 'adobe sign', 'adobe acrobat'],
    domains: ['adobe.com', 'adobesign.com', 'echosign.com', 'adobe.io'],
    token: true,
  },
  { key: 'coinbase', names: ['coinbase'], domains: ['coinbase.com'] },
  { key: 'binance', names: ['binance'], domains: ['binance.com'] },
  { key: 'metamask', names: ['metamask'], domains: ['metamask.io'] },
  { key: 'ledger', names: ['ledger wallet', 'ledger live'], domains: ['ledger.com'] },
  { key: 'irs', names: ['irs', 'internal revenue service'], domains: ['irs.gov'], token: true },
  { key: 'hmrc', names: ['hmrc'], domains: ['hmrc.gov.uk', 'gov.uk'], token: true },
  {
    key: 'norton',
    names: ['norton', 'norton 360', 'nortonlifelock'],
    domains: ['norton.com', 'nortonlifelock.com', 'gen.com'],
    token: true,
  },
  { key: 'mcafee', names: ['mcafee'], domains: ['mcafee.com'] },
  {
    key: 'geeksquad',
    names: ['geek squad', 'geeksquad'],
    domains: ['bestbuy.com', 'geeksquad.com'],
  },
  { key: 'wetransfer', names: ['wetransfer'], domains: ['wetransfer.com'] },
  { key: 'ebay', names: ['ebay'], domains: ['ebay.com', 'ebay.co.uk', 'ebay.de'], token: true },
  { key: 'zoom', names: ['zoom'], domains: ['zoom.us', 'zoom.com'], token: true },
  { key: 'royalmail', names: ['royal mail'], domains: ['royalmail.com', 'royalmail.co.uk'] },
  {
    key: 'americanexpress',
    names: ['american express', 'amex'],
    domains: ['americanexpress.com', 'aexp.com', 'amex.com'],
  },
  { key: 'citibank', names: ['citibank', 'citi bank'], domains: ['citi.com', 'citibank.com'] },
  { key: 'hsbc', names: ['hsbc'], domains: ['hsbc.com', 'hsbc.co.uk'], token: true },
  { key: 'spotify', names: ['spotify'], domains: ['spotify.com'] },
  { key: 'walmart', names: ['walmart'], domains: ['walmart.com'] },
  { key: 'costco', names: ['costco'], domains: ['costco.com'] },
  {
    key: 'steam',
    names: ['steam support', 'steam community'],
    domains: ['steampowered.com', 'steamcommunity.com'],
  },
];

const BRAND_DOMAINS = new Set(BRANDS.flatMap((b) => b.domains));

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const BRAND_NAME_RES = BRANDS.map((b) => ({
  brand: b,
  re: new RegExp(`(?:^|[^a-z0-9])(?:${b.names.map(escapeRe).join('|')})(?:$|[^a-z0-9])`),
}));

/** The brand a display name claims, if any. */
const GENERIC_NAME_WORDS = new Set(
  (
    'support team service services security account accounts billing customer customers care ' +
    'notification notifications alert alerts online no reply noreply no-reply help center centre ' +
    'desk department verification mail email e-mail id pay payment payments express delivery info ' +
    'information official admin administrator update updates the of and inc llc ltd corp com ' +
    'store member members membership secure safety protection resolution prime web webmail ' +
    'message messages system systems cloud drive docs bank banking card cards via from your'
  ).split(' '),
);

/**
 * The brand a display name claims, if any. The name must be about the brand ("PayPal Support",
 * "Microsoft account team"), not merely contain its word ("Lockergnome Apple Core").
 */
function brandInName(name: string): Brand | null {
  const lower = foldHomoglyphs(name.toLowerCase());
  for (const { brand, re } of BRAND_NAME_RES) {
    const m = re.exec(lower);
    if (m === null) continue;
    const rest = (lower.slice(0, m.index) + ' ' + lower.slice(m.index + m[0].length))
      .split(/[^a-z0-9-]+/)
      .filter((w) => w.length > 2 && !GENERIC_NAME_WORDS.has(w) && !/^\d+$/.test(w));
    if (rest.length <= 1) return brand;
  }
  return null;
}

function domainBelongsTo(domain: string, brand: Brand): boolean {
  const reg = registrableDomain(domain);
  return brand.domains.some((d) => reg === d || domain === d || domain.endsWith(`.${d}`));
}

/** Cyrillic and Greek letters that look Latin, folded to the Latin letter. */
const HOMOGLYPHS: Readonly<Record<string, string>> = {
  а: 'a',
  е: 'e',
  о: 'o',
  р: 'p',
  с: 'c',
  у: 'y',
  х: 'x',
  і: 'i',
  ј: 'j',
  ѕ: 's',
  ԁ: 'd',
  ɡ: 'g',
  һ: 'h',
  ӏ: 'l',
  ո: 'n',
  ν: 'v',
  ο: 'o',
  α: 'a',
  ρ: 'p',
  τ: 't',
  ι: 'i',
  κ: 'k',
  ԝ: 'w',
  ɑ: 'a',
  ı: 'i',
};

function foldHomoglyphs(s: string): string {
  return s.replace(/[а-яёіјѕԁһӏԝνορτικαɡɑոı]/g, (c) => HOMOGLYPHS[c] ?? c);
}

/** Latin letters and Cyrillic/Greek letters inside one word ("Pаypal" with a Cyrillic а). */
const MIXED_SCRIPT_WORD = /[a-z][\u0370-\u03ff\u0400-\u04ff]|[\u0370-\u03ff\u0400-\u04ff][a-z]/i;

/** Digit and letter-pair substitutions used in lookalike domains. */
function unLeet(label: string): string {
  return label
    .replace(/rn/g, 'm')
    .replace(/vv/g, 'w')
    .replace(/0/g, 'o')
    .replace(/1/g, 'l')
    .replace(/3/g, 'e')
    .replace(/4/g, 'a')
    .replace(/5/g, 's')
    .replace(/7/g, 't')
    .replace(/-/g, '');
}

const LOOKALIKE_KEYS = BRANDS.filter((b) => b.key.length >= 5 && b.token !== true).map(
  (b) => b.key,
);

const LOOKALIKE_RE = new RegExp(LOOKALIKE_KEYS.join('|'));
const lookalikeCache = new Map<string, string | null>();

/** A domain that imitates a brand (paypa1-secure.com, micros0ft.co) without belonging to it. */
function lookalikeBrand(host: string): string | null {
  if (host === '') return null;
  const cached = lookalikeCache.get(host);
  if (cached !== undefined) return cached;
  let result: string | null = null;
  if (!BRAND_DOMAINS.has(registrableDomain(host))) {
    const unicode = host.includes('xn--') ? domainToUnicode(host) : host;
    const key = LOOKALIKE_RE.exec(unLeet(foldHomoglyphs(unicode)))?.[0];
    const brand = key === undefined ? undefined : BRANDS.find((b) => b.key === key);
    if (key !== undefined && brand !== undefined && !domainBelongsTo(host, brand)) result = key;
  }
  // Bounded memo: hosts repeat across a message and across mail of one campaign.
  if (lookalikeCache.size > 10000) lookalikeCache.clear();
  lookalikeCache.set(host, result);
  return result;
}

/** A brand's real domain used as a subdomain of another ("paypal.com.secure-id.top"). */
function brandAsSubdomain(host: string): string | null {
  const labels = host.split('.');
  if (labels.length < 3 || BRAND_DOMAINS.has(registrableDomain(host))) return null;
  for (let i = 0; i + 2 < labels.length; i++) {
    const two = `${labels[i] ?? ''}.${labels[i + 1] ?? ''}`;
    if (BRAND_DOMAINS.has(two)) return two;
    const three = `${two}.${labels[i + 2] ?? ''}`;
    if (i + 3 < labels.length && BRAND_DOMAINS.has(three)) return three;
  }
  return null;
}

const SUSPICIOUS_TLDS = new Set([
  'tk',
  'ml',
  'ga',
  'cf',
  'gq',
  'top',
  'xyz',
  'click',
  'link',
  'buzz',
  'cam',
  'icu',
  'cyou',
  'sbs',
  'cfd',
  'monster',
  'rest',
  'bond',
  'zip',
  'mov',
  'quest',
  'su',
  'work',
  'loan',
  'men',
  'date',
  'racing',
  'win',
  'bid',
  'stream',
  'download',
  'review',
  'trade',
  'accountant',
  'science',
  'party',
  'gdn',
  'kim',
  'faith',
  'cricket',
  'country',
  'webcam',
  'lol',
  'mom',
  'hair',
  'skin',
  'beauty',
  'autos',
  'boats',
  'makeup',
  'yachts',
  'motorcycles',
  'homes',
  'pw',
  'surf',
  'fit',
]);

/** Dates: RFC 5322 Date values and Received timestamps (after the last ';'). */
function parseMailDate(value: string): Date | null {
  const v = value.replace(/\([^()]*\)/g, ' ').trim();
  if (v === '') return null;
  const t = Date.parse(v.replace(/^[A-Za-z]{3},?\s*/, ''));
  if (Number.isNaN(t)) return null;
  return new Date(t);
}

/** The newest Received timestamp: when the message reached a relay we can see. */
function receivedTime(view: MessageView): Date | null {
  let newest: Date | null = null;
  for (const r of view.headers('received').slice(0, 10)) {
    const semi = r.lastIndexOf(';');
    if (semi < 0) continue;
    const d = parseMailDate(r.slice(semi + 1));
    if (d !== null && (newest === null || d > newest)) newest = d;
  }
  return newest;
}

const HOUR_MS = 3600 * 1000;

function dateFacts(
  view: MessageView,
  context: RuleContext,
): { date: Date | null; ref: Date } | null {
  if (!view.hasHeader('date')) return null;
  // Three date rules ask: parse once per view.
  let facts = dateCache.get(view);
  if (facts === undefined) {
    facts = { date: parseMailDate(view.header('date')), ref: receivedTime(view) ?? context.now };
    dateCache.set(view, facts);
  }
  return facts;
}

const dateCache = new WeakMap<MessageView, { date: Date | null; ref: Date }>();

/** Attachment file names of the message (part headers only). */
function attachmentNames(view: MessageView): string[] {
  const out: string[] = [];
  for (const p of view.parts()) if (p.filename !== null && p.filename !== '') out.push(p.filename);
  return out;
}

function fileRule(
  symbol: string,
  group: string,
  score: number,
  description: string,
  re: RegExp,
): void {
  add(symbol, group, score, description, (view) => {
    for (const name of attachmentNames(view)) {
      if (re.test(name.trim().toLowerCase())) return `attachment '${short(name)}'`;
    }
    return null;
  });
}

function firstHtml(view: MessageView): ReturnType<MessageView['html']> {
  return view.html();
}

function letterStats(text: string): { letters: number; upper: number } {
  let letters = 0;
  let upper = 0;
  for (let i = 0; i < text.length && i < 8000; i++) {
    const c = text.charCodeAt(i);
    if (c >= 65 && c <= 90) {
      letters++;
      upper++;
    } else if (c >= 97 && c <= 122) letters++;
  }
  return { letters, upper };
}

/* ----------------------------------------------------------------------------------------- */
/* Test strings                                                                              */

add('GTUBE', 'test', 1000, 'The GTUBE anti-spam test string', (view) => {
  const needle = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
  if (view.body.includes(needle) || view.bodyText().includes(needle)) return 'GTUBE string';
  return null;
});

/* ----------------------------------------------------------------------------------------- */
/* Headers                                                                                   */

add('MISSING_FROM', 'header', 1.5, 'No From header', (v) =>
  v.hasHeader('from') ? null : 'no From',
);
add('MISSING_DATE', 'header', 0.8, 'No Date header', (v) =>
  v.hasHeader('date') ? null : 'no Date',
);
add('MISSING_MESSAGE_ID', 'header', 0.5, 'No Message-ID header', (v) =>
  v.hasHeader('message-id') ? null : 'no Message-ID',
);
add('MISSING_SUBJECT', 'header', 0.5, 'No Subject header', (v) =>
  v.hasHeader('subject') ? null : 'no Subject',
);
add('MISSING_TO', 'header', 0.2, 'No To and no Cc header', (v) =>
  v.hasHeader('to') || v.hasHeader('cc') ? null : 'no To/Cc',
);
add('FROM_NO_ADDRESS', 'header', 1.6, 'From has no valid address', (v) => {
  if (!v.hasHeader('from')) return null;
  return /^[^@\s]+@[^@\s]+\.[a-z0-9-]+$/i.test(v.from.address)
    ? null
    : `From '${short(v.from.address)}'`;
});
add('FROM_LOCAL_DIGITS', 'header', 1.0, 'From local part ends in four or more digits', (v) =>
  /[a-z]\d{4,}$/.test(v.from.local) ? `From ${v.from.address}` : null,
);
add(
  'FROM_LOCAL_RANDOM',
  'header',
  0.8,
  'From local part looks machine-made (long, no vowels)',
  (v) => (/^[bcdfghjklmnpqrstvwxz0-9]{8,}$/.test(v.from.local) ? `From ${v.from.address}` : null),
);
add('MSGID_MALFORMED', 'header', 1.2, 'Message-ID is not <id@domain>', (v) => {
  if (!v.hasHeader('message-id')) return null;
  return /^<[^<>\s@]+@[^<>\s@]+>$/.test(v.header('message-id').trim())
    ? null
    : `Message-ID '${short(v.header('message-id'))}'`;
});
add('MULTIPLE_FROM', 'header', 1.0, 'More than one From header', (v) =>
  v.rawHeaders('from').length > 1 ? 'several From' : null,
);
add('DATE_INVALID', 'header', 1.2, 'Date header cannot be parsed', (v, c) => {
  const f = dateFacts(v, c);
  return f !== null && f.date === null ? `Date '${short(v.header('date'))}'` : null;
});
add('DATE_IN_FUTURE', 'header', 1.8, 'Date is more than 12 hours after it was received', (v, c) => {
  const f = dateFacts(v, c);
  if (f?.date == null) return null;
  return f.date.getTime() - f.ref.getTime() > 12 * HOUR_MS ? `Date ${v.header('date')}` : null;
});
add('DATE_IN_PAST_96', 'header', 1.2, 'Date is more than 4 days before it was received', (v, c) => {
  const f = dateFacts(v, c);
  if (f?.date == null) return null;
  return f.ref.getTime() - f.date.getTime() > 96 * HOUR_MS ? `Date ${v.header('date')}` : null;
});
add('TO_UNDISCLOSED', 'header', 0.8, 'To is "undisclosed recipients" or an empty group', (v) =>
  /undisclosed|recipient list (?:not|suppressed)|^\s*[^:@]*:\s*;/i.test(v.header('to'))
    ? `To '${short(v.header('to'))}'`
    : null,
);
add('TO_MANY', 'header', 0.6, 'Ten or more addresses in To', (v) =>
  (v.header('to').match(/@/g)?.length ?? 0) >= 10 ? 'many To addresses' : null,
);
add('TO_EQ_FROM', 'header', 0.3, 'To is the From address', (v) => {
  const to = v.header('to').toLowerCase();
  return v.from.address !== '' && /^[^,]*$/.test(to) && to.includes(v.from.address)
    ? 'To = From'
    : null;
});
add('SUBJ_ALL_CAPS', 'header', 1.4, 'Subject is all capitals', (v) => {
  const subject = v.subject.slice(0, 300);
  if (/[a-z]/.test(subject)) return null;
  return (subject.match(/[A-Z]/g)?.length ?? 0) >= 10 ? `Subject '${short(subject)}'` : null;
});
subjectRule('SUBJ_EXCLAIM', 'header', 1.1, 'Subject has several exclamation marks', /!.*!|!!/);
subjectRule(
  'SUBJ_MONEY',
  'header',
  1.1,
  'Subject mentions a sum of money',
  /[$€£]\s?\d|\d+\s?(?:usd|dollars)\b/i,
);
subjectRule(
  'SUBJ_TRAILING_ID',
  'header',
  2.2,
  'Subject ends with padding and a random tag (bulk-mail tracking)',
  /(?:\s{4,}|\s[[(#])(?=[\w-]*\d)(?=[\w-]*[a-z])[\w-]{4,12}[\])]?\s*$|\s{6,}\S{1,12}\s*$/i,
);
subjectRule(
  'SUBJ_SPAM_PHRASE',
  'header',
  1.8,
  'Subject uses a bulk-marketing phrase',
  /\b(?:free (?:gift|offer|trial|money|cash|quote)|guarantee[ds]?|lowest (?:price|rate)|act now|limited time|earn (?:\$|money|cash|extra)|make money|save (?:up to|\d+%|\$)|\d+% off|lose (?:weight|\d+ ?lbs)|viagra|cialis|mortgage|refinance|debt|loan|casino|winner|you(?:'ve| have) won|you(?:'re| are) approved|(?:preapproved|pre-approved)|congratulations|double your|extra income|work from home|increase your|online pharmacy|no prescription|hot (?:stock|pick)|cheap|discount)\b/i,
);
subjectRule(
  'SUBJ_DEAR_FRIEND',
  'header',
  1.0,
  'Subject greets a stranger',
  /\b(?:dear (?:friend|sir|madam)|hello friend|attention:?\s*(?:sir|madam|beneficiary))/i,
);
add(
  'SUBJ_FAKE_REPLY',
  'header',
  0.4,
  'Subject starts with Re: but the message replies to nothing',
  (v) =>
    /^\s*(?:re|fwd?|aw)\s*:/i.test(v.subject) &&
    !v.hasHeader('in-reply-to') &&
    !v.hasHeader('references')
      ? `Subject '${short(v.subject)}'`
      : null,
);
add(
  'SUBJ_RAW_8BIT',
  'header',
  1.2,
  'Subject or From carries raw 8-bit bytes that are not UTF-8',
  (v) => {
    const raw = `${v.rawHeaders('subject')[0] ?? ''}${v.rawHeaders('from')[0] ?? ''}`;
    return raw.includes('\ufffd') ? 'unencoded 8-bit header' : null;
  },
);
add(
  'SUBJ_ENCODED_ASCII',
  'header',
  0.9,
  'Subject or From is base64-encoded though plain ASCII',
  (v) => {
    for (const name of ['subject', 'from']) {
      const raw = v.rawHeaders(name)[0] ?? '';
      if (!/=\?[^?]+\?b\?/i.test(raw)) continue;
      if (/^[\x20-\x7e]*$/.test(v.header(name))) return `${name} needlessly encoded`;
    }
    return null;
  },
);
/** The East Asian or Cyrillic charset the Subject or From is encoded in, if any. */
function farawayHeaderCharset(v: MessageView): string | null {
  const raw = `${v.rawHeaders('subject')[0] ?? ''} ${v.rawHeaders('from')[0] ?? ''}`.toLowerCase();
  const m =
    /=\?(ks_c_5601|euc-kr|gb2312|gbk|gb18030|big5|iso-2022-jp|shift_jis|euc-jp|koi8-r|windows-1251|iso-2022-kr)/.exec(
      raw,
    );
  return m === null ? null : (m[1] ?? '');
}
add(
  'CHARSET_FARAWAY_HEADER',
  'header',
  1.8,
  'Subject or From in an East Asian or Cyrillic charset',
  (v) => {
    const charset = farawayHeaderCharset(v);
    return charset === null ? null : `charset ${charset}`;
  },
);
add(
  'SUBJ_MIXED_SCRIPT',
  'phish',
  2.0,
  'Subject or From name mixes Latin and Cyrillic/Greek letters in a word',
  (v) => {
    const m = MIXED_SCRIPT_WORD.exec(v.subject) ?? MIXED_SCRIPT_WORD.exec(v.from.name);
    return m === null ? null : `mixed script '${m[0]}'`;
  },
);
headerRule(
  'XMAILER_BULK',
  'header',
  2.0,
  'X-Mailer of a bulk-mailing tool',
  'x-mailer',
  /mass ?mail|bulk ?mail|group ?mail|mail ?bomber|send-safe|atomic ?mail|advanced mass sender|dynamic ?mailer|express ?mailer|super ?mailer|(?:email|e-mail) marketer|mailking|aureate|floodgate|jiffy/i,
);
headerRule(
  'XMAILER_RANDOM',
  'header',
  1.0,
  'X-Mailer is a random-looking token',
  'x-mailer',
  /^[A-Za-z0-9]{12,}$/,
);
add('X_PRIORITY_HIGH', 'header', 0.6, 'Marked urgent (X-Priority 1 or Importance high)', (v) =>
  /^\s*1\b/.test(v.header('x-priority')) || /high/i.test(v.header('importance'))
    ? 'high priority'
    : null,
);
add(
  'REPLYTO_FREEMAIL_DIFF',
  'header',
  1.1,
  'Reply-To is a webmail address other than From',
  (v) => {
    if (!v.hasHeader('reply-to')) return null;
    const r = /[^\s<>"]+@([^\s<>"]+)/.exec(v.header('reply-to'));
    if (r === null) return null;
    const addr = r[0].toLowerCase();
    const dom = registrableDomain((r[1] ?? '').toLowerCase());
    return FREEMAIL_DOMAINS.has(dom) && addr !== v.from.address ? `Reply-To ${addr}` : null;
  },
);
add('__FREEMAIL_FROM', 'header', 0, 'From is a webmail address', (v) =>
  FREEMAIL_DOMAINS.has(registrableDomain(v.from.domain)) ? v.from.domain : null,
);
add('__REPLYTO_OTHER_DOMAIN', 'header', 0, 'Reply-To domain differs from From', (v) => {
  if (!v.hasHeader('reply-to')) return null;
  const r = /@([^\s<>"]+)/.exec(v.header('reply-to'));
  const d = registrableDomain((r?.[1] ?? '').toLowerCase());
  return d !== '' && d !== registrableDomain(v.from.domain) ? d : null;
});
add(
  'LIST_DISCUSSION',
  'header',
  0,
  'Discussion-list mail (List-Id with List-Post or a list archive)',
  (v) =>
    v.hasHeader('list-id') && (v.hasHeader('list-post') || v.hasHeader('list-archive'))
      ? 'mailing list'
      : null,
);
add('REPLY_IN_THREAD', 'header', -0.6, 'A reply in a thread (In-Reply-To and References)', (v) =>
  v.hasHeader('in-reply-to') && v.hasHeader('references') ? 'threaded reply' : null,
);

const PRIVATE_IPV4 = /^(?:10|127|192\.168|172\.(?:1[6-9]|2\d|3[01]))\./;
/** Reverse names of home and dial-up lines ("61-230-27-47.dynamic.example.net"). */
const DYNAMIC_RDNS =
  /\d+[-.]\d+[-.]\d+|(?:^|[.-])(?:a?dsl|dial-?up|dyn(?:amic)?|pool|ppp|cable|dhcp)[.\d-]/i;
add(
  'RCVD_FROM_SENDER_DOMAIN',
  'header',
  // Ham evidence, kept small: a spammer's own domain has it too. On TRAIN it marks 22 of the
  // 125 hard hams (newsletters from the company's own servers) and 7 of 500 spams.
  -0.5,
  "Handed over by a server named in the sender's own domain (not webmail, not a home line)",
  (v) => {
    const from = v.from.domain.toLowerCase();
    if (from === '') return null;
    const domain = registrableDomain(from);
    if (FREEMAIL_DOMAINS.has(domain)) return null;
    // The newest hop from a public address: written by a receiving server, below any line a
    // sender could forge. Older hops are not looked at.
    for (const value of v.headers('received').slice(0, 20)) {
      const ip = /\[(\d{1,3}(?:\.\d{1,3}){3})\]/.exec(value)?.[1];
      if (ip === undefined || PRIVATE_IPV4.test(ip)) continue;
      const rdns = /^from \S+ \(([a-z0-9.-]+\.[a-z]{2,}) \[\d/i.exec(value)?.[1]?.toLowerCase();
      if (rdns === undefined || DYNAMIC_RDNS.test(rdns)) return null;
      return registrableDomain(rdns) === domain ? `relay ${rdns} for @${from}` : null;
    }
    return null;
  },
);

/* ----------------------------------------------------------------------------------------- */
/* MIME structure and encoding                                                               */

add('MIME_HTML_ONLY', 'mime', 0.45, 'The message has HTML text but no plain-text part', (v) => {
  const text = v.textParts();
  return text.length > 0 && text.every((p) => p.type === 'text/html') ? 'HTML only' : null;
});
add('MIME_NO_VERSION', 'mime', 0.8, 'MIME content without a MIME-Version header', (v) =>
  !v.hasHeader('mime-version') &&
  /multipart|base64|quoted/i.test(
    `${v.header('content-type')} ${v.header('content-transfer-encoding')}`,
  )
    ? 'no MIME-Version'
    : null,
);
add('MIME_BOUNDARY_MISSING', 'mime', 1.0, 'Multipart without a usable boundary', (v) => {
  const p = v
    .mimeProblems()
    .find((x) => x === 'multipart without boundary' || x === 'boundary not found');
  return p ?? null;
});
add('MIME_BASE64_TEXT', 'mime', 0.7, 'Text part sent as base64', (v) =>
  v
    .textParts()
    .some(
      (p) =>
        p.part.encoding === 'base64' && p.type === 'text/plain' && /^[\x00-\x7f]*$/.test(p.text),
    )
    ? 'ASCII text in base64'
    : null,
);
add(
  'MIME_CHARSET_UNKNOWN',
  'mime',
  0.6,
  'A text part declares a charset that does not exist',
  (v) => {
    const p = v.textParts().find((t) => t.problems.some((x) => x.startsWith('unknown charset')));
    return p === undefined ? null : `charset '${short(p.part.charset)}'`;
  },
);
add('CHARSET_FARAWAY_BODY', 'mime', 1.7, 'Body text in an East Asian charset', (v) => {
  const p = v
    .parts()
    .find((x) =>
      /^(?:ks_c_5601|euc-kr|gb2312|gbk|gb18030|big5|iso-2022-jp|shift_jis|euc-jp|iso-2022-kr)/i.test(
        x.charset,
      ),
    );
  // One writer's language, told once: with the Subject or From in such a charset too, that is
  // CHARSET_FARAWAY_HEADER's finding (mail between colleagues in Japan has both).
  if (p === undefined || farawayHeaderCharset(v) !== null) return null;
  return `charset ${p.charset}`;
});
add(
  'MIME_ALT_TEXT_EMPTY',
  'mime',
  1.0,
  'Plain-text alternative is empty while the HTML has text',
  (v) => {
    const parts = v.textParts();
    const plain = parts.find((p) => p.type === 'text/plain');
    const html = v.html();
    if (plain === undefined || html === null) return null;
    return plain.text.trim().length < 20 && html.visibleText.length > 300
      ? 'empty text alternative'
      : null;
  },
);
add('HTML_IN_PLAIN_TEXT', 'mime', 1.6, 'HTML markup sent as text/plain', (v) => {
  const plain = v.textParts().find((p) => p.type === 'text/plain');
  if (plain === undefined || v.textParts().some((p) => p.type === 'text/html')) return null;
  return /<(?:html|body|table|font|a\s+href)\b/i.test(plain.text.slice(0, 5000))
    ? 'HTML in text/plain'
    : null;
});
add(
  'BODY_MIXED_SCRIPT',
  'phish',
  1.5,
  'Words mixing Latin and Cyrillic/Greek letters (homoglyph obfuscation)',
  (v) => {
    const text = v.bodyText();
    if (!/[\u0370-\u04ff]/.test(text)) return null;
    const words = text.match(/[a-z\u0370-\u04ff]{3,}/gi) ?? [];
    const mixed = words.filter((w) => MIXED_SCRIPT_WORD.test(w) && /[a-z]{2}/i.test(w));
    return mixed.length >= 2 ? `mixed-script words: ${mixed.slice(0, 3).join(', ')}` : null;
  },
);

/* ----------------------------------------------------------------------------------------- */
/* HTML                                                                                      */

add('HTML_HIDDEN_TEXT', 'html', 1.5, 'A lot of text hidden with CSS', (v) => {
  const h = firstHtml(v);
  if (h === null) return null;
  const hidden = h.hiddenText.length;
  return hidden > 300 && hidden > h.visibleText.length * 0.2 ? `${hidden} hidden characters` : null;
});
add('HTML_IMAGE_ONLY', 'html', 1.7, 'HTML with images and almost no text', (v) => {
  const h = firstHtml(v);
  if (h === null || h.images.length + h.dataImages === 0) return null;
  const plain = v.textParts().find((p) => p.type === 'text/plain');
  if (plain !== undefined && plain.text.trim().length > 200) return null;
  return h.visibleText.length < 200 ? `${h.visibleText.length} characters of text` : null;
});
// HTML_FORM, HTML_SCRIPT, HTML_IFRAME and HTML_ENTITY_OBFUSCATION are off by default: on TRAIN
// they fire on more of the hard ham (commercial newsletters: 34%, 22%, 16%, 13%) than of the
// spam (10%, 0.6%, 0.4%, 0%). Phishing forms have HTML_PASSWORD_FIELD and HTML_FORM_TO_IP.
add('HTML_FORM', 'html', 0, 'HTML form in the message', (v) =>
  (firstHtml(v)?.forms.length ?? 0) > 0 ? 'form' : null,
);
uriRule(
  'HTML_FORM_TO_IP',
  'html',
  1.5,
  'An HTML form posts to a bare IP address',
  (uri) => uri.source === 'form' && uri.ip !== null,
);
bodyCount(
  'FORM_CONTACT_FIELDS',
  'body',
  1.0,
  'Asks the reader to fill in name, e-mail and phone',
  3,
  [
    /\bfill (?:out|in) (?:the|this|our) (?:form|information)/,
    /\bname:/,
    /\be-?mail(?: address)?:/,
    /\bphone(?: number)?:/,
    /\b(?:city|state|zip(?: code)?):/,
  ],
);
add('HTML_PASSWORD_FIELD', 'phish', 3.0, 'HTML asks for a password in the message itself', (v) =>
  firstHtml(v)?.hasPasswordInput === true ? 'password input' : null,
);
add('HTML_SCRIPT', 'html', 0, 'Script in HTML mail', (v) =>
  firstHtml(v)?.hasScript === true ? 'script' : null,
);
add('HTML_IFRAME', 'html', 0, 'Frame or embedded object in HTML mail', (v) => {
  const h = firstHtml(v);
  return h !== null && (h.hasIframe || h.hasObject) ? 'iframe/object' : null;
});
add('HTML_META_REFRESH', 'html', 1.5, 'HTML mail with a meta refresh (redirect)', (v) =>
  firstHtml(v)?.hasMetaRefresh === true ? 'meta refresh' : null,
);
add(
  'HTML_WORD_SPLIT_COMMENTS',
  'obfuscation',
  1.5,
  'Comments inside words to break filters',
  (v) => {
    const n = firstHtml(v)?.wordSplitComments ?? 0;
    return n >= 3 ? `${n} word-splitting comments` : null;
  },
);
add('HTML_BOGUS_TAGS', 'obfuscation', 1.2, 'Made-up HTML tags (word splitting)', (v) => {
  const n = firstHtml(v)?.unknownTags ?? 0;
  return n >= 10 ? `${n} unknown tags` : null;
});
add('ZERO_WIDTH_OBFUSCATION', 'obfuscation', 1.5, 'Zero-width characters inside words', (v) => {
  const n = firstHtml(v)?.zeroWidthCount ?? 0;
  return n >= 3 ? `${n} zero-width characters in words` : null;
});
add(
  'HTML_ENTITY_OBFUSCATION',
  'obfuscation',
  0,
  'Letters written as numeric HTML entities',
  (v) => {
    const html = v.textParts().find((p) => p.type === 'text/html');
    if (html === undefined) return null;
    return /(?:&#(?:x[46][0-9a-f]|x[57][0-9a]|6[5-9]|[7-9]\d|1[01]\d|12[0-2]);){6}/i.test(html.text)
      ? 'entity-encoded letters'
      : null;
  },
);

/* ----------------------------------------------------------------------------------------- */
/* URIs                                                                                      */

uriRule(
  'URI_IP_LITERAL',
  'uri',
  1.5,
  'Link to a bare IP address',
  (u) => u.ip === 'dotted' || u.ip === 'ipv6',
);
uriRule(
  'URI_IP_OBFUSCATED',
  'uri',
  3.0,
  'Link to an IP written in decimal, hex or octal',
  (u) => u.ip === 'decimal' || u.ip === 'hex' || u.ip === 'octal',
);
uriRule(
  'URI_USERINFO',
  'uri',
  2.6,
  'Link with user@ before the host (hides the real host)',
  (u) => u.userinfo && u.host !== '' && u.source !== 'img',
);
uriRule(
  'URI_HOST_ESCAPED',
  'uri',
  1.5,
  'Percent-escaped host name in a link',
  (u) => u.obfuscatedHost,
);
uriRule(
  'URI_SHORTENER',
  'uri',
  0.9,
  'Link through a URL shortener',
  (u) => u.source !== 'img' && (SHORTENER_DOMAINS.has(u.domain) || SHORTENER_DOMAINS.has(u.host)),
);
uriRule(
  'URI_FREE_HOSTING',
  'uri',
  0.6,
  'Link to a free hosting or form service often used for phishing pages',
  (u) => {
    if (u.source === 'img') return false;
    // Suffix lookup: the host, then each parent domain.
    for (let at = -1; ;) {
      if (FREE_HOSTING_DOMAINS.has(u.host.slice(at + 1))) return `URI host ${u.host}`;
      at = u.host.indexOf('.', at + 1);
      if (at < 0) return false;
    }
  },
);
uriRule(
  'URI_IPFS',
  'uri',
  2.0,
  'Link to an IPFS gateway (unremovable phishing pages)',
  (u) =>
    u.host.includes('.ipfs.') || (u.rest.includes('ipfs') && /\/ipfs\/[a-z0-9]{20,}/i.test(u.rest)),
);
uriRule('URI_SUSPICIOUS_TLD', 'uri', 0.8, 'Link to a top-level domain popular with abuse', (u) =>
  u.source !== 'img' && SUSPICIOUS_TLDS.has(u.tld) ? `URI host ${u.host}` : false,
);
uriRule(
  'URI_ODD_PORT',
  'uri',
  0.5,
  'Web link on a non-standard port',
  (u) => u.port !== '' && (u.scheme === 'http' || u.scheme === 'https') && u.source !== 'img',
);
uriRule(
  'URI_DATA_OR_SCRIPT',
  'uri',
  0.5,
  'Link to a data: or javascript: URI',
  (u) =>
    u.source === 'href' &&
    (u.scheme === 'javascript' || (u.scheme === 'data' && /^data:text\/html/i.test(u.raw))),
);
const EXECUTABLE_EXTENSIONS = new Set(
  'exe scr pif bat cmd vbs vbe js jse wsf hta msi ps1 jar apk iso img vhd vhdx lnk'.split(' '),
);
uriRule('URI_EXECUTABLE', 'uri', 1.8, 'Link to an executable, script or disk image', (u) => {
  if (u.scheme !== 'http' && u.scheme !== 'https') return false;
  const path = u.rest.split(/[?#]/, 1)[0] ?? '';
  const dot = path.lastIndexOf('.');
  return dot >= 0 && EXECUTABLE_EXTENSIONS.has(path.slice(dot + 1).toLowerCase());
});
uriRule(
  'URI_REDIRECTOR',
  'uri',
  0.5,
  'Link through an open redirect parameter',
  (u) =>
    u.rest.includes('=') &&
    /[?&](?:url|u|redirect|redir|redirect_uri|target|dest|destination|next|goto|link|q)=(?:https?(?::|%3a)|\/\/|%2f%2f)/i.test(
      u.rest,
    ) &&
    u.source !== 'img',
);
uriRule('URI_PUNYCODE', 'phish', 1.0, 'Link to an internationalised (punycode) domain', (u) =>
  u.host.includes('xn--') && u.source !== 'img' ? `URI host ${u.unicodeHost}` : false,
);
uriRule(
  'URI_HOMOGLYPH',
  'phish',
  3.0,
  'Link domain mixes Latin with lookalike Cyrillic/Greek letters',
  (u) =>
    u.host.includes('xn--') && MIXED_SCRIPT_WORD.test(u.unicodeHost)
      ? `URI host ${u.unicodeHost}`
      : false,
);
uriRule('URI_BRAND_LOOKALIKE', 'phish', 2.5, 'Link domain imitates a well-known brand', (u) => {
  if (u.source === 'img' || u.ip !== null) return false;
  const b = lookalikeBrand(u.host) ?? brandAsSubdomain(u.host);
  return b === null ? false : `URI host ${u.host} imitates ${b}`;
});
/** The host a link text shows when the text is an address ("www.x.com/path"), else null. */
function linkTextHost(text: string): string | null {
  if (!text.includes('.') || text.length > 200) return null;
  const m = /^(?:https?:\/\/)?(?:www\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)+)(?:[/:?#]\S*)?$/i.exec(
    text.trim(),
  );
  return m === null ? null : (m[1] ?? '').toLowerCase();
}
add(
  'LINK_TEXT_MISMATCH',
  'phish',
  0.25,
  'Link text shows a domain other than the link target',
  (v) => {
    for (const u of v.uris()) {
      if (u.source !== 'href' || u.linkText === undefined || u.domain === '') continue;
      const shownHost = linkTextHost(u.linkText);
      if (shownHost === null) continue;
      const shown = registrableDomain(shownHost);
      if (!/\.[a-z]{2,}$/.test(shown) || /\.(?:pdf|docx?|xlsx?|html?|zip|jpe?g|png)$/i.test(shown))
        continue;
      if (shown !== u.domain) return `text ${shown}, target ${u.host}`;
    }
    return null;
  },
);
add(
  'LINK_TEXT_BRAND_MISMATCH',
  'phish',
  2.5,
  "Link text shows a brand's domain but goes elsewhere",
  (v) => {
    for (const u of v.uris()) {
      if (u.source !== 'href' || u.linkText === undefined || u.host === '') continue;
      // The text must be an address, not a headline naming a company ("McAfee.com sour on
      // sweetened bid" behind a newsletter's click tracker).
      const shownHost = linkTextHost(u.linkText);
      if (shownHost === null) continue;
      const shown = registrableDomain(shownHost);
      if (BRAND_DOMAINS.has(shown) && shown !== u.domain && !BRAND_DOMAINS.has(u.domain))
        return `text ${shown}, target ${u.host}`;
    }
    return null;
  },
);
add(
  'LINK_TEXT_LOGIN',
  'phish',
  0.8,
  'A link labelled as a sign-in, verification or document button',
  (v) => {
    for (const u of v.uris()) {
      if (u.source !== 'href' || u.linkText === undefined || u.linkText.length > 80) continue;
      if (
        /^(?:sign ?in|log ?in|verify|confirm|validate|unlock|restore|(?:reactivate|re-activate))\b.{0,40}$|\b(?:verify|confirm|validate) (?:now|here|account|identity|email)|(?:view|review|open|access|download) (?:the )?(?:shared |secure )?(?:document|invoice|pdf|fax|voicemail|voice message|statement)s?$/i.test(
          u.linkText.trim(),
        )
      ) {
        return `link '${short(u.linkText)}'`;
      }
    }
    return null;
  },
);
add('URI_MANY_DOMAINS_IP', 'uri', 0.7, 'Image hosted on a bare IP address', (v) =>
  v.uris().some((u) => u.source === 'img' && u.ip !== null) ? 'image on IP' : null,
);

/* ----------------------------------------------------------------------------------------- */
/* Impersonation                                                                             */

add(
  'FROM_BRAND_MISMATCH',
  'phish',
  3.0,
  "From name claims a brand the sender's domain does not belong to",
  (v) => {
    const brand = brandInName(v.from.name);
    if (brand === null || v.from.domain === '') return null;
    if (domainBelongsTo(v.from.domain, brand)) return null;
    return `'${short(v.from.name)}' from ${v.from.domain}`;
  },
);
add(
  'FROM_BRAND_FREEMAIL',
  'phish',
  1.5,
  'From name claims a brand but mail comes from a webmail account',
  (v) => {
    const brand = brandInName(v.from.name);
    if (brand === null) return null;
    return FREEMAIL_DOMAINS.has(registrableDomain(v.from.domain)) &&
      !domainBelongsTo(v.from.domain, brand)
      ? `'${short(v.from.name)}' from ${v.from.domain}`
      : null;
  },
);
add(
  'FROM_NAME_HAS_ADDRESS',
  'phish',
  1.0,
  'From name shows an e-mail address of another domain',
  (v) => {
    const m = /[a-z0-9._%+-]+@([a-z0-9-]+(?:\.[a-z0-9-]+)+)/i.exec(v.from.name);
    if (m === null) return null;
    return registrableDomain((m[1] ?? '').toLowerCase()) !== registrableDomain(v.from.domain)
      ? `name '${short(v.from.name)}'`
      : null;
  },
);
add('FROM_DOMAIN_LOOKALIKE', 'phish', 3.0, 'Sender domain imitates a well-known brand', (v) => {
  const b = lookalikeBrand(v.from.domain) ?? brandAsSubdomain(v.from.domain);
  return b === null ? null : `${v.from.domain} imitates ${b}`;
});
add('FROM_PUNYCODE', 'phish', 1.5, 'Sender domain is punycode (IDN)', (v) =>
  v.from.domain.includes('xn--') ? `${v.from.domain} = ${domainToUnicode(v.from.domain)}` : null,
);
add('FROM_NAME_EXEC', 'bec', 0.3, 'From name carries an executive title', (v) =>
  /\b(?:ceo|cfo|coo|president|chairman|managing director|chief executive|founder|owner)\b/i.test(
    v.from.name,
  )
    ? `name '${short(v.from.name)}'`
    : null,
);
add('__SENT_FROM_MOBILE', 'bec', 0, 'Signature "sent from my phone"', (v) =>
  /sent from my (?:iphone|ipad|mobile|android|samsung|galaxy|phone)/.test(v.lowerBodyText())
    ? 'mobile signature'
    : null,
);

/* ----------------------------------------------------------------------------------------- */
/* Attachments                                                                               */

fileRule(
  'ATTACH_DOUBLE_EXT',
  'attachment',
  3.0,
  'Attachment name hides an executable behind a document extension',
  /\.(?:pdf|docx?|xlsx?|pptx?|rtf|txt|jpe?g|png|gif|zip|csv)[\s_.]*\.(?:exe|scr|pif|com|bat|cmd|vbs|vbe|js|jse|wsf|hta|lnk|jar|msi|ps1|html?|iso|img|one)$/,
);
fileRule(
  'ATTACH_EXECUTABLE',
  'attachment',
  3.0,
  'Executable or script attachment',
  /\.(?:exe|scr|pif|com|bat|cmd|vbs|vbe|js|jse|wsf|wsh|hta|msi|msc|ps1|jar|cpl|reg|lnk|appx|appinstaller|chm|xll|url)$/,
);
fileRule(
  'ATTACH_DISK_IMAGE',
  'attachment',
  3.0,
  'Disk-image attachment (bypasses mark-of-the-web)',
  /\.(?:iso|img|vhdx?|udf)$/,
);
fileRule(
  'ATTACH_HTML',
  'attachment',
  2.0,
  'HTML or SVG attachment (local phishing page, HTML smuggling)',
  /\.(?:html?|shtml|xhtml|svg|mht|mhtml)$/,
);
fileRule('ATTACH_ONENOTE', 'attachment', 2.0, 'OneNote attachment (malware lure)', /\.one$/);
fileRule(
  'ATTACH_MACRO_OFFICE',
  'attachment',
  1.5,
  'Macro-enabled Office attachment',
  /\.(?:docm|xlsm|pptm|xlam|dotm|xltm|ppam|xlsb)$/,
);
fileRule(
  'ATTACH_ARCHIVE_ODD',
  'attachment',
  1.0,
  'Uncommon archive attachment (rar, 7z, ace, cab, …)',
  /\.(?:rar|7z|ace|arj|cab|lzh|uue|gz|tgz|xz|r\d\d)$/,
);
add(
  'ATTACH_RTL_NAME',
  'attachment',
  3.0,
  'Attachment name uses right-to-left override to fake its extension',
  (v) =>
    attachmentNames(v).some((n) => /[\u202a-\u202e\u2066-\u2069]/.test(n))
      ? 'RTL override in name'
      : null,
);
add('ATTACH_EXEC_TYPE', 'attachment', 2.5, 'Attachment declared as a Windows program', (v) =>
  v
    .parts()
    .some((p) =>
      /^application\/(?:x-msdownload|x-msdos-program|x-dosexec|x-ms-shortcut|hta|x-javascript|javascript|x-sh)$/.test(
        p.type,
      ),
    )
    ? 'executable content type'
    : null,
);

/* ----------------------------------------------------------------------------------------- */
/* Phishing language                                                                         */

bodyPhrase(
  'PHISH_ACCOUNT_THREAT',
  'phish',
  2.0,
  'Threatens to suspend, lock or close an account',
  /\b(?:account|mailbox|password|(?:email|e-mail)|access|profile|apple id|membership|subscription)s? (?:has been|have been|will be|is being|is|was) (?:temporarily |permanently |now )?(?:suspended|locked|disabled|deactivated|terminated|closed|limited|restricted|blocked|deleted|on hold|put on hold|compromised)/,
);
bodyPhrase(
  'PHISH_VERIFY_ACCOUNT',
  'phish',
  1.5,
  'Asks to verify or confirm an account or identity',
  /\b(?:verify|confirm|validate|update|(?:reactivate|re-activate)|restore|unlock|secure) (?:your|the) (?:account|identity|(?:email|e-mail) (?:account|address)|mailbox|login|credentials|billing|payment (?:details|information|method)|information|details|apple id|password)/,
);
bodyPhrase(
  'PHISH_UNUSUAL_SIGNIN',
  'phish',
  0.8,
  'Claims an unusual sign-in or activity',
  /\b(?:unusual|suspicious|unauthori[sz]ed|unrecogni[sz]ed|irregular|strange) (?:(?:signin|sign-in)|(?:login|log-in)|login|activity|access|attempts?|transactions?)/,
);
bodyPhrase(
  'PHISH_MAILBOX_QUOTA',
  'phish',
  2.5,
  'Mailbox full / quota / storage upgrade lure',
  /\b(?:mailbox|(?:email|e-mail)|storage|quota|inbox) (?:is |has )?(?:almost |now )?(?:full|exceeded|over ?quota|(?:reached|exceeded) (?:its |the )?(?:limit|quota|storage))|\bpending (?:incoming )?(?:(?:emails|e-mails)|messages) (?:held|on hold|undelivered)|\bmessages? (?:are |were )?(?:held|suspended|pending delivery)/,
);
bodyPhrase(
  'PHISH_PASSWORD_EXPIRY',
  'phish',
  2.5,
  'Password expiry lure',
  // A lure says when ("expires today", "will expire in 2 days"); a bare "your password
  // expires" is a help-page title ("If You Forget Your Password or Your Password Expires").
  /\byour (?:(?:account|(?:email|e-mail)|mailbox|network|office 365|microsoft 365) )?password (?:(?:will|is about to|is set to|has|is|has been) (?:expire[sd]?|expiring)|(?:expires?|expiring|expiry)(?: (?:today|tomorrow|tonight|soon|shortly|now|in|on|at|within|notice|notification|date)\b|[.!]))|(?:keep|retain|continue (?:using|with)) (?:the |your )?(?:same|current) password/,
);
bodyPhrase(
  'PHISH_SHARED_DOCUMENT',
  'phish',
  1.5,
  'Shared-document, e-signature, voicemail or fax lure',
  /\b(?:shared (?:a |an |the )?(?:document|file|folder|pdf)s? with you|(?:sent|shared) you (?:a |an )?(?:secure |new )?(?:document|file|message|pdf)|review (?:and|&) (?:e-?)?sign|(?:document|contract|agreement)s? (?:is |are )?(?:ready|awaiting|pending) (?:for )?(?:your )?(?:signature|review)|you have (?:a |\d+ )?new (?:voice ?mail|fax|secure message)|voice ?mail (?:message )?(?:received|notification)|(?:encrypted|secure) (?:message|document) (?:from|has been))/,
);
bodyPhrase(
  'PHISH_INVOICE_LURE',
  'phish',
  1.0,
  'Invoice, payment or remittance lure',
  /\b(?:(?:invoice|payment|remittance|purchase order|statement|receipt)(?: no\.?| #| number)?\s?[\w-]{0,12} (?:is )?(?:attached|enclosed|overdue|past due|outstanding|pending|failed|declined)|outstanding (?:invoice|balance|payment)|past due (?:invoice|balance|amount)|(?:payment|remittance) (?:advice|confirmation|notification)|see (?:the )?attached (?:invoice|payment|remittance))/,
);
bodyPhrase(
  'PHISH_DELIVERY_LURE',
  'phish',
  1.5,
  'Parcel delivery problem lure',
  /\b(?:(?:package|parcel|shipment|delivery) (?:could not be|was not|cannot be|has been) (?:delivered|held|suspended|returned)|(?:customs|redelivery|shipping) fee|(?:reschedule|confirm) (?:your |the )?delivery|delivery (?:attempt|failed|address (?:is )?incomplete))/,
);
bodyPhrase(
  'PHISH_TAX_REFUND',
  'phish',
  2.0,
  'Tax refund or government payment lure',
  /\b(?:tax refund|refund of \$?[\d,.]+|eligible (?:for|to receive) a (?:tax )?refund|stimulus (?:payment|check)|unclaimed (?:refund|funds))/,
);
bodyPhrase(
  'PHISH_DEAR_CUSTOMER',
  'phish',
  0.7,
  'Generic greeting (dear customer/user/member)',
  /\bdear (?:valued )?(?:customer|user|member|client|account (?:holder|owner)|(?:email|e-mail) user|webmail user|subscriber|beneficiary)\b/,
);
bodyPhrase(
  'SEED_PHRASE_REQUEST',
  'crypto',
  3.0,
  'Asks for a wallet seed or recovery phrase',
  /\b(?:seed|recovery|secret|mnemonic|backup) (?:phrase|words)|\b(?:12|24)[- ]word (?:phrase|seed|recovery)|\b(?:wallet|metamask|trust wallet|ledger) (?:validation|verification|synchroni[sz]ation|sync|upgrade)/,
);
bodyPhrase(
  '__URGENCY',
  'phish',
  0,
  'Urgency language',
  /\b(?:urgent(?:ly)?|immediate(?:ly)?|as soon as possible|asap|within (?:24|48|72|12) hours|(?:in|within) the next \d+ hours|right away|act (?:now|fast|quickly)|final (?:notice|warning|reminder)|last (?:warning|notice|chance)|expires? (?:today|soon|tomorrow)|failure to (?:comply|verify|respond|update|confirm))\b/,
);
bodyPhrase(
  '__CREDENTIAL_WORDS',
  'phish',
  0,
  'Credential words',
  /\b(?:password|passcode|(?:signin|sign-in)|(?:login|log-in)|login|credentials|username|verification code|one-time (?:code|password))/,
);
bodyPhrase(
  '__CLICK_LINK',
  'phish',
  0,
  'Asks to click a link or button',
  /\b(?:click (?:here|below|the (?:link|button)|on the (?:link|button))|(?:use|follow|visit) the (?:link|button) below|tap (?:here|below))/,
);

/* ----------------------------------------------------------------------------------------- */
/* BEC                                                                                       */

bodyPhrase(
  'BEC_GIFT_CARDS',
  'bec',
  2.5,
  'Asks to buy gift cards (and send the codes)',
  /\b(?:(?:buy|purchase|get|pick up|need|order)\b(?: me)?(?: some| a few| \d+| (?:few|several))? (?:[a-z]+ ){0,2}gift ?cards?|gift ?cards? (?:for (?:the )?(?:staff|team|employees|clients))|(?:scratch|peel) (?:off )?(?:the )?(?:back|card)|(?:send|email|text) (?:me )?(?:the )?(?:codes?|pictures?|photos?|pics?|images?) (?:of|on) (?:the |each )?(?:back|cards?))/,
);
bodyPhrase(
  'BEC_WIRE_TRANSFER',
  'bec',
  1.5,
  'Asks for a wire transfer or a change of bank details',
  /\b(?:(?:process|make|arrange|initiate|send|complete|effect|execute) (?:a |an |the )?(?:urgent |quick |same[- ]day )?(?:wire|wire transfer|bank transfer|payment|transfer|swift)|(?:change|update|new) (?:of |to )?(?:our|the|my|your)? ?(?:bank(?:ing)?|account|payment|payroll|direct deposit|remittance) (?:details|information|info|account)|(?:our|my) (?:bank(?:ing)? )?account (?:is |has been )?(?:under audit|changed|on hold)|direct deposit (?:information|details|change))/,
);
bodyPhrase(
  'BEC_AVAILABILITY',
  'bec',
  1.0,
  'Are-you-available / quick-favour opener',
  /\b(?:are you (?:available|at your desk|in the office|around|free)(?: (?:now|right now|today|for a (?:quick )?(?:task|favou?r)))?\s*\?|i need (?:you to (?:handle|complete|process|purchase|buy) |a (?:quick |small )?(?:favou?r|task) (?:from you|done|urgently|asap))|(?:i'?m|i am) (?:in (?:a|an) (?:meeting|conference)|on a (?:conference )?call|traveling|travelling)(?: right now)?,? (?:and|so|but) (?:can'?t|cannot|won'?t be able to|unable to) (?:talk|call|take calls|receive calls|speak)|(?:send|text|give) me your (?:personal |cell |mobile )?(?:cell|mobile|phone|whatsapp)(?: number)?|what'?s your (?:cell|mobile|whatsapp) (?:number|no))/,
);
bodyPhrase(
  'BEC_CONFIDENTIAL',
  'bec',
  0.5,
  'Asks for secrecy',
  /\b(?:keep (?:this|it) (?:confidential|between us|to yourself|quiet)|(?:don'?t|do not) (?:tell|mention|discuss) (?:this )?(?:to |with )?(?:anyone|others|the team))/,
);
bodyPhrase(
  'BEC_PAYROLL_CHANGE',
  'bec',
  2.0,
  'Asks payroll to change where a salary is paid',
  /\b(?:change|update|switch) (?:my|the|his|her) (?:direct deposit|payroll (?:account|details|information)|salary (?:account|payment))|\bdirect deposit (?:information|details|account) (?:before|for) (?:the )?(?:next|upcoming) pay/,
);
bodyPhrase(
  '__DOCUMENT_WORDS',
  'attachment',
  0,
  'Business-document words',
  /\b(?:invoice|documents?|shipment|shipping|purchase order|payment|remittance|scanned|statement|contract|quotation|order)\b/,
);
meta(
  'BEC_REQUEST',
  'bec',
  2.5,
  'BEC request from a webmail or redirected-reply sender',
  '(BEC_GIFT_CARDS || BEC_WIRE_TRANSFER || BEC_AVAILABILITY || BEC_PAYROLL_CHANGE) && (__FREEMAIL_FROM || REPLYTO_FREEMAIL_DIFF || __REPLYTO_OTHER_DOMAIN || __SENT_FROM_MOBILE || FROM_NAME_EXEC)',
);
meta(
  'BEC_URGENT',
  'bec',
  1.0,
  'BEC request with urgency or secrecy',
  '(BEC_GIFT_CARDS || BEC_WIRE_TRANSFER || BEC_AVAILABILITY) && (__URGENCY || BEC_CONFIDENTIAL || X_PRIORITY_HIGH)',
);

/* ----------------------------------------------------------------------------------------- */
/* Crypto, extortion, callback, QR                                                           */

add('BITCOIN_ADDRESS', 'crypto', 1.0, 'A bitcoin address in the text', (v) => {
  const m =
    /(?:^|[\s:>"'(])(bc1[ac-hj-np-z02-9]{25,59}|[13][a-km-zA-HJ-NP-Z1-9]{25,34})(?=$|[\s.,<"')])/.exec(
      v.bodyText(),
    );
  if (m === null) return null;
  const addr = m[1] ?? '';
  // A real base58 address mixes letters and digits; plain words of that length do not.
  return /\d/.test(addr) && /[a-z]/.test(addr) ? `address ${addr}` : null;
});
add('CRYPTO_WALLET_ADDRESS', 'crypto', 0.8, 'An Ethereum/TRON wallet address in the text', (v) => {
  const m = /\b(?:0x[0-9a-fA-F]{40}|T[1-9A-HJ-NP-Za-km-z]{33})\b/.exec(v.bodyText());
  return m === null ? null : `address ${m[0]}`;
});
bodyCount('EXTORTION', 'crypto', 2.5, 'Sextortion / hacked-device extortion language', 2, [
  /\b(?:i|we) (?:have )?(?:hacked|gained (?:full )?access to|infected|compromised|installed (?:a )?(?:malware|trojan|spyware|rat) on) your (?:device|computer|account|system|phone|email|operating system)/,
  /\b(?:recorded|video|footage|recording|screenshots?) of you|(?:your|the) (?:webcam|camera) (?:recorded|was on)/,
  /\badult (?:web ?sites?|videos?|content)|\bpornograph|\bporno\b|\bporn\b/,
  /\b(?:send|share|forward|release|leak|distribute) (?:this |the |that )?(?:video|recording|footage|material|pictures) to (?:all )?(?:of )?your (?:contacts|friends|family|colleagues)/,
  /\byou have (?:24|48|72|two|three) (?:hours|days)|(?:within|in) (?:24|48|72) hours/,
  /\b(?:pay|send|transfer) (?:me )?(?:\$|usd ?|eur ?)?[\d,.]+ ?(?:usd|dollars|€|eur)? (?:in|worth of|to my) (?:bitcoin|btc|crypto|wallet)|\bbitcoin (?:wallet|address)\b/,
  /\b(?:i|we) (?:know|have) your password|your password (?:is|was):? /,
]);
meta(
  'EXTORTION_BTC',
  'crypto',
  3.0,
  'Extortion with a payment address',
  'EXTORTION && (BITCOIN_ADDRESS || CRYPTO_WALLET_ADDRESS)',
);
bodyCount('CRYPTO_INVESTMENT', 'crypto', 2.0, 'Crypto or investment scam language', 2, [
  /\b(?:guaranteed|daily|weekly|monthly|passive) (?:returns?|profits?|roi|income|earnings)/,
  /\b(?:double|triple|multiply|10x) your (?:bitcoin|crypto|money|investment|funds|btc)/,
  /\b(?:crypto(?:currency)?|bitcoin|forex|ai) (?:trading|investment|mining) (?:platform|opportunity|bot|account|program)/,
  /\b(?:earn|make|made|making) (?:up to )?\$?[\d,]+ (?:daily|per day|a day|per week|weekly|every day)/,
  /\btrading (?:bot|signals)|\bairdrop|\bpresale|\btoken (?:launch|sale)/,
  /\b(?:claim|withdraw|unlock) your (?:bitcoin|btc|usdt|eth|crypto|tokens|funds|profits?|earnings|balance)/,
  /\b(?:usdt|btc|eth|bitcoin) (?:balance|deposit|withdrawal|profit)/,
  /\binvest(?:ment)? (?:of|as little as|starting at) \$?\d/,
]);
add(
  'CALLBACK_LURE',
  'callback',
  2.5,
  'Fake order or renewal asking the reader to call a phone number',
  (v) => {
    const text = v.lowerBodyText();
    const phone =
      /(?:\+?1[\s.-]?)?\(?\b(?:8(?:00|33|44|55|66|77|88)|\d{3})\)?[\s.-]\d{3}[\s.-]\d{4}\b/.exec(
        text,
      );
    if (phone === null) return null;
    const order =
      /\b(?:(?:autorenew|auto-renew)(?:al|ed)?|(?:subscription|membership|plan|license|order|purchase) (?:has been |was |is )?(?:renewed|processed|confirmed|activated|charged|placed)|(?:has|have) been (?:charged|debited|deducted)|will be (?:charged|debited|deducted)|(?:invoice|order|transaction) (?:id|no|number|#))/.test(
        text,
      );
    const call =
      /\b(?:call|contact|reach|dial)\b.{0,60}\b(?:support|billing|help ?desk|team|customer care|helpline|us|number)|\bif you (?:did not|didn'?t) (?:authori[sz]e|make|place|request|recogni[sz]e)|(?:cancel|dispute|refund)/.test(
        text,
      );
    return order && call ? `phone ${phone[0].trim()}` : null;
  },
);
bodyPhrase(
  'QR_CODE_LURE',
  'phish',
  2.0,
  'Asks to scan a QR code to sign in, verify or view a document',
  /\bscan (?:the |this |below |attached )?(?:qr|barcode|code)|\bqr[- ]?code (?:below|attached|to (?:verify|authenticate|access|view|sign|review|update|reactivate|enable|complete))|(?:use|open) your (?:phone|mobile)(?:'s)? camera/,
);

/* ----------------------------------------------------------------------------------------- */
/* Classic spam language (money, offers, removal lists)                                      */

bodyPhrase(
  'BODY_NOT_SPAM_CLAIM',
  'body',
  2.1,
  'Claims not to be spam or cites a spam law',
  /\b(?:this (?:(?:email|e-mail)|message|mail|is) (?:is )?not (?:unsolicited|spam|junk)|this is not spam|\bbill 1618|\bbill1618|section 301|(?:in compliance|complies) with (?:the )?(?:federal|proposed|can-spam)|(?:under|per) (?:the )?(?:federal|proposed) (?:law|legislation)|not (?:considered )?spam as long as)/,
);
bodyPhrase(
  'BODY_REMOVE_LIST',
  'body',
  2.0,
  'Remove-me instructions of bulk mail',
  /\b(?:(?:reply|respond|send an (?:email|e-mail)|(?:email|e-mail) us|write us) (?:to this (?:(?:email|e-mail)|message) )?with (?:the word )?["']?remove|with ["']?remove["']? (?:in|as) the subject|remove me|click (?:here|below) to (?:be )?remove|one[- ]time (?:e-?)?mailing|(?:no|never) (?:receive )?(?:further|another) (?:mailings|contact|(?:emails|e-mails)|message)|(?:wish|want|like) to (?:leave|be (?:removed|taken off|deleted) from) (?:this|our|the) (?:list|mailing|database)|(?:removal|remove) (?:instructions|link) (?:below|at the bottom)|(?:purged|deleted) from (?:our|the) (?:database|list)|(?:not|never) (?:to )?(?:be )?contacted again|(?:does|do) not wish to receive (?:them|this|these|our|further|future))/,
);
bodyPhrase(
  'BODY_OPT_IN_CLAIM',
  'body',
  1,
  'Claims the reader opted in',
  /\b(?:opted[- ]in|opt-in (?:list|(?:email|e-mail))|you (?:have )?(?:requested|agreed) to receive|(?:signed up|registered) (?:with|at) (?:one of )?our (?:partners|affiliates))/,
);
bodyCount('MONEY_MAKING', 'body', 1.9, 'Make-money-fast / home-business language', 2, [
  /\b(?:make|making|earn|earning) (?:big |extra |serious |real )?(?:money|cash|income|\$[\d,]+)/,
  /\b(?:extra|residual|passive|additional|full-time) income/,
  /\bwork(?:ing)? (?:from|at) home/,
  /\b(?:financial (?:freedom|independence)|be your own boss|quit your (?:day )?job|get rich|rich quick)/,
  /\b(?:home[- ]based|internet|online) business (?:opportunity|owners?)?|business opportunity/,
  /\b(?:mlm|(?:multilevel|multi-level) marketing|network marketing|downline|pyramid)\b/,
  /\$\d{1,3}(?:,\d{3})+(?:\.\d\d)? (?:per|a|every|in) (?:week|month|year|day)|\bper (?:week|month) (?:from home|part[- ]time)/,
  /\b(?:no (?:experience|selling|special skills) (?:required|needed|necessary)|(?:start|starting) (?:today|immediately|now))/,
]);
bodyCount('FREE_OFFER', 'body', 0.6, 'Marketing pressure phrases', 3, [
  /\b(?:100%|absolutely|totally|completely|risk[- ]) free\b/,
  /\bfree (?:gift|trial|offer|consultation|quote|info|information|sample|report|membership|access|bonus)/,
  /\b(?:act|order|call|apply|reply|buy|sign up|respond) (?:now|today|immediately)/,
  /\blimited[- ]time (?:offer|only)|\bwhile (?:supplies|stocks) last|\boffer (?:expires|ends)/,
  /\b(?:money[- ]back|satisfaction) guarantee|\b100% guaranteed|\brisk[- ]free/,
  /\b(?:no (?:obligation|cost|fees|hidden (?:fees|costs)|credit check|catch|strings attached))/,
  /\b(?:special (?:promotion|offer)|exclusive (?:deal|offer)|once in a lifetime|this won'?t last)/,
  /\btoll[- ]free|\b1-8\d\d-\d{3}-\d{4}/,
  /\bclick (?:here|below|the link)/,
  /\b(?:lowest (?:price|rate|cost)s?|best (?:price|rate)s? (?:available|anywhere)|unbeatable|(?:save|discount of) (?:up to )?\d+%|\d+% off)/,
  /\$\$+|!!!/,
  /\b(?:dear (?:friend|sir|madam)|hello friend)/,
]);
bodyCount('LOAN_MORTGAGE', 'body', 1.6, 'Mortgage, loan, debt or credit offers', 2, [
  /\bmortgage (?:rates?|loans?|payments?)|\brefinanc/,
  /\blower (?:your )?(?:monthly )?(?:payments?|interest rates?)/,
  /\bdebt (?:consolidation|relief|free|reduction)|\bconsolidate (?:your )?(?:debt|bills)/,
  /\b(?:bad|poor|no) credit|\bcredit (?:card )?debt|\bcredit repair/,
  /\b(?:(?:preapproved|pre-approved)|approval guaranteed|you(?:'ve| have) been approved|instant approval)/,
  /\bhome (?:loan|equity)|\bcash[- ]out|\binterest rates? (?:as low as|are at)/,
  /\b\d+(?:\.\d+)?% (?:apr|fixed|interest)/,
  /\b(?:life|term life|health|auto|car) insurance (?:rates?|quotes?|polic(?:y|ies))|\binsurance quotes?|\bcritical illness|\bimpaired risk/,
  /\b(?:compare|free) (?:rates|quotes)|\b(?:rates|quotes) from (?:top|leading|\d+)/,
  /\b(?:fixed|indexed|deferred) annuit(?:y|ies)|\bterm (?:life )?insurance|\blong[- ]term care|\brenewal commissions/,
]);
bodyPhrase(
  'PHARMA',
  'body',
  1.8,
  'Drug, weight-loss or enhancement offers',
  /\b(?:viagra|v1agra|vlagra|cialis|levitra|phentermine|propecia|(?:online|canadian) (?:pharmacy|drugstore)|no prescription|without (?:a )?(?:doctor|prescription)|weight[- ]loss (?:pill|product|formula)|lose (?:up to )?\d+ ?(?:lbs|pounds)|diet pills?|penis|enlarge(?:ment)?|erection|human growth hormone|\bhgh\b|herbal (?:alternative|viagra)|(?:antiaging|anti-aging)|sexual (?:performance|enhancement)|male enhancement)/,
);
bodyPhrase(
  'ADULT',
  'body',
  2.1,
  'Adult content offers',
  /\b(?:hardcore|live (?:sex|webcam|cams)|(?:hot|horny|naughty|lonely) (?:teens?|girls|wives|housewives|singles|women)|adult (?:site|entertainment|dvds?|movies)|(?:meet|find) (?:local )?singles|singles in your area|barely legal|erotik|sexkontakt|(?:my|link to my|watch my) (?:web)?cam\b|cam (?:girls|sluts)|sluts)/,
);
bodyCount('LOTTERY_419', 'body', 3.6, 'Lottery or advance-fee (419) fraud language', 2, [
  /\b(?:next of kin|beneficiary|late (?:client|husband|father)|deceased|barrister|attorney at law)/,
  /\bmillion (?:united states |us |u\.s\. )?(?:dollars|usd|euros|pounds)\b|\bus\$ ?\d{1,3}(?:[,.]\d{3}){2}|\busd\b ?\d{1,3}(?:[,.]\d{3}){2}/,
  /\b(?:transfer (?:of )?(?:the|this) (?:funds?|money|sum)|(?:foreign|trusted|reliable) (?:partner|business partner|account))/,
  /\b(?:strictly|absolutely) confidential|\bclaim (?:your|the) (?:prize|winnings|funds)|\bwinning (?:number|notification)/,
  /\b(?:lottery|sweepstakes?|lucky (?:winner|draw)|promotion award|prize (?:money|award))/,
  /\b(?:nigeria|ghana|lagos|abidjan|cote d'?ivoire|sierra leone|burkina faso|benin republic|central bank of)/,
  /\b(?:\d+% (?:of|for) you|compensation (?:fund|payment)|your share)/,
  /\b(?:diplomatic|consignment|trunk box|security company|courier company)/,
]);
bodyCount('BULK_MARKETING', 'body', 1.5, 'Sells bulk mail, traffic or search rankings', 1, [
  /\b(?:bulk|mass) (?:email|e-mail)(?:ing|er)?\b/,
  /\b(?:millions? of|\d+(?:,\d{3})+ (?:fresh |targeted |opt-in )?) ?(?:email|e-mail) (?:addresses|list|leads)/,
  /\b(?:search engine (?:ranking|placement|submission|optimi[sz]ation)|(?:top|first) (?:ranking|position|page) (?:on|in) (?:google|search engines))/,
  /\b(?:increase|boost|double|explode) (?:your )?(?:web ?site )?(?:sales|traffic|hits|profits)/,
]);
bodyCount(
  'MISC_SPAM_PRODUCTS',
  'body',
  1.1,
  'Products typical of spam (ink, replicas, diplomas, OEM software, descramblers)',
  1,
  [
    /\b(?:ink ?jet|toner|printer) cartridges?/,
    /\b(?:cheap|discount|low[- ]price|low[- ]cost|duty[- ]free|half[- ]price) (?:fags|smokes|tobacco|cigarettes|cigars)/,
    /\breplica (?:watches|rolex|handbags|designer)/,
    /\b(?:university|college) diplomas?|\b(?:degree|diploma)s? (?:based on|from) (?:your )?(?:life )?experience|\bno (?:required )?(?:tests|classes|exams|books)/,
    /\boem (?:software|version)|\bcheap (?:software|windows|office)/,
    /\b(?:cable|satellite) (?:tv )?(?:descrambler|filter)|\bfree cable\b/,
    /\b(?:stock alert|strong buy|penny stocks?|ticker(?: symbol)?:|otc bb|otcbb|pink sheets)/,
    /\b(?:spy|spyware) (?:software|cam)|\bhidden cameras?|\binvestigate anyone|\bfind out (?:anything|everything) about anyone/,
    /\b(?:vacation|cruise|trip) (?:package )?(?:for two|giveaway)|you(?:'ve| have) been selected/,
    /\bas seen on (?:tv|television|oprah|cnn|nbc|abc|cbs)/,
    /\bfree (?:cell|cellular|mobile) phones?\b/,
  ],
);
bodyPhrase(
  'BODY_HARVEST_CLAIM',
  'body',
  1.5,
  'Says where the sender found the address (bought or harvested lists)',
  /\b(?:found|got|obtained|came across|picked up) your (?:e-?mail|address|e-?mail address|contact)(?: id)? (?:from|in|on|at|through|via)\b|\byour (?:e-?mail )?address (?:was|has been) (?:obtained|collected|harvested|selected|found) (?:from|by|through|via|at)\b/,
);
/** Most of the visible text is in capitals (BODY_EXCESS_CAPS). */
function mostlyCapitals(v: MessageView): { letters: number; upper: number } | null {
  const stats = letterStats(v.bodyText());
  return stats.letters > 300 && stats.upper > stats.letters * 0.5 ? stats : null;
}
add('BODY_EXCESS_CAPS', 'body', 0.7, 'Most of the text is in capitals', (v) => {
  const caps = mostlyCapitals(v);
  return caps === null ? null : `${Math.round((caps.upper / caps.letters) * 100)}% capitals`;
});
add('BODY_MONEY_SYMBOLS', 'body', 0.9, 'Runs of dollar signs or exclamation marks', (v) => {
  const text = v.bodyText();
  if (text.includes('$$$')) return "'$$$'";
  return (text.match(/!!!/g)?.length ?? 0) >= 2 ? "several '!!!'" : null;
});
bodyPhrase('BODY_CLICK_HERE', 'body', 0, 'Click here', /\bclick here\b/);
bodyPhrase(
  'BODY_PERCENT_OFF',
  'body',
  0.05,
  'Discount in percent',
  /\b\d{2}% (?:off|discount|savings)/,
);
bodyPhrase(
  'BODY_UNSUB_GENERIC',
  'body',
  0,
  'Generic unsubscribe wording',
  /\b(?:unsubscribe|opt[- ]out)\b/,
);

/* ----------------------------------------------------------------------------------------- */
/* Bulk-mail fingerprints                                                                    */

bodyCount('PHARMA_DRUGS', 'body', 1.5, 'Several controlled drugs named', 2, [
  /\bxanax/,
  /\bvalium/,
  /\bvicodin/,
  /\btramadol/,
  /\bambien/,
  /\bphentermine/,
  /\bsoma\b/,
  /\bcodeine/,
  /\bhydrocodone/,
  /\boxycontin/,
]);
add(
  'HASHBUSTER_TOKEN',
  'obfuscation',
  1.8,
  'A line holding only a random token (hash buster)',
  (v) => {
    const text = v.bodyText();
    if (text.includes('BEGIN PGP')) return null;
    const m = /(?:^|\n)\s*([A-Za-z0-9][A-Za-z0-9_-]{19,80})\s*(?:\n|$)/.exec(text);
    if (m === null) return null;
    const token = m[1] ?? '';
    const kinds =
      Number(/[a-z]/.test(token)) + Number(/[A-Z]/.test(token)) + Number(/\d/.test(token));
    return kinds === 3 && !/^[A-Za-z]+[-_][A-Za-z]+$/.test(token) ? `token ${token}` : null;
  },
);
subjectRule(
  'SUBJ_NUMERIC_TAG',
  'header',
  1,
  'Subject ends in a bare tracking number',
  /^(?!.*(?:\b(?:bug|invoice|order|ticket|issue|case|release|version|patch|build|rev|revision|kernel|rc|perl|python|java|v)\b|#)).*[a-z]{3,}\s+(?:\d{1,2}\.\d{2,4}|(?!(?:19|20)\d\d\s*$)\d{4,6})\s*$/i,
);
add(
  'FORGED_OE_MSGID',
  'header',
  2.6,
  'Claims Outlook but the Message-ID was not made by Outlook',
  (v) => {
    if (!/outlook/i.test(v.header('x-mailer'))) return null;
    const id = v.header('message-id').trim();
    const m = /^<([0-9a-f]{12})\$[0-9a-f]{8}\$[0-9a-f]{8}@/i.exec(id);
    return m !== null && !/^[0-9a-f]{4}01c/i.test(m[1] ?? '') ? `Message-ID ${short(id)}` : null;
  },
);
add(
  'FORGED_MUA_OUTLOOK',
  'header',
  2.1,
  'Claims Outlook for Windows but lacks the X-MimeOLE field Outlook always writes',
  (v) => {
    const mailer = v.header('x-mailer');
    if (!/^\s*microsoft outlook(?: express \d|(?: imo| cws)?, build \d)/i.test(mailer)) return null;
    return v.headers('x-mimeole').length === 0
      ? `X-Mailer '${short(mailer)}' without X-MimeOLE`
      : null;
  },
);
add(
  'RCVD_FORGED_DATE',
  'header',
  2.0,
  'A Received timestamp in a format no mail server writes (forged relay trail)',
  (v) => {
    for (const value of v.headers('received').slice(0, 20)) {
      const stamp = value.slice(value.lastIndexOf(';') + 1);
      // "Aug, 26 2002" or "1:35:40 PM": bulk tools invent these; MTAs write RFC 5322 dates.
      if (
        /^\s*[a-z]{3},\s+\d{1,2}\s+\d{4}\b/i.test(stamp) ||
        /\d:\d\d:\d\d\s?[ap]m\b/i.test(stamp)
      ) {
        return `Received date '${short(stamp)}'`;
      }
    }
    return null;
  },
);
add('DATE_MISSING_ZONE', 'header', 1.2, 'The Date field has no time zone', (v) => {
  const date = v.header('date').trim();
  if (date === '' || !/\d:\d\d/.test(date)) return null;
  return /[+-]\d{4}\b|\b(?:gmt|ut|utc|[ecmp][sd]t|z)\b/i.test(date)
    ? null
    : `Date '${short(date)}'`;
});
subjectRule(
  '__SUBJ_PADDED',
  'header',
  0,
  'Subject has a run of eight or more spaces inside',
  /\S[ \t]{8,}\S/,
);
meta(
  'SUBJ_PADDED',
  'header',
  1.5,
  'Subject padded with a run of spaces inside (not a trailing tag, SUBJ_TRAILING_ID has those)',
  '__SUBJ_PADDED && !SUBJ_TRAILING_ID',
);
/** HTML-only mail that names no mail program (MISSING_MUA_HTML). */
function namesNoProgramHtml(v: MessageView): boolean {
  return (
    /^\s*text\/html/i.test(v.header('content-type')) &&
    v.headers('x-mailer').length === 0 &&
    v.headers('user-agent').length === 0
  );
}
add('MISSING_MUA_HTML', 'header', 0.8, 'HTML-only mail that names no mail program', (v) =>
  namesNoProgramHtml(v) ? 'text/html without X-Mailer or User-Agent' : null,
);
add(
  'FORGED_MSMAIL_PRIORITY',
  'header',
  0.7,
  "X-MSMail-Priority from a mail program that is not Microsoft's",
  (v) => {
    if (v.headers('x-msmail-priority').length === 0) return null;
    if (/microsoft|outlook|mimeole/i.test(`${v.header('x-mailer')} ${v.header('x-mimeole')}`)) {
      return null;
    }
    // HTML-only mail naming no program at all is MISSING_MUA_HTML's evidence (newsletter
    // servers add the Microsoft priority fields too): counted once.
    if (namesNoProgramHtml(v)) return null;
    return `X-Mailer '${short(v.header('x-mailer'))}'`;
  },
);
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
add('DATE_WEEKDAY_WRONG', 'header', 1.5, 'The Date field names the wrong day of the week', (v) => {
  const m = /^\s*([a-z]{3}),\s*(\d{1,2}) ([a-z]{3}) (\d{4})\b/i.exec(v.header('date'));
  if (m === null) return null;
  const day = new Date(`${m[2] ?? ''} ${m[3] ?? ''} ${m[4] ?? ''} 12:00:00 GMT`);
  if (Number.isNaN(day.getTime())) return null;
  const named = (m[1] ?? '').toLowerCase();
  return WEEKDAYS.includes(named) && WEEKDAYS[day.getUTCDay()] !== named
    ? `Date '${short(v.header('date'))}'`
    : null;
});
const STANDARD_NAMES = new Set([
  'mime-version',
  'content-type',
  'message-id',
  'subject',
  'from',
  'to',
  'date',
  'reply-to',
]);
add(
  'HEADER_NAME_ODD_CASE',
  'header',
  1.2,
  'A standard header name in odd capitals (MiME-Version)',
  (v) => {
    for (const name of v.headerNames) {
      if (!STANDARD_NAMES.has(name.toLowerCase())) continue;
      const title = name.replace(
        /[a-z]+/gi,
        (w) => (w[0] ?? '').toUpperCase() + w.slice(1).toLowerCase(),
      );
      const ok = [
        (name[0] ?? '').toUpperCase() + name.slice(1).toLowerCase(),
        title,
        name.toLowerCase(),
        name.toUpperCase(),
        'MIME-Version',
        'Message-ID',
        'Reply-to',
      ];
      if (!ok.includes(name)) return `header name ${name}`;
    }
    return null;
  },
);
add('CT_EMPTY_PARAMS', 'mime', 0.4, 'Content-Type ends with an empty parameter list', (v) =>
  /^\s*text\/(?:plain|html)\s*;\s*$/i.test(v.header('content-type'))
    ? 'Content-Type with bare ;'
    : null,
);
add('HTML_FONT_BIG', 'html', 1.3, 'Several very large fonts in HTML', (v) =>
  (firstHtml(v)?.bigFonts ?? 0) >= 2 ? 'big fonts' : null,
);
add('LINES_ALL_CAPS', 'body', 0.3, 'Several lines shouted in capitals', (v) => {
  let count = 0;
  for (const line of v.bodyText().split('\n', 2000)) {
    if (line.length > 400 || /[a-z]/.test(line)) continue;
    if ((line.match(/[A-Z]{2,}/g)?.length ?? 0) >= 4) count++;
  }
  // A text mostly in capitals (a weather or system alert) is BODY_EXCESS_CAPS: one evidence,
  // counted once.
  if (count < 3 || mostlyCapitals(v) !== null) return null;
  return `${count} all-caps lines`;
});
bodyCount('ORDER_FORM', 'body', 0.9, 'Mail-order form language', 2, [
  /\bcredit card (?:number|#)/,
  /\b(?:expiration|exp\.|exp) date/,
  /\b(?:fax|mail) (?:this|your|the) (?:order|form)/,
  /\border form/,
  /\b(?:check|money order) (?:payable|to)/,
  /\bshipping (?:&|and) handling/,
  /\b(?:visa|mastercard|amex|discover)[,/ ]+(?:visa|mastercard|master card|amex|american express|discover)/,
]);
add('MONEY_AMOUNTS', 'body', 0.15, 'Many dollar amounts', (v) =>
  (v.bodyText().match(/\$\s?\d/g)?.length ?? 0) >= 5 ? 'many $ amounts' : null,
);

subjectRule(
  'SUBJ_ADV',
  'header',
  3.0,
  'Subject carries the ADV: advertising label',
  /^\s*(?:\[[^\]]{0,40}\]\s*)?adv\s*[:-]/i,
);
subjectRule(
  'SUBJ_TIMESTAMP',
  'header',
  1.0,
  'Subject ends with a time and date stamp (bulk-mail tool)',
  /\d{1,2}:\d{2}:\d{2}\s*(?:am|pm)?\s+\d{1,2}\/\d{1,2}\/\d{2,4}\s*$/i,
);
add(
  'SUBJ_HAS_RECIPIENT_NAME',
  'header',
  1.1,
  'Subject starts with the recipient mailbox name',
  (v) => {
    const to = /([a-z0-9._-]{3,40})@/i.exec(v.header('to'))?.[1]?.toLowerCase();
    if (to === undefined) return null;
    const subject = v.subject.toLowerCase();
    return subject.startsWith(`${to},`) ||
      subject.startsWith(`${to} -`) ||
      subject.startsWith(`${to}:`)
      ? `Subject starts with '${to}'`
      : null;
  },
);
add('CHARSET_CYRILLIC_BODY', 'mime', 1.1, 'Body text in a Cyrillic charset', (v) =>
  v.parts().some((x) => /^(?:koi8-r|koi8-u|windows-1251|iso-8859-5)$/i.test(x.charset))
    ? 'Cyrillic charset'
    : null,
);

/* ----------------------------------------------------------------------------------------- */
/* Combinations                                                                              */

meta(
  'PHISH_CREDENTIAL_LINK',
  'phish',
  1.5,
  'Credential or account threat with a link to click',
  '(PHISH_ACCOUNT_THREAT || PHISH_VERIFY_ACCOUNT || PHISH_UNUSUAL_SIGNIN || PHISH_MAILBOX_QUOTA || PHISH_PASSWORD_EXPIRY) && (__CLICK_LINK || LINK_TEXT_LOGIN)',
);
meta(
  'PHISH_URGENT',
  'phish',
  1.0,
  'Phishing lure with urgency',
  '(PHISH_ACCOUNT_THREAT || PHISH_VERIFY_ACCOUNT || PHISH_MAILBOX_QUOTA || PHISH_PASSWORD_EXPIRY || PHISH_SHARED_DOCUMENT || PHISH_INVOICE_LURE || PHISH_DELIVERY_LURE || QR_CODE_LURE) && __URGENCY',
);
meta(
  'PHISH_LURE_BAD_LINK',
  'phish',
  2.0,
  'Phishing lure with a suspicious link',
  '(PHISH_ACCOUNT_THREAT || PHISH_VERIFY_ACCOUNT || PHISH_UNUSUAL_SIGNIN || PHISH_MAILBOX_QUOTA || PHISH_PASSWORD_EXPIRY || PHISH_SHARED_DOCUMENT || PHISH_INVOICE_LURE || PHISH_DELIVERY_LURE || PHISH_TAX_REFUND || QR_CODE_LURE) && (URI_IP_LITERAL || URI_SHORTENER || URI_FREE_HOSTING || URI_SUSPICIOUS_TLD || URI_IPFS || URI_USERINFO || LINK_TEXT_MISMATCH || URI_PUNYCODE || URI_BRAND_LOOKALIKE || URI_REDIRECTOR || URI_ODD_PORT)',
);
meta(
  'PHISH_BRAND_LURE',
  'phish',
  1.5,
  'Impersonated brand with a phishing lure',
  '(FROM_BRAND_MISMATCH || FROM_DOMAIN_LOOKALIKE || FROM_PUNYCODE || SUBJ_MIXED_SCRIPT) && (PHISH_ACCOUNT_THREAT || PHISH_VERIFY_ACCOUNT || PHISH_UNUSUAL_SIGNIN || PHISH_MAILBOX_QUOTA || PHISH_PASSWORD_EXPIRY || PHISH_SHARED_DOCUMENT || PHISH_INVOICE_LURE || PHISH_DELIVERY_LURE || CALLBACK_LURE || QR_CODE_LURE || __CLICK_LINK || LINK_TEXT_LOGIN)',
);
meta(
  'LURE_WITH_ATTACHMENT',
  'attachment',
  2.0,
  'Invoice or document lure with a dangerous attachment',
  '(PHISH_INVOICE_LURE || PHISH_SHARED_DOCUMENT || PHISH_DELIVERY_LURE || __URGENCY || __DOCUMENT_WORDS) && (ATTACH_DOUBLE_EXT || ATTACH_EXECUTABLE || ATTACH_DISK_IMAGE || ATTACH_HTML || ATTACH_ONENOTE || ATTACH_MACRO_OFFICE || ATTACH_ARCHIVE_ODD)',
);
meta(
  'SPAM_LANGUAGE_MANY',
  'body',
  1.5,
  'Several families of spam language',
  '(BODY_NOT_SPAM_CLAIM + BODY_REMOVE_LIST + MONEY_MAKING + FREE_OFFER + LOAN_MORTGAGE + PHARMA + ADULT + LOTTERY_419 + BULK_MARKETING + MISC_SPAM_PRODUCTS + SUBJ_SPAM_PHRASE + BODY_OPT_IN_CLAIM) >= 3',
);
meta(
  'SPAM_HTML_BULK',
  'html',
  0.7,
  'Bulk-looking HTML (HTML only, with removal or marketing language)',
  'MIME_HTML_ONLY && (BODY_REMOVE_LIST || FREE_OFFER || BODY_NOT_SPAM_CLAIM || MONEY_MAKING)',
);
meta(
  'FORGED_BULK_HEADERS',
  'header',
  0.8,
  'Several header oddities together',
  '(MISSING_DATE + MISSING_MESSAGE_ID + MSGID_MALFORMED + TO_UNDISCLOSED + DATE_IN_FUTURE + DATE_INVALID + FROM_LOCAL_DIGITS + SUBJ_TRAILING_ID + XMAILER_RANDOM + MISSING_TO) >= 2',
);

/* ----------------------------------------------------------------------------------------- */
/* Ratware fingerprints: traces bulk-mail tools leave in the header and the markup           */

/** Mail programs whose Message-IDs look like `<hex$hex$hex@host>`. */
const MS_MAILER = /microsoft|outlook|mimeole|exchange|msn explorer/i;

add(
  'MSGID_OE_NO_OUTLOOK',
  'header',
  2.5,
  'Message-ID in the Outlook format but no Microsoft mail program named',
  (v) => {
    const id = v.header('message-id').trim();
    // Outlook writes <hex$hex$hex@host>; ratware copies the shape without the X-Mailer.
    if (!/^<[0-9a-f]{4,}\$[0-9a-f]{4,}\$[0-9a-f]{4,}@/i.test(id)) return null;
    if (MS_MAILER.test(v.header('x-mailer')) || v.hasHeader('x-mimeole')) return null;
    return `Message-ID ${short(id)}`;
  },
);
add(
  'MIME_OE_BOUNDARY_NO_OUTLOOK',
  'mime',
  0.8,
  'MIME boundary in the Outlook format but no Microsoft mail program named',
  (v) => {
    const b = /boundary="?([^";\s]{1,200})/i.exec(v.header('content-type'));
    // Outlook's "----=_NextPart_…" (copied with any digits); a list manager's bare
    // "_NextPart_1_…" is its own format.
    if (b === null || !/^[-=]{1,12}_NextPart_/i.test(b[1] ?? '')) return null;
    if (MS_MAILER.test(v.header('x-mailer')) || v.hasHeader('x-mimeole')) return null;
    return `boundary '${short(b[1] ?? '')}'`;
  },
);
headerRule(
  'MSGID_RATWARE_ZEROES',
  'header',
  1.0,
  'Message-ID of zero-padded fields (a bulk-mail tool)',
  'message-id',
  /^\s*<0{3,}[0-9a-f]*\$0{3,}[0-9a-f]*\$0{3,}/i,
);
add('DATE_TZ_ABSURD', 'header', 2.5, 'The Date field has a time zone that does not exist', (v) => {
  const m = /([+-])(\d\d)(\d\d)\s*(?:\(|$)/.exec(v.header('date').trim());
  if (m === null) return null;
  const hours = Number(m[2]);
  const minutes = Number(m[3]);
  return hours > 14 || minutes % 15 !== 0 ? `zone ${m[1] ?? ''}${m[2] ?? ''}${m[3] ?? ''}` : null;
});

/** Big mail providers whose names ratware puts in its HELO. */
const BIG_ISP_HELO =
  /^from (?:[\w-]+\.){0,6}(hotmail|msn|yahoo|aol|earthlink|excite|juno|netscape|compuserve|prodigy|lycos|email|mail)\.(?:com|net)\s*\(([^)[][^)]{0,200})\)/i;
add(
  'RCVD_FORGED_BIG_ISP',
  'header',
  2.0,
  'A relay claimed to be a big mail provider but its address is not named for it',
  (v) => {
    for (const value of v.headers('received').slice(0, 20)) {
      const m = BIG_ISP_HELO.exec(value);
      if (m === null) continue;
      // A provider's own relays resolve to its names; "(200.1.2.3 [200.1.2.3])" does not.
      const provider = (m[1] ?? '').toLowerCase();
      const reverse = (m[2] ?? '').toLowerCase();
      // Only the "(rdns [ip])" form a receiving MTA writes is judged; others name no address.
      if (!reverse.includes('[')) continue;
      if (provider === 'mail' || provider === 'email') {
        if (!/\b(?:e?mail)\.com\b/.test(reverse)) return `Received '${short(value)}'`;
      } else if (!reverse.includes(provider)) return `Received '${short(value)}'`;
    }
    return null;
  },
);
add(
  'RCVD_HELO_BARE_IP',
  'header',
  1.5,
  'A relay greeted with a bare public IP address instead of a host name',
  (v) => {
    for (const value of v.headers('received').slice(0, 20)) {
      // MTAs write "from name (rdns [ip])"; bulk tools HELO with a made-up public address.
      // Private addresses are NATed clients, webmail writes "(SquirrelMail ...)", qmail "(HELO".
      if (
        /^from (?!(?:10|127|192\.168|172\.(?:1[6-9]|2\d|3[01]))\.)\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3} \((?!helo|proxying|squirrelmail)/i.test(
          value,
        )
      ) {
        return `Received '${short(value)}'`;
      }
    }
    return null;
  },
);
bodyCount('ADVANCE_FEE_PHRASES', 'body', 1.5, 'Phrasing typical of advance-fee (419) letters', 3, [
  /\bthis medium\b/,
  /\bhighly placed\b/,
  /\bforeign partner/,
  /\bmodalities\b/,
  /\bgod bless\b/,
  /\btrustworthy\b/,
  /\butmost (?:confidentiality|secrecy|trust|discretion)/,
  /\b\d{1,2} ?% (?:of the|of this) (?:total|funds?|sum|money|amount)/,
  /\b(?:transfer|remit) (?:the|this) (?:sum|funds?)/,
  /\bdear (?:partner|friend)|\bseeking your (?:partnership|assistance|co-?operation)/,
  /\bnext of kin\b/,
  /\b(?:bank|account) (?:details|particulars)/,
  /\bkindly\b/,
]);
headerRule(
  'XMAILER_CDO',
  'header',
  1.0,
  "Sent by a server-side mailing component (CDO), not a person's mail program",
  'x-mailer',
  // CDO for Windows is the bare IIS mailer bulk tools drive; CDO for Exchange is an
  // organisation's own mail server (its notices and newsletters).
  /^\s*microsoft cdo for windows\b/i,
);
headerRule(
  'FROM_NAME_SALES_DEPT',
  'header',
  0.6,
  'From name is a sales or offers department, not a person',
  'from',
  /^\s*"?(?:sales|marketing|advertising|advert\w*|great offers|special[ _]offers?|offers|opt-?in ?list|promotions?|deals)(?: (?:department|team|dept))?"?\s*</i,
);
add(
  'XPRIORITY_NO_MUA',
  'header',
  0.8,
  'Sets X-Priority but names no mail program (bulk tools add the one, not the other)',
  // With X-MSMail-Priority too, FORGED_MSMAIL_PRIORITY already tells the same story; counting
  // both would let one header pair make up most of RATWARE_MANY (newsletter servers send it).
  (v) =>
    v.hasHeader('x-priority') &&
    !v.hasHeader('x-msmail-priority') &&
    !v.hasHeader('x-mailer') &&
    !v.hasHeader('user-agent')
      ? `X-Priority '${short(v.header('x-priority'))}' without X-Mailer`
      : null,
);
add(
  '__MSGID_FROM_RELAY',
  'header',
  0,
  'The Message-ID was written by a relay that took the message over SMTP (the sender wrote none)',
  (v) => {
    const id = /([A-Za-z0-9]{8,})@[^>]*>\s*$/.exec(v.header('message-id'));
    if (id === null) return null;
    const queueId = id[1] ?? '';
    for (const value of v.headers('received').slice(0, 20)) {
      if (!value.includes(queueId)) continue;
      if (!/\bwith e?smtp\b/i.test(value)) return null;
      // Local submission and authenticated clients are the relay's own users.
      if (/^from (?:localhost\b|\S+ \((?:localhost|[^)]*\[127\.0\.0\.1\]))/i.test(value))
        return null;
      // The sender's own mail host (its reverse name in the sender's domain) is a company's
      // newsletter server that writes no Message-ID, not a bulk tool behind a borrowed address.
      const rdns = /^from \S+ \(([a-z0-9.-]+\.[a-z]{2,}) \[/i.exec(value)?.[1];
      if (rdns !== undefined && v.from.domain !== '') {
        if (registrableDomain(rdns.toLowerCase()) === registrableDomain(v.from.domain)) return null;
      }
      return `Message-ID made by the relay: '${short(value)}'`;
    }
    return null;
  },
);
/** Webmail providers and the names their own relays carry in Received fields. */
const FREEMAIL_RELAYS: ReadonlyMap<string, RegExp> = new Map([
  ['hotmail.com', /hotmail|msn\.com/i],
  ['msn.com', /hotmail|msn\.com/i],
  ['yahoo.com', /yahoo/i],
  ['yahoo.co.uk', /yahoo/i],
  ['aol.com', /\baol\.(?:com|net)/i],
  ['netscape.net', /netscape|\baol\./i],
  ['excite.com', /excite/i],
  ['lycos.com', /lycos/i],
  ['juno.com', /juno/i],
  ['earthlink.net', /earthlink|mindspring/i],
  ['mindspring.com', /earthlink|mindspring/i],
  ['mail.com', /\bmail\.com/i],
  ['email.com', /\b(?:e?mail)\.com/i],
]);
add(
  'FORGED_FREEMAIL_FROM',
  'header',
  1.5,
  'From a webmail address, but no relay of that provider handled the message',
  (v) => {
    const relays = FREEMAIL_RELAYS.get(v.from.domain);
    if (relays === undefined) return null;
    // Some lists rewrite or drop the trail; only direct mail is judged.
    if (v.hasHeader('list-id') || v.hasHeader('x-beenthere') || v.hasHeader('mailing-list')) {
      return null;
    }
    const received = v.headers('received');
    if (received.length === 0) return null;
    return received.some((r) => relays.test(r)) ? null : `From @${v.from.domain} not relayed by it`;
  },
);
headerRule(
  'XLIBRARY_INDY',
  'header',
  0.6,
  'Sent with the Indy socket library (a common base of bulk-mail tools)',
  'x-library',
  /^\s*indy\b/i,
);
add('CT_HTML_NO_CHARSET', 'mime', 0.6, 'An HTML-only message that declares no charset', (v) =>
  /^\s*text\/html\s*$/i.test(v.header('content-type')) ? 'Content-Type: text/html' : null,
);
add('HTML_NO_HTML_TAG', 'html', 1.0, 'An HTML-only message without an <html> element', (v) => {
  if (!/^\s*text\/html/i.test(v.header('content-type'))) return null;
  for (const part of v.textParts()) {
    if (part.type === 'text/html' && !/<html/i.test(part.text.slice(0, 4096))) {
      return 'text/html body without <html>';
    }
  }
  return null;
});
const tollFreeWords = phrase(/\btoll[- ]free\b/);
/** North American toll-free numbers: no word of 5 letters to key on, so a plain regex. */
const TOLL_FREE_NUMBER = /\b8(?:00|88|77|66)\)?[- .]?\d{3}[- .]\d{4}\b/;
add('BODY_TOLL_FREE', 'body', 0.8, 'A toll-free number to call', (v) => {
  const m = tollFreeWords(v) ?? TOLL_FREE_NUMBER.exec(v.lowerBodyText());
  return m === null ? null : `body: '${short(m[0])}'`;
});
bodyPhrase(
  'BODY_NO_COST',
  'body',
  0.6,
  'Promises no cost, obligation or risk',
  /\bno (?:cost|obligation|fees?|catch|strings attached|credit check|risk)\b/,
);
bodyPhrase(
  'BODY_DEAR_STRANGER',
  'body',
  0.6,
  'Greets a stranger (dear friend, sir or madam, homeowner)',
  /\bdear (?:friend|sir|madam|homeowner|opportunity seeker|entrepreneur|business owner|webmaster)\b/,
);
bodyPhrase(
  'BODY_GUARANTEE',
  'body',
  // Fitted on TRAIN with a 1.5-point hard-ham margin (newsletters offer guarantees too).
  0.5,
  'Money-back or risk-free guarantee',
  /\b(?:money[- ]back|satisfaction guaranteed|100% guaranteed|risk[- ]free)/,
);

/** The bulk-tool fingerprints counted by RATWARE_MANY and RATWARE_LOTS. */
const RATWARE_SUM =
  '(MSGID_OE_NO_OUTLOOK + DATE_TZ_ABSURD + RCVD_FORGED_BIG_ISP + RCVD_HELO_BARE_IP + XMAILER_CDO + XPRIORITY_NO_MUA + FORGED_MUA_OUTLOOK + FORGED_OE_MSGID + RCVD_FORGED_DATE + MISSING_MUA_HTML + FORGED_MSMAIL_PRIORITY + HTML_NO_HTML_TAG + __MSGID_FROM_RELAY + XLIBRARY_INDY + CT_HTML_NO_CHARSET + MIME_OE_BOUNDARY_NO_OUTLOOK + FORGED_FREEMAIL_FROM + DATE_MISSING_ZONE + MSGID_MALFORMED)';
meta(
  'MSGID_RELAY_PITCH',
  'header',
  1.0,
  'Sales language in mail whose Message-ID a relay had to write',
  '__MSGID_FROM_RELAY && (BODY_REMOVE_LIST || MONEY_MAKING || FREE_OFFER || LOAN_MORTGAGE || PHARMA || ADULT || LOTTERY_419 || ADVANCE_FEE_PHRASES || BULK_MARKETING || MISC_SPAM_PRODUCTS || SUBJ_SPAM_PHRASE || BODY_OPT_IN_CLAIM || BODY_NO_COST || BODY_GUARANTEE || BODY_DEAR_STRANGER || BODY_TOLL_FREE || BODY_NOT_SPAM_CLAIM)',
);
meta(
  'RATWARE_MANY',
  'header',
  1.0,
  'Several fingerprints of bulk-mail tools together',
  RATWARE_SUM + ' >= 3',
);

meta(
  'RATWARE_LOTS',
  'header',
  1.0,
  'Many fingerprints of bulk-mail tools together',
  RATWARE_SUM + ' >= 5',
);

/** Every built-in rule, compiled. */
export const BUILTIN_RULES: readonly CompiledRule[] = rules;

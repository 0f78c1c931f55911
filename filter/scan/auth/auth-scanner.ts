/**
 * Sender authentication with mailauth: SPF (RFC 7208) for the envelope sender and client IP,
 * DKIM (RFC 6376) signatures, DMARC (RFC 7489) for the From domain, and ARC (RFC 8617). Reports
 * facts.auth for policy and Sieve, and findings (SPF_FAIL, DKIM_VALID, DMARC_REJECT, …) with
 * configured scores.
 *
 * Every lookup goes through the injected resolver. The scanner keeps its own budget below its
 * pipeline timeout: when it runs out, pending lookups answer "unavailable" at once, mailauth
 * finishes with temperrors, and the result still arrives (AUTH_* _TEMPERROR findings) instead of
 * a scanner timeout.
 */
import { hostname } from 'node:os';
import { authenticate, type AuthenticateOptions, type AuthStatus } from 'mailauth';
import type { Message } from '../../message/message.js';
import type { AuthResults, AuthResultValue, Finding, Scanner, ScannerOutput } from '../scanner.js';
import { symbolMap, type SymbolDefinition } from '../symbols.js';
import type { DnsResolver } from '../dns/dns-resolver.js';

/** Symbols of this scanner: group, default score, description. */
export const AUTH_SYMBOL_TABLE = {
  SPF_PASS: {
    group: 'auth',
    defaultScore: -0.1,
    description: 'SPF: the client may send for the envelope sender domain',
  },
  SPF_FAIL: {
    group: 'auth',
    defaultScore: 1.5,
    description: 'SPF: the sender domain says this client may not send for it (-all)',
  },
  SPF_SOFTFAIL: {
    group: 'auth',
    defaultScore: 0.7,
    description: 'SPF: the sender domain says this client is probably not allowed (~all)',
  },
  SPF_NEUTRAL: {
    group: 'auth',
    defaultScore: 0,
    description: 'SPF: the sender domain makes no assertion about this client (?all)',
  },
  SPF_NONE: {
    group: 'auth',
    defaultScore: 0,
    description: 'SPF: the sender domain publishes no SPF record',
  },
  SPF_TEMPERROR: {
    group: 'auth',
    defaultScore: 0,
    description: 'SPF: a DNS error prevented the check',
  },
  SPF_PERMERROR: {
    group: 'auth',
    defaultScore: 0.5,
    description: 'SPF: the sender domain publishes a broken SPF record',
  },
  DKIM_VALID: {
    group: 'auth',
    defaultScore: -0.1,
    description: 'DKIM: at least one valid signature',
  },
  DKIM_VALID_AU: {
    group: 'auth',
    defaultScore: -0.1,
    description: 'DKIM: a valid signature from the From domain (aligned)',
  },
  DKIM_INVALID: {
    group: 'auth',
    defaultScore: 1,
    description: 'DKIM: signatures present, none verifies (altered or forged)',
  },
  DKIM_NONE: { group: 'auth', defaultScore: 0, description: 'DKIM: the message is not signed' },
  DKIM_TEMPERROR: {
    group: 'auth',
    defaultScore: 0,
    description: 'DKIM: a DNS error prevented verification',
  },
  DKIM_PERMERROR: {
    group: 'auth',
    defaultScore: 0.3,
    description: 'DKIM: a signature or key is malformed',
  },
  DMARC_PASS: {
    group: 'auth',
    defaultScore: -0.2,
    description: 'DMARC: an aligned SPF or DKIM pass for the From domain',
  },
  DMARC_REJECT: {
    group: 'auth',
    defaultScore: 3.5,
    description: 'DMARC: fails, and the From domain asks receivers to reject',
  },
  DMARC_QUARANTINE: {
    group: 'auth',
    defaultScore: 2,
    description: 'DMARC: fails, and the From domain asks receivers to quarantine',
  },
  DMARC_FAIL_POLICY_NONE: {
    group: 'auth',
    defaultScore: 0.2,
    description: 'DMARC: fails; the From domain only monitors (p=none)',
  },
  DMARC_NONE: {
    group: 'auth',
    defaultScore: 0,
    description: 'DMARC: the From domain publishes no DMARC record',
  },
  DMARC_TEMPERROR: {
    group: 'auth',
    defaultScore: 0,
    description: 'DMARC: a DNS error prevented the check',
  },
  DMARC_PERMERROR: {
    group: 'auth',
    defaultScore: 0,
    description: 'DMARC: the From domain publishes a broken DMARC record',
  },
  ARC_PASS: { group: 'auth', defaultScore: 0, description: 'ARC: the chain of custody verifies' },
  ARC_FAIL: {
    group: 'auth',
    defaultScore: 0.5,
    description: 'ARC: an ARC chain is present and broken',
  },
} as const;

/** The same, as catalogue entries (filter/scan/symbols.ts), for the symbol catalogue. */
export const AUTH_SYMBOLS: ReadonlyMap<string, SymbolDefinition> = symbolMap(AUTH_SYMBOL_TABLE);

export type AuthSymbol = keyof typeof AUTH_SYMBOL_TABLE;

/** A resolver in the shape of dns.promises.resolve(name, rrtype). */
export type NodeStyleResolver = (name: string, rrtype: string) => Promise<unknown>;

export interface AuthScannerOptions {
  /** The shared DnsResolver, or any dns.promises.resolve-shaped function (tests, stubs). */
  readonly resolver: DnsResolver | NodeStyleResolver;
  /** This MTA's name in Authentication-Results; default os.hostname(). */
  readonly mta?: string;
  /** Pipeline budget. Default 5 000 ms; lookups stop 250 ms before it. */
  readonly timeoutMs?: number;
  /** Smallest accepted RSA key for DKIM/ARC. Default 1024. */
  readonly minBitLength?: number;
  readonly scores?: Readonly<Partial<Record<AuthSymbol, number>>>;
}

const MARGIN_MS = 250;

export function createAuthScanner(options: AuthScannerOptions): Scanner {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const budgetMs = Math.max(1, timeoutMs - MARGIN_MS);
  const mta = options.mta ?? hostname();
  const score = (symbol: AuthSymbol): number =>
    options.scores?.[symbol] ?? AUTH_SYMBOL_TABLE[symbol].defaultScore;
  return {
    name: 'auth',
    phase: 'content',
    timeoutMs,
    onError: 'skip',
    scan: async (message: Message, signal: AbortSignal): Promise<ScannerOutput> => {
      const local = new AbortController();
      const timer = setTimeout(() => {
        local.abort();
      }, budgetMs);
      const onAbort = (): void => {
        local.abort();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const resolver = bindResolver(options.resolver, local.signal);
        const env = message.envelope;
        const opts: AuthenticateOptions = {
          mta,
          resolver: resolver as NonNullable<AuthenticateOptions['resolver']>,
          disableBimi: true,
          // No ARC-Seal, no chain to verify: skipping ARC saves ~20% of an unsigned scan.
          disableArc: message.headers.getFirst('arc-seal') === null,
          minBitLength: options.minBitLength ?? 1024,
          ...(env.client.address === null ? {} : { ip: env.client.address }),
          ...(env.helo === null ? {} : { helo: env.helo }),
          ...(env.mailFrom === null || env.mailFrom.address === ''
            ? {}
            : { sender: env.mailFrom.address }),
        };
        const result = await authenticate(await message.toBuffer(), opts);
        const auth = summarizeAuthResult(result, env.client.address !== null);
        return {
          findings: authFindings(auth, result.dkim.results, result.dkim.headerFrom, score),
          facts: { auth },
        };
      } finally {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      }
    },
  };
}

function bindResolver(
  resolver: DnsResolver | NodeStyleResolver,
  signal: AbortSignal,
): NodeStyleResolver {
  return typeof resolver === 'function' ? resolver : resolver.toNodeStyleResolver(signal);
}

type AuthenticateResult = Awaited<ReturnType<typeof authenticate>>;

/** mailauth's status keyword → RFC 8601 result (mailauth also says "temperr" and "skipped"). */
function resultValue(status: AuthStatus | undefined): AuthResultValue {
  const result = status?.result;
  if (result === undefined || result === 'skipped') return 'none';
  return result === 'temperr' ? 'temperror' : result;
}

/** The AuthResults facts from mailauth's answer. */
export function summarizeAuthResult(result: AuthenticateResult, hadClientIp: boolean): AuthResults {
  const dkimValues = result.dkim.results.map((r) => resultValue(r.status));
  const dkim: AuthResultValue = dkimValues.includes('pass')
    ? 'pass'
    : ((['fail', 'temperror', 'permerror', 'policy', 'neutral'] as const).find((v) =>
        dkimValues.includes(v),
      ) ?? 'none');
  const dmarc = result.dmarc === false ? null : result.dmarc;
  return {
    spf: !hadClientIp || result.spf === false ? 'none' : resultValue(result.spf.status),
    dkim,
    dmarc: dmarc === null ? 'none' : resultValue(dmarc.status),
    arc: result.arc === false ? 'none' : resultValue(result.arc.status),
    dmarcPolicy: dmarc === null || dmarc.policy === '' ? null : dmarc.policy,
  };
}

function authFindings(
  auth: AuthResults,
  signatures: AuthenticateResult['dkim']['results'],
  headerFrom: readonly string[],
  score: (symbol: AuthSymbol) => number,
): Finding[] {
  const findings: Finding[] = [];
  const add = (symbol: AuthSymbol, evidence: string): void => {
    findings.push({ symbol, score: score(symbol), evidence });
  };
  const spfSymbol: Partial<Record<AuthResultValue, AuthSymbol>> = {
    pass: 'SPF_PASS',
    fail: 'SPF_FAIL',
    softfail: 'SPF_SOFTFAIL',
    neutral: 'SPF_NEUTRAL',
    none: 'SPF_NONE',
    temperror: 'SPF_TEMPERROR',
    permerror: 'SPF_PERMERROR',
  };
  const spf = spfSymbol[auth.spf];
  if (spf !== undefined) add(spf, `spf=${auth.spf}`);

  const passing = signatures.filter((s) => s.status.result === 'pass');
  if (passing.length > 0) {
    add('DKIM_VALID', `d=${passing.map((s) => s.signingDomain).join(',')}`);
    // mailauth sets `aligned` to the aligned domain (a string), or false.
    const aligned: unknown = passing
      .map((s) => s.status.aligned)
      .find((a) => a !== false && a !== undefined);
    if (aligned !== undefined) {
      add('DKIM_VALID_AU', `aligned with ${headerFrom.join(',')}`);
    }
  } else if (auth.dkim === 'none') add('DKIM_NONE', 'no signature');
  else if (auth.dkim === 'temperror') add('DKIM_TEMPERROR', 'dkim=temperror');
  else if (auth.dkim === 'permerror') add('DKIM_PERMERROR', 'dkim=permerror');
  else add('DKIM_INVALID', `dkim=${auth.dkim}`);

  const from = headerFrom.join(',');
  if (auth.dmarc === 'pass') add('DMARC_PASS', `dmarc=pass header.from=${from}`);
  else if (auth.dmarc === 'fail') {
    if (auth.dmarcPolicy === 'reject') {
      add('DMARC_REJECT', `dmarc=fail p=reject header.from=${from}`);
    } else if (auth.dmarcPolicy === 'quarantine') {
      add('DMARC_QUARANTINE', `dmarc=fail p=quarantine header.from=${from}`);
    } else add('DMARC_FAIL_POLICY_NONE', `dmarc=fail p=none header.from=${from}`);
  } else if (auth.dmarc === 'temperror') {
    add('DMARC_TEMPERROR', `dmarc=temperror header.from=${from}`);
  } else if (auth.dmarc === 'permerror') {
    add('DMARC_PERMERROR', `dmarc=permerror header.from=${from}`);
  } else add('DMARC_NONE', `dmarc=${auth.dmarc}`);

  if (auth.arc === 'pass') add('ARC_PASS', 'arc=pass');
  else if (auth.arc === 'fail') add('ARC_FAIL', 'arc=fail');
  return findings;
}

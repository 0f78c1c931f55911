/**
 * What the IP Blocker answers for one client: local entries first (an allow entry always
 * wins), then recent reputation from the message log, then DNS blocklists. Only the first
 * request of a connection's stage matters to Postfix, but every request is answered.
 */
import type { PolicyAction, PolicyRequest } from './policy-protocol.js';
import type { IpBlockList } from './block-list.js';
import type { ReputationTracker } from './reputation.js';

export interface IpBlockerSettings {
  /** What a local block entry answers: a permanent reject (default) or a tempfail. */
  readonly blockAction: 'reject' | 'defer';
  /** What bad reputation answers (default defer: it heals as the window slides). */
  readonly reputationAction: 'reject' | 'defer' | 'off';
  /** What a DNSBL listing answers (default reject). */
  readonly dnsblAction: 'reject' | 'defer' | 'off';
}

export const DEFAULT_IPBLOCKER_SETTINGS: IpBlockerSettings = {
  blockAction: 'reject',
  reputationAction: 'defer',
  dnsblAction: 'reject',
};

/** A DNSBL check: the name of the list the address is on, or null. Must not throw. */
export type DnsblCheck = (ip: string) => Promise<string | null>;

export interface IpBlockDecision {
  readonly action: PolicyAction;
  /** Why, for the IP Blocker's log: 'local', 'allow', 'reputation', 'dnsbl:<zone>', or null. */
  readonly source: string | null;
  readonly client: string | null;
}

export interface IpBlockerContext {
  readonly list: () => IpBlockList;
  readonly reputation: ReputationTracker;
  readonly dnsbl: DnsblCheck | null;
  readonly settings: IpBlockerSettings;
  readonly now?: () => number;
}

const DUNNO: PolicyAction = { kind: 'dunno' };

export async function decideClient(
  request: PolicyRequest,
  ctx: IpBlockerContext,
): Promise<IpBlockDecision> {
  const client = request.get('client_address') ?? null;
  if (client === null || client === '' || client === 'unknown') {
    return { action: DUNNO, source: null, client };
  }
  const now = ctx.now?.() ?? Date.now();
  const entry = ctx.list().lookup(client, now);
  if (entry?.action === 'allow') return { action: DUNNO, source: 'allow', client };
  if (entry !== null) {
    const text = `Client ${client} is blocked${entry.reason === '' ? '' : `: ${entry.reason}`}`;
    return { action: refusal(ctx.settings.blockAction, text), source: 'local', client };
  }
  if (ctx.settings.reputationAction !== 'off') {
    const rep = ctx.reputation.judge(client, now);
    if (rep.refuse) {
      const text = `Client ${client} sent mostly spam recently (${String(rep.bad)} of ${String(rep.total)})`;
      return {
        action: refusal(ctx.settings.reputationAction, text),
        source: 'reputation',
        client,
      };
    }
  }
  if (ctx.dnsbl !== null && ctx.settings.dnsblAction !== 'off') {
    const zone = await ctx.dnsbl(client);
    if (zone !== null) {
      return {
        action: refusal(ctx.settings.dnsblAction, `Client ${client} is listed on ${zone}`),
        source: `dnsbl:${zone}`,
        client,
      };
    }
  }
  return { action: DUNNO, source: null, client };
}

function refusal(kind: 'reject' | 'defer', text: string): PolicyAction {
  return kind === 'reject'
    ? { kind: 'reject', code: 554, enhanced: '5.7.1', text }
    : { kind: 'defer', code: 450, enhanced: '4.7.1', text };
}

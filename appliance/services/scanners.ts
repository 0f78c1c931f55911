/**
 * The scanners of the policy service, from the node's `scan` settings: rules, attachments,
 * and clamd when the node runs its antivirus service. Bayes, SPF/DKIM/DMARC and DNS lists
 * join here as they are configured (they need a trained store or a reachable resolver).
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import {
  ClamdClient,
  createBayesScanner,
  openJsonFileTokenStore,
  createAttachmentScanner,
  createRuleScanner,
  createVirusScanner,
  type Scanner,
} from '../../filter/index.js';
import type { NodeConfig } from '../config/node-config.js';

export interface NodeScanners {
  readonly scanners: readonly Scanner[];
  /** Names, for the start-up log. */
  readonly names: readonly string[];
  close(): Promise<void>;
}

/** Services `parapet start` supervises, as it tells each of them (PARAPET_SERVICES). */
export function supervisedHere(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env['PARAPET_SERVICES'] ?? '').split(',').filter(Boolean);
}

export async function buildScanners(
  config: NodeConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<NodeScanners> {
  const s = config.scan;
  const scanners: Scanner[] = [];
  const closers: (() => Promise<void>)[] = [];
  if (!s.enabled) return { scanners, names: [], close: () => Promise.resolve() };
  if (s.rules.enabled) scanners.push(createRuleScanner({ scores: s.rules.scores }));
  if (s.attachments.enabled) scanners.push(createAttachmentScanner());
  // Bayes once `parapet learn` has built the node's token store (it scores only after 200
  // spam and 200 ham); the central PostgreSQL store replaces the file with server groups.
  const tokens = join(config.home, 'bayes', 'tokens.json');
  if (s.bayes.enabled && existsSync(tokens)) {
    scanners.push(createBayesScanner(await openJsonFileTokenStore(tokens)));
  }
  const virus =
    s.virus.enabled === 'auto' ? supervisedHere(env).includes('antivirus') : s.virus.enabled;
  if (virus) {
    const client = new ClamdClient({
      address: {
        kind: 'unix',
        path: s.virus.socket ?? join(config.home, 'antivirus', 'clamd.sock'),
      },
      commandTimeoutMs: s.virus.timeoutMs,
    });
    scanners.push(createVirusScanner({ clamd: client }));
    closers.push(() => {
      client.close();
      return Promise.resolve();
    });
  }
  return {
    scanners,
    names: scanners.map((x) => x.name),
    close: async () => {
      await Promise.all(closers.map((c) => c()));
    },
  };
}

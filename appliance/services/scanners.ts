/**
 * The scanners of the policy service, from the node's `scan` settings: rules, attachments,
 * Bayes (from the node's cached snapshot, bayes-cache.ts) and clamd when the node runs its
 * antivirus service. SPF/DKIM/DMARC and DNS lists join here as they are configured (they need
 * a reachable resolver).
 */
import { join } from 'node:path';
import {
  ClamdClient,
  createBayesScanner,
  createAttachmentScanner,
  createRuleScanner,
  createVirusScanner,
  type Message,
  type ScanResult,
  type Scanner,
} from '../../filter/index.js';
import type { NodeConfig } from '../config/node-config.js';
import { BayesAutoLearner, type AutoLearnEvent } from './bayes-autolearn.js';
import { bayesPaths, CachedTokenStore, type BayesCacheEvent } from './bayes-cache.js';

export interface NodeScanners {
  readonly scanners: readonly Scanner[];
  /**
   * Auto-learn (bayes-autolearn.ts) when Bayes is on: the policy service awaits it with each
   * scanned message (it never rejects, and takes at most `perMinute` messages per class).
   */
  readonly autoLearn?: (input: { message: Message; scan: ScanResult }) => Promise<unknown>;
  /** Names, for the start-up log. */
  readonly names: readonly string[];
  close(): Promise<void>;
}

/** Services `parapet start` supervises, as it tells each of them (PARAPET_SERVICES). */
export function supervisedHere(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env['PARAPET_SERVICES'] ?? '').split(',').filter(Boolean);
}

/** Options of {@link buildScanners}. */
export interface BuildScannersOptions {
  /**
   * Spool the tokens scans used, so expiry keeps them (the policy service). Default true;
   * one-off scans (`parapet scan`) may turn it off.
   */
  readonly bayesTouches?: boolean;
  /** Reloads and touch-spool outcomes of the Bayes cache (for the service log). */
  readonly onBayesEvent?: (event: BayesCacheEvent | AutoLearnEvent) => void;
  /**
   * False turns auto-learn off (one-off scans); otherwise node.json `scan.bayes.autoLearn`
   * decides whether and how (SpamAssassin's thresholds, 30 per class and minute).
   */
  readonly autoLearn?: false;
}

export async function buildScanners(
  config: NodeConfig,
  env: NodeJS.ProcessEnv = process.env,
  options: BuildScannersOptions = {},
): Promise<NodeScanners> {
  const s = config.scan;
  const scanners: Scanner[] = [];
  const closers: (() => Promise<void>)[] = [];
  let autoLearn: NodeScanners['autoLearn'];
  if (!s.enabled) return { scanners, names: [], close: () => Promise.resolve() };
  if (s.rules.enabled) scanners.push(createRuleScanner({ scores: s.rules.scores }));
  if (s.attachments.enabled) scanners.push(createAttachmentScanner());
  // Bayes from the node's snapshot, reloaded when it changes: written by `parapet learn`, or
  // exported from the server group's database store (bayes-sync.ts). It scores only once the
  // store has learned 200 spam and 200 ham; an absent file is an empty store until it appears.
  if (s.bayes.enabled) {
    const paths = bayesPaths(config.home);
    const cache = await CachedTokenStore.open({
      path: paths.tokens,
      touchDir: paths.touched,
      ...(options.onBayesEvent === undefined ? {} : { onEvent: options.onBayesEvent }),
    });
    scanners.push(createBayesScanner(cache, { touchOnScan: options.bayesTouches ?? true }));
    closers.push(() => cache.close());
    const configured = s.bayes.autoLearn;
    if (options.autoLearn !== false && configured.enabled) {
      const learner = new BayesAutoLearner({
        dir: paths.autolearn,
        thresholds: configured,
        perMinute: configured.perMinute,
        ...(options.onBayesEvent === undefined ? {} : { onEvent: options.onBayesEvent }),
      });
      autoLearn = (input) => learner.observe(input);
      closers.push(() => learner.close());
    }
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
    ...(autoLearn === undefined ? {} : { autoLearn }),
    names: scanners.map((x) => x.name),
    close: async () => {
      await Promise.all(closers.map((c) => c()));
    },
  };
}

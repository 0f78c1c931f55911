/**
 * One end-to-end set-up, shared by the data-plane tests and the MTA benchmark: a private
 * Postfix relaying to an SMTP sink, wired to Parapet by `parapet mta configure postfix`, and a
 * policy service child process — or no filter at all, as the baseline.
 */
import { join } from 'node:path';
import { createPostfixInstance, type PostfixInstance } from './postfix-instance.js';
import { startSmtpSink, type SmtpSink } from './smtp-sink.js';
import { findFreePorts } from './free-port.js';
import { createPolicyNode, runParapet, type PolicyNode } from './parapet-node.js';
import { startTcpRelay, type TcpRelay } from './tcp-relay.js';
import { startFloorMilter, type FloorMilter } from './floor-milter.js';

export type ScenarioMode =
  | 'no-filter'
  | 'passthrough-relay'
  | 'content-filter'
  | 'milter-tcp'
  | 'milter-unix'
  // bench:mta's floor: a do-nothing C milter (floor-milter.ts) instead of the policy service.
  | 'milter-floor-unix'
  | 'milter-floor-tcp';

export interface Scenario {
  readonly mode: ScenarioMode;
  readonly postfix: PostfixInstance;
  readonly sink: SmtpSink;
  /** Null in no-filter mode. */
  readonly node: PolicyNode | null;
  /** Where test mail goes in: the private Postfix's smtpd. */
  readonly smtpPort: number;
  /** Stops everything it started (idempotent). */
  stop(): Promise<void>;
}

export interface ScenarioOptions {
  /** Extra main.cf settings for the Postfix instance. */
  readonly mainCf?: Readonly<Record<string, string>>;
  /** Extra node.json policy settings. */
  readonly policy?: Readonly<Record<string, unknown>>;
  /** node.json "scan" settings; default no scanners. */
  readonly scan?: Readonly<Record<string, unknown>>;
  /** Wire Postfix to an IP Blocker on this loopback port; default: not wired. */
  readonly ipblockerPort?: number;
}

export async function startScenario(
  mode: ScenarioMode,
  options: ScenarioOptions = {},
): Promise<Scenario> {
  const sink = await startSmtpSink();
  const [smtpPort, filterPort, reinjectPort, milterPort] = await findFreePorts(4);
  if (
    smtpPort === undefined ||
    filterPort === undefined ||
    reinjectPort === undefined ||
    milterPort === undefined
  ) {
    throw new Error('no free ports');
  }
  const postfix = await createPostfixInstance({
    smtpPort,
    relayPort: sink.port,
    ...(options.mainCf === undefined ? {} : { mainCf: options.mainCf }),
  });
  let node: PolicyNode | null = null;
  let relay: TcpRelay | null = null;
  let floor: FloorMilter | null = null;
  const stop = async (): Promise<void> => {
    await postfix.stop();
    await node?.dispose();
    await floor?.stop();
    await relay?.close();
    await sink.stop({ removeDir: true });
  };
  try {
    if (mode !== 'no-filter') {
      const socketPath = join(postfix.dir, 'parapet-milter.sock');
      // Next to Postfix's own files: Postfix's smtpd (user postfix) cannot enter a node home.
      const witnessPath = join(postfix.dir, 'parapet-witness.sock');
      const wiring =
        mode === 'content-filter' || mode === 'passthrough-relay'
          ? [
              '--mode',
              'content-filter',
              '--filter-address',
              `127.0.0.1:${filterPort}`,
              '--reinject-address',
              `127.0.0.1:${reinjectPort}`,
              ...(mode === 'content-filter'
                ? ['--witness', `unix:${witnessPath}`]
                : ['--no-witness']),
            ]
          : [
              '--mode',
              'milter',
              '--milter-address',
              mode === 'milter-tcp' || mode === 'milter-floor-tcp'
                ? `inet:127.0.0.1:${milterPort}`
                : `unix:${socketPath}`,
            ];
      const configured = await runParapet([
        'mta',
        'configure',
        'postfix',
        '--config-dir',
        postfix.configDir,
        ...wiring,
        ...(options.ipblockerPort === undefined
          ? ['--no-ipblocker']
          : ['--ipblocker', `127.0.0.1:${String(options.ipblockerPort)}`]),
      ]);
      if (configured.code !== 0) {
        throw new Error(`parapet mta configure failed: ${configured.stderr}${configured.stdout}`);
      }
      if (mode === 'passthrough-relay') {
        relay = await startTcpRelay(filterPort, reinjectPort);
      } else if (mode === 'milter-floor-unix' || mode === 'milter-floor-tcp') {
        floor = await startFloorMilter(
          mode === 'milter-floor-tcp'
            ? { kind: 'tcp', port: milterPort }
            : { kind: 'unix', path: socketPath },
        );
      } else {
        node = await createPolicyNode({
          smtpFilterPort: mode === 'content-filter' ? filterPort : null,
          reinjectPort,
          milterPort: mode === 'milter-tcp' ? milterPort : null,
          milterSocketPath: mode === 'milter-unix' ? socketPath : null,
          witnessSocketPath: mode === 'content-filter' ? witnessPath : null,
          ...(options.policy === undefined ? {} : { policy: options.policy }),
          ...(options.scan === undefined ? {} : { scan: options.scan }),
        });
        await node.start();
      }
    }
    await postfix.start();
  } catch (err) {
    await stop();
    throw err;
  }
  return { mode, postfix, sink, node, smtpPort, stop };
}

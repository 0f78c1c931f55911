/**
 * The services a node runs (ARCHITECTURE.md "One node"), by the name `parapet serve` takes.
 * Each entry starts the service in this process and resolves once it has stopped cleanly;
 * `supervised` ones are what `parapet start` runs under pm2.
 */
import { existsSync, readdirSync } from 'node:fs';
import { ParapetError } from '../../filter/index.js';

export interface ServiceEntry {
  readonly description: string;
  /** Runs the service in this process until SIGTERM/SIGINT. */
  readonly run: () => Promise<void>;
  /** Started by `parapet start` (false: not available in this version). */
  readonly supervised: boolean;
}

const notYet = (name: string, description: string): ServiceEntry => ({
  description,
  supervised: false,
  run: () =>
    Promise.reject(
      new ParapetError('ERR_SERVICE_UNKNOWN', `service '${name}' is not available in this version`),
    ),
});

export type ServiceName =
  | 'database'
  | 'policy'
  | 'witness'
  | 'ipblocker'
  | 'manager'
  | 'rpcui'
  | 'scheduler'
  | 'queue'
  | 'antivirus';

/**
 * The services by name. ui/ provides manager and rpcui through provideService() (the import
 * direction forbids appliance/ from importing ui/; bin/main.ts wires them in).
 */
export const SERVICES: Record<ServiceName, ServiceEntry> = {
  // First: the others do not wait for it, but it is the slowest to come up.
  database: {
    description: 'PostgreSQL (embedded unless a URL is configured), migrations, log shipping',
    // Supervised where PostgreSQL's server binaries are installed (or a URL is configured).
    supervised: hasPostgres(),
    run: async () => {
      const { runDatabaseServiceUntilSignal } = await import('./database.js');
      await runDatabaseServiceUntilSignal();
    },
  },
  policy: {
    description: 'data plane: milter 3366, content filter 10025 → 10026',
    supervised: true,
    run: async () => {
      const { runPolicyServiceUntilSignal } = await import('./policy.js');
      await runPolicyServiceUntilSignal();
    },
  },
  witness: {
    description: 'content filter: the re-injection smtpd’s milter that makes retries exact',
    supervised: true,
    run: async () => {
      const { runWitnessServiceUntilSignal } = await import('./witness.js');
      await runWitnessServiceUntilSignal();
    },
  },
  ipblocker: {
    description: 'IP Blocker: Postfix policy delegation on 10040',
    supervised: true,
    run: async () => {
      const { runIpBlockerServiceUntilSignal } = await import('./ipblocker.js');
      await runIpBlockerServiceUntilSignal();
    },
  },
  manager: notYet('manager', 'Manager web interface on 18080'),
  rpcui: notYet('rpcui', 'End User and Groups web interfaces on 28443'),
  scheduler: {
    description: 'scheduled jobs (quarantine expiry, and what administrators add)',
    supervised: true,
    run: async () => {
      const { runSchedulerServiceUntilSignal } = await import('./scheduler.js');
      await runSchedulerServiceUntilSignal();
    },
  },
  queue: {
    description: 'Queue Runner: outbound mail',
    supervised: true,
    run: async () => {
      const { runQueueServiceUntilSignal } = await import('./queue.js');
      await runQueueServiceUntilSignal();
    },
  },
  antivirus: {
    description: 'clamd with the node’s configuration and signatures',
    // Supervised only where ClamAV is installed; elsewhere the node runs without a virus
    // scanner (no X-Parapet-Virus header) rather than tempfailing all mail.
    supervised: existsSync('/usr/sbin/clamd'),
    run: async () => {
      const { runAntivirusService } = await import('../antivirus/antivirus-service.js');
      await runAntivirusService();
    },
  },
};

/** Replaces a service's entry (ui/ provides the web interfaces this way). */
export function provideService(name: ServiceName, entry: ServiceEntry): void {
  SERVICES[name] = entry;
}

function hasPostgres(): boolean {
  try {
    return readdirSync('/usr/lib/postgresql').some((v) =>
      existsSync(`/usr/lib/postgresql/${v}/bin/postgres`),
    );
  } catch {
    return false;
  }
}

/** The services `parapet start` supervises, in start order. */
export function supervisedServices(): ServiceName[] {
  return (Object.keys(SERVICES) as ServiceName[]).filter((n) => SERVICES[n].supervised);
}

/**
 * The services a node runs (ARCHITECTURE.md "One node"), by the name `parapet serve` takes.
 * Each entry starts the service in this process and resolves once it has stopped cleanly.
 */
import { ParapetError } from '../../filter/index.js';

const notYet = (name: string) => (): Promise<void> =>
  Promise.reject(
    new ParapetError('ERR_SERVICE_UNKNOWN', `service '${name}' is not available in this version`),
  );

export const SERVICES = {
  policy: async (): Promise<void> => {
    const { runPolicyServiceUntilSignal } = await import('./policy.js');
    await runPolicyServiceUntilSignal();
  },
  manager: notYet('manager'),
  rpcui: notYet('rpcui'),
  scheduler: notYet('scheduler'),
  queue: notYet('queue'),
  ipblocker: async (): Promise<void> => {
    const { runIpBlockerServiceUntilSignal } = await import('./ipblocker.js');
    await runIpBlockerServiceUntilSignal();
  },
  antivirus: notYet('antivirus'),
} as const;

export type ServiceName = keyof typeof SERVICES;

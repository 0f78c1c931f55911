/** Public API of one node (imported by bin/, cluster/, ui/, provisioning/). */
export { registerApplianceCommands } from './cli/index.js';
export { loadNodeConfig, resolveParapetHome, type NodeConfig } from './config/node-config.js';
export { ApplianceErrorCode } from './errors.js';
export { DEFAULT_WEB, type HostPort, type WebConfig } from './config/node-config.js';
export {
  SERVICES,
  provideService,
  supervisedServices,
  type ServiceEntry,
  type ServiceName,
} from './services/registry.js';
export { signalReady, waitForStopSignal } from './services/signals.js';
export { createServiceLogger } from './log/logger.js';
export {
  SERVICE_USER,
  ensureServiceUser,
  findSystemUser,
  type SystemUser,
} from './system/service-user.js';
export { Db, openDatabase, migrate, sqlState, type DbOptions, type Queryable } from './db/index.js';

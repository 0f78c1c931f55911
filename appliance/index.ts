/** Public API of one node (imported by bin/, cluster/, ui/, provisioning/). */
export { registerApplianceCommands } from './cli/index.js';
export { loadNodeConfig, resolveParapetHome, type NodeConfig } from './config/node-config.js';
export { ApplianceErrorCode } from './errors.js';

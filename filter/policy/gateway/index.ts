/**
 * Parapet's gateway Sieve extensions (capabilities "vnd.parapet.*", README.md) and the runner
 * that evaluates a policy with them. Compile policies with
 * `compile(text, { extraExtensions: GATEWAY_EXTENSIONS })`.
 */
import type { SieveExtension } from '../sieve/index.js';
import { gatewayActionsExtension } from './actions.js';
import { gatewayEnvelopeExtension } from './envelope.js';
import { gatewayHeadersExtension } from './headers.js';
import { gatewayListsExtension } from './lists.js';
import { gatewayLogExtension } from './log.js';
import { gatewayMapsExtension } from './maps.js';
import { gatewayNotifyExtension } from './notify.js';
import { gatewayScanExtension } from './scan.js';

/** Every gateway extension, one per capability. */
export const GATEWAY_EXTENSIONS: readonly SieveExtension[] = Object.freeze([
  gatewayScanExtension,
  gatewayListsExtension,
  gatewayMapsExtension,
  gatewayActionsExtension,
  gatewayHeadersExtension,
  gatewayEnvelopeExtension,
  gatewayNotifyExtension,
  gatewayLogExtension,
]);

/** The gateway capability names. */
export const GATEWAY_CAPABILITIES: readonly string[] = Object.freeze(
  GATEWAY_EXTENSIONS.flatMap((e) => e.capabilities),
);

export {
  MAX_GATEWAY_ACTIONS,
  MAX_GATEWAY_TEXT_CHARS,
  type GatewayAction,
  type GatewayDecidedAction,
  type GatewayFacts,
} from './context.js';
export {
  gatewayContractJson,
  runGatewayPolicy,
  type GatewayContractAction,
  type GatewayContractResult,
  type GatewayEvaluationInput,
  type GatewayHeaderChanges,
  type GatewayHeaderField,
  type GatewayOutcome,
} from './run.js';

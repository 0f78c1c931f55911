/**
 * "vnd.parapet.actions": the gateway's own dispositions. See README.md.
 *   quarantine [<reason>]   hold the message in the quarantine (cancels the implicit keep)
 *   tempfail [<reason>]     answer 451 4.7.1 so the MTA retries (cancels the implicit keep)
 *   accept                  deliver (an explicit keep) and stop the script
 * When several dispositions are present the host decides by precedence:
 * tempfail > reject > quarantine > delivery/discard (README.md, "Decision").
 */
import type { SieveExtension } from '../sieve/index.js';
import { clampText, gatewayState, GatewayStop } from './context.js';

const CAP = 'vnd.parapet.actions';

/** The vnd.parapet.actions extension. */
export const gatewayActionsExtension: SieveExtension = {
  capabilities: [CAP],
  commands: [
    {
      name: 'quarantine',
      kind: 'command',
      capability: CAP,
      positional: [[], ['string']],
      execute: (node, rt) => {
        const reason =
          node.args.length > 0 ? rt.expandString(node.args[0]) : 'quarantined by policy';
        gatewayState(node, rt).record(node, { type: 'quarantine', reason: clampText(reason) });
        rt.implicitKeep = false;
      },
    },
    {
      name: 'tempfail',
      kind: 'command',
      capability: CAP,
      positional: [[], ['string']],
      execute: (node, rt) => {
        const reason =
          node.args.length > 0 ? rt.expandString(node.args[0]) : 'message deferred by policy';
        gatewayState(node, rt).record(node, {
          type: 'tempfail',
          reason: clampText(reason.replace(/[\r\n]+/g, ' ')),
        });
        rt.implicitKeep = false;
      },
    },
    {
      name: 'accept',
      kind: 'command',
      capability: CAP,
      positional: [[]],
      execute: (node, rt) => {
        const state = gatewayState(node, rt);
        // An explicit keep (so reject conflicts apply as for keep), then the end of the run.
        rt.addStore(node, 'INBOX', false, rt.actionFlags(node));
        state.acceptedAt = node.line;
        throw new GatewayStop(node.line);
      },
    },
  ],
};

/**
 * "vnd.parapet.notify": notifications and copies sent by the gateway. See README.md.
 *   sendnotice [:template <name>] [:subject <text>] [:from <address>] <to> [<text>]
 *       a new message to <to> (string list); the host fills the named template (configured
 *       with the policy) or uses <text>; {{placeholders}} are filled by the host
 *   copyto <address>
 *       a copy of the original message to <address> (also when it is quarantined or rejected)
 */
import type { CompiledNode, SieveExtension, SieveRuntime } from '../sieve/index.js';
import type { SieveValidateContext } from '../sieve/extension-api.js';
import {
  clampText,
  constantStrings,
  gatewayError,
  gatewayState,
  isEnvelopeAddress,
  isSafeHeaderText,
} from './context.js';

/** Most recipients of one notice. */
export const MAX_NOTICE_RECIPIENTS = 16;

function checkAddresses(index: number) {
  return (node: CompiledNode, ctx: SieveValidateContext): void => {
    for (const a of constantStrings(node, index)) {
      if (!isEnvelopeAddress(a)) {
        throw ctx.error('ERR_SIEVE_INVALID_VALUE', `${node.name}: invalid address '${a}'`, node);
      }
    }
  };
}

function addresses(node: CompiledNode, rt: SieveRuntime, list: string[]): string[] {
  const out: string[] = [];
  for (const a of list) {
    const t = a.trim();
    if (!isEnvelopeAddress(t)) throw gatewayError(node, `${node.name}: invalid address '${t}'`);
    if (!out.includes(t)) out.push(t);
  }
  if (out.length > MAX_NOTICE_RECIPIENTS)
    throw gatewayError(node, `${node.name}: too many recipients`);
  rt.step(node, out.length);
  return out;
}

function optionalTag(node: CompiledNode, rt: SieveRuntime, tag: string): string | null {
  const t = node.tags.get(tag);
  if (t === undefined) return null;
  const v = rt.expandString(t);
  if (!isSafeHeaderText(v)) throw gatewayError(node, `${node.name}: :${tag} contains a line break`);
  return clampText(v);
}

/** The vnd.parapet.notify extension. */
export const gatewayNotifyExtension: SieveExtension = {
  capabilities: ['vnd.parapet.notify'],
  commands: [
    {
      name: 'sendnotice',
      kind: 'command',
      capability: 'vnd.parapet.notify',
      positional: [['string-list'], ['string-list', 'string']],
      tags: [
        { name: 'template', arg: 'string' },
        { name: 'subject', arg: 'string' },
        { name: 'from', arg: 'string' },
      ],
      validate: (node, ctx) => {
        checkAddresses(0)(node, ctx);
        if (node.args.length < 2 && !node.tags.has('template')) {
          throw ctx.error('ERR_SIEVE_ARGUMENT', 'sendnotice needs a text or a :template', node);
        }
      },
      execute: (node, rt) => {
        const from = optionalTag(node, rt, 'from');
        if (from !== null && !isEnvelopeAddress(from)) {
          throw gatewayError(node, `sendnotice: invalid :from address '${from}'`);
        }
        gatewayState(node, rt).record(node, {
          type: 'notice',
          to: addresses(node, rt, rt.expandList(node.args[0])),
          template: optionalTag(node, rt, 'template'),
          subject: optionalTag(node, rt, 'subject'),
          from,
          text: node.args.length > 1 ? clampText(rt.expandString(node.args[1])) : '',
        });
      },
    },
    {
      name: 'copyto',
      kind: 'command',
      capability: 'vnd.parapet.notify',
      positional: [['string']],
      validate: checkAddresses(0),
      execute: (node, rt) => {
        const [address] = addresses(node, rt, [rt.expandString(node.args[0])]);
        if (address !== undefined) gatewayState(node, rt).record(node, { type: 'copyto', address });
      },
    },
  ],
};

/**
 * RFC 5230 vacation and RFC 6131 vacation-seconds. The period is reported in seconds and, as in
 * Pigeonhole (sieve_vacation_min_period = 1d), raised to at least one day; the default is
 * seven days. A second vacation, or vacation with reject, is a run-time error.
 */
import type { CompiledNode, SieveExtension, SieveValidateContext } from '../extension-api.js';
import { parseSingleMailbox } from '../message-view.js';

const DAY = 86_400;
/** Default period when neither :days nor :seconds is given. */
export const VACATION_DEFAULT_SECONDS = 7 * DAY;
/** Smallest period (Pigeonhole sieve_vacation_min_period). */
export const VACATION_MIN_SECONDS = DAY;

function validate(node: CompiledNode, ctx: SieveValidateContext): void {
  const days = node.tags.get('days');
  const secs = node.tags.get('seconds');
  if (days !== undefined && secs !== undefined) {
    throw ctx.error(
      'ERR_SIEVE_TAG_CONFLICT',
      'the :days and :seconds tags of vacation exclude each other',
      node,
    );
  }
  const period = days ?? secs;
  if (period?.kind === 'number') {
    const seconds = days !== undefined ? period.value * DAY : period.value;
    if (seconds < VACATION_MIN_SECONDS) {
      ctx.warn(
        `specified :${days !== undefined ? 'days' : 'seconds'} value '${period.value}' is under the minimum`,
        period,
      );
    }
  }
  const from = node.tags.get('from');
  if (from?.kind === 'string' && from.value.parts === null) {
    if (parseSingleMailbox(from.value.raw) === null) {
      throw ctx.error(
        'ERR_SIEVE_INVALID_VALUE',
        `specified :from address '${from.value.raw}' is invalid for vacation action`,
        from.value,
      );
    }
  }
}

/** The vacation and vacation-seconds extensions. */
export const vacationExtension: SieveExtension = {
  capabilities: ['vacation', 'vacation-seconds'],
  commands: [
    {
      name: 'vacation',
      kind: 'command',
      capability: 'vacation',
      positional: [['string']],
      tags: [
        { name: 'days', arg: 'number' },
        { name: 'seconds', arg: 'number', capability: 'vacation-seconds' },
        { name: 'subject', arg: 'string' },
        { name: 'from', arg: 'string' },
        { name: 'addresses', arg: 'string-list' },
        { name: 'mime' },
        { name: 'handle', arg: 'string' },
      ],
      validate,
      execute: (node, rt) => {
        const days = node.tags.get('days');
        const secs = node.tags.get('seconds');
        let seconds = VACATION_DEFAULT_SECONDS;
        if (days?.kind === 'number') seconds = days.value * DAY;
        else if (secs?.kind === 'number') seconds = secs.value;
        seconds = Math.max(VACATION_MIN_SECONDS, seconds);
        const subject = node.tags.get('subject');
        const from = node.tags.get('from');
        rt.addVacation(node, {
          seconds,
          subject: subject === undefined ? null : rt.expandString(subject),
          from: from === undefined ? null : rt.expandString(from),
          reason: rt.expandString(node.args[0]),
        });
      },
    },
  ],
};

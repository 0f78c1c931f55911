import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParapetError } from '../errors.js';
import {
  milterActionForModification,
  negotiateMilterOptions,
  unsupportedModifications,
} from './negotiate.js';
import { MilterActionFlag as A, MilterProtocolFlag as P } from './wire.js';

/** What Postfix 3.x offers with milter_protocol = 6. */
const POSTFIX_V6 = { version: 6, actions: 0x1ff, protocol: 0x1fffff };

test('v6 with Postfix: all edit actions, skip UNKNOWN (not DATA), leading space, no NR_*', () => {
  const n = negotiateMilterOptions(POSTFIX_V6);
  assert.equal(n.version, 6);
  assert.equal(
    n.actions,
    A.AddHeaders |
      A.ChangeHeaders |
      A.ChangeBody |
      A.AddRecipient |
      A.DeleteRecipient |
      A.AddRecipientWithArgs |
      A.ChangeFrom |
      A.Quarantine,
  );
  assert.equal(n.protocol, P.NoUnknown | P.HeaderLeadingSpace);
  const noReply =
    P.NoReplyHeader |
    P.NoReplyConnect |
    P.NoReplyHelo |
    P.NoReplyMail |
    P.NoReplyRcpt |
    P.NoReplyData |
    P.NoReplyUnknown |
    P.NoReplyEndOfHeaders |
    P.NoReplyBody;
  assert.equal(n.protocol & noReply, 0, 'never asks for no-reply steps');
  assert.equal(n.headerLeadingSpace, true);
  assert.deepEqual(n.reply.symbolLists, []);
});

test('the request is always a subset of the offer (Postfix checks this)', () => {
  const offer = { version: 6, actions: A.AddHeaders | A.ChangeHeaders, protocol: 0 };
  const n = negotiateMilterOptions(offer);
  assert.equal(n.actions & ~offer.actions, 0);
  assert.equal(n.protocol, 0);
  assert.equal(n.headerLeadingSpace, false);
});

test('v2 MTA: version 2, no v6 actions, no UNKNOWN/DATA flags', () => {
  const n = negotiateMilterOptions({ version: 2, actions: 0x1ff, protocol: 0x1fffff });
  assert.equal(n.version, 2);
  assert.equal(n.actions & (A.ChangeFrom | A.AddRecipientWithArgs | A.SetSymbolList), 0);
  assert.equal(n.protocol, 0);
});

test('newer MTA versions are answered with 6', () => {
  assert.equal(negotiateMilterOptions({ version: 8, actions: 0, protocol: 0 }).version, 6);
});

test('version 1 is refused with ERR_MILTER_PROTOCOL', () => {
  assert.throws(
    () => negotiateMilterOptions({ version: 1, actions: 0, protocol: 0 }),
    (e: unknown) => e instanceof ParapetError && e.code === 'ERR_MILTER_PROTOCOL',
  );
});

test('macro lists go with SETSYMLIST only when the MTA allows it', () => {
  const lists = [{ stage: 2 as const, macros: 'i {auth_authen}' }];
  const n = negotiateMilterOptions(POSTFIX_V6, { symbolLists: lists });
  assert.ok((n.actions & A.SetSymbolList) !== 0);
  assert.deepEqual(n.reply.symbolLists, lists);
  const without = negotiateMilterOptions({ ...POSTFIX_V6, actions: 0xff }, { symbolLists: lists });
  assert.deepEqual(without.reply.symbolLists, []);
});

test('leading space can be turned off', () => {
  const n = negotiateMilterOptions(POSTFIX_V6, { headerLeadingSpace: false });
  assert.equal(n.protocol & P.HeaderLeadingSpace, 0);
});

test('modifications map to their SMFIF action', () => {
  assert.equal(
    milterActionForModification({ kind: 'addRecipient', address: 'a@b', args: {} }),
    A.AddRecipient,
  );
  assert.equal(
    milterActionForModification({
      kind: 'addRecipient',
      address: 'a@b',
      args: { NOTIFY: 'NEVER' },
    }),
    A.AddRecipientWithArgs,
  );
  const mods = [
    { kind: 'addHeader', name: 'X', value: 'y' },
    { kind: 'changeSender', address: 'a@b', args: {} },
  ] as const;
  assert.deepEqual(
    unsupportedModifications(mods, { actions: A.AddHeaders }).map((m) => m.kind),
    ['changeSender'],
  );
});

test('noReplyEnvelope asks for SMFIP_NR_CONN/HELO/MAIL/RCPT per stage, never NR_DATA', () => {
  const all = negotiateMilterOptions(POSTFIX_V6, {
    noReplyEnvelope: ['connect', 'helo', 'mailFrom', 'rcptTo'],
  });
  assert.equal(
    all.protocol,
    P.NoUnknown |
      P.HeaderLeadingSpace |
      P.NoReplyConnect |
      P.NoReplyHelo |
      P.NoReplyMail |
      P.NoReplyRcpt,
  );
  assert.equal(all.reply.protocol, all.protocol, 'the OPTNEG reply carries the same flags');
  const some = negotiateMilterOptions(POSTFIX_V6, { noReplyEnvelope: ['helo', 'rcptTo'] });
  assert.equal(some.protocol & (P.NoReplyConnect | P.NoReplyMail), 0);
  assert.equal(some.protocol & (P.NoReplyHelo | P.NoReplyRcpt), P.NoReplyHelo | P.NoReplyRcpt);
  const both = negotiateMilterOptions(POSTFIX_V6, {
    noReplyContent: true,
    noReplyEnvelope: ['connect', 'helo', 'mailFrom', 'rcptTo'],
  });
  assert.equal(both.protocol & (P.NoReplyData | P.NoReplyUnknown | P.NoData), 0);
});

test('noReplyEnvelope: only flags the MTA offers, and none below v6', () => {
  const offer = { version: 6, actions: 0x1ff, protocol: P.NoReplyRcpt | P.NoReplyHeader };
  const n = negotiateMilterOptions(offer, {
    noReplyEnvelope: ['connect', 'helo', 'mailFrom', 'rcptTo'],
  });
  assert.equal(n.protocol, P.NoReplyRcpt);
  const v4 = negotiateMilterOptions(
    { version: 4, actions: 0x1ff, protocol: 0x1fffff },
    { noReplyEnvelope: ['connect', 'helo', 'mailFrom', 'rcptTo'] },
  );
  assert.equal(v4.protocol & (P.NoReplyConnect | P.NoReplyHelo | P.NoReplyMail | P.NoReplyRcpt), 0);
});

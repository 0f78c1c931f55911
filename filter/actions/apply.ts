/**
 * Applies a Verdict's Modifications to a Message, for the SMTP content-filter path (the milter
 * path sends them to the MTA as SMFIR_* replies instead). Called once per accepted message,
 * after pipeline.run() and before re-injection.
 *
 * Ownership: header and envelope changes are made in place (HeaderList and Envelope are
 * mutable by design). The body spool is sealed and read-only, so `replaceBody` builds a new
 * BodySpool and the result is a new Message sharing id, envelope, headers and receive time
 * with the input. The caller then owns both: it disposes the input Message as always, and the
 * returned one too when it is a different object (`result !== message`).
 *
 * Modifications are validated before anything is changed, so a bad list (a header name with
 * a colon, a value that would inject a new header line) fails as a whole with
 * ERR_MODIFICATION_INVALID and the adapter tempfails: nothing is half applied (STYLE.md B5.8).
 */
import { ParapetError, toParapetError } from '../errors.js';
import { BodySpool, type BodySpoolOptions } from '../message/body-spool.js';
import { stripAngleBrackets, type Envelope } from '../message/envelope.js';
import { Message } from '../message/message.js';
import type { Modification } from './verdict.js';

export interface ApplyModificationsOptions {
  /** Options for the new body spool a `replaceBody` creates. */
  readonly spool?: BodySpoolOptions;
}

/**
 * Applies `modifications` in list order and returns the message to deliver: the same object
 * when no body was replaced, else a new Message with a new sealed BodySpool (see the file
 * header for ownership). Throws ParapetError ERR_MODIFICATION_INVALID for an invalid
 * modification (before changing anything) and ERR_SPOOL_IO when the new body cannot be
 * spooled; the new spool is disposed in that case.
 */
export async function applyModifications(
  message: Message,
  modifications: readonly Modification[],
  options: ApplyModificationsOptions = {},
): Promise<Message> {
  for (const modification of modifications) validateModification(modification);
  let replacement: Buffer | null = null;
  for (const modification of modifications) {
    switch (modification.kind) {
      case 'addHeader':
        message.headers.append(modification.name, normalizeFolding(modification.value));
        break;
      case 'insertHeader':
        message.headers.insert(
          modification.index,
          modification.name,
          normalizeFolding(modification.value),
        );
        break;
      case 'changeHeader':
        // Milter semantics (SMFIR_CHGHEADER): a missing occurrence is not an error.
        message.headers.change(
          modification.name,
          modification.occurrence,
          modification.value === null ? null : normalizeFolding(modification.value),
        );
        break;
      case 'addRecipient':
        addRecipient(message.envelope, modification.address, modification.args);
        break;
      case 'deleteRecipient':
        deleteRecipient(message.envelope, modification.address);
        break;
      case 'changeSender':
        message.envelope.mailFrom = {
          address: stripAngleBrackets(modification.address),
          args: modification.args,
        };
        break;
      case 'replaceBody':
        // Only the last replacement matters; the spool is built once, after the loop.
        replacement = modification.body;
        break;
    }
  }
  if (replacement === null) return message;
  const body = new BodySpool(options.spool ?? {});
  try {
    await body.write(toCrlf(replacement));
    await body.seal();
  } catch (err) {
    await body.dispose();
    throw toParapetError('ERR_SPOOL_IO', err);
  }
  return new Message({
    id: message.id,
    envelope: message.envelope,
    headers: message.headers,
    body,
    receivedAtMs: message.receivedAtMs,
  });
}

/** RFC 5322 §3.6.8 field-name: printable ASCII except colon. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

function validateModification(modification: Modification): void {
  switch (modification.kind) {
    case 'addHeader':
    case 'insertHeader':
    case 'changeHeader':
      if (!FIELD_NAME.test(modification.name)) {
        throw invalid(`bad header field name ${JSON.stringify(modification.name.slice(0, 64))}`);
      }
      if (modification.value !== null && !isSafeHeaderValue(modification.value)) {
        throw invalid(`header ${modification.name} value would break the header block`);
      }
      if (modification.kind === 'changeHeader' && !(modification.occurrence >= 1)) {
        throw invalid('changeHeader occurrence must be 1 or more');
      }
      break;
    case 'addRecipient':
    case 'deleteRecipient':
    case 'changeSender':
      if (/[\x00-\x20<>]/.test(stripAngleBrackets(modification.address))) {
        throw invalid(`bad address ${JSON.stringify(modification.address.slice(0, 64))}`);
      }
      if (modification.kind === 'addRecipient' && stripAngleBrackets(modification.address) === '') {
        throw invalid('empty recipient address');
      }
      break;
    case 'replaceBody':
      break;
  }
}

/**
 * A value may span lines only as folding: every line break must be followed by a space or tab
 * (RFC 5322 §2.2.3). Anything else would inject a new header field or end the header block.
 */
function isSafeHeaderValue(value: string): boolean {
  if (value.includes('\0')) return false;
  // Every line break must be folding: followed by a space or tab. A CRLF is one break (a
  // single regex with a lookahead would backtrack to the bare CR and refuse every folded value).
  const breaks = /\r\n|\r|\n/g;
  for (let m = breaks.exec(value); m !== null; m = breaks.exec(value)) {
    const next = value[m.index + m[0].length];
    if (next !== ' ' && next !== '\t') return false;
  }
  return !/(\r\n|\r|\n)[ \t]*$/.test(value);
}

/** Folding with bare LF or CR becomes CRLF folding, as on the wire. */
function normalizeFolding(value: string): string {
  return value.replace(/\r\n|\r|\n/g, '\r\n');
}

/** Bare LF (and bare CR) line ends in a replacement body become CRLF. */
function toCrlf(body: Buffer): Buffer {
  if (!body.includes(0x0a) && !body.includes(0x0d)) return body;
  const text = body.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  return Buffer.from(text, 'latin1');
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function addRecipient(
  envelope: Envelope,
  address: string,
  args: Envelope['recipients'][number]['args'],
): void {
  const bare = stripAngleBrackets(address);
  // Adding a recipient that is already there would deliver the message twice.
  if (envelope.recipients.some((r) => sameAddress(r.address, bare))) return;
  envelope.recipients.push({ address: bare, args });
}

function deleteRecipient(envelope: Envelope, address: string): void {
  const bare = stripAngleBrackets(address);
  envelope.recipients = envelope.recipients.filter((r) => !sameAddress(r.address, bare));
}

function invalid(text: string): ParapetError {
  return new ParapetError('ERR_MODIFICATION_INVALID', `invalid modification: ${text}`);
}

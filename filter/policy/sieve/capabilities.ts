/**
 * The capability table: every extension the engine offers, in one list. Adding an extension
 * means adding its file in extensions/ and one line here.
 */
import type { SieveExtension } from './extension-api.js';
import { bodyExtension } from './extensions/body.js';
import { copyExtension } from './extensions/copy.js';
import { coreExtension } from './extensions/core.js';
import { dateExtension } from './extensions/date.js';
import { duplicateExtension } from './extensions/duplicate.js';
import { editheaderExtension } from './extensions/editheader.js';
import { encodedCharacterExtension } from './extensions/encoded-character.js';
import { envelopeExtension } from './extensions/envelope.js';
import { fileintoExtension } from './extensions/fileinto.js';
import { ihaveExtension } from './extensions/ihave.js';
import { imap4flagsExtension } from './extensions/imap4flags.js';
import { includeExtension } from './extensions/include.js';
import { regexExtension } from './extensions/regex.js';
import { rejectExtension } from './extensions/reject.js';
import { relationalExtension } from './extensions/relational.js';
import { spamtestExtension } from './extensions/spamtest.js';
import { subaddressExtension } from './extensions/subaddress.js';
import { vacationExtension } from './extensions/vacation.js';
import { variablesExtension } from './extensions/variables.js';

/** All extensions, base language first. */
export const SIEVE_EXTENSIONS: readonly SieveExtension[] = Object.freeze([
  coreExtension,
  fileintoExtension,
  rejectExtension,
  envelopeExtension,
  encodedCharacterExtension,
  variablesExtension,
  relationalExtension,
  subaddressExtension,
  bodyExtension,
  imap4flagsExtension,
  copyExtension,
  regexExtension,
  editheaderExtension,
  spamtestExtension,
  dateExtension,
  vacationExtension,
  ihaveExtension,
  includeExtension,
  duplicateExtension,
]);

/**
 * Capabilities offered but disabled by default because Pigeonhole (the reference) does not
 * offer them either: `ereject` is not in Pigeonhole 2.3.
 */
export const SIEVE_DEFAULT_DISABLED: readonly string[] = Object.freeze(['ereject']);

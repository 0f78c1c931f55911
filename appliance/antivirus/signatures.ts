/**
 * Parapet's shipped signature database: the EICAR anti-virus test file, so a fresh node detects
 * it without downloading ClamAV's databases (and clamd, which refuses to start with no database
 * at all, has one). Written into the database directory at every start, so an upgrade replaces it.
 *
 * Two formats (ClamAV "Creating signatures" docs): an extended signature (.ndb) matching the
 * 68 EICAR bytes anywhere in any file clamd extracts (a mail body, an attachment, an archive
 * member), and a hash signature (.hdb, MD5:size:name) for the exact EICAR file.
 */

/** The EICAR test string (eicar.org), the 68 bytes every anti-virus engine detects. */
export const EICAR_TEST_STRING =
  'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

/** Signature name; clamd reports it with ".UNOFFICIAL" appended (not from a signed .cvd). */
export const EICAR_SIGNATURE_NAME = 'Parapet.Test.EICAR';

/** The shipped database files: name → content. */
export function shippedSignatureFiles(): ReadonlyMap<string, string> {
  const hex = Buffer.from(EICAR_TEST_STRING, 'latin1').toString('hex');
  return new Map([
    // Name:TargetType:Offset:HexSignature — target 0 = any file type, offset * = anywhere.
    ['parapet-eicar.ndb', `${EICAR_SIGNATURE_NAME}:0:*:${hex}\n`],
    // MD5:FileSize:Name of the 68-byte EICAR file.
    ['parapet-eicar.hdb', `44d88612fea8a8f36de82e1278abb02f:68:${EICAR_SIGNATURE_NAME}.File\n`],
  ]);
}

/**
 * A bounded reader for zip archives (PKWARE APPNOTE 6.3.10): the central directory's entries
 * with their flags — encryption (bit 0, or method 99 for WinZip AES) is what fflate does not
 * expose — and, on request, a member's bytes inflated into a buffer no larger than the caller's
 * limit. Pure, never throws: a malformed archive is a value.
 */
import { inflateSync } from 'fflate';

export interface ZipEntry {
  readonly name: string;
  readonly encrypted: boolean;
  /** 0 stored, 8 deflate, 99 AES, …. */
  readonly method: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localHeaderOffset: number;
  readonly isDirectory: boolean;
}

export type ZipListing =
  | { readonly kind: 'ok'; readonly entries: readonly ZipEntry[]; readonly truncated: boolean }
  | { readonly kind: 'corrupt'; readonly reason: string };

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const AES_METHOD = 99;

/** Lists up to `maxEntries` entries of the archive in `bytes`. */
export function listZipEntries(bytes: Uint8Array, maxEntries: number): ZipListing {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The end-of-central-directory record is 22 bytes plus a comment of up to 65 535.
  let eocd = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 65_535); at--) {
    if (view.getUint32(at, true) === EOCD_SIGNATURE) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) return { kind: 'corrupt', reason: 'no end of central directory' };
  const count = view.getUint16(eocd + 10, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  if (cdOffset === 0xffffffff || count === 0xffff) {
    return { kind: 'corrupt', reason: 'zip64 archives are not inspected' };
  }
  const entries: ZipEntry[] = [];
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    if (entries.length >= maxEntries) return { kind: 'ok', entries, truncated: true };
    if (at + 46 > bytes.length || view.getUint32(at, true) !== CENTRAL_SIGNATURE) {
      return { kind: 'corrupt', reason: `central directory entry ${String(i)} is malformed` };
    }
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const compressedSize = view.getUint32(at + 20, true);
    const uncompressedSize = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const localHeaderOffset = view.getUint32(at + 42, true);
    const nameBytes = bytes.subarray(at + 46, at + 46 + nameLength);
    if (nameBytes.length !== nameLength) {
      return { kind: 'corrupt', reason: 'central directory name runs past the end' };
    }
    // Bit 11: the name is UTF-8; otherwise CP437, of which latin1 keeps the ASCII part right.
    const name = Buffer.from(nameBytes).toString((flags & 0x0800) !== 0 ? 'utf8' : 'latin1');
    entries.push({
      name,
      encrypted: (flags & 0x0001) !== 0 || method === AES_METHOD,
      method,
      compressedSize,
      uncompressedSize,
      localHeaderOffset,
      isDirectory: name.endsWith('/'),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return { kind: 'ok', entries, truncated: false };
}

/**
 * The first `maxBytes` (at most) of an entry's content, or null when it cannot be read
 * (encrypted, unknown method, malformed). Inflates into a buffer of at most maxBytes, so a
 * member that lies about its size (a zip bomb) costs no more memory than the limit.
 */
export function readZipEntry(
  bytes: Uint8Array,
  entry: ZipEntry,
  maxBytes: number,
): Uint8Array | null {
  if (entry.encrypted || entry.isDirectory) return null;
  const at = entry.localHeaderOffset;
  if (at + 30 > bytes.length) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(at, true) !== LOCAL_SIGNATURE) return null;
  const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
  const data = bytes.subarray(start, Math.min(bytes.length, start + entry.compressedSize));
  const want = Math.min(maxBytes, entry.uncompressedSize);
  if (entry.method === 0) return data.subarray(0, want);
  if (entry.method !== 8) return null;
  if (want === 0) return new Uint8Array(0);
  try {
    // fflate stops writing when `out` is full (it truncates), which is the bound we want.
    return inflateSync(data, { out: new Uint8Array(want) });
  } catch {
    return null;
  }
}

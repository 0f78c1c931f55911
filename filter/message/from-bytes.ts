/**
 * A Message from stored bytes rather than from an MTA: message files given to the CLI
 * (CONTRACTS.md: an optional leading mbox `From ` line, LF or CRLF line ends), quarantined
 * and queued messages. The body stays in memory unless a spool directory is given.
 */
import { BodySpool } from './body-spool.js';
import { createEnvelope } from './envelope.js';
import { parseHeaderBlock } from './header-list.js';
import { Message } from './message.js';
import { newParapetId } from './message-id.js';

/** Message file bytes made wire-ready, and the sender of a leading mbox line. */
export interface NormalizedMessageBytes {
  /** CRLF line ends, without the mbox line. */
  readonly raw: Buffer;
  /** The address of a leading mbox `From ` line ("" for MAILER-DAEMON), or null. */
  readonly mboxSender: string | null;
}

/** Drops a leading mbox `From ` line and turns bare LF into CRLF (one pass, one copy at most). */
export function normalizeMessageBytes(file: Uint8Array): NormalizedMessageBytes {
  const bytes = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  let start = 0;
  let mboxSender: string | null = null;
  if (bytes.subarray(0, 5).toString('latin1') === 'From ') {
    const lf = bytes.indexOf(0x0a);
    start = lf < 0 ? bytes.length : lf + 1;
    const line = bytes.subarray(5, lf < 0 ? bytes.length : lf).toString('latin1');
    const sender = line.trim().split(/\s+/)[0] ?? '';
    mboxSender = sender === 'MAILER-DAEMON' ? '' : sender;
  }
  let bare = 0;
  for (let i = bytes.indexOf(0x0a, start); i >= 0; i = bytes.indexOf(0x0a, i + 1)) {
    if (i === start || bytes[i - 1] !== 0x0d) bare++;
  }
  if (bare === 0) return { raw: bytes.subarray(start), mboxSender };
  const out = Buffer.allocUnsafe(bytes.length - start + bare);
  let o = 0;
  let from = start;
  for (let i = bytes.indexOf(0x0a, start); i >= 0; i = bytes.indexOf(0x0a, i + 1)) {
    if (i === start || bytes[i - 1] !== 0x0d) {
      o += bytes.copy(out, o, from, i);
      out[o++] = 0x0d;
      from = i;
    }
  }
  o += bytes.copy(out, o, from);
  return { raw: out.subarray(0, o), mboxSender };
}

export interface MessageFromBytesOptions {
  /** Envelope sender ("" = null sender); default the mbox sender, else "". */
  readonly from?: string;
  readonly to?: readonly string[];
  readonly clientAddress?: string | null;
  /** Message id; default a new Parapet id. */
  readonly id?: string;
  /** Spool bodies larger than spoolMemoryBytes here; default: keep in memory. */
  readonly spoolDir?: string;
  readonly spoolMemoryBytes?: number;
}

/** Builds a sealed Message from message bytes (normalised first). */
export async function messageFromBytes(
  file: Uint8Array,
  options: MessageFromBytesOptions = {},
): Promise<Message> {
  const { raw, mboxSender } = normalizeMessageBytes(file);
  const sep = raw.indexOf('\r\n\r\n');
  const headerEnd = sep < 0 ? raw.length : sep + 2;
  const headers = parseHeaderBlock(raw.subarray(0, headerEnd));
  const body = new BodySpool({
    spoolMemoryBytes: options.spoolMemoryBytes ?? Number.MAX_SAFE_INTEGER,
    ...(options.spoolDir === undefined ? {} : { spoolDir: options.spoolDir }),
  });
  if (sep >= 0) await body.write(raw.subarray(sep + 4));
  await body.seal();
  const envelope = createEnvelope({ address: options.clientAddress ?? null });
  envelope.mailFrom = { address: options.from ?? mboxSender ?? '', args: {} };
  envelope.recipients = (options.to ?? []).map((address) => ({ address, args: {} }));
  return new Message({ id: options.id ?? newParapetId(), envelope, headers, body });
}

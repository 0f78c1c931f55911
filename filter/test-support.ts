/**
 * Helpers shared by filter/ tests (not part of the public API): build a Message from raw bytes
 * the way an adapter would, and temp directories that clean up after themselves.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BodySpool } from './message/body-spool.js';
import { createEnvelope, type Envelope } from './message/envelope.js';
import { parseHeaderBlock } from './message/header-list.js';
import { Message } from './message/message.js';
import { newParapetId } from './message/message-id.js';

/** Splits raw CRLF bytes at the first empty line into a Message with a sealed body. */
export async function messageFromRaw(
  raw: Buffer | string,
  envelope: Partial<Envelope> = {},
  spoolMemoryBytes?: number,
): Promise<Message> {
  const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw;
  const sep = bytes.indexOf('\r\n\r\n');
  const headerEnd = sep < 0 ? bytes.length : sep + 2;
  const headers = parseHeaderBlock(bytes.subarray(0, headerEnd));
  const body = new BodySpool(spoolMemoryBytes === undefined ? {} : { spoolMemoryBytes });
  if (sep >= 0) await body.write(bytes.subarray(sep + 4));
  await body.seal();
  const env = { ...createEnvelope({ address: '192.0.2.1' }), ...envelope };
  return new Message({ id: newParapetId(), envelope: env, headers, body });
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'parapet-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

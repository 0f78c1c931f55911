/**
 * A Message from a message file as the CLI accepts them (CONTRACTS.md): an optional leading
 * mbox `From ` line, LF or CRLF line ends. Used by `parapet learn`, benchmarks and tests.
 */
import { messageFromBytes } from '../../message/from-bytes.js';
import type { Message } from '../../message/message.js';

/** Builds a Message (sealed in-memory body, a placeholder envelope) from message file bytes. */
export function messageFromFileBytes(file: Uint8Array): Promise<Message> {
  return messageFromBytes(file, { clientAddress: '127.0.0.1' });
}

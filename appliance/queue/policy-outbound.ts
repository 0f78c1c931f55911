/**
 * Messages the policy asks to send (redirect, copyto, vacation, sendnotice) go into the
 * outbound queue durably before the MTA hears about the original, so none is lost; their
 * keys derive from the MTA's queue id, so an MTA retry of the same message queues nothing new.
 */
import type { Message, OutboundMessage } from '../../filter/index.js';
import type { OutboundKind, OutboundQueue } from './outbound-queue.js';

const KIND: Record<OutboundMessage['kind'], OutboundKind> = {
  redirect: 'redirect',
  copy: 'forward',
  vacation: 'vacation',
  notice: 'notice',
};

/** The bytes of one outbound message: the original as received, or the composed one. */
export async function outboundBytes(message: Message, out: OutboundMessage): Promise<Buffer> {
  if (out.content.kind === 'original') return message.toBuffer();
  const head = out.content.headers
    .map((h) => `${h.name}: ${h.value.replace(/\r?\n(?![ \t])/g, ' ')}\r\n`)
    .join('');
  const body = out.content.text.replace(/\r?\n/g, '\r\n');
  return Buffer.from(`${head}\r\n${body.endsWith('\r\n') ? body : `${body}\r\n`}`, 'utf8');
}

export async function enqueuePolicyOutbound(
  queue: OutboundQueue,
  message: Message,
  outbound: readonly OutboundMessage[],
): Promise<void> {
  const origin = message.envelope.queueId ?? message.id;
  for (const [index, out] of outbound.entries()) {
    if (out.recipients.length === 0) continue;
    await queue.enqueue({
      kind: KIND[out.kind],
      from: out.sender,
      to: out.recipients,
      raw: await outboundBytes(message, out),
      origin: message.id,
      key: `policy:${origin}:${String(index)}:${out.kind}:${out.recipients.join(',')}`,
    });
  }
}

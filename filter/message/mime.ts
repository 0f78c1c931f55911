/**
 * Lazy MIME view of a message: parsed with postal-mime on first use only, so the hot path that
 * needs no MIME structure never pays for a full decode.
 */
import PostalMime from 'postal-mime';

export interface MimeAttachment {
  readonly filename: string | null;
  readonly mimeType: string;
  readonly disposition: string | null;
  readonly size: number;
  readonly content: Uint8Array;
}

export interface MimeView {
  readonly subject: string | null;
  readonly text: string | null;
  readonly html: string | null;
  readonly attachments: readonly MimeAttachment[];
}

export async function parseMime(raw: Buffer): Promise<MimeView> {
  const parsed = await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer' });
  return {
    subject: parsed.subject ?? null,
    text: parsed.text ?? null,
    html: parsed.html ?? null,
    attachments: parsed.attachments.map((a) => {
      const content =
        typeof a.content === 'string' ? Buffer.from(a.content) : new Uint8Array(a.content);
      return {
        filename: a.filename ?? null,
        mimeType: a.mimeType,
        disposition: a.disposition ?? null,
        size: content.byteLength,
        content,
      };
    }),
  };
}

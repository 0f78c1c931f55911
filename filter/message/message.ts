/**
 * Message = Envelope + HeaderList + BodySpool + a lazy MIME view. The one message model of the
 * data plane (STYLE.md B1.2): built by a protocol adapter, read by scanners and policy, changed
 * only through Modifications (filter/actions).
 */
import { Readable } from 'node:stream';
import type { Envelope } from './envelope.js';
import { HeaderList } from './header-list.js';
import { BodySpool } from './body-spool.js';
import { parseMime, type MimeView } from './mime.js';

const CRLF = Buffer.from('\r\n');

export class Message {
  /** The Parapet id (message-log key, X-Parapet-Id). */
  readonly id: string;
  readonly envelope: Envelope;
  readonly headers: HeaderList;
  readonly body: BodySpool;
  /** When the adapter started receiving the message (ms since the epoch). */
  readonly receivedAtMs: number;
  #mime: Promise<MimeView> | null = null;
  #raw: Promise<Buffer> | null = null;

  constructor(init: {
    id: string;
    envelope: Envelope;
    headers?: HeaderList;
    body: BodySpool;
    receivedAtMs?: number;
  }) {
    this.id = init.id;
    this.envelope = init.envelope;
    this.headers = init.headers ?? new HeaderList();
    this.body = init.body;
    this.receivedAtMs = init.receivedAtMs ?? Date.now();
  }

  /** Header bytes + empty line + body bytes. */
  get size(): number {
    return this.headers.byteLength + 2 + this.body.size;
  }

  /** The whole message as a stream: header block, CRLF, body. The body spool must be sealed. */
  toStream(): Readable {
    const head = Buffer.concat([this.headers.toBuffer(), Buffer.from('\r\n')]);
    const body = this.body;
    return Readable.from(
      (async function* () {
        yield head;
        for await (const chunk of body.stream()) yield chunk as Buffer;
      })(),
      { objectMode: false },
    );
  }

  /**
   * The whole message as pieces (header block, CRLF, body chunks) when the body is in memory,
   * else null (use toStream()). No copies; read-only.
   */
  memoryPieces(): readonly Buffer[] | null {
    const body = this.body.memoryChunks();
    if (body === null) return null;
    return [this.headers.toBuffer(), CRLF, ...body];
  }

  /**
   * The whole message in memory, a fresh copy on every call. Only for bounded sizes (tests,
   * callers that change the bytes); readers of a sealed message use raw().
   */
  async toBuffer(): Promise<Buffer> {
    const pieces = this.memoryPieces();
    if (pieces !== null) return Buffer.concat(pieces);
    return Buffer.concat([this.headers.toBuffer(), CRLF, await this.body.toBuffer()]);
  }

  /**
   * The sealed message as one buffer, built on first call (one copy when the body is in
   * memory) and shared by every later caller: the MIME parser and the policy read the same
   * bytes instead of each copying the message. Read-only; call only once the body is sealed.
   */
  raw(): Promise<Buffer> {
    this.#raw ??= this.toBuffer();
    return this.#raw;
  }

  /** The MIME structure, parsed on first call and cached. */
  mime(): Promise<MimeView> {
    this.#mime ??= this.raw().then(parseMime);
    return this.#mime;
  }

  /** Releases the body (temp file). */
  async dispose(): Promise<void> {
    await this.body.dispose();
  }
}

/**
 * Incremental milter frame decoder: bytes in, frames out, no I/O (STYLE.md B9.1).
 *
 * A frame is `uint32 length | code | payload` with `length` = 1 + payload bytes. The decoder
 * reads the four length bytes first and checks them against `maxFrameBytes` before it keeps
 * a single payload byte, so a peer announcing 4 GiB costs us nothing (the go-milter
 * `readPacket` lesson, STYLE.md B10). Only after the check does it allocate exactly the
 * announced size. A length of 0 is invalid (there must be a code byte). A frame that lies whole
 * in one pushed chunk is handed out as a view of it, without a copy.
 *
 * After `tooLarge` or `invalid` the stream cannot be resynchronised: the decoder stays in
 * that state and the caller must close the connection.
 */
import type { MilterFrame } from './wire.js';

/** What `next()` found. */
export type MilterFrameResult =
  | { readonly kind: 'frame'; readonly frame: MilterFrame }
  /** Not enough bytes yet; push more. */
  | { readonly kind: 'incomplete' }
  /** The announced length is over the limit; nothing of the payload was buffered. */
  | { readonly kind: 'tooLarge'; readonly announcedBytes: number; readonly maxFrameBytes: number }
  /** The announced length is 0. */
  | { readonly kind: 'invalid'; readonly reason: string };

export interface MilterFrameDecoderOptions {
  /** Largest accepted frame (code byte + payload), in bytes. */
  readonly maxFrameBytes: number;
}

export class MilterFrameDecoder {
  readonly #maxFrameBytes: number;
  /** Chunks pushed but not yet consumed (a queue of views, not copies). */
  #queue: Buffer[] = [];
  #queued = 0;
  /** The length prefix, collected byte by byte across chunk boundaries. */
  readonly #lengthBytes = Buffer.alloc(4);
  #lengthHave = 0;
  /** The frame being filled (code + payload), allocated only after the length check. */
  #frame: Buffer | null = null;
  #frameHave = 0;
  #failed: MilterFrameResult | null = null;

  constructor(options: MilterFrameDecoderOptions) {
    if (!Number.isInteger(options.maxFrameBytes) || options.maxFrameBytes < 1) {
      throw new RangeError('maxFrameBytes must be a positive integer');
    }
    this.#maxFrameBytes = options.maxFrameBytes;
  }

  /**
   * Bytes held by the decoder: queued input plus the partly filled frame. Bounded by what the
   * caller pushed since the last `next()` drain plus one frame of at most `maxFrameBytes`.
   */
  get bufferedBytes(): number {
    return this.#queued + (this.#frame === null ? 0 : this.#frameHave);
  }

  /** Queues bytes read from the socket. Call `next()` until it answers `incomplete`. */
  push(chunk: Buffer): void {
    if (this.#failed !== null || chunk.length === 0) return;
    this.#queue.push(chunk);
    this.#queued += chunk.length;
  }

  /** Returns the next complete frame, or why there is none. Never throws. */
  next(): MilterFrameResult {
    if (this.#failed !== null) return this.#failed;
    // Fast path: the next frame lies whole inside the first queued chunk (the usual case, one
    // read holding one or more frames). It is returned as a view of that chunk, no copy.
    const head = this.#queue[0];
    if (this.#frame === null && this.#lengthHave === 0 && head !== undefined && head.length >= 4) {
      const length = head.readUInt32BE(0);
      if (length !== 0 && length <= this.#maxFrameBytes && head.length >= 4 + length) {
        const end = 4 + length;
        if (end === head.length) this.#queue.shift();
        else this.#queue[0] = head.subarray(end);
        this.#queued -= end;
        return {
          kind: 'frame',
          frame: { code: head[4] ?? 0, payload: head.subarray(5, end) },
        };
      }
    }
    for (;;) {
      if (this.#frame === null) {
        if (!this.#fillLength()) return { kind: 'incomplete' };
        const length = this.#lengthBytes.readUInt32BE(0);
        if (length === 0) return this.#fail({ kind: 'invalid', reason: 'zero frame length' });
        if (length > this.#maxFrameBytes) {
          return this.#fail({
            kind: 'tooLarge',
            announcedBytes: length,
            maxFrameBytes: this.#maxFrameBytes,
          });
        }
        // Every byte is filled from the stream before the frame is handed out.
        this.#frame = Buffer.allocUnsafe(length);
        this.#frameHave = 0;
      }
      if (!this.#fillFrame()) return { kind: 'incomplete' };
      const frame = this.#frame;
      this.#frame = null;
      this.#lengthHave = 0;
      return { kind: 'frame', frame: { code: frame[0] ?? 0, payload: frame.subarray(1) } };
    }
  }

  #fail(result: MilterFrameResult): MilterFrameResult {
    this.#failed = result;
    this.#queue = [];
    this.#queued = 0;
    this.#frame = null;
    return result;
  }

  /** Moves up to `want` bytes from the queue into `target` at `offset`; returns the count. */
  #take(target: Buffer, offset: number, want: number): number {
    let copied = 0;
    while (copied < want && this.#queue.length > 0) {
      const head = this.#queue[0];
      if (head === undefined) break;
      const n = Math.min(head.length, want - copied);
      head.copy(target, offset + copied, 0, n);
      copied += n;
      this.#queued -= n;
      if (n === head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(n);
    }
    return copied;
  }

  #fillLength(): boolean {
    this.#lengthHave += this.#take(this.#lengthBytes, this.#lengthHave, 4 - this.#lengthHave);
    return this.#lengthHave === 4;
  }

  #fillFrame(): boolean {
    const frame = this.#frame;
    if (frame === null) return false;
    this.#frameHave += this.#take(frame, this.#frameHave, frame.length - this.#frameHave);
    return this.#frameHave === frame.length;
  }
}

/**
 * Pure, incremental reader of the SMTP DATA stream (RFC 5321 §4.1.1.4, §4.5.2): bytes in,
 * dot-unstuffed message content out, split into the header block (parsed into a HeaderList
 * with raw bytes kept) and body chunks. Works with any chunking; holds at most one byte (a CR
 * after a line-leading dot) between chunks plus the header block, which is bounded by
 * `maxHeaderBytes`. No sockets, no timers, no file system.
 *
 * SMTP smuggling (decision note filter/decisions/0002-smtp-smuggling.md):
 * - The end of data is only CR LF "." CR LF, where the first CR LF is the end of the previous
 *   line (or of the DATA command). `\n.\n`, `\r.\r`, `\n.\r\n`, `\r\n.\r` and friends are never
 *   an end marker; they stay content.
 * - A bare LF (LF not preceded by CR) anywhere in the data makes the message refused at the end
 *   of data (550 5.6.0, RFC 5321 §2.3.8 forbids bare LF in SMTP). Postfix's smtp(8) client
 *   writes every line with CR LF, so a bare LF here never comes from the MTA we serve; refusing
 *   rather than normalising means no byte sequence can make us and the re-injection MTA see
 *   different message boundaries.
 * - A bare CR is passed through as content (Postfix itself stores and forwards it as a byte
 *   within a line, so refusing it would bounce mail Postfix accepted). It is never treated as a
 *   line end; its count is reported so a scanner or policy may act on it.
 *
 * Limits never break the conversation: once over `maxMessageBytes`, `maxHeaderBytes` or
 * `maxDataLineBytes` (or after a bare LF) the reader stops producing content but keeps scanning
 * for the end marker, so the session can answer at the end of data (552 5.3.4 for size, RFC
 * 1870 §6.3 / RFC 5321 §4.5.3.1.10) and read the next command.
 */
import { HeaderList, parseHeaderBlock } from '../message/header-list.js';

/** Limits of one DATA stream, in bytes (after dot-unstuffing). */
export interface DataReaderOptions {
  /** Whole message: header block + empty line + body. */
  readonly maxMessageBytes: number;
  /** Header block up to the empty line. */
  readonly maxHeaderBytes: number;
  /** One line including its CRLF (RFC 5321 §4.5.3.1.6 says 1000; MTAs send longer). */
  readonly maxDataLineBytes: number;
}

/** Why a message that ended correctly must still be refused. First problem wins. */
export type DataProblem = 'bareLf' | 'tooLarge' | 'headerTooLarge' | 'lineTooLong';

export type DataReaderEvent =
  /** Once per message, when the empty line after the headers (or the end of data) is reached. */
  | { readonly kind: 'headers'; readonly headers: HeaderList; readonly headerBytes: number }
  /** Body bytes after the empty line, in order; subarrays of the caller's chunks. */
  | { readonly kind: 'body'; readonly bytes: Buffer };

export interface DataReaderStep {
  readonly events: readonly DataReaderEvent[];
  /** True once the end marker was read. */
  readonly done: boolean;
  /** Bytes after the end marker (pipelined commands); empty unless done. */
  readonly rest: Buffer;
}

export interface DataReaderSummary {
  /** Content bytes after unstuffing, counted even past the limits. */
  readonly messageBytes: number;
  readonly bareCrCount: number;
  readonly problem: DataProblem | null;
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CR_BUFFER = Buffer.from([CR]);
const EMPTY = Buffer.alloc(0);

/** Position in the current line of the DATA stream (raw, before unstuffing). */
type LineState = 'start' | 'dot' | 'dotCr' | 'text' | 'cr';
/** Position in the header block of the unstuffed content. */
type HeaderState = 'lineStart' | 'lineStartCr' | 'text';

/**
 * One DATA stream. Create one per message after answering 354; call push() with each chunk
 * until it reports `done`. Never throws.
 */
export class SmtpDataReader {
  readonly #options: DataReaderOptions;
  #line: LineState = 'start';
  #lineBytes = 0;
  #done = false;
  #messageBytes = 0;
  #bareCr = 0;
  #problem: DataProblem | null = null;
  #inHeaders = true;
  #header: HeaderState = 'lineStart';
  #headerChunks: Buffer[] = [];
  #headerBytes = 0;
  #events: DataReaderEvent[] = [];

  constructor(options: DataReaderOptions) {
    this.#options = options;
  }

  get done(): boolean {
    return this.#done;
  }

  get summary(): DataReaderSummary {
    return {
      messageBytes: this.#messageBytes,
      bareCrCount: this.#bareCr,
      problem: this.#problem,
    };
  }

  /** Reads one chunk. After `done`, further calls return the chunk unread as `rest`. */
  push(chunk: Buffer): DataReaderStep {
    if (this.#done) return { events: [], done: true, rest: chunk };
    this.#events = [];
    const n = chunk.length;
    let emitFrom = 0;
    let i = 0;
    let nextCr = -1;
    let nextLf = -1;
    while (i < n) {
      const b = chunk[i] as number;
      switch (this.#line) {
        case 'start':
          if (b === DOT) {
            // A line-leading dot is either the end marker or a stuffed dot: never content.
            this.#emit(chunk, emitFrom, i);
            emitFrom = i + 1;
            this.#line = 'dot';
            this.#lineBytes = 1;
            i++;
            continue;
          }
          this.#line = 'text';
          continue;
        case 'dot':
          if (b === CR) {
            // Hold this CR: if LF follows, ".CRLF" ends the data; otherwise it is content.
            this.#line = 'dotCr';
            i++;
            emitFrom = i;
            continue;
          }
          this.#line = 'text';
          continue;
        case 'dotCr':
          if (b === LF) {
            this.#finish();
            return { events: this.#events, done: true, rest: chunk.subarray(i + 1) };
          }
          this.#content(CR_BUFFER);
          this.#line = 'cr';
          continue;
        case 'cr':
          if (b === LF) {
            this.#line = 'start';
            if (this.#lineOverLimit()) {
              this.#emit(chunk, emitFrom, i);
              emitFrom = i;
              this.#flag('lineTooLong');
            }
            this.#lineBytes = 0;
            i++;
            continue;
          }
          this.#bareCr++;
          this.#line = 'text';
          continue;
        case 'text': {
          // Fast path: bytes other than CR and LF need no decision, so skip to the next one
          // with indexOf (cached per chunk) instead of a byte-by-byte loop.
          if (b !== CR && b !== LF) {
            if (nextCr < i) nextCr = indexOrEnd(chunk, CR, i);
            if (nextLf < i) nextLf = indexOrEnd(chunk, LF, i);
            const special = Math.min(nextCr, nextLf);
            const plain = special - i;
            const room = this.#options.maxDataLineBytes - this.#lineBytes;
            if (this.#problem === null && plain > room) {
              // Same position as the byte loop would flag: the first byte over the limit.
              const over = i + Math.max(room, 0);
              this.#emit(chunk, emitFrom, over);
              emitFrom = over;
              this.#flag('lineTooLong');
            }
            this.#lineBytes += plain;
            i = special;
            continue;
          }
          if (b === CR) {
            this.#line = 'cr';
          } else if (this.#problem === null) {
            // A bare LF (b is LF here). Content before a problem is routed first, so the outcome does not depend on
            // where the stream was cut.
            this.#emit(chunk, emitFrom, i);
            emitFrom = i;
            this.#flag('bareLf');
          }
          if (this.#lineOverLimit()) {
            this.#emit(chunk, emitFrom, i);
            emitFrom = i;
            this.#flag('lineTooLong');
          }
          i++;
          continue;
        }
      }
    }
    this.#emit(chunk, emitFrom, n);
    return { events: this.#events, done: false, rest: EMPTY };
  }

  /** Counts one more byte of the current line; true when it is the first over the limit. */
  #lineOverLimit(): boolean {
    this.#lineBytes++;
    return this.#problem === null && this.#lineBytes > this.#options.maxDataLineBytes;
  }

  #flag(problem: DataProblem): void {
    this.#problem ??= problem;
  }

  #emit(chunk: Buffer, from: number, to: number): void {
    if (to > from) this.#content(chunk.subarray(from, to));
  }

  /** Routes unstuffed content to the header block or the body, enforcing the size limits. */
  #content(bytes: Buffer): void {
    const room = this.#options.maxMessageBytes - this.#messageBytes;
    this.#messageBytes += bytes.length;
    // A message that will be refused is not stored: memory and disk stay bounded.
    if (this.#problem !== null) return;
    if (bytes.length > room) {
      // Route exactly up to the limit, whatever the slicing, then refuse the rest.
      if (room > 0) this.#route(bytes.subarray(0, room));
      this.#flag('tooLarge');
      return;
    }
    this.#route(bytes);
  }

  #route(bytes: Buffer): void {
    if (this.#problem !== null) return;
    if (!this.#inHeaders) {
      this.#events.push({ kind: 'body', bytes });
      return;
    }
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (this.#header === 'lineStartCr' && b === LF) {
        // Empty line: header block ends before its CR (RFC 5322 §2.1).
        const headerPart = bytes.subarray(0, i - 1 < 0 ? 0 : i - 1);
        if (!this.#appendHeader(headerPart)) return;
        if (i === 0) this.#dropTrailingHeaderCr();
        this.#endHeaders();
        const bodyPart = bytes.subarray(i + 1);
        if (bodyPart.length > 0) this.#events.push({ kind: 'body', bytes: bodyPart });
        return;
      }
      if (b === CR && this.#header === 'lineStart') this.#header = 'lineStartCr';
      else if (b === LF) this.#header = 'lineStart';
      else this.#header = 'text';
    }
    this.#appendHeader(bytes);
  }

  /** Holds header bytes; false once the header block is over maxHeaderBytes. */
  #appendHeader(bytes: Buffer): boolean {
    if (bytes.length === 0) return true;
    this.#headerBytes += bytes.length;
    if (this.#headerBytes > this.#options.maxHeaderBytes) {
      this.#flag('headerTooLarge');
      this.#headerChunks = [];
      return false;
    }
    this.#headerChunks.push(bytes);
    return true;
  }

  /** The empty line's CR arrived at the end of the previous content slice: take it back. */
  #dropTrailingHeaderCr(): void {
    const last = this.#headerChunks.pop();
    if (last === undefined) return;
    this.#headerBytes -= 1;
    if (last.length > 1) this.#headerChunks.push(last.subarray(0, -1));
  }

  #endHeaders(): void {
    this.#inHeaders = false;
    const block = Buffer.concat(this.#headerChunks);
    this.#headerChunks = [];
    this.#events.push({
      kind: 'headers',
      headers: parseHeaderBlock(block, new HeaderList()),
      headerBytes: block.length,
    });
  }

  #finish(): void {
    this.#done = true;
    if (this.#inHeaders && this.#problem === null) this.#endHeaders();
  }
}

/** Position of `byte` in `chunk` from `from`, or the chunk length when absent. */
function indexOrEnd(chunk: Buffer, byte: number, from: number): number {
  const at = chunk.indexOf(byte, from);
  return at < 0 ? chunk.length : at;
}

/**
 * An ordered, duplicate-preserving list of header fields (RFC 5322 §2.2). Each field keeps
 * the raw bytes it arrived with, so an untouched message is re-emitted byte for byte; lookups
 * are case-insensitive. Values are stored unfolded only on demand.
 */

export interface HeaderField {
  /** The field name as it arrived (case preserved). */
  readonly name: string;
  /**
   * The value as it arrived, after the colon, without the final CRLF; folded lines keep their
   * CRLF + whitespace. A leading space after the colon is not part of the value.
   */
  readonly value: string;
  /** The exact bytes of the field including the final CRLF, or null for fields we created. */
  readonly raw: Buffer | null;
}

export class HeaderList {
  readonly #fields: HeaderField[] = [];

  get length(): number {
    return this.#fields.length;
  }

  /** Bytes of the serialized header block, without building it. */
  get byteLength(): number {
    let total = 0;
    for (const f of this.#fields) {
      total += f.raw?.length ?? Buffer.byteLength(`${f.name}: ${f.value}\r\n`);
    }
    return total;
  }

  /** All fields, in order. */
  all(): readonly HeaderField[] {
    return this.#fields;
  }

  /** Appends a field as it arrived; `raw` (with its CRLF) is kept for byte-exact output. */
  append(name: string, value: string, raw: Buffer | null = null): void {
    this.#fields.push({ name, value, raw });
  }

  /** Inserts a field at position `index` (0 = top), clamped to the list. */
  insert(index: number, name: string, value: string): void {
    const at = Math.max(0, Math.min(index, this.#fields.length));
    this.#fields.splice(at, 0, { name, value, raw: null });
  }

  /** Values of every field called `name` (case-insensitive), in order. */
  getAll(name: string): string[] {
    const key = name.toLowerCase();
    return this.#fields.filter((f) => f.name.toLowerCase() === key).map((f) => f.value);
  }

  /** The first value of `name`, unfolded and trimmed, or null. */
  getFirst(name: string): string | null {
    const key = name.toLowerCase();
    const field = this.#fields.find((f) => f.name.toLowerCase() === key);
    return field === undefined ? null : unfoldHeaderValue(field.value);
  }

  /**
   * Changes the `occurrence`-th (1-based) field called `name`; a null value deletes it.
   * Returns false when there is no such occurrence (milter SMFIR_CHGHEADER semantics).
   */
  change(name: string, occurrence: number, value: string | null): boolean {
    const key = name.toLowerCase();
    let seen = 0;
    for (let i = 0; i < this.#fields.length; i++) {
      const field = this.#fields[i];
      if (field === undefined || field.name.toLowerCase() !== key) continue;
      seen++;
      if (seen !== occurrence) continue;
      if (value === null) this.#fields.splice(i, 1);
      else this.#fields[i] = { name: field.name, value, raw: null };
      return true;
    }
    return false;
  }

  /** Removes every field called `name`; returns how many were removed. */
  removeAll(name: string): number {
    const key = name.toLowerCase();
    const before = this.#fields.length;
    for (let i = this.#fields.length - 1; i >= 0; i--) {
      if (this.#fields[i]?.name.toLowerCase() === key) this.#fields.splice(i, 1);
    }
    return before - this.#fields.length;
  }

  /** Serializes the header block (without the empty separator line), CRLF line ends. */
  toBuffer(): Buffer {
    return Buffer.concat(this.#fields.map(serializeHeaderField));
  }
}

/** One field as wire bytes: the raw bytes when untouched, else "Name: value\r\n". */
export function serializeHeaderField(field: HeaderField): Buffer {
  if (field.raw !== null) return field.raw;
  return Buffer.from(`${field.name}: ${field.value}\r\n`, 'utf8');
}

/** RFC 5322 §2.2.3: unfolding removes the CRLF before folding whitespace. */
export function unfoldHeaderValue(value: string): string {
  return value.replace(/\r?\n(?=[ \t])/g, '').trim();
}

/**
 * Parses a complete header block (bytes up to, not including, the empty line) into fields.
 * Accepts CRLF or bare LF line ends; a line that is neither a field nor a continuation is kept
 * as a nameless field so no byte is lost.
 */
export function parseHeaderBlock(block: Buffer, into: HeaderList = new HeaderList()): HeaderList {
  // One copy of the whole block; every field's raw bytes are a view of it (the caller's buffer
  // may be reused, and one allocation is cheaper than one per field).
  const own = Buffer.from(block);
  let start = 0;
  let fieldStart = -1;
  const flush = (end: number): void => {
    if (fieldStart < 0) return;
    const raw = own.subarray(fieldStart, end);
    // Without its final LF (and a CR before it).
    let bodyEnd = raw.length;
    if (bodyEnd > 0 && raw[bodyEnd - 1] === 0x0a) {
      bodyEnd--;
      if (bodyEnd > 0 && raw[bodyEnd - 1] === 0x0d) bodyEnd--;
    }
    const colon = raw.indexOf(0x3a);
    // Bytes map 1:1 to latin1 characters, so positions agree with the text the name is read as.
    const name = colon > 0 ? raw.toString('latin1', 0, colon).trimEnd() : '';
    if (colon > 0 && !/[\s]/.test(name)) {
      let valueStart = colon + 1;
      if (valueStart < bodyEnd && (raw[valueStart] === 0x20 || raw[valueStart] === 0x09)) {
        valueStart++;
      }
      into.append(name, raw.toString('utf8', valueStart, Math.max(valueStart, bodyEnd)), raw);
    } else {
      into.append('', raw.toString('utf8', 0, bodyEnd), raw);
    }
    fieldStart = -1;
  };
  while (start < own.length) {
    let end = own.indexOf(0x0a, start);
    end = end < 0 ? own.length : end + 1;
    const first = own[start];
    const continuation = first === 0x20 || first === 0x09;
    if (!continuation) {
      flush(start);
      fieldStart = start;
    } else if (fieldStart < 0) {
      fieldStart = start;
    }
    start = end;
  }
  flush(own.length);
  return into;
}

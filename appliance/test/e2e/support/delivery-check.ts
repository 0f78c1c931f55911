/**
 * Reads what the sink received and answers "was every message delivered exactly once, and
 * with which header values?". Messages are matched through the sequence header that
 * smtp-send.ts adds (`X-E2E-Seq` by default).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SinkFile } from './smtp-sink.js';

/** Envelope lines smtp-sink writes in front of each dump (see smtp-sink.ts). */
const SINK_ENVELOPE_HEADERS = new Set([
  'x-client-addr',
  'x-client-proto',
  'x-helo-args',
  'x-mail-args',
  'x-rcpt-args',
]);

/** One header field: name as written, value unfolded and trimmed. */
export interface HeaderField {
  readonly name: string;
  readonly value: string;
}

/** One delivered message, split into smtp-sink's envelope and the message itself. */
export interface SinkDelivery {
  readonly file: string;
  readonly clientAddr: string | undefined;
  readonly heloArgs: string | undefined;
  /** The MAIL FROM argument as smtp-sink wrote it, e.g. `<a@b.test> BODY=8BITMIME`. */
  readonly mailArgs: string | undefined;
  /** One entry per RCPT, e.g. `<c@d.test> ORCPT=rfc822;c@d.test`. */
  readonly rcptArgs: readonly string[];
  /** Header fields of the message (without smtp-sink's envelope lines and Received). */
  readonly headers: readonly HeaderField[];
  /** The message as delivered, with smtp-sink's additions removed; LF line ends. */
  readonly message: Buffer;
}

function splitLines(data: Buffer): string[] {
  return data.toString('latin1').split('\n');
}

/** Parses header lines starting at `start` until the empty line; returns fields and the end. */
function parseHeaderBlock(
  lines: readonly string[],
  start: number,
): { fields: { name: string; value: string; first: number; last: number }[]; end: number } {
  const fields: { name: string; value: string; first: number; last: number }[] = [];
  let i = start;
  for (; i < lines.length; i++) {
    const line = (lines[i] ?? '').replace(/\r$/, '');
    if (line === '') break;
    const current = fields[fields.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && current !== undefined) {
      current.value += ` ${line.trim()}`;
      current.last = i;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) break;
    fields.push({
      name: line.slice(0, colon),
      value: line.slice(colon + 1).trim(),
      first: i,
      last: i,
    });
  }
  return { fields, end: i };
}

/** Splits one smtp-sink dump file into its envelope lines and the delivered message. */
export function parseSinkDump(data: Buffer, file = ''): SinkDelivery {
  const lines = splitLines(data);
  const { fields } = parseHeaderBlock(lines, 0);
  let firstMessageLine = 0;
  let clientAddr: string | undefined;
  let heloArgs: string | undefined;
  let mailArgs: string | undefined;
  const rcptArgs: string[] = [];
  let index = 0;
  for (; index < fields.length; index++) {
    const field = fields[index];
    if (field === undefined || !SINK_ENVELOPE_HEADERS.has(field.name.toLowerCase())) break;
    switch (field.name.toLowerCase()) {
      case 'x-client-addr':
        clientAddr = field.value;
        break;
      case 'x-helo-args':
        heloArgs = field.value;
        break;
      case 'x-mail-args':
        mailArgs = field.value;
        break;
      case 'x-rcpt-args':
        rcptArgs.push(field.value);
        break;
      default:
        break;
    }
    firstMessageLine = field.last + 1;
  }
  const received = fields[index];
  if (
    received !== undefined &&
    received.name.toLowerCase() === 'received' &&
    received.value.includes('by smtp-sink (smtp-sink)')
  ) {
    firstMessageLine = received.last + 1;
    index++;
  }
  const message = Buffer.from(lines.slice(firstMessageLine).join('\n'), 'latin1');
  const headers = parseHeaderBlock(lines, firstMessageLine).fields.map(({ name, value }) => ({
    name,
    value,
  }));
  return { file, clientAddr, heloArgs, mailArgs, rcptArgs, headers, message };
}

/** Values of every header field called `name` (case-insensitive), in order. */
export function headerValues(delivery: SinkDelivery, name: string): string[] {
  const wanted = name.toLowerCase();
  return delivery.headers.filter((h) => h.name.toLowerCase() === wanted).map((h) => h.value);
}

/** Deliveries of one sequence number. */
export interface SeqDeliveries {
  readonly count: number;
  readonly files: readonly string[];
  /** Per delivery, the values of the requested header (empty array when absent). */
  readonly values: readonly (readonly string[])[];
}

/** Everything the sink received, grouped by sequence number. */
export interface DeliveryReport {
  readonly total: number;
  readonly bySeq: ReadonlyMap<number, SeqDeliveries>;
  /** Files with no (or a non-numeric) sequence header. */
  readonly withoutSeq: readonly string[];
  readonly deliveries: readonly SinkDelivery[];
}

/** Options of {@link checkDeliveries}. */
export interface CheckDeliveriesOptions {
  /** Sequence header name; default `X-E2E-Seq`. */
  readonly seqHeader?: string;
  /** Header whose values are collected per delivery, e.g. `X-Parapet-Id`. */
  readonly header?: string;
}

/** Something that holds dump files: an {@link SmtpSink}, or its directory. */
export type DeliverySource = { messages(): Promise<SinkFile[]> } | string;

async function readSource(source: DeliverySource): Promise<SinkFile[]> {
  if (typeof source !== 'string') return source.messages();
  const names = (await readdir(source)).filter((n) => n.startsWith('m.')).sort();
  return Promise.all(
    names.map(async (n) => ({ file: join(source, n), data: await readFile(join(source, n)) })),
  );
}

/** Reads every dump and groups deliveries by their sequence header. */
export async function checkDeliveries(
  source: DeliverySource,
  options: CheckDeliveriesOptions = {},
): Promise<DeliveryReport> {
  const seqHeader = options.seqHeader ?? 'X-E2E-Seq';
  const files = await readSource(source);
  const deliveries = files.map((f) => parseSinkDump(f.data, f.file));
  const bySeq = new Map<number, { count: number; files: string[]; values: string[][] }>();
  const withoutSeq: string[] = [];
  for (const delivery of deliveries) {
    const raw = headerValues(delivery, seqHeader)[0];
    const seq = raw === undefined || !/^\d+$/.test(raw) ? undefined : Number(raw);
    if (seq === undefined) {
      withoutSeq.push(delivery.file);
      continue;
    }
    let entry = bySeq.get(seq);
    if (entry === undefined) {
      entry = { count: 0, files: [], values: [] };
      bySeq.set(seq, entry);
    }
    entry.count++;
    entry.files.push(delivery.file);
    entry.values.push(options.header === undefined ? [] : headerValues(delivery, options.header));
  }
  return { total: deliveries.length, bySeq, withoutSeq, deliveries };
}

/** What is wrong with a {@link DeliveryReport} compared with the expected sequence numbers. */
export interface DeliveryProblems {
  readonly ok: boolean;
  readonly missing: readonly number[];
  readonly duplicated: readonly number[];
  /** Sequence numbers delivered although not expected. */
  readonly unexpected: readonly number[];
  /** Expected deliveries lacking `requireHeader` (or carrying it more than once). */
  readonly headerProblems: readonly number[];
}

/**
 * Compares a report with the sequence numbers that should have arrived exactly once. With
 * `requireHeader` (the `header` the report was built with), each delivery must carry exactly
 * one non-empty value of it. Example: `findDeliveryProblems(report, seqs, { requireHeader:
 * true })` then `assert.deepEqual(problems, { ok: true, ... })` or assert on `problems.ok`.
 */
export function findDeliveryProblems(
  report: DeliveryReport,
  expectedSeqs: Iterable<number>,
  options: { requireHeader?: boolean } = {},
): DeliveryProblems {
  const expected = new Set(expectedSeqs);
  const missing: number[] = [];
  const duplicated: number[] = [];
  const headerProblems: number[] = [];
  for (const seq of [...expected].sort((a, b) => a - b)) {
    const entry = report.bySeq.get(seq);
    if (entry === undefined) {
      missing.push(seq);
      continue;
    }
    if (entry.count > 1) duplicated.push(seq);
    if (
      options.requireHeader === true &&
      entry.values.some((v) => v.length !== 1 || (v[0] ?? '') === '')
    ) {
      headerProblems.push(seq);
    }
  }
  const unexpected = [...report.bySeq.keys()].filter((s) => !expected.has(s)).sort((a, b) => a - b);
  const ok =
    missing.length === 0 &&
    duplicated.length === 0 &&
    unexpected.length === 0 &&
    headerProblems.length === 0 &&
    report.withoutSeq.length === 0;
  return { ok, missing, duplicated, unexpected, headerProblems };
}

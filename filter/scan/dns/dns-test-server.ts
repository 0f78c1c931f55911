/**
 * A tiny authoritative DNS server on 127.0.0.1 for tests (not part of the public API): answers
 * A, TXT and MX from a table, NXDOMAIN for unknown names, no data for known names without the
 * type; or, with `silent`, reads every query and never answers (a dead resolver).
 */
import { createSocket, type Socket } from 'node:dgram';

export interface TestDnsRecords {
  readonly A?: readonly string[];
  readonly TXT?: readonly string[];
  readonly MX?: readonly { exchange: string; priority: number }[];
}

export interface TestDnsServer {
  /** "127.0.0.1:PORT", for DnsResolver's servers. */
  readonly address: string;
  /** Queries received so far ("A name"). */
  readonly queries: readonly string[];
  close(): Promise<void>;
}

const TYPES: Record<number, keyof TestDnsRecords | undefined> = { 1: 'A', 16: 'TXT', 15: 'MX' };

export async function startTestDnsServer(
  zone: ReadonlyMap<string, TestDnsRecords>,
  options: { silent?: boolean } = {},
): Promise<TestDnsServer> {
  const socket: Socket = createSocket('udp4');
  const queries: string[] = [];
  socket.on('message', (packet, peer) => {
    const question = parseQuestion(packet);
    if (question === null) return;
    queries.push(`${TYPES[question.type] ?? String(question.type)} ${question.name}`);
    if (options.silent === true) return;
    socket.send(answer(packet, question, zone), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => {
    socket.bind(0, '127.0.0.1', resolve);
  });
  const { port } = socket.address();
  return {
    address: `127.0.0.1:${String(port)}`,
    queries,
    close: () =>
      new Promise((resolve) => {
        socket.close(() => {
          resolve();
        });
      }),
  };
}

interface Question {
  readonly name: string;
  readonly type: number;
  /** Byte offset just past the question section. */
  readonly end: number;
}

function parseQuestion(packet: Buffer): Question | null {
  if (packet.length < 12 || packet.readUInt16BE(4) !== 1) return null;
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    const len = packet[at];
    if (len === undefined || len > 63) return null;
    at++;
    if (len === 0) break;
    labels.push(packet.subarray(at, at + len).toString('latin1'));
    at += len;
  }
  if (at + 4 > packet.length) return null;
  return { name: labels.join('.').toLowerCase(), type: packet.readUInt16BE(at), end: at + 4 };
}

function answer(packet: Buffer, q: Question, zone: ReadonlyMap<string, TestDnsRecords>): Buffer {
  const records = zone.get(q.name);
  const typeName = TYPES[q.type];
  const rdatas: Buffer[] = [];
  if (records !== undefined && typeName !== undefined) {
    if (typeName === 'A') {
      for (const a of records.A ?? []) rdatas.push(Buffer.from(a.split('.').map(Number)));
    } else if (typeName === 'TXT') {
      for (const text of records.TXT ?? []) {
        const parts: Buffer[] = [];
        const bytes = Buffer.from(text);
        for (let i = 0; i < bytes.length || i === 0; i += 255) {
          const chunk = bytes.subarray(i, i + 255);
          parts.push(Buffer.from([chunk.length]), chunk);
          if (bytes.length === 0) break;
        }
        rdatas.push(Buffer.concat(parts));
      }
    } else {
      for (const mx of records.MX ?? []) {
        const pref = Buffer.alloc(2);
        pref.writeUInt16BE(mx.priority);
        rdatas.push(Buffer.concat([pref, encodeName(mx.exchange)]));
      }
    }
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(packet.readUInt16BE(0), 0);
  const rd = (packet[2] ?? 0) & 0x01;
  header[2] = 0x84 | rd; // QR, AA, RD copied
  header[3] = 0x80 | (records === undefined ? 3 : 0); // RA, RCODE NXDOMAIN or NOERROR
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(rdatas.length, 6);
  const answers = rdatas.map((rdata) => {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
    rr.writeUInt16BE(q.type, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(300, 6);
    rr.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([rr, rdata]);
  });
  return Buffer.concat([header, packet.subarray(12, q.end), ...answers]);
}

function encodeName(name: string): Buffer {
  const parts = name
    .split('.')
    .filter((l) => l !== '')
    .map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

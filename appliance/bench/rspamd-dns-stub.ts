/**
 * A DNS server on 127.0.0.1 that refuses every query at once (RCODE 5), for running rspamd
 * offline: pointed at an unreachable resolver, rspamd waits on each lookup (~200 ms a message,
 * FIELD-NOTES.md); refused, its lookups fail immediately.
 */
import { createSocket, type Socket } from 'node:dgram';

/** A running stub: its UDP port and how to stop it. */
export interface RefusingDnsStub {
  readonly port: number;
  /** Queries answered so far (the benchmark prints it: it shows what still asks DNS). */
  readonly answered: () => number;
  readonly close: () => Promise<void>;
}

const HEADER_BYTES = 12;
const RCODE_REFUSED = 5;

/**
 * The REFUSED answer to a query: same ID, QR set, opcode and RD kept, RA set, the question
 * section echoed (resolvers match answers by ID and question), no records. Null when the
 * datagram is too short to be a query or is itself a response.
 */
export function refusedAnswer(query: Buffer): Buffer | null {
  if (query.length < HEADER_BYTES) return null;
  const flags = query.readUInt16BE(2);
  if ((flags & 0x8000) !== 0) return null;
  const questions = query.readUInt16BE(4);
  // Echo the question section only when it parses; otherwise answer with no question.
  let end = HEADER_BYTES;
  for (let q = 0; q < questions && end <= query.length; q++) {
    while (end < query.length) {
      const len = query[end] ?? 0;
      if (len === 0) {
        end += 1;
        break;
      }
      // A compression pointer ends the name (2 bytes); queries rarely use one.
      if ((len & 0xc0) === 0xc0) {
        end += 2;
        break;
      }
      end += 1 + len;
    }
    end += 4; // QTYPE, QCLASS
  }
  const echo = end <= query.length && questions > 0;
  const answer = Buffer.alloc(echo ? end : HEADER_BYTES);
  query.copy(answer, 0, 0, echo ? end : HEADER_BYTES);
  // QR=1, opcode and RD from the query, RA=1, RCODE=REFUSED.
  answer.writeUInt16BE(0x8000 | (flags & 0x7900) | 0x0080 | RCODE_REFUSED, 2);
  answer.writeUInt16BE(echo ? questions : 0, 4);
  answer.writeUInt16BE(0, 6);
  answer.writeUInt16BE(0, 8);
  answer.writeUInt16BE(0, 10);
  return answer;
}

/** Starts the stub on 127.0.0.1 (port 0 = any free port). */
export async function startRefusingDnsStub(port = 0): Promise<RefusingDnsStub> {
  const socket: Socket = createSocket('udp4');
  let answered = 0;
  socket.on('message', (query, peer) => {
    const answer = refusedAnswer(query);
    if (answer === null) return;
    answered++;
    socket.send(answer, peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  // Stray send errors (a resolver gone away) must not end the benchmark.
  socket.on('error', () => undefined);
  socket.unref();
  return {
    port: socket.address().port,
    answered: () => answered,
    close: () =>
      new Promise<void>((resolve) => {
        socket.close(() => {
          resolve();
        });
      }),
  };
}

/**
 * The re-injection witness (decision 0005): a tiny milter that the re-injection smtpd (10026)
 * consults for every copy the content filter re-injects, run as its own process so that it
 * outlives a policy service that dies.
 *
 * The policy service writes a *prepared* ledger record right before the "." of a copy leaves
 * and a *committed* one right after; a process can be killed between the two (seen under load:
 * preempted right after write(2), killed before it ran again). The MTA commits a copy only
 * after this milter accepted it (`milter_default_action = tempfail` on that smtpd), and this
 * milter writes the copy's X-Parapet-Id to its receipts file right after accepting. So for a
 * prepared record the receipt says whether the copy reached the MTA:
 * - receipt present: the MTA accepted it (the retry is answered from the ledger);
 * - absent: the MTA never got the "." (re-inject the retry).
 * The receipt is written after the accept, never before: should the witness itself die
 * between the two, the worst case is one duplicate, never a loss.
 *
 * The witness asks for the envelope and headers only (no body, no replies but the last).
 */
import { closeSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { createMilterServer, type MilterServer } from '../milter/server.js';
import type { MilterEventSink } from '../milter/session.js';
import type { Pipeline } from '../pipeline/types.js';
import { PARAPET_ID_HEADER } from '../pipeline/pipeline.js';
import { toParapetError } from '../errors.js';

export interface ReinjectWitnessOptions {
  /** The milter's unix socket, named in the re-injection smtpd's `smtpd_milters`. */
  readonly socketPath: string;
  /** Socket file mode. Default 0o660 (the MTA's user must reach it: see the service). */
  readonly socketMode?: number;
  /** Where receipts go (one X-Parapet-Id per line); the ledger reads it and its `.1`. */
  readonly receiptsPath: string;
  /** The receipts file is rotated to `.1` past this size. Default 4 MiB (~190,000 copies). */
  readonly rotateBytes?: number;
  readonly onEvent?: MilterEventSink;
}

export interface ReinjectWitness {
  readonly socketPath: string;
  /** Receipts written since start. */
  readonly receipts: number;
  close(): Promise<void>;
}

/** X-Parapet-Id values are short base32 strings; anything else is not ours. */
const ID_PATTERN = /^[0-9a-z]{8,64}$/i;

/** Append-only receipts file with one rotation step. Synchronous writes survive SIGKILL. */
class ReceiptLog {
  readonly #path: string;
  readonly #rotateBytes: number;
  #fd: number;
  #bytes: number;
  count = 0;

  constructor(path: string, rotateBytes: number) {
    this.#path = path;
    this.#rotateBytes = rotateBytes;
    this.#fd = openSync(path, 'a', 0o600);
    this.#bytes = statSync(path).size;
  }

  append(id: string): void {
    const line = `${id}\n`;
    writeSync(this.#fd, line);
    this.#bytes += line.length;
    this.count++;
    if (this.#bytes < this.#rotateBytes) return;
    // The ledger reads both files: a receipt stays visible through one rotation.
    closeSync(this.#fd);
    renameSync(this.#path, `${this.#path}.1`);
    this.#fd = openSync(this.#path, 'a', 0o600);
    this.#bytes = 0;
  }

  close(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }
}

/** Starts the witness milter. Rejects with ERR_MILTER_LISTEN / ERR_SPOOL_IO. */
export async function startReinjectWitness(
  options: ReinjectWitnessOptions,
): Promise<ReinjectWitness> {
  let log: ReceiptLog;
  try {
    log = new ReceiptLog(options.receiptsPath, options.rotateBytes ?? 4 * 1024 * 1024);
  } catch (err) {
    throw toParapetError('ERR_SPOOL_IO', err);
  }
  const onEvent = options.onEvent;
  const pipeline: Pipeline = {
    envelopeStages: [],
    checkEnvelope: () => Promise.resolve({ kind: 'continue' }),
    run: () => Promise.resolve({ kind: 'accept', modifications: [] }),
    // Called once the accept has been written to the MTA (milter session, #finishMessage).
    recordOutcome(message, _verdict, disposition) {
      if (disposition !== 'released') return;
      const id = message.headers.getFirst(PARAPET_ID_HEADER)?.trim() ?? '';
      if (!ID_PATTERN.test(id)) return;
      try {
        log.append(id);
      } catch (err) {
        // Without the receipt a crash of the policy service now can only cause a duplicate.
        onEvent?.('milter.session_error', {
          code: 'ERR_SPOOL_IO',
          what: 'witness receipt not written',
          id,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    },
  };
  let server: MilterServer;
  try {
    server = await createMilterServer({
      pipeline,
      unixSocket: { path: options.socketPath, mode: options.socketMode ?? 0o660 },
      skipBody: true,
      noReplyOverUnixSocket: true,
      ...(onEvent === undefined ? {} : { onEvent }),
    });
  } catch (err) {
    log.close();
    throw err;
  }
  return {
    socketPath: options.socketPath,
    get receipts() {
      return log.count;
    },
    close: async () => {
      await server.close();
      log.close();
    },
  };
}

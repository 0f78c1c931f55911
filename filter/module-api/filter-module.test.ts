import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { readdir } from 'node:fs/promises';
import { createPipeline } from '../pipeline/pipeline.js';
import { acceptAllPolicy } from '../pipeline/policy-hook.js';
import { QuarantineWriter } from '../quarantine/writer.js';
import { MilterFrameDecoder } from '../milter/frame-decoder.js';
import {
  decodeMilterReply,
  encodeMilterCommand,
  type MilterCommand,
  type MilterReply,
} from '../milter/wire.js';
import { messageFromRaw, withTempDir } from '../test-support.js';
import {
  ModuleDecisions,
  moduleEnvelopeChecker,
  modulePolicy,
  type FilterModule,
} from './filter-module.js';
import { runFilterModuleAsMilter } from './standalone.js';
import { invoiceGuard } from './examples/invoice-guard.js';

test('module decisions: continue collects modifications, a final decision stops the chain', async () => {
  const calls: string[] = [];
  const tagger: FilterModule = {
    name: 'tagger',
    onMessage: () => {
      calls.push('tagger');
      return ModuleDecisions.continueWith([{ kind: 'addHeader', name: 'X-A', value: '1' }]);
    },
  };
  const rejecter: FilterModule = {
    name: 'rejecter',
    onMessage: ({ message }) => {
      calls.push('rejecter');
      return message.headers.getFirst('subject') === 'bad'
        ? ModuleDecisions.reject('no')
        : ModuleDecisions.continue();
    },
  };
  const pipeline = createPipeline({ policy: modulePolicy([tagger, rejecter], acceptAllPolicy) });
  const good = await pipeline.run(
    await messageFromRaw('Subject: ok\r\n\r\nx\r\n'),
    new AbortController().signal,
  );
  assert.equal(good.kind, 'accept');
  assert.deepEqual(
    good.modifications.map((m) => m.kind === 'addHeader' && m.name),
    ['X-A', 'X-Parapet-Id'],
  );
  const bad = await pipeline.run(
    await messageFromRaw('Subject: bad\r\n\r\nx\r\n'),
    new AbortController().signal,
  );
  assert.equal(bad.kind, 'reject');
  assert.deepEqual(calls, ['tagger', 'rejecter', 'tagger', 'rejecter']);
});

test('a module that throws tempfails the message and the envelope step', async () => {
  const broken: FilterModule = {
    name: 'broken',
    onRcptTo: () => {
      throw new Error('module bug');
    },
    onMessage: () => {
      throw new Error('module bug');
    },
  };
  const pipeline = createPipeline({
    policy: modulePolicy([broken], acceptAllPolicy),
    envelopeCheckers: [moduleEnvelopeChecker([broken])],
  });
  const message = await messageFromRaw('Subject: s\r\n\r\nx\r\n', {
    recipients: [{ address: 'a@b.c', args: {} }],
  });
  assert.equal((await pipeline.run(message, new AbortController().signal)).kind, 'tempfail');
  assert.equal((await pipeline.checkEnvelope('rcptTo', message.envelope)).kind, 'tempfail');
});

/**
 * What the mini MTA offers: everything but the no-reply flags (SMFIP_NR_HDR 0x80, NR_EOH
 * 0x40000, NR_BODY 0x80000), so every step it sends gets a reply it can wait for.
 */
const MTA_PROTOCOL = 0x1fffff & ~(0x80 | 0x40000 | 0x80000);

/** A minimal MTA side of the milter protocol for the standalone test. */
class MiniMta {
  readonly #socket: Socket;
  readonly #decoder = new MilterFrameDecoder({ maxFrameBytes: 1 << 20 });
  readonly #replies: MilterReply[] = [];
  #wake: (() => void) | null = null;
  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk);
      for (let r = this.#decoder.next(); r.kind === 'frame'; r = this.#decoder.next()) {
        this.#replies.push(decodeMilterReply(r.frame));
      }
      this.#wake?.();
    });
  }
  send(cmd: MilterCommand): void {
    this.#socket.write(encodeMilterCommand(cmd));
  }
  async reply(): Promise<MilterReply> {
    while (this.#replies.length === 0) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
    return this.#replies.shift()!;
  }
  async ask(cmd: MilterCommand): Promise<MilterReply> {
    this.send(cmd);
    return this.reply();
  }
}

test(
  'the example module runs standalone as a milter: per-RCPT reject, tag, quarantine',
  { timeout: 30_000 },
  async () => {
    await withTempDir(async (dir) => {
      const server = await runFilterModuleAsMilter(invoiceGuard('example.org'), {
        tcp: { host: '127.0.0.1', port: 0 },
        pipeline: { quarantine: new QuarantineWriter({ dir: join(dir, 'q') }) },
      });
      const socket = connect(server.tcpAddress!.port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      const mta = new MiniMta(socket);
      try {
        assert.equal(
          (await mta.ask({ kind: 'optneg', version: 6, actions: 0x1ff, protocol: MTA_PROTOCOL }))
            .kind,
          'optneg',
        );
        assert.equal(
          (
            await mta.ask({
              kind: 'connect',
              hostname: 'client',
              family: 'inet',
              port: 4000,
              address: '192.0.2.7',
            })
          ).kind,
          'continue',
        );
        const transaction = async (subject: string, from: string): Promise<MilterReply[]> => {
          assert.equal((await mta.ask({ kind: 'mail', args: [`<${from}>`] })).kind, 'continue');
          const retired = await mta.ask({ kind: 'rcpt', args: ['<x@old.example.org>'] });
          assert.deepEqual(retired, {
            kind: 'replyCode',
            text: '550 5.1.6 mailbox moved: old.example.org is retired',
          });
          assert.equal(
            (await mta.ask({ kind: 'rcpt', args: ['<bob@example.org>'] })).kind,
            'continue',
          );
          assert.equal(
            (await mta.ask({ kind: 'header', name: 'Subject', value: Buffer.from(` ${subject}`) }))
              .kind,
            'continue',
          );
          assert.equal((await mta.ask({ kind: 'eoh' })).kind, 'continue');
          assert.equal(
            (await mta.ask({ kind: 'body', chunk: Buffer.from('hello\r\n') })).kind,
            'continue',
          );
          mta.send({ kind: 'eom', chunk: Buffer.alloc(0) });
          const out: MilterReply[] = [];
          for (;;) {
            const r = await mta.reply();
            out.push(r);
            if (r.kind !== 'addHeader' && r.kind !== 'progress') break;
          }
          mta.send({ kind: 'abort' });
          return out;
        };
        const clean = await transaction('lunch', 'alice@example.net');
        assert.deepEqual(
          clean
            .map((r) => (r.kind === 'addHeader' ? `${r.name}:${r.value.trim()}` : r.kind))
            .map((s) => s.replace(/X-Parapet-Id:.*/, 'X-Parapet-Id')),
          ['X-Invoice-Guard:checked; rcpts=1', 'X-Parapet-Id', 'accept'],
        );
        const lure = await transaction('Your invoice is overdue', 'billing@example.net');
        assert.deepEqual(
          lure.map((r) => r.kind),
          ['discard'],
        );
        const [day] = await readdir(join(dir, 'q'));
        assert.equal(
          (await readdir(join(dir, 'q', day!))).filter((f) => f.endsWith('.eml')).length,
          1,
        );
        mta.send({ kind: 'quit' });
      } finally {
        socket.destroy();
        await server.close();
      }
    });
  },
);

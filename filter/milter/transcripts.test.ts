/**
 * Runs every testdata/transcripts/*.milter conversation against the real server (server.ts on
 * 127.0.0.1 port 0, or a unix socket in a temp dir) with a fake Pipeline configured by the
 * transcript. The DSL is documented in testdata/transcripts/README.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Modification, Verdict } from '../actions/verdict.js';
import type { EsmtpArgs, Envelope } from '../message/envelope.js';
import type { Message } from '../message/message.js';
import type { Disposition, EnvelopeCheck, EnvelopeStage, Pipeline } from '../pipeline/types.js';
import { smtpReply } from '../smtp/reply.js';
import { MilterFrameDecoder } from './frame-decoder.js';
import { createMilterServer, type MilterServerOptions } from './server.js';
import {
  MilterCommandCode,
  decodeMilterReply,
  encodeMilterCommand,
  type MilterAddressFamilyName,
  type MilterCommand,
  type MilterReply,
} from './wire.js';

const DIR = new URL('./testdata/transcripts/', import.meta.url);
const REPLY_TIMEOUT_MS = 3000;

// ---------------------------------------------------------------------------------------------
// Tokenizer: whitespace-separated words, "double quoted" with \r \n \t \\ \" \xHH escapes.

function tokenize(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    const ch = line[i]!;
    if (ch === ' ' || ch === '\t') {
      i++;
      continue;
    }
    if (ch === '"') {
      let s = '';
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\') {
          const e = line[i + 1];
          i += 2;
          if (e === 'r') s += '\r';
          else if (e === 'n') s += '\n';
          else if (e === 't') s += '\t';
          else if (e === 'x') {
            s += String.fromCharCode(parseInt(line.slice(i, i + 2), 16));
            i += 2;
          } else s += e ?? '';
        } else s += line.charAt(i++);
      }
      i++;
      out.push(s);
      continue;
    }
    let s = '';
    while (i < line.length && line[i] !== ' ' && line[i] !== '\t') s += line.charAt(i++);
    out.push(s);
  }
  return out;
}

const num = (t: string | undefined): number => {
  assert.ok(t !== undefined, 'missing number');
  return Number(t);
};

// ---------------------------------------------------------------------------------------------
// Fake pipeline configured by directives.

interface CheckRule {
  stage: EnvelopeStage;
  address: string | null;
  result: EnvelopeCheck;
}

class TranscriptPipeline implements Pipeline {
  rules: CheckRule[] = [];
  verdict: Verdict | 'throw' | 'hang' = { kind: 'accept', modifications: [] };
  mods: Modification[] = [];
  delayMs = 0;
  outcomes: { disposition: Disposition; errorCode: string | undefined; verdict: Verdict | null }[] =
    [];

  checkEnvelope(stage: EnvelopeStage, envelope: Envelope): Promise<EnvelopeCheck> {
    const subject =
      stage === 'rcptTo'
        ? envelope.recipients.at(-1)?.address
        : stage === 'mailFrom'
          ? envelope.mailFrom?.address
          : null;
    const rule = this.rules.find(
      (r) => r.stage === stage && (r.address === null || r.address === subject),
    );
    return Promise.resolve(rule?.result ?? { kind: 'continue' });
  }

  async run(_message: Message, _signal: AbortSignal): Promise<Verdict> {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.verdict === 'throw') throw new Error('pipeline exploded');
    if (this.verdict === 'hang') {
      // Ignores the signal on purpose: the session's own deadline must answer.
      return new Promise(() => undefined);
    }
    if (this.verdict.kind === 'accept') return { kind: 'accept', modifications: this.mods };
    return this.verdict;
  }

  recordOutcome(
    _m: Message,
    verdict: Verdict | null,
    disposition: Disposition,
    errorCode?: string,
  ): void {
    this.outcomes.push({ disposition, errorCode, verdict });
  }
}

function parseArgs(tokens: string[]): EsmtpArgs {
  const out: Record<string, string | true> = {};
  for (const t of tokens) {
    const eq = t.indexOf('=');
    if (eq < 0) out[t] = true;
    else out[t.slice(0, eq)] = t.slice(eq + 1);
  }
  return out;
}

function replyOf(t: string[]) {
  return smtpReply(num(t[0]), t[1] === '-' ? null : (t[1] ?? null), t.slice(2).join(' '));
}

function applyDirective(
  pipeline: TranscriptPipeline,
  options: Record<string, unknown>,
  word: string,
  t: string[],
): void {
  switch (word) {
    case 'option':
      options[t[0]!] = t[0] === 'transport' ? t[1] : num(t[1]);
      return;
    case 'check': {
      const [stage, address] = t[0]!.split(':') as [EnvelopeStage, string | undefined];
      const kind = t[1] as 'reject' | 'tempfail';
      pipeline.rules.push({
        stage,
        address: address ?? null,
        result: { kind, reply: replyOf(t.slice(2)) },
      });
      return;
    }
    case 'verdict':
      switch (t[0] ?? '') {
        case 'accept':
          pipeline.verdict = { kind: 'accept', modifications: [] };
          return;
        case 'discard':
          pipeline.verdict = { kind: 'discard', reason: t[1] ?? 'policy' };
          return;
        case 'quarantine':
          pipeline.verdict = { kind: 'quarantine', reason: 'spam', quarantineId: t[1] ?? 'q1' };
          return;
        case 'reject':
        case 'tempfail':
          pipeline.verdict = { kind: t[0] as 'reject' | 'tempfail', reply: replyOf(t.slice(1)) };
          return;
        case 'throw':
        case 'hang':
          pipeline.verdict = t[0] as 'throw' | 'hang';
          return;
        default:
          throw new Error(`unknown verdict ${t[0]}`);
      }
    case 'mod':
      pipeline.mods.push(parseMod(t));
      return;
    case 'delay-ms':
      pipeline.delayMs = num(t[0]);
      return;
    default:
      throw new Error(`unknown directive ${word}`);
  }
}

function parseMod(t: string[]): Modification {
  switch (t[0] ?? '') {
    case 'addHeader':
      return { kind: 'addHeader', name: t[1]!, value: t[2]! };
    case 'insertHeader':
      return { kind: 'insertHeader', index: num(t[1]), name: t[2]!, value: t[3]! };
    case 'changeHeader':
      return {
        kind: 'changeHeader',
        name: t[1]!,
        occurrence: num(t[2]),
        value: t[3] === 'null' ? null : t[3]!,
      };
    case 'addRecipient':
      return { kind: 'addRecipient', address: t[1]!, args: parseArgs(t.slice(2)) };
    case 'deleteRecipient':
      return { kind: 'deleteRecipient', address: t[1]! };
    case 'changeSender':
      return { kind: 'changeSender', address: t[1]!, args: parseArgs(t.slice(2)) };
    case 'replaceBody':
      return { kind: 'replaceBody', body: Buffer.from(t[1]!, 'latin1') };
    default:
      throw new Error(`unknown mod ${t[0]}`);
  }
}

// ---------------------------------------------------------------------------------------------
// MTA side: commands from tokens, replies to tokens.

const STAGE_LETTERS: Record<string, number> = {
  C: MilterCommandCode.Connect,
  H: MilterCommandCode.Helo,
  M: MilterCommandCode.Mail,
  R: MilterCommandCode.Rcpt,
  T: MilterCommandCode.Data,
  L: MilterCommandCode.Header,
  N: MilterCommandCode.EndOfHeaders,
  B: MilterCommandCode.Body,
  E: MilterCommandCode.EndOfMessage,
};

const FAMILIES: Record<string, MilterAddressFamilyName> = {
  '4': 'inet',
  '6': 'inet6',
  L: 'unix',
  U: 'unknown',
};

function commandBytes(word: string, t: string[]): Buffer {
  const cmd = ((): MilterCommand | Buffer => {
    switch (word) {
      case 'raw':
        return Buffer.from(t.join(''), 'hex');
      case 'optneg':
        return { kind: 'optneg', version: num(t[0]), actions: num(t[1]), protocol: num(t[2]) };
      case 'macro':
        return {
          kind: 'macro',
          stage: STAGE_LETTERS[t[0]!] ?? num(t[0]),
          macros: t.slice(1).map((nv) => {
            const eq = nv.indexOf('=');
            return [nv.slice(0, eq), nv.slice(eq + 1)] as const;
          }),
        };
      case 'connect': {
        const family = FAMILIES[t[1]!];
        assert.ok(family !== undefined, `family ${t[1]}`);
        return family === 'unknown'
          ? { kind: 'connect', hostname: t[0]!, family, port: null, address: null }
          : { kind: 'connect', hostname: t[0]!, family, port: num(t[2]), address: t[3]! };
      }
      case 'helo':
        return { kind: 'helo', name: t[0]! };
      case 'mail':
        return { kind: 'mail', args: t };
      case 'rcpt':
        return { kind: 'rcpt', args: t };
      case 'data':
        return { kind: 'data' };
      case 'header':
        return { kind: 'header', name: t[0]!, value: Buffer.from(t[1] ?? '', 'latin1') };
      case 'eoh':
        return { kind: 'eoh' };
      case 'body':
        return { kind: 'body', chunk: Buffer.from(t[0] ?? '', 'latin1') };
      case 'eom':
        return { kind: 'eom', chunk: Buffer.from(t[0] ?? '', 'latin1') };
      case 'abort':
        return { kind: 'abort' };
      case 'quit':
        return { kind: 'quit' };
      case 'quitnc':
        return { kind: 'quitNc' };
      case 'unknown':
        return { kind: 'unknown', command: t[0] ?? '' };
      default:
        throw new Error(`unknown command ${word}`);
    }
  })();
  return Buffer.isBuffer(cmd) ? cmd : encodeMilterCommand(cmd);
}

const hex = (n: number): string => `0x${n.toString(16)}`;

function replyTokens(r: MilterReply): string[] {
  switch (r.kind) {
    case 'optneg':
      return [
        'optneg',
        String(r.version),
        hex(r.actions),
        hex(r.protocol),
        ...r.symbolLists.flatMap((l) => [String(l.stage), l.macros]),
      ];
    case 'replyCode':
      return ['replycode', r.text];
    case 'addHeader':
      return ['addheader', r.name, r.value];
    case 'insertHeader':
      return ['insheader', String(r.index), r.name, r.value];
    case 'changeHeader':
      return ['chgheader', String(r.index), r.name, r.value];
    case 'addRecipient':
      return ['addrcpt', r.address];
    case 'addRecipientWithArgs':
      return ['addrcpt_par', r.address, r.args];
    case 'deleteRecipient':
      return ['delrcpt', r.address];
    case 'changeFrom':
      return r.args === null ? ['chgfrom', r.address] : ['chgfrom', r.address, r.args];
    case 'replaceBody':
      return ['replbody', r.chunk.toString('latin1')];
    case 'quarantine':
      return ['quarantine', r.reason];
    case 'setSymbolList':
      return ['setsymlist', String(r.stage), r.macros];
    case 'accept':
    case 'continue':
    case 'discard':
    case 'reject':
    case 'tempfail':
    case 'shutdown':
    case 'connectionFail':
    case 'progress':
    case 'skip':
      return [r.kind.toLowerCase()];
  }
}

/** The MTA end of one connection: frames out, decoded replies in. */
class MtaClient {
  readonly #socket: Socket;
  readonly #decoder = new MilterFrameDecoder({ maxFrameBytes: 1 << 20 });
  readonly #replies: MilterReply[] = [];
  #ended = false;
  #wake: (() => void) | null = null;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk);
      for (;;) {
        const r = this.#decoder.next();
        if (r.kind !== 'frame') break;
        this.#replies.push(decodeMilterReply(r.frame));
      }
      this.#wake?.();
    });
    const end = (): void => {
      this.#ended = true;
      this.#wake?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  send(bytes: Buffer): void {
    if (!this.#ended) this.#socket.write(bytes);
  }

  /** The next reply, 'closed' at EOF, or throws after the timeout. */
  async next(): Promise<MilterReply | 'closed'> {
    const deadline = Date.now() + REPLY_TIMEOUT_MS;
    for (;;) {
      const r = this.#replies.shift();
      if (r !== undefined) return r;
      if (this.#ended) return 'closed';
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no reply within timeout');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
  }

  /** Puts a reply back (after looking past progress replies). */
  unshift(r: MilterReply | 'closed'): void {
    if (r !== 'closed') this.#replies.unshift(r);
  }

  peek(): MilterReply | undefined {
    return this.#replies[0];
  }

  close(): void {
    this.#socket.destroy();
  }
}

function matches(expected: string[], actual: string[]): boolean {
  return (
    expected.length === actual.length && expected.every((e, i) => e === '*' || e === actual[i])
  );
}

async function runTranscript(file: string): Promise<void> {
  const text = await readFile(new URL(file, DIR), 'utf8');
  const lines = text
    .split('\n')
    .map((l, i) => ({ no: i + 1, line: l.trim() }))
    .filter((l) => l.line !== '' && !l.line.startsWith('#'));
  const pipeline = new TranscriptPipeline();
  const options: Record<string, unknown> = {};
  const steps: { no: number; tokens: string[] }[] = [];
  for (const { no, line } of lines) {
    const tokens = tokenize(line);
    const [word, ...rest] = tokens;
    if (word === '>' || word === '<' || word === '=') steps.push({ no, tokens });
    else applyDirective(pipeline, options, word!, rest);
  }

  const { transport, ...numeric } = options as { transport?: string } & Record<string, number>;
  const tmp = transport === 'unix' ? await mkdtemp(join(tmpdir(), 'milter-t-')) : null;
  const serverOptions: MilterServerOptions = {
    pipeline,
    ...(tmp === null
      ? { tcp: { host: '127.0.0.1', port: 0 } }
      : { unixSocket: { path: join(tmp, 'milter.sock') } }),
    ...numeric,
    // Most transcripts show a reply to every step; `option noReplyOverTcp 1` turns it on.
    noReplyOverTcp: numeric['noReplyOverTcp'] === 1,
  };
  const server = await createMilterServer(serverOptions);
  const socket =
    tmp === null
      ? createConnection({ host: '127.0.0.1', port: server.tcpAddress!.port })
      : createConnection({ path: server.unixPath! });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const client = new MtaClient(socket);
  let outcomeIndex = 0;
  try {
    for (const { no, tokens } of steps) {
      const [dir, word, ...rest] = tokens;
      const where = `${file}:${no}`;
      if (dir === '>') {
        client.send(commandBytes(word!, rest));
      } else if (dir === '<') {
        const expected = [word!, ...rest];
        if (word === 'progress+' || word === 'progress*') {
          let seen = 0;
          for (;;) {
            const r = await client.next();
            if (r === 'closed' || r.kind !== 'progress') {
              client.unshift(r);
              break;
            }
            seen++;
          }
          if (word === 'progress+') assert.ok(seen >= 1, `${where}: no progress`);
        } else {
          const r = await client.next();
          assert.notEqual(
            r,
            'closed',
            `${where}: connection closed, expected ${expected.join(' ')}`,
          );
          const actual = replyTokens(r as MilterReply);
          assert.ok(
            matches(expected, actual),
            `${where}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
          );
        }
      } else if (word === 'closed') {
        const r = await client.next();
        assert.equal(r, 'closed', `${where}: expected close, got ${JSON.stringify(r)}`);
      } else if (word === 'outcome') {
        const deadline = Date.now() + REPLY_TIMEOUT_MS;
        while (pipeline.outcomes.length <= outcomeIndex && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 5));
        }
        const got = pipeline.outcomes[outcomeIndex++];
        assert.ok(got !== undefined, `${where}: no outcome recorded`);
        assert.equal(got.disposition, rest[0], `${where}: disposition`);
        if (rest[1] !== undefined) assert.equal(got.errorCode, rest[1], `${where}: error code`);
      } else {
        throw new Error(`${where}: unknown step ${tokens.join(' ')}`);
      }
    }
    assert.equal(client.peek(), undefined, `${file}: unexpected extra reply`);
  } finally {
    client.close();
    await server.close({ drainTimeoutMs: 1000 });
    if (tmp !== null) {
      assert.deepEqual(await readdir(tmp), [], 'unix socket removed on close');
      await rm(tmp, { recursive: true, force: true });
    }
  }
  assert.equal(
    pipeline.outcomes.length,
    outcomeIndex,
    `${file}: outcomes not checked: ${JSON.stringify(pipeline.outcomes.slice(outcomeIndex))}`,
  );
}

const files = (await readdir(DIR)).filter((f) => f.endsWith('.milter')).sort();

for (const file of files) {
  test(file.replace(/\.milter$/, ''), () => runTranscript(file));
}

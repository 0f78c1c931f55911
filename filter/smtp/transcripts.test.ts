/**
 * Runs every testdata/transcripts/*.smtp against the real server (127.0.0.1, port 0) with a
 * FakePipeline and a FakeMta as the re-injection target. The DSL is documented in
 * testdata/transcripts/README.md.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createSmtpFilterServer, type SmtpFilterServerOptions } from './server.js';
import { FakeMta, FakePipeline, type FakeMtaMode, type FakeRun } from './test-support.js';
import { smtpReply } from './reply.js';
import type { EnvelopeStage } from '../pipeline/types.js';

const dir = join(import.meta.dirname, 'testdata', 'transcripts');

type Step =
  | { kind: 'send'; bytes: Buffer; line: number }
  | { kind: 'expect'; prefix: string; line: number }
  | { kind: 'contains'; text: string; line: number }
  | { kind: 'close'; line: number }
  | { kind: 'hangup'; line: number }
  | { kind: 'wait'; ms: number; line: number };

interface Script {
  options: Record<string, number>;
  reinjectOptions: Record<string, number>;
  runs: FakeRun[];
  checks: Map<
    EnvelopeStage,
    { kind: 'reject' | 'tempfail'; code: number; enhanced: string; text: string }
  >;
  downstream: FakeMtaMode | 'down';
  steps: Step[];
  expects: { what: string; arg: string; line: number }[];
}

function unescape(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\') {
      for (const b of Buffer.from(c, 'utf8')) out.push(b);
      continue;
    }
    const n = text[++i];
    if (n === 'r') out.push(13);
    else if (n === 'n') out.push(10);
    else if (n === 't') out.push(9);
    else if (n === '\\') out.push(92);
    else if (n === 'x') {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else throw new Error(`bad escape \\${n}`);
  }
  return Buffer.from(out);
}

function parseReplySpec(words: string[]) {
  const [code = '550', enhanced = '5.7.1', ...text] = words;
  return { code: Number(code), enhanced, text: text.join(' ') || 'scripted' };
}

function parseScript(text: string): Script {
  const script: Script = {
    options: {},
    reinjectOptions: {},
    runs: [],
    checks: new Map(),
    downstream: 'accept',
    steps: [],
    expects: [],
  };
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const l = raw.replace(/\r$/, '');
    if (l.trim() === '' || l.startsWith('#')) return;
    if (l === 'C:') script.steps.push({ kind: 'send', bytes: Buffer.from('\r\n'), line });
    else if (l.startsWith('C: '))
      script.steps.push({ kind: 'send', bytes: Buffer.from(`${l.slice(3)}\r\n`), line });
    else if (l.startsWith('R: '))
      script.steps.push({ kind: 'send', bytes: unescape(l.slice(3)), line });
    else if (l.startsWith('S: ')) script.steps.push({ kind: 'expect', prefix: l.slice(3), line });
    else if (l.startsWith('S~ ')) script.steps.push({ kind: 'contains', text: l.slice(3), line });
    else if (l === 'CLOSE') script.steps.push({ kind: 'close', line });
    else if (l === 'HANGUP') script.steps.push({ kind: 'hangup', line });
    else if (l.startsWith('WAIT '))
      script.steps.push({ kind: 'wait', ms: Number(l.slice(5)), line });
    else if (l.startsWith('@')) {
      const [directive = '', ...words] = l.slice(1).split(' ');
      switch (directive) {
        case 'option': {
          const [key = '', value = ''] = (words[0] ?? '').split('=');
          if (key.startsWith('reinject.')) script.reinjectOptions[key.slice(9)] = Number(value);
          else script.options[key] = Number(value);
          break;
        }
        case 'verdict': {
          const [kind = '', ...rest] = words;
          if (kind === 'throw' || kind === 'hang') script.runs.push({ kind });
          else if (kind === 'accept')
            script.runs.push({
              kind: 'verdict',
              verdict: {
                kind: 'accept',
                modifications: [{ kind: 'addHeader', name: 'X-Parapet-Id', value: 'scripted' }],
              },
            });
          else if (kind === 'discard')
            script.runs.push({ kind: 'verdict', verdict: { kind: 'discard', reason: 'scripted' } });
          else if (kind === 'quarantine')
            script.runs.push({
              kind: 'verdict',
              verdict: { kind: 'quarantine', reason: 'scripted', quarantineId: 'q1' },
            });
          else if (kind === 'reject' || kind === 'tempfail') {
            const r = parseReplySpec(rest);
            script.runs.push({
              kind: 'verdict',
              verdict: { kind, reply: smtpReply(r.code, r.enhanced, r.text) },
            });
          } else throw new Error(`line ${line}: unknown verdict ${kind}`);
          break;
        }
        case 'check': {
          const [stage = '', kind = '', ...rest] = words;
          if (kind !== 'reject' && kind !== 'tempfail') throw new Error(`line ${line}: bad check`);
          script.checks.set(stage as EnvelopeStage, { kind, ...parseReplySpec(rest) });
          break;
        }
        case 'downstream':
          script.downstream = (words[0] ?? 'accept') as FakeMtaMode | 'down';
          break;
        case 'expect':
          script.expects.push({ what: words[0] ?? '', arg: words.slice(1).join(' '), line });
          break;
        default:
          throw new Error(`line ${line}: unknown directive @${directive}`);
      }
    } else throw new Error(`line ${line}: cannot read ${JSON.stringify(l)}`);
  });
  return script;
}

/** Reads complete SMTP replies off a client socket. */
class ReplyReader {
  readonly replies: string[][] = [];
  ended = false;
  #partial = '';
  #lines: string[] = [];
  #wake: (() => void) | null = null;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#partial += chunk.toString('utf8');
      let lf = this.#partial.indexOf('\r\n');
      while (lf >= 0) {
        const line = this.#partial.slice(0, lf);
        this.#partial = this.#partial.slice(lf + 2);
        this.#lines.push(line);
        if (line[3] !== '-') {
          this.replies.push(this.#lines);
          this.#lines = [];
        }
        lf = this.#partial.indexOf('\r\n');
      }
      this.#wake?.();
    });
    const end = () => {
      this.ended = true;
      this.#wake?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  async next(timeoutMs = 5000): Promise<string[] | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length === 0 && !this.ended && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now());
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = null;
    }
    return this.replies.shift() ?? null;
  }
}

async function runScript(name: string, script: Script): Promise<void> {
  const mta = new FakeMta();
  let mtaPort = await mta.listen();
  if (script.downstream === 'down') {
    await mta.close();
  } else {
    mta.mode = script.downstream;
  }
  const pipeline = new FakePipeline();
  pipeline.runs.push(...script.runs);
  for (const [stage, c] of script.checks) {
    pipeline.checks.set(stage, { kind: c.kind, reply: smtpReply(c.code, c.enhanced, c.text) });
  }
  const options: SmtpFilterServerOptions = {
    pipeline,
    port: 0,
    hostname: 'filter.test',
    reinject: {
      port: mtaPort,
      commandTimeoutMs: 2000,
      dataTimeoutMs: 2000,
      ...script.reinjectOptions,
    },
    ...script.options,
  };
  const server = await createSmtpFilterServer(options);
  const socket = connect({ host: '127.0.0.1', port: server.address.port });
  socket.on('error', () => undefined);
  const reader = new ReplyReader(socket);
  let last: string[] = [];
  let pending: Buffer[] = [];
  const flush = () => {
    if (pending.length > 0 && !socket.destroyed) socket.write(Buffer.concat(pending));
    pending = [];
  };
  try {
    const greeting = await reader.next();
    assert.ok(greeting?.[0]?.startsWith('220'), `${name}: greeting ${String(greeting)}`);
    for (const step of script.steps) {
      if (step.kind !== 'send') flush();
      const where = `${name}.smtp:${step.line}`;
      switch (step.kind) {
        case 'send':
          pending.push(step.bytes);
          break;
        case 'expect': {
          const reply = await reader.next();
          assert.ok(reply !== null, `${where}: expected "${step.prefix}", got end of connection`);
          last = reply;
          const final = reply[reply.length - 1] ?? '';
          assert.ok(
            final.startsWith(step.prefix),
            `${where}: expected "${step.prefix}", got ${JSON.stringify(reply)}`,
          );
          break;
        }
        case 'contains':
          assert.ok(
            last.some((l) => l.includes(step.text)),
            `${where}: ${JSON.stringify(last)} lacks "${step.text}"`,
          );
          break;
        case 'close': {
          const reply = await reader.next();
          assert.equal(reply, null, `${where}: expected close, got ${JSON.stringify(reply)}`);
          assert.ok(reader.ended, `${where}: connection still open`);
          break;
        }
        case 'hangup':
          socket.destroy();
          break;
        case 'wait':
          await new Promise((resolve) => setTimeout(resolve, step.ms));
          break;
      }
    }
    flush();
  } finally {
    socket.destroy();
    // Let the server notice the hang-up and record outcomes before checking.
    const deadline = Date.now() + 3000;
    while (server.sessionCount > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await server.close();
    if (script.downstream !== 'down') await mta.close();
    mtaPort = 0;
  }
  for (const e of script.expects) {
    const where = `${name}.smtp:${e.line}`;
    switch (e.what) {
      case 'reinjected':
        assert.equal(mta.delivered.length, Number(e.arg), `${where}: reinjected`);
        break;
      case 'outcomes':
        assert.deepEqual(
          pipeline.outcomes.map((o) => o.disposition),
          e.arg === '' ? [] : e.arg.split(','),
          `${where}: outcomes`,
        );
        break;
      case 'downstream-has': {
        const all = mta.transactions
          .flatMap((t) => [...t.lines, t.data?.toString('latin1') ?? ''])
          .join('\n');
        assert.ok(
          all.includes(e.arg),
          `${where}: downstream lacks ${JSON.stringify(e.arg)} in ${JSON.stringify(all)}`,
        );
        break;
      }
      case 'downstream-raw-has': {
        const raw = mta.transactions.map((t) => t.raw?.toString('latin1') ?? '').join('\n');
        assert.ok(
          raw.includes(unescape(e.arg).toString('latin1')),
          `${where}: raw data lacks ${JSON.stringify(e.arg)} in ${JSON.stringify(raw)}`,
        );
        break;
      }
      case 'envelope': {
        const [field = '', value = ''] = e.arg.split('=');
        const env = pipeline.seen[pipeline.seen.length - 1]?.envelope;
        assert.ok(env !== undefined, `${where}: pipeline saw no message`);
        const actual =
          field === 'client.address'
            ? env.client.address
            : field === 'client.name'
              ? env.client.name
              : field === 'client.port'
                ? String(env.client.port)
                : field === 'helo'
                  ? env.helo
                  : field === 'queueId'
                    ? env.queueId
                    : field.startsWith('macro.')
                      ? (env.macros.get(field.slice(6)) ?? null)
                      : `unknown field ${field}`;
        assert.equal(actual === null ? 'null' : actual, value, `${where}: envelope ${field}`);
        break;
      }
      case 'runs':
        assert.equal(pipeline.seen.length, Number(e.arg), `${where}: pipeline runs`);
        break;
      default:
        throw new Error(`${where}: unknown expectation ${e.what}`);
    }
  }
}

describe('SMTP transcripts', () => {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.smtp'))
    .sort();
  it('has transcripts', () => {
    assert.ok(files.length >= 14);
  });
  for (const file of files) {
    const name = file.replace(/\.smtp$/, '');
    it(name, async () => {
      await runScript(name, parseScript(readFileSync(join(dir, file), 'utf8')));
    });
  }
});

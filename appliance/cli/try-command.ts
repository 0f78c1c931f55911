/**
 * `parapet try`: sends three sample messages — clean, GTUBE spam, an EICAR attachment —
 * through the running node's content filter and prints what happened to each (SMTP answer,
 * verdict, disposition, score, deciding rule, and whether it came out on the re-injection
 * port). When nothing listens on the re-injection port (a node not wired to Postfix yet) a
 * throw-away sink takes that port for the duration, so the try works on a fresh node.
 */
import { randomBytes } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Command } from 'commander';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { ParapetError } from '../../filter/index.js';
import { loadNodeConfig, type HostPort } from '../config/node-config.js';

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
// The EICAR test file, assembled so that this source file itself is not flagged.
const EICAR = ['X5O!P%@AP[4\\PZX54(P^)7CC)7}$', 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'].join(
  '',
);

export interface TryOutcome {
  readonly sample: 'clean' | 'gtube' | 'eicar';
  readonly subject: string;
  /** The content filter's answer: accepted (250), rejected (5xx), deferred (4xx) or failed. */
  readonly smtp: string;
  readonly verdict: string | null;
  readonly disposition: string | null;
  readonly score: number | null;
  readonly reason: string | null;
  readonly rule: string | null;
  /** Came out on the re-injection port (known only when the throw-away sink listened). */
  readonly delivered: boolean | null;
  readonly headers: Readonly<Record<string, string>>;
}

function isListening(hp: HostPort): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: hp.host, port: hp.port });
    const done = (v: boolean): void => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(2000, () => {
      done(false);
    });
    s.once('connect', () => {
      done(true);
    });
    s.once('error', () => {
      done(false);
    });
  });
}

interface Sink {
  readonly received: Map<string, string>;
  close(): Promise<void>;
}

/** A throw-away SMTP sink on the re-injection port: keeps each message's header block. */
async function startSink(hp: HostPort): Promise<Sink> {
  const received = new Map<string, string>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 50 * 1024 * 1024,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const text = Buffer.concat(chunks).toString('latin1');
        const head = text.slice(0, Math.max(0, text.indexOf('\r\n\r\n')));
        const subject = /^Subject: (.*)$/im.exec(head)?.[1]?.trim() ?? '';
        received.set(subject, head);
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(hp.port, hp.host, () => {
      resolve();
    });
  });
  return {
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

interface LogLine {
  subject?: string | null;
  time?: string;
  verdict?: string | null;
  disposition?: string;
  score?: number | null;
  reason?: string | null;
  rule?: string | null;
}

/** Message-log records of this try (by subject), reading the log's tail. */
async function findLogRecords(
  path: string,
  subjects: readonly string[],
): Promise<Map<string, LogLine>> {
  const found = new Map<string, LogLine>();
  let size = 0;
  try {
    size = (await stat(path)).size;
  } catch {
    return found;
  }
  const from = Math.max(0, size - 4 * 1024 * 1024);
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(size - from);
    await fh.read(buf, 0, buf.length, from);
    for (const line of buf.toString('utf8').split('\n')) {
      if (!subjects.some((s) => line.includes(s))) continue;
      try {
        const rec = JSON.parse(line) as LogLine;
        if (typeof rec.subject === 'string' && subjects.includes(rec.subject))
          found.set(rec.subject, rec);
      } catch {
        // a torn last line: ignore
      }
    }
  } finally {
    await fh.close();
  }
  return found;
}

export async function runTry(options: { to: string; timeoutMs: number }): Promise<TryOutcome[]> {
  const config = await loadNodeConfig();
  const entry = config.policy.smtpFilter;
  if (entry === null) {
    throw new ParapetError(
      'ERR_CONFIG_INVALID',
      'the node has no content-filter listener (policy.smtpFilter)',
    );
  }
  if (!(await isListening(entry))) {
    throw new ParapetError(
      'ERR_NODE_NOT_RUNNING',
      `nothing listens on the content filter ${entry.host}:${entry.port}: start the node first (npm start)`,
    );
  }
  const sink = (await isListening(config.policy.reinject))
    ? null
    : await startSink(config.policy.reinject);
  const tag = randomBytes(4).toString('hex');
  const samples = [
    {
      sample: 'clean' as const,
      subject: `Parapet try ${tag}: clean`,
      text: 'Hello,\n\nthe minutes of Monday’s meeting are below.\n\nRegards\n',
    },
    {
      sample: 'gtube' as const,
      subject: `Parapet try ${tag}: GTUBE spam`,
      text: `This is the GTUBE test.\n\n${GTUBE}\n`,
    },
    {
      sample: 'eicar' as const,
      subject: `Parapet try ${tag}: EICAR attachment`,
      text: 'The attachment is the EICAR test file.\n',
    },
  ];
  const transport = nodemailer.createTransport({
    host: entry.host,
    port: entry.port,
    secure: false,
    ignoreTLS: true,
    name: 'parapet-try.invalid',
    connectionTimeout: 10_000,
    socketTimeout: options.timeoutMs,
  });
  const smtp = new Map<string, string>();
  try {
    for (const s of samples) {
      try {
        const info = await transport.sendMail({
          from: 'Parapet try <try@parapet.invalid>',
          to: options.to,
          subject: s.subject,
          text: s.text,
          messageId: `<try-${tag}-${s.sample}@parapet.invalid>`,
          ...(s.sample === 'eicar'
            ? {
                attachments: [
                  {
                    filename: 'eicar.com.txt',
                    content: EICAR,
                    contentType: 'application/octet-stream',
                  },
                ],
              }
            : {}),
        });
        smtp.set(s.subject, `accepted (${info.response.slice(0, 80)})`);
      } catch (err) {
        const e = err as { responseCode?: number; response?: string; message?: string };
        const code = e.responseCode ?? 0;
        const kind = code >= 500 ? 'rejected' : code >= 400 ? 'deferred' : 'failed';
        smtp.set(s.subject, `${kind} (${(e.response ?? e.message ?? '').slice(0, 80)})`);
      }
    }
    // The log is written in batches; wait (bounded) for every record.
    const subjects = samples.map((s) => s.subject);
    const deadline = Date.now() + options.timeoutMs;
    let records = await findLogRecords(config.paths.messageLog, subjects);
    while (records.size < samples.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      records = await findLogRecords(config.paths.messageLog, subjects);
    }
    return samples.map((s): TryOutcome => {
      const rec = records.get(s.subject);
      const head = sink?.received.get(s.subject);
      const headers: Record<string, string> = {};
      for (const name of ['X-Parapet-Spam', 'X-Parapet-Virus']) {
        const v =
          head === undefined ? undefined : new RegExp(`^${name}: (.*)$`, 'im').exec(head)?.[1];
        if (v !== undefined) headers[name] = v.trim();
      }
      return {
        sample: s.sample,
        subject: s.subject,
        smtp: smtp.get(s.subject) ?? 'failed',
        verdict: rec?.verdict ?? null,
        disposition: rec?.disposition ?? null,
        score: rec?.score ?? null,
        reason: rec?.reason ?? null,
        rule: rec?.rule ?? null,
        delivered: sink === null ? null : head !== undefined,
        headers,
      };
    });
  } finally {
    transport.close();
    await sink?.close();
  }
}

export function formatTry(outcomes: readonly TryOutcome[]): string {
  const lines = outcomes.map((o) => {
    const what = [
      `${o.sample.padEnd(6)} ${o.smtp.split(' ')[0] ?? ''}`,
      o.disposition === null
        ? 'no message-log record yet'
        : `${o.disposition} (${o.verdict ?? '-'})`,
      o.score === null ? null : `score ${o.score}`,
      o.reason === null ? null : `reason: ${o.reason}`,
      o.rule === null ? null : `rule ${o.rule}`,
      o.delivered === null ? null : o.delivered ? 'delivered to 10026' : 'not delivered',
      ...Object.entries(o.headers).map(([k, v]) => `${k}: ${v}`),
    ];
    return what.filter((x) => x !== null).join(' · ');
  });
  return `${lines.join('\n')}\n`;
}

export function registerTryCommand(program: Command): void {
  program
    .command('try')
    .description(
      'send a clean, a GTUBE and an EICAR sample through the running node and show what happened',
    )
    .option('--to <address>', 'envelope recipient of the samples', 'postmaster@localhost')
    .option('--timeout <seconds>', 'how long to wait for each answer and log record', '20')
    .option('--json', 'one JSON array')
    .action(async (opts: { to: string; timeout: string; json?: boolean }) => {
      const seconds = Number(opts.timeout);
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 600) {
        throw new ParapetError('ERR_CONFIG_INVALID', '--timeout must be 1..600 seconds');
      }
      const outcomes = await runTry({ to: opts.to, timeoutMs: seconds * 1000 });
      process.stdout.write(
        opts.json === true ? `${JSON.stringify(outcomes)}\n` : formatTry(outcomes),
      );
    });
}

/**
 * The virus path against a real clamd (Debian clamav-daemon): started here from /usr/sbin/clamd
 * with Parapet's shipped signatures in a temp $PARAPET_HOME (as the `clamav` user when run as
 * root), stopped by its PID afterwards. Skips, saying why, when clamd is not installed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import {
  BodySpool,
  ClamdClient,
  createEnvelope,
  createVirusScanner,
  formatVirusHeader,
  Message,
  newParapetId,
  parseHeaderBlock,
} from '../../filter/index.js';
import { DEFAULT_CLAMD_PATH, startClamd, type RunningClamd } from './clamd-process.js';
import { EICAR_TEST_STRING } from './signatures.js';

const CLAMD_MISSING = existsSync(DEFAULT_CLAMD_PATH)
  ? false
  : `${DEFAULT_CLAMD_PATH} is not installed (Debian package clamav-daemon)`;

const EICAR = Buffer.from(EICAR_TEST_STRING, 'latin1');
const OFFICIAL_MARKER = 'PARAPET-OFFICIAL-DATABASE-LINK-TEST-7f3a';

let home = '';
let clamd: RunningClamd | null = null;
const logLines: string[] = [];

before(async () => {
  if (CLAMD_MISSING !== false) return;
  const root = await mkdtemp(join(tmpdir(), 'parapet-av-'));
  await chmod(root, 0o755);
  home = join(root, 'home');
  // Like loadNodeConfig: $PARAPET_HOME is 0750, so clamd's user needs the search bit added.
  await mkdir(home, { mode: 0o750 });
  // A stand-in for /var/lib/clamav: one database with a signature of its own, to see that
  // official databases are linked in and loaded beside Parapet's.
  const official = join(root, 'official');
  await mkdir(official, { mode: 0o755 });
  const hex = Buffer.from(OFFICIAL_MARKER).toString('hex');
  await writeFile(join(official, 'local.ndb'), `Parapet.Test.OfficialLink:0:*:${hex}\n`, {
    mode: 0o644,
  });
  await writeFile(join(official, 'freshclam.dat'), 'not a database', { mode: 0o644 });
  clamd = await startClamd({
    home,
    officialDatabaseDir: official,
    onLog: (line) => logLines.push(line),
  });
  console.log(
    `clamd pid ${clamd.pid} ready in ${clamd.startMs} ms with ${clamd.databases.join(', ')}`,
  );
});

after(async () => {
  await clamd?.stop();
  if (home !== '') await rm(join(home, '..'), { recursive: true, force: true });
});

function running(): RunningClamd {
  assert.ok(clamd !== null, 'clamd was not started');
  return clamd;
}

async function messageFrom(raw: string, spoolMemoryBytes?: number): Promise<Message> {
  const bytes = Buffer.from(raw.replace(/\r?\n/g, '\r\n'));
  const sep = bytes.indexOf('\r\n\r\n');
  const body = new BodySpool(spoolMemoryBytes === undefined ? {} : { spoolMemoryBytes });
  await body.write(bytes.subarray(sep + 4));
  await body.seal();
  return new Message({
    id: newParapetId(),
    envelope: createEnvelope({ address: '192.0.2.1' }),
    headers: parseHeaderBlock(bytes.subarray(0, sep + 2)),
    body,
  });
}

function withAttachment(filename: string, type: string, content: Uint8Array): string {
  const b64 = Buffer.from(content).toString('base64').replace(/.{76}/g, '$&\n');
  return [
    'From: sender@example.org',
    'To: rcpt@example.net',
    'Subject: see attached',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Please find the file attached.',
    '--b1',
    `Content-Type: ${type}; name="${filename}"`,
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${filename}"`,
    '',
    b64,
    '--b1--',
    '',
  ].join('\n');
}

async function scanRaw(raw: string) {
  const scanner = createVirusScanner({
    clamd: { address: { kind: 'unix', path: running().socketPath }, commandTimeoutMs: 10_000 },
  });
  const out = await scanner.scan(await messageFrom(raw), new AbortController().signal);
  const virus = out.facts?.virus;
  assert.ok(virus !== undefined);
  return { virus, findings: out.findings };
}

test('clamd answers PING and VERSION on its socket', { skip: CLAMD_MISSING }, async () => {
  const client = new ClamdClient({ address: { kind: 'unix', path: running().socketPath } });
  await client.ping();
  assert.match(await client.version(), /^ClamAV \d/);
  const conf = await readFile(running().configPath, 'utf8');
  assert.match(conf, /^Foreground yes$/m);
  assert.match(conf, new RegExp(`^LocalSocket ${running().socketPath}$`, 'm'));
  if (process.getuid?.() === 0) assert.match(conf, /^User clamav$/m);
  assert.ok(running().databases.includes('local.ndb'));
  assert.ok(!running().databases.includes('freshclam.dat'));
});

test('a clean message is clean', { skip: CLAMD_MISSING }, async () => {
  const out = await scanRaw('From: a@example.org\nSubject: hello\n\nJust a note.\n');
  assert.deepEqual(out.virus, { status: 'clean', names: [] });
  assert.deepEqual(out.findings, []);
  assert.equal(formatVirusHeader({ status: 'clean', names: [] }), 'clean');
});

test('EICAR in a plain body is found', { skip: CLAMD_MISSING }, async () => {
  const out = await scanRaw(`From: a@example.org\nSubject: test\n\n${EICAR_TEST_STRING}\n`);
  assert.equal(out.virus.status, 'infected');
  assert.match(out.virus.names.join(','), /Parapet\.Test\.EICAR/);
  assert.equal(out.findings[0]?.symbol, 'VIRUS_FOUND');
  assert.match(formatVirusHeader(out.virus), /^infected \(Parapet\.Test\.EICAR/);
});

test('EICAR in a base64 attachment is found', { skip: CLAMD_MISSING }, async () => {
  const out = await scanRaw(withAttachment('eicar.com', 'application/octet-stream', EICAR));
  assert.equal(out.virus.status, 'infected');
});

test('EICAR in a zip attachment is found', { skip: CLAMD_MISSING }, async () => {
  const zip = zipSync({ 'docs/eicar.com': EICAR, 'readme.txt': Buffer.from('hello') });
  const out = await scanRaw(withAttachment('files.zip', 'application/zip', zip));
  assert.equal(out.virus.status, 'infected');
});

test('EICAR in a zip inside a zip is found', { skip: CLAMD_MISSING }, async () => {
  const inner = zipSync({ 'eicar.com': EICAR });
  const outer = zipSync({ 'inner.zip': inner, 'note.txt': Buffer.from('nested') });
  const out = await scanRaw(withAttachment('outer.zip', 'application/zip', outer));
  assert.equal(out.virus.status, 'infected');
});

test(
  'EICAR in a message spooled to disk is found (streamed from the file)',
  { skip: CLAMD_MISSING },
  async () => {
    const padding = 'lorem ipsum dolor sit amet '.repeat(4000);
    const message = await messageFrom(
      withAttachment(
        'big.zip',
        'application/zip',
        zipSync({ 'pad.txt': Buffer.from(padding), 'e.com': EICAR }),
      ),
      128,
    );
    try {
      assert.ok(message.body.onDisk);
      const scanner = createVirusScanner({
        clamd: { address: { kind: 'unix', path: running().socketPath }, chunkBytes: 4096 },
      });
      const out = await scanner.scan(message, new AbortController().signal);
      assert.equal(out.facts?.virus?.status, 'infected');
    } finally {
      await message.dispose();
    }
  },
);

test(
  'a signature from the linked official database directory is loaded',
  { skip: CLAMD_MISSING },
  async () => {
    const out = await scanRaw(`From: a@example.org\nSubject: x\n\nmarker ${OFFICIAL_MARKER}\n`);
    assert.equal(out.virus.status, 'infected');
    assert.match(out.virus.names[0] ?? '', /Parapet\.Test\.OfficialLink/);
  },
);

test(
  'scan cost per message, kept sessions vs a connection per scan (printed)',
  { skip: CLAMD_MISSING },
  async () => {
    const text = 'Dear customer, your invoice is attached. '.repeat(100);
    const clean = await messageFrom(
      withAttachment('invoice.pdf', 'application/pdf', Buffer.from(`%PDF-1.4\n${text}`)),
    );
    const signal = new AbortController().signal;
    for (const sessionPoolSize of [4, 0]) {
      const client = new ClamdClient({
        address: { kind: 'unix', path: running().socketPath },
        sessionPoolSize,
      });
      const scanner = createVirusScanner({ clamd: client });
      for (let i = 0; i < 20; i++) await scanner.scan(clean, signal);
      const rounds = 200;
      const cpu = process.cpuUsage();
      const started = performance.now();
      for (let i = 0; i < rounds; i++) {
        const out = await scanner.scan(clean, signal);
        assert.equal(out.facts?.virus?.status, 'clean');
      }
      const wallUs = ((performance.now() - started) * 1000) / rounds;
      const used = process.cpuUsage(cpu);
      client.close();
      console.log(
        `clamd INSTREAM, ${clean.size} B message, ${sessionPoolSize === 0 ? 'connection per scan' : 'IDSESSION pool'}: ` +
          `${wallUs.toFixed(0)} µs wall, ${((used.user + used.system) / rounds).toFixed(0)} µs Node CPU per scan`,
      );
    }
  },
);

test('clamd down gives unscanned with a reason', { skip: CLAMD_MISSING }, async () => {
  const message = await messageFrom('From: a@example.org\nSubject: x\n\nhello\n');
  await running().stop();
  const scanner = createVirusScanner({
    clamd: { address: { kind: 'unix', path: running().socketPath } },
  });
  const virus = (await scanner.scan(message, new AbortController().signal)).facts?.virus;
  assert.ok(virus !== undefined);
  assert.equal(virus.status, 'unscanned');
  assert.match(virus.reason ?? '', /ERR_CLAMD_UNAVAILABLE/);
  assert.equal(formatVirusHeader(virus), 'unscanned');
  assert.ok(logLines.length > 0, 'clamd log lines were forwarded');
});

test(
  '`serve antivirus` wiring: runs clamd from node.json settings, SIGTERM stops both and exits 0',
  { skip: CLAMD_MISSING },
  async () => {
    const serviceHome = join(home, '..', 'service-home');
    await mkdir(join(serviceHome, 'config'), { recursive: true, mode: 0o750 });
    await writeFile(
      join(serviceHome, 'config', 'node.json'),
      JSON.stringify({ antivirus: { officialDatabaseDir: null, maxThreads: 2 } }),
    );
    const entry = new URL('./antivirus-service.ts', import.meta.url).pathname;
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import(${JSON.stringify(entry)}).then((m) => m.runAntivirusService())`,
      ],
      {
        env: { ...process.env, PARAPET_HOME: serviceHome, PARAPET_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    let clamdPid: number | null = null;
    const collect = (d: Buffer): void => {
      output += d.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => {
        resolve(code);
      });
    });
    try {
      const socketPath = join(serviceHome, 'antivirus', 'clamd.sock');
      // Ready means logged ready (clamd may answer PING a moment before the service says so).
      for (let i = 0; i < 300 && !output.includes('antivirus service ready'); i++) {
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(output, /antivirus service ready/);
      await new ClamdClient({ address: { kind: 'unix', path: socketPath } }).ping();
      const pid = /"clamdPid":(\d+)/.exec(output)?.[1];
      assert.ok(pid !== undefined);
      clamdPid = Number(pid);
      assert.ok(child.pid !== undefined);
      process.kill(clamdPid, 0); // clamd is running now
      process.kill(child.pid, 'SIGTERM');
      assert.equal(await exited, 0, output);
      assert.throws(() => process.kill(Number(pid), 0), { code: 'ESRCH' }, 'clamd is gone');
    } finally {
      // On failure: stop what this test started, by PID — the service first (it stops clamd),
      // then clamd itself if it is still there.
      const running = (): boolean => child.exitCode === null && child.signalCode === null;
      if (running() && child.pid !== undefined) {
        process.kill(child.pid, 'SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (running()) process.kill(child.pid, 'SIGKILL');
      }
      if (clamdPid !== null) {
        try {
          process.kill(clamdPid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    }
  },
);

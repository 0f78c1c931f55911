/**
 * `npm run bench:store` — a benchmark, not a test (issue 5). Against a throw-away embedded
 * PostgreSQL (or BENCH_DATABASE_URL, an empty database you are willing to fill):
 *
 * 1. Message-log ingestion: BENCH_LOG_RECORDS records (default 200000) are written to a local
 *    log with the data plane's MessageLog, then timed while the shipper forwards them (read,
 *    parse, batched INSERT … ON CONFLICT, durable cursor). Target ≥ 10,000 records/s.
 * 2. Quarantine search: BENCH_QUARANTINE_ROWS rows (default 1000000, spread over 30 days,
 *    10% released) are bulk-loaded, then each kind of search asks for its first page (50 rows)
 *    BENCH_SEARCH_RUNS times (default 40) with varying terms; p50/p95 are timed at the client,
 *    round trip included. Target p95 < 100 ms.
 *
 * Figures are printed and written to bench-results/store-<time>.json. BENCH_HOME=DIR keeps the
 * cluster in DIR between runs (the quarantine load is skipped when the rows are already there);
 * BENCH_SKIP_INGEST=1 skips part 1, BENCH_SKIP_SEARCH=1 part 2.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageLog } from '../../filter/index.js';
import {
  Db,
  EmbeddedPostgres,
  MessageLogShipper,
  migrate,
  searchQuarantine,
  type QuarantineSearch,
} from '../db/index.js';
import { startTestPostgres } from '../db/test-support.js';

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

const LOG_RECORDS = envNumber('BENCH_LOG_RECORDS', 200_000);
const QUARANTINE_ROWS = envNumber('BENCH_QUARANTINE_ROWS', 1_000_000);
const SEARCH_RUNS = envNumber('BENCH_SEARCH_RUNS', 40);
const PAGE = 50;

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** CPU seconds (user + system) used so far by a postmaster and its live children, from /proc. */
function postgresCpuSeconds(postmasterPid: number | null): number {
  if (postmasterPid === null) return 0;
  const tick = 100; // USER_HZ on Linux
  let total = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(name);
      if (pid !== postmasterPid && Number(fields[1]) !== postmasterPid) continue;
      total += (Number(fields[11]) + Number(fields[12])) / tick;
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

let postmasterPid: number | null = null;

async function benchIngestion(db: Db, dir: string): Promise<Record<string, number>> {
  const logPath = join(dir, 'message-log.jsonl');
  const log = await MessageLog.open({ path: logPath, nodeId: `bench-${Date.now()}` });
  for (let i = 0; i < LOG_RECORDS; i++) {
    log.append({
      id: `m${i.toString(36)}`,
      queueId: `Q${i}`,
      client: { address: `203.0.113.${i % 250}`, name: null },
      helo: 'mail.sender.example',
      from: `user${i % 5000}@sender${i % 300}.example`,
      to: [`rcpt${i % 20000}@corp.example`],
      subject: `Subject line number ${i} about things`,
      sizeBytes: 3000 + (i % 50000),
      verdict: i % 4 === 0 ? 'quarantine' : 'accept',
      reason: i % 4 === 0 ? 'spam' : null,
      disposition: i % 4 === 0 ? 'quarantined' : 'delivered',
      score: (i % 200) / 10,
      symbols: [
        { name: 'BAYES_50', score: 0.8 },
        { name: 'HTML_MESSAGE', score: 0.1 },
      ],
      rule: 'policy.sieve:12',
      errorCode: null,
      timingsMs: { receive: 1, scan: 4, policy: 1, actions: 0, total: 6 },
    });
  }
  await log.close();
  const shipper = new MessageLogShipper({ db, logPath });
  const pgCpuBefore = postgresCpuSeconds(postmasterPid);
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  const result = await shipper.drain();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const nodeCpu = (cpu.user + cpu.system) / 1e6;
  const pgCpu = postgresCpuSeconds(postmasterPid) - pgCpuBefore;
  const rate = result.inserted / seconds;
  console.log(
    `message-log ingestion: ${result.inserted} records in ${seconds.toFixed(2)} s = ` +
      `${Math.round(rate)} records/s (target >= 10000) ${rate >= 10_000 ? 'OK' : 'MISSED'}`,
  );
  // On a shared machine wall time includes waiting for a core; CPU time does not. Shipper
  // and server overlap (read-ahead), so the busier of the two bounds the rate on 2 free cores.
  const cpuBound = result.inserted / Math.max(nodeCpu, pgCpu, 1e-9);
  if (postmasterPid !== null) {
    console.log(
      `  CPU: shipper ${nodeCpu.toFixed(2)} s, postgres ${pgCpu.toFixed(2)} s -> ` +
        `${Math.round(cpuBound)} records/s when each has a core; ` +
        `${Math.round(result.inserted / (nodeCpu + pgCpu))} records/s on one core`,
    );
  }
  return {
    records: result.inserted,
    seconds,
    recordsPerSecond: rate,
    shipperCpuSeconds: nodeCpu,
    postgresCpuSeconds: pgCpu,
    recordsPerSecondCpuBound: cpuBound,
  };
}

/**
 * Bulk load the way an operator would restore a dump: secondary indexes dropped, rows
 * inserted by generate_series in chunks, indexes rebuilt, ANALYZE. The schema ends exactly as
 * the migrations made it (index definitions are read back from pg_indexes).
 */
async function loadQuarantine(db: Db): Promise<Record<string, number>> {
  const indexes = await db.query<{ name: string; def: string }>(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes
     WHERE tablename = 'quarantine' AND indexname <> 'quarantine_pkey'`,
  );
  await db.execute('TRUNCATE quarantine');
  for (const index of indexes) await db.execute(`DROP INDEX ${index.name}`);
  const started = Date.now();
  const chunk = 100_000;
  for (let from = 1; from <= QUARANTINE_ROWS; from += chunk) {
    const to = Math.min(QUARANTINE_ROWS, from + chunk - 1);
    await db.execute(
      `INSERT INTO quarantine (id, node_id, ts, sender, recipients, recipient_keys,
         recipients_text, subject, size_bytes, reason, score, symbols, rule, virus_names, path,
         status)
       SELECT 'b' || lpad(g::text, 8, '0'), 'node-' || (g % 3),
         now() - random() * interval '30 days',
         (ARRAY['alice','bob','carol','dave','erin','frank','grace','heidi'])[1 + g % 8]
           || (g % 5000) || '@'
           || (ARRAY['spam','cheap','offers','mailer','promo','winner','deals','news'])[1 + (g / 8) % 8]
           || (g % 997) || '.example',
         ARRAY['user' || (g % 20000) || '@corp.example'],
         -- the same keys quarantine-repo.ts recipientKeys() computes
         ARRAY['user' || (g % 20000) || '@corp.example', 'user' || (g % 20000) || '@',
               '@corp.example', '.example'],
         'user' || (g % 20000) || '@corp.example',
         (ARRAY['Cheap','Limited','Your','Exclusive','Urgent','Free','Final','Hot','Best','New'])[1 + floor(random() * 10)::int]
           || ' ' || (ARRAY['offer','invoice','pills','watches','loan','prize','account','delivery','meeting','crypto'])[1 + floor(random() * 10)::int]
           || ' ' || (ARRAY['today','now','inside','for you','waiting','expires','confirmed','update','notice','alert'])[1 + floor(random() * 10)::int]
           || ' #' || g,
         1000 + floor(random() * 100000)::int,
         CASE WHEN g % 50 = 3 THEN 'virus' ELSE 'spam' END,
         round((5 + random() * 30)::numeric, 2),
         '[{"name":"BAYES_99","score":3.5}]'::jsonb, 'policy.sieve:20',
         CASE WHEN g % 50 = 3 THEN ARRAY['Eicar-Test-Signature'] ELSE '{}'::text[] END,
         '/var/lib/parapet/quarantine/2026-01-01/b' || g || '.eml',
         CASE WHEN g % 10 = 0 THEN 'released' ELSE 'held' END
       FROM generate_series($1::int, $2::int) AS g`,
      [from, to],
    );
  }
  const loadedMs = Date.now() - started;
  await db.execute(`SET maintenance_work_mem = '256MB'`);
  for (const index of indexes) await db.execute(index.def);
  await db.execute('ANALYZE quarantine');
  // Flush the load's dirty pages now, so that a checkpoint does not stall the timed searches.
  await db.execute('CHECKPOINT').catch(() => undefined);
  const indexedMs = Date.now() - started - loadedMs;
  console.log(
    `quarantine: ${QUARANTINE_ROWS} rows loaded in ${(loadedMs / 1000).toFixed(1)} s, ` +
      `${indexes.length} indexes rebuilt in ${(indexedMs / 1000).toFixed(1)} s`,
  );
  return { rows: QUARANTINE_ROWS, loadSeconds: loadedMs / 1000, indexSeconds: indexedMs / 1000 };
}

interface SearchCase {
  readonly name: string;
  readonly search: (run: number) => QuarantineSearch;
  /** Pages to skip through first (keyset), to time a deep page instead of the first. */
  readonly depth?: number;
}

const DAY = 24 * 3600 * 1000;
const WORDS = ['offer', 'invoice', 'pills', 'watches', 'loan', 'prize', 'account', 'delivery'];

const CASES: readonly SearchCase[] = [
  { name: 'list (no filter)', search: () => ({}) },
  {
    name: 'subject word (~10% match)',
    search: (r) => ({ subject: WORDS[r % WORDS.length] ?? 'offer' }),
  },
  {
    name: 'subject rare (1 match)',
    search: (r) => ({ subject: `#${100_003 + r * 17_011}` }),
  },
  { name: 'sender domain', search: (r) => ({ sender: `cheap${(r * 37) % 997}.example` }) },
  {
    name: 'sender address',
    search: (r) => ({ sender: `bob${(r * 8 + 1) % 5000}@spam${r % 997}.example` }),
  },
  { name: 'sender substring', search: (r) => ({ sender: `frank${(r * 41) % 5000}` }) },
  {
    name: 'recipient address',
    search: (r) => ({ recipient: `user${(r * 499) % 20000}@corp.example` }),
  },
  {
    // Every message of these users was released: the page is empty and must still be quick.
    name: 'recipient, none held',
    search: (r) => ({ recipient: `user${(r * 10 + 20) % 20000}@corp.example` }),
  },
  { name: 'recipient local part', search: (r) => ({ recipient: `user${(r * 499) % 20000}@` }) },
  { name: 'recipient substring', search: (r) => ({ recipient: `ser${(r * 499) % 20000}@c` }) },
  { name: 'sender local part', search: (r) => ({ sender: `carol${(r * 8 + 2) % 5000}@` }) },
  { name: 'recipient domain', search: () => ({ recipient: 'corp.example' }) },
  { name: 'score >= 34', search: () => ({ minScore: 34 }) },
  {
    name: 'one day',
    search: (r) => ({
      since: new Date(Date.now() - ((r % 28) + 2) * DAY),
      until: new Date(Date.now() - ((r % 28) + 1) * DAY),
    }),
  },
  { name: 'virus name', search: () => ({ virus: 'Eicar-Test-Signature' }) },
  {
    name: 'sender + one week + score',
    search: (r) => ({
      sender: `winner${(r * 13) % 997}`,
      since: new Date(Date.now() - 7 * DAY),
      minScore: 10,
    }),
  },
  { name: 'list, page 20 (keyset)', search: () => ({}), depth: 19 },
];

async function benchSearch(db: Db): Promise<Record<string, Record<string, number>>> {
  const results: Record<string, Record<string, number>> = {};
  console.log(`\nquarantine search, first page of ${PAGE}, ${SEARCH_RUNS} runs each`);
  console.log('search                          p50 ms   p95 ms   max ms   rows');
  for (const c of CASES) {
    const times: number[] = [];
    let rows = 0;
    for (let run = -3; run < SEARCH_RUNS; run++) {
      const search = c.search(Math.abs(run));
      let after: string | null = null;
      for (let d = 0; d < (c.depth ?? 0); d++) {
        after = (await searchQuarantine(db, search, { limit: PAGE, after })).next;
      }
      const started = process.hrtime.bigint();
      const page = await searchQuarantine(db, search, { limit: PAGE, after });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (run >= 0) {
        times.push(ms);
        rows += page.rows.length;
      }
    }
    const p50 = percentile(times, 50);
    const p95 = percentile(times, 95);
    const max = Math.max(...times);
    results[c.name] = { p50, p95, max, avgRows: rows / times.length };
    console.log(
      `${c.name.padEnd(30)} ${p50.toFixed(1).padStart(7)}  ${p95.toFixed(1).padStart(7)}  ` +
        `${max.toFixed(1).padStart(7)}  ${(rows / times.length).toFixed(0).padStart(5)}`,
    );
  }
  const worst = Math.max(...Object.values(results).map((r) => r['p95'] ?? 0));
  console.log(`worst p95 ${worst.toFixed(1)} ms (target < 100) ${worst < 100 ? 'OK' : 'MISSED'}`);
  return results;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'parapet-store-bench-'));
  const url = process.env['BENCH_DATABASE_URL'];
  let db: Db;
  let cleanup: () => Promise<void>;
  if (url !== undefined && url !== '') {
    db = new Db({ url }, { statementTimeoutMs: 0 });
    await migrate(db);
    cleanup = () => db.close();
  } else if (process.env['BENCH_HOME'] !== undefined) {
    const embedded = new EmbeddedPostgres({
      home: process.env['BENCH_HOME'],
      port: envNumber('BENCH_PORT', 55_433),
    });
    postmasterPid = (await embedded.start()).pid;
    db = new Db(await embedded.connection(), { statementTimeoutMs: 0 });
    await migrate(db);
    cleanup = async () => {
      await db.close();
      await embedded.stop();
    };
  } else {
    const t = await startTestPostgres({ poolMax: 4, statementTimeoutMs: 0 });
    postmasterPid = (await t.pg.status()).pid;
    db = t.db;
    cleanup = t.cleanup;
  }
  try {
    const version = await db.query<{ v: string }>('SELECT version() AS v');
    console.log(version[0]?.v ?? '');
    const ingestion = process.env['BENCH_SKIP_INGEST'] === '1' ? {} : await benchIngestion(db, dir);
    let load = {};
    let search = {};
    if (process.env['BENCH_SKIP_SEARCH'] !== '1') {
      const present = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM quarantine');
      load =
        (present[0]?.n ?? 0) >= QUARANTINE_ROWS
          ? { rows: present[0]?.n ?? 0 }
          : await loadQuarantine(db);
      search = await benchSearch(db);
    }
    await mkdir('bench-results', { recursive: true });
    const file = `bench-results/store-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    await writeFile(file, JSON.stringify({ ingestion, load, search }, null, 2));
    console.log(`\nwritten ${file}`);
  } finally {
    await cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

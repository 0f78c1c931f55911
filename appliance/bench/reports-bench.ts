/**
 * `npm run bench:reports` — a benchmark, not a test (issue 6). Against a throw-away embedded
 * PostgreSQL (or BENCH_DATABASE_URL, an empty database you are willing to fill):
 *
 * 1. BENCH_MESSAGES message-log rows (default 10,000,000) over the last 30 days are generated
 *    in SQL: ~60% spam, ~2% viruses, ~3% blocked, senders, relays and recipients with a
 *    Zipf-like skew (log-uniform ranks), some attachments and marks.
 * 2. The roll-up of all 31 days is timed (a first backfill), then the scheduler's hourly job
 *    (yesterday and today).
 * 3. Every report over the last 30 days (and categories over the last 24 hours, hourly), all
 *    mail and scoped to one domain and one address, median of BENCH_ROUNDS (5) runs after a
 *    warm-up, timed at the client. Target < 1 s.
 * 4. BENCH_QUARANTINE_ROWS quarantine rows (default 1,000,000), then the first page (50 rows)
 *    of the quarantine search the UI uses: newest first, and with a sender or subject filter.
 *    Target < 300 ms.
 *
 * Prints a table and writes bench-results/reports-<time>.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import {
  Db,
  migrate,
  rollupMessageLog,
  searchQuarantine,
  type QuarantineSearch,
} from '../db/index.js';
import { REPORT_IDS, runReport, type ReportQuery } from '../db/reports-repo.js';
import { startTestPostgres } from '../db/test-support.js';

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

const MESSAGES = envNumber('BENCH_MESSAGES', 10_000_000);
const QUARANTINE_ROWS = envNumber('BENCH_QUARANTINE_ROWS', 1_000_000);
const ROUNDS = envNumber('BENCH_ROUNDS', 5);
const CHUNK = 500_000;
const DAY_MS = 86_400_000;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? 0)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = process.hrtime.bigint();
  const value = await fn();
  return [value, Number(process.hrtime.bigint() - started) / 1e6];
}

/** Secondary indexes are dropped for the load and rebuilt after (as a dump restore does). */
async function withoutIndexes(db: Db, table: string, load: () => Promise<void>): Promise<number> {
  const indexes = await db.query<{ name: string; def: string }>(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes
     WHERE tablename = $1 AND indexname <> $1 || '_pkey'`,
    [table],
  );
  for (const index of indexes) await db.execute(`DROP INDEX ${index.name}`);
  await load();
  const [, ms] = await timed(async () => {
    await db.withClient(async (c) => {
      await c.execute(`SET maintenance_work_mem = '512MB'`);
      for (const index of indexes) await c.execute(index.def);
    });
  });
  await db.execute(`ANALYZE ${table}`);
  return ms;
}

/**
 * A log-uniform rank in 1..n: rank k is drawn with probability ~1/k (Zipf, exponent 1), so a
 * few senders, relays and recipients carry much of the mail, as on a real gateway.
 */
const zipf = (r: string, n: number): string => `floor(exp(${r} * ln(${String(n)})))::int`;

async function loadMessageLog(db: Db): Promise<Record<string, number>> {
  await db.execute('TRUNCATE message_log');
  const started = Date.now();
  const indexMs = await withoutIndexes(db, 'message_log', async () => {
    for (let from = 1; from <= MESSAGES; from += CHUNK) {
      const to = Math.min(MESSAGES, from + CHUNK - 1);
      // c: category draw; r1..r4: ranks and details. Rows are in time order, as shipped.
      await db.execute(
        `INSERT INTO message_log (node_id, seq, id, ts, client_address, sender, recipients,
           subject, size_bytes, verdict, disposition, reason, score, symbols, rule, marks,
           virus_names, attachment_types)
         SELECT 'node-' || (g % 2), g, 'b' || g,
           now() - interval '30 days' + (g::float8 / $3) * interval '30 days',
           '10.' || (${zipf('r2', 50_000)} / 250) || '.' || (${zipf('r2', 50_000)} % 250) || '.1',
           CASE WHEN c < 0.60 THEN 'sales' || ${zipf('r1', 200_000)} || '@offers'
                  || (${zipf('r1', 200_000)} % 3000) || '.example'
                ELSE 'user' || ${zipf('r1', 50_000)} || '@partner' || (${zipf('r1', 50_000)} % 500)
                  || '.example' END,
           CASE WHEN r4 < 0.1
             THEN ARRAY['user' || ${zipf('r3', 20_000)} || '@corp' || (${zipf('r3', 20_000)} % 20)
                          || '.example', 'user' || (g % 20000) || '@corp' || (g % 20) || '.example']
             ELSE ARRAY['user' || ${zipf('r3', 20_000)} || '@corp' || (${zipf('r3', 20_000)} % 20)
                          || '.example'] END,
           'Subject ' || (g % 1000),
           2000 + (g % 50000),
           CASE WHEN c < 0.36 THEN 'quarantine' WHEN c < 0.60 THEN 'accept'
                WHEN c < 0.62 THEN 'quarantine' WHEN c < 0.65 THEN 'reject'
                WHEN c < 0.66 THEN 'tempfail' ELSE 'accept' END,
           CASE WHEN c < 0.36 THEN 'quarantined' WHEN c < 0.60 THEN 'reinjected'
                WHEN c < 0.62 THEN 'quarantined' WHEN c < 0.65 THEN 'rejected'
                WHEN c < 0.66 THEN 'tempfailed' ELSE 'reinjected' END,
           NULL,
           CASE WHEN c < 0.60 THEN 5 + r4 * 25 ELSE r4 * 4 END,
           CASE WHEN c < 0.60 THEN '[{"name":"BAYES_99","score":3.5}]'::jsonb
                WHEN c < 0.62 THEN '[{"name":"VIRUS_FOUND","score":10}]'::jsonb
                ELSE '[]'::jsonb END,
           CASE WHEN c < 0.36 THEN 'policy.sieve:43' WHEN c < 0.60 THEN 'policy.sieve:50'
                WHEN c < 0.62 THEN 'policy.sieve:16' WHEN c < 0.65 THEN 'policy.sieve:9'
                WHEN c < 0.66 THEN 'policy.sieve:24' ELSE 'policy.sieve:55' END,
           CASE WHEN c < 0.36 THEN ARRAY['spam-high'] WHEN c < 0.60 THEN ARRAY['spam']
                WHEN c < 0.62 THEN ARRAY['virus'] WHEN c < 0.65 THEN ARRAY['blocked']
                ELSE '{}'::text[] END,
           CASE WHEN c >= 0.60 AND c < 0.62
             THEN ARRAY[(ARRAY['Eicar-Test-Signature', 'Win.Trojan.Agent', 'Doc.Dropper.Emotet',
                  'Html.Phishing.Bank', 'Js.Downloader.Nemucod', 'Pdf.Exploit.CVE-2018-4990',
                  'Xls.Macro.Dridex', 'Zip.Malware.Generic'])[${zipf('r4', 8)}]]
             ELSE '{}'::text[] END,
           CASE WHEN r2 < 0.12
             THEN ARRAY[(ARRAY['pdf', 'docx', 'xlsx', 'jpg', 'png', 'zip', 'html', 'exe', 'iso',
                  'js'])[${zipf('r3', 10)}]]
             ELSE '{}'::text[] END
         FROM (SELECT g, random() AS c, random() AS r1, random() AS r2, random() AS r3,
                      random() AS r4
               FROM generate_series($1::bigint, $2::bigint) AS g) AS x`,
        [from, to, MESSAGES],
      );
      process.stdout.write(`\r  message_log: ${String(to)} rows`);
    }
    process.stdout.write('\n');
  });
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `message_log: ${String(MESSAGES)} rows in ${seconds.toFixed(1)} s ` +
      `(indexes rebuilt in ${(indexMs / 1000).toFixed(1)} s)`,
  );
  await db.execute('CHECKPOINT').catch(() => undefined);
  return { rows: MESSAGES, loadSeconds: seconds, indexSeconds: indexMs / 1000 };
}

async function loadQuarantine(db: Db): Promise<Record<string, number>> {
  await db.execute('TRUNCATE quarantine');
  const started = Date.now();
  const indexMs = await withoutIndexes(db, 'quarantine', async () => {
    for (let from = 1; from <= QUARANTINE_ROWS; from += CHUNK) {
      const to = Math.min(QUARANTINE_ROWS, from + CHUNK - 1);
      await db.execute(
        `INSERT INTO quarantine (id, node_id, ts, client_address, sender, recipients,
           recipient_keys, recipients_text, subject, size_bytes, reason, score, symbols, rule,
           virus_names, path, status)
         SELECT 'q' || lpad(g::text, 8, '0'), 'node-' || (g % 2),
           now() - random() * interval '30 days', '10.9.' || (g % 250) || '.1',
           'sales' || s || '@offers' || (s % 3000) || '.example',
           ARRAY[u], ARRAY[u, split_part(u, '@', 1) || '@', '@' || split_part(u, '@', 2),
                 '.example'],
           u,
           (ARRAY['Cheap','Limited','Your','Exclusive','Urgent','Free','Final','Hot'])[1 + g % 8]
             || ' ' || (ARRAY['offer','invoice','pills','watches','loan','prize','account',
                              'delivery'])[1 + (g / 8) % 8] || ' #' || g,
           2000 + g % 50000, 'high spam score', 10 + (g % 20),
           '[{"name":"BAYES_99","score":3.5}]'::jsonb, 'policy.sieve:43',
           CASE WHEN g % 30 = 0 THEN ARRAY['Eicar-Test-Signature'] ELSE '{}'::text[] END,
           '/var/lib/parapet/quarantine/x/q' || g || '.eml',
           CASE WHEN g % 10 = 0 THEN 'released' ELSE 'held' END
         FROM (SELECT g, ${zipf('random()', 200_000)} AS s,
                      'user' || ${zipf('random()', 20_000)} || '@corp' || (g % 20) || '.example'
                        AS u
               FROM generate_series($1::int, $2::int) AS g) AS x`,
        [from, to],
      );
    }
  });
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `quarantine: ${String(QUARANTINE_ROWS)} rows in ${seconds.toFixed(1)} s ` +
      `(indexes rebuilt in ${(indexMs / 1000).toFixed(1)} s)`,
  );
  await db.execute('CHECKPOINT').catch(() => undefined);
  return { rows: QUARANTINE_ROWS, loadSeconds: seconds, indexSeconds: indexMs / 1000 };
}

interface Timing {
  readonly medianMs: number;
  readonly maxMs: number;
  readonly rows: number;
}

async function timeRounds(fn: () => Promise<number>): Promise<Timing> {
  await fn(); // warm-up: first touch of the pages
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const [n, ms] = await timed(fn);
    times.push(ms);
    rows = n;
  }
  return { medianMs: median(times), maxMs: Math.max(...times), rows };
}

function printRow(name: string, t: Timing, targetMs: number): void {
  console.log(
    `${name.padEnd(44)} ${t.medianMs.toFixed(1).padStart(8)} ${t.maxMs.toFixed(1).padStart(8)} ` +
      `${String(t.rows).padStart(6)}  ${t.maxMs < targetMs ? 'OK' : 'MISSED'}`,
  );
}

async function benchReports(db: Db): Promise<Record<string, Timing>> {
  const now = Date.now();
  const month: ReportQuery = { from: new Date(now - 30 * DAY_MS), to: new Date(now), limit: 20 };
  const day: ReportQuery = { from: new Date(now - DAY_MS), to: new Date(now) };
  const domain: ReportQuery = { ...month, scope: { domains: ['corp3.example'], addresses: [] } };
  const user: ReportQuery = {
    ...month,
    scope: { domains: [], addresses: ['user1@corp1.example'] },
  };
  const results: Record<string, Timing> = {};
  console.log(`\nreports (median and max of ${String(ROUNDS)} runs, ms; target < 1000)`);
  console.log(
    `${'report'.padEnd(44)} ${'median'.padStart(8)} ${'max'.padStart(8)} ${'rows'.padStart(6)}`,
  );
  const cases: [string, ReportQuery, readonly (typeof REPORT_IDS)[number][]][] = [
    ['30 days', month, REPORT_IDS],
    ['24 hours', day, ['message-categories']],
    ['30 days, one domain', domain, ['message-categories', 'top-spam-senders', 'top-recipients']],
    ['30 days, one address', user, ['message-categories', 'top-recipients', 'quarantine-size']],
  ];
  for (const [label, query, ids] of cases) {
    for (const id of ids) {
      const t = await timeRounds(async () => (await runReport(db, id, query)).rows.length);
      results[`${id} (${label})`] = t;
      printRow(`${id} (${label})`, t, 1000);
    }
  }
  return results;
}

async function benchQuarantine(db: Db): Promise<Record<string, Timing>> {
  const results: Record<string, Timing> = {};
  console.log(`\nquarantine page (first 50, newest first; target < 300)`);
  const cases: [string, QuarantineSearch][] = [
    ['newest first (no filter)', {}],
    ['sender domain', { sender: 'offers17.example' }],
    ['sender address', { sender: 'sales1@offers1.example' }],
    ['sender substring', { sender: 'sales123' }],
    ['subject word', { subject: 'invoice' }],
    ['subject rare', { subject: '#123457' }],
    ['recipient address (end user)', { owner: 'user7@corp7.example' }],
  ];
  for (const [name, search] of cases) {
    const t = await timeRounds(
      async () => (await searchQuarantine(db, search, { limit: 50 })).rows.length,
    );
    results[name] = t;
    printRow(name, t, 300);
  }
  return results;
}

async function main(): Promise<void> {
  const url = process.env['BENCH_DATABASE_URL'];
  let db: Db;
  let cleanup: () => Promise<void>;
  if (url !== undefined && url !== '') {
    db = new Db({ url }, { statementTimeoutMs: 0 });
    await migrate(db);
    cleanup = () => db.close();
  } else {
    const t = await startTestPostgres({ poolMax: 4, statementTimeoutMs: 0 });
    db = t.db;
    cleanup = t.cleanup;
  }
  try {
    console.log((await db.query<{ v: string }>('SELECT version() AS v'))[0]?.v ?? '');
    const messageLog = await loadMessageLog(db);
    const now = Date.now();
    const [hours, backfillMs] = await timed(() =>
      rollupMessageLog(db, new Date(now - 31 * DAY_MS), new Date(now + 1)),
    );
    console.log(
      `roll-up of 31 days (backfill): ${(backfillMs / 1000).toFixed(1)} s, ${String(hours)} hourly rows`,
    );
    const today = Math.floor(now / DAY_MS) * DAY_MS;
    const [, hourlyJobMs] = await timed(() =>
      rollupMessageLog(db, new Date(today - DAY_MS), new Date(today + DAY_MS)),
    );
    console.log(
      `roll-up of yesterday and today (hourly job): ${(hourlyJobMs / 1000).toFixed(1)} s`,
    );
    const sizes = await db.query<{ name: string; n: number }>(
      `SELECT relname AS name, n_live_tup AS n FROM pg_stat_user_tables
       WHERE relname IN ('report_category_hourly', 'report_category_daily', 'report_top_daily')
       ORDER BY 1`,
    );
    await db.execute('ANALYZE');
    const reports = await benchReports(db);
    const quarantineLoad = await loadQuarantine(db);
    const quarantine = await benchQuarantine(db);
    const worstReport = Math.max(...Object.values(reports).map((r) => r.maxMs));
    const worstPage = Math.max(...Object.values(quarantine).map((r) => r.maxMs));
    console.log(
      `\nworst report ${worstReport.toFixed(1)} ms (target < 1000) ${worstReport < 1000 ? 'OK' : 'MISSED'}; ` +
        `worst quarantine page ${worstPage.toFixed(1)} ms (target < 300) ${worstPage < 300 ? 'OK' : 'MISSED'}`,
    );
    await mkdir('bench-results', { recursive: true });
    const file = `bench-results/reports-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    await writeFile(
      file,
      JSON.stringify(
        {
          messageLog,
          rollup: {
            backfillSeconds: backfillMs / 1000,
            hourlyJobSeconds: hourlyJobMs / 1000,
            hourlyRows: hours,
            rollupRows: Object.fromEntries(sizes.map((s) => [s.name, s.n])),
          },
          reports,
          quarantineLoad,
          quarantine,
          worstReportMs: worstReport,
          worstQuarantinePageMs: worstPage,
        },
        null,
        2,
      ),
    );
    console.log(`written ${file}`);
  } finally {
    await cleanup();
  }
}

await main();

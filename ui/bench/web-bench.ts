/**
 * `npm run bench:web` — the Manager's Quarantine and Reports pages at appliance scale, measured
 * through the real HTTPS API (and, when Debian's chromium is there, in the browser). A
 * benchmark, not a test: it prints figures and asserts nothing.
 *
 * 1. A fresh embedded PostgreSQL (temp home, free port), migrated.
 * 2. BENCH_QUARANTINE_ROWS quarantine rows (default 1,000,000) and BENCH_MESSAGES message-log
 *    rows (default 10,000,000) over the last 30 days, generated in SQL with a realistic skew
 *    (a few senders, relays and recipients carry most of the mail: ranks drawn log-uniformly,
 *    i.e. Zipf with exponent 1; ~55% spam, 2% viruses, 3% blocked). Secondary indexes are
 *    dropped for the load and rebuilt after, as a restore would.
 * 3. The roll-up of all 31 days (the scheduler's job, run as a backfill), timed.
 * 4. Through HTTPS with a signed-in administrator: the quarantine page's first results (and a
 *    few searches), the 30-day reports one by one and all at once as the Reports tab loads
 *    them. Median and max of BENCH_ROUNDS rounds (default 7) after a warm-up.
 *    Targets: quarantine first page < 300 ms, a 30-day report < 1 s.
 * 5. In chromium (unless BENCH_BROWSER=0): navigation to the first result row visible, and to
 *    the first report bar visible.
 *
 * Writes bench-results/web-<time>.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_DATABASE_CONFIG,
  Db,
  migrate,
  openDatabase,
  rollupMessageLog,
  snapshotQuarantineSize,
} from '../../appliance/index.js';
import { packageRoot } from '../api/app.js';
import { chromiumPath, launchBrowser, newPage } from '../test/browser.js';
import { startWebNode, WebClient } from '../test/web-node.js';
import { freePort } from '../test/free-port.js';

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

const MESSAGES = envNumber('BENCH_MESSAGES', 10_000_000);
const QUARANTINE_ROWS = envNumber('BENCH_QUARANTINE_ROWS', 1_000_000);
const ROUNDS = envNumber('BENCH_ROUNDS', 7);
const BROWSER = process.env['BENCH_BROWSER'] !== '0';
const CHUNK = 500_000;
const DAY_MS = 86_400_000;
const PASSWORD = 'bench password 1234';

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/** A log-uniform rank in 1..n (Zipf-like: rank k has probability ~1/k). */
const rank = (r: string, n: number): string => `floor(exp(${r} * ln(${String(n)})))::int`;

async function withoutSecondaryIndexes(
  db: Db,
  table: string,
  load: () => Promise<void>,
): Promise<number> {
  const indexes = await db.query<{ name: string; def: string }>(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes
     WHERE tablename = $1 AND indexname <> $1 || '_pkey'`,
    [table],
  );
  for (const i of indexes) await db.execute(`DROP INDEX ${i.name}`);
  await load();
  const started = now();
  await db.withClient(async (c) => {
    await c.execute(`SET maintenance_work_mem = '512MB'`);
    for (const i of indexes) await c.execute(i.def);
  });
  await db.execute(`VACUUM (ANALYZE) ${table}`);
  return (now() - started) / 1000;
}

async function loadQuarantine(db: Db): Promise<Record<string, number>> {
  const started = now();
  const indexSeconds = await withoutSecondaryIndexes(db, 'quarantine', async () => {
    for (let from = 1; from <= QUARANTINE_ROWS; from += CHUNK) {
      const to = Math.min(QUARANTINE_ROWS, from + CHUNK - 1);
      await db.execute(
        `INSERT INTO quarantine (id, node_id, ts, client_address, helo, sender, recipients,
           recipient_keys, recipients_text, subject, size_bytes, reason, score, symbols, rule,
           virus_names, path, status)
         SELECT 'wq' || lpad(g::text, 9, '0'), 'node-' || (g % 3),
           now() - (g::float8 / $3) * interval '30 days' - random() * interval '1 minute',
           '203.0.' || (rr % 200) || '.' || (rr % 250 + 1), 'mx' || rr || '.example.net',
           snd, ARRAY[rcpt],
           ARRAY[rcpt, split_part(rcpt, '@', 1) || '@', '@' || split_part(rcpt, '@', 2),
                 '.' || split_part(split_part(rcpt, '@', 2), '.', 2)],
           rcpt,
           (ARRAY['Cheap', 'Limited', 'Your', 'Exclusive', 'Urgent', 'Free', 'Final', 'Re:'])
             [1 + g % 8] || ' ' ||
           (ARRAY['offer', 'invoice', 'pills', 'watches', 'loan', 'prize', 'account',
                  'parcel'])[1 + (g / 8) % 8] || ' ' || (g % 9973),
           1500 + (g * 7919) % 80000,
           CASE WHEN v THEN 'virus' WHEN c < 0.05 THEN 'policy' ELSE 'spam' END,
           CASE WHEN v THEN NULL ELSE round((5 + power(c, 2) * 40)::numeric, 1)::float8 END,
           CASE WHEN v THEN '[{"name":"VIRUS_FOUND","score":100}]'::jsonb
                ELSE '[{"name":"BAYES_99","score":5.2},{"name":"URI_BLACK","score":3.1}]'::jsonb END,
           'policy.sieve:' || (10 + g % 5),
           CASE WHEN v THEN ARRAY[(ARRAY['Eicar-Test-Signature', 'Win.Trojan.Agent',
             'Doc.Dropper.Emotet', 'Html.Phishing.Bank'])[${rank('c', 4)}]] ELSE '{}'::text[] END,
           '/var/lib/parapet/quarantine/x/wq' || g || '.eml',
           CASE WHEN g % 10 = 0 THEN 'released' WHEN g % 97 = 0 THEN 'deleted' ELSE 'held' END
         FROM (SELECT g, c, c < 0.02 AS v, ${rank('r1', 5000)} AS rr,
                 'promo' || ${rank('r2', 100_000)} || '@offers' || (${rank('r2', 100_000)} % 2000)
                   || '.example' AS snd,
                 'user' || ${rank('r3', 20_000)} || '@corp' || (${rank('r3', 20_000)} % 25)
                   || '.example' AS rcpt
               FROM (SELECT g, random() AS c, random() AS r1, random() AS r2, random() AS r3
                     FROM generate_series($1::bigint, $2::bigint) AS g) AS a) AS x`,
        [from, to, QUARANTINE_ROWS],
      );
      process.stdout.write(`\r  quarantine: ${String(to)} rows`);
    }
    process.stdout.write('\n');
  });
  return { rows: QUARANTINE_ROWS, loadSeconds: (now() - started) / 1000, indexSeconds };
}

async function loadMessageLog(db: Db): Promise<Record<string, number>> {
  const started = now();
  const indexSeconds = await withoutSecondaryIndexes(db, 'message_log', async () => {
    for (let from = 1; from <= MESSAGES; from += CHUNK) {
      const to = Math.min(MESSAGES, from + CHUNK - 1);
      // c picks the category: < .55 spam, < .57 virus, < .60 blocked, < .61 tempfail, else clean.
      await db.execute(
        `INSERT INTO message_log (node_id, seq, id, ts, client_address, sender, recipients,
           subject, size_bytes, verdict, disposition, score, symbols, rule, marks, virus_names,
           attachment_types)
         SELECT 'node-' || (g % 3), g, 'wm' || g,
           now() - interval '30 days' + (g::float8 / $3) * interval '30 days',
           CASE WHEN c < 0.61 THEN '198.51.' || (${rank('r1', 40_000)} % 250) || '.'
                                   || (${rank('r1', 40_000)} / 250 % 250 + 1)
                ELSE '192.0.2.' || (${rank('r1', 200)} % 250 + 1) END,
           CASE WHEN c < 0.61 THEN 'promo' || ${rank('r2', 100_000)} || '@offers'
                                   || (${rank('r2', 100_000)} % 2000) || '.example'
                ELSE 'person' || ${rank('r2', 30_000)} || '@partner'
                     || (${rank('r2', 30_000)} % 400) || '.example' END,
           ARRAY['user' || ${rank('r3', 20_000)} || '@corp' || (${rank('r3', 20_000)} % 25)
                 || '.example'],
           'subject ' || (g % 5000),
           1500 + (g * 7919) % 80000,
           CASE WHEN c < 0.57 THEN 'quarantine' WHEN c < 0.60 THEN 'reject'
                WHEN c < 0.61 THEN 'tempfail' ELSE 'accept' END,
           CASE WHEN c < 0.57 THEN 'quarantined' WHEN c < 0.60 THEN 'rejected'
                WHEN c < 0.61 THEN 'tempfailed' ELSE 'reinjected' END,
           CASE WHEN c < 0.55 THEN 5 + r4 * 30 WHEN c < 0.57 THEN NULL ELSE r4 * 4 END,
           CASE WHEN c < 0.55 THEN '[{"name":"BAYES_99","score":5.2}]'::jsonb
                WHEN c < 0.57 THEN '[{"name":"VIRUS_FOUND","score":100}]'::jsonb
                ELSE '[]'::jsonb END,
           'policy.sieve:' || CASE WHEN c < 0.55 THEN 40 WHEN c < 0.57 THEN 12
                                   WHEN c < 0.60 THEN 8 ELSE 55 END,
           CASE WHEN c < 0.55 THEN ARRAY['spam'] WHEN c < 0.57 THEN ARRAY['virus']
                WHEN c < 0.60 THEN ARRAY['blocked'] ELSE '{}'::text[] END,
           CASE WHEN c >= 0.55 AND c < 0.57 THEN ARRAY[(ARRAY['Eicar-Test-Signature',
             'Win.Trojan.Agent', 'Doc.Dropper.Emotet', 'Html.Phishing.Bank', 'Xls.Macro.Dridex',
             'Zip.Malware.Generic'])[${rank('r4', 6)}]] ELSE '{}'::text[] END,
           CASE WHEN r1 < 0.1 THEN ARRAY[(ARRAY['pdf', 'docx', 'xlsx', 'jpg', 'png', 'zip',
             'html', 'exe'])[${rank('r4', 8)}]] ELSE '{}'::text[] END
         FROM (SELECT g, random() AS c, random() AS r1, random() AS r2, random() AS r3,
                      random() AS r4
               FROM generate_series($1::bigint, $2::bigint) AS g) AS x`,
        [from, to, MESSAGES],
      );
      process.stdout.write(`\r  message_log: ${String(to)} rows`);
    }
    process.stdout.write('\n');
  });
  return { rows: MESSAGES, loadSeconds: (now() - started) / 1000, indexSeconds };
}

interface Timing {
  readonly name: string;
  readonly target: string;
  readonly medianMs: number;
  readonly maxMs: number;
  readonly detail: string;
}

/**
 * Runs `fn` once to warm up, then ROUNDS times. `fn` returns a detail text, or its own measured
 * span (for steps that need set-up outside the timed part).
 */
async function rounds(
  name: string,
  target: string,
  fn: () => Promise<string | { detail: string; ms: number }>,
): Promise<Timing> {
  await fn(); // warm-up
  const times: number[] = [];
  let detail = '';
  for (let i = 0; i < ROUNDS; i++) {
    const started = now();
    const result = await fn();
    const elapsed = now() - started;
    if (typeof result === 'string') {
      detail = result;
      times.push(elapsed);
    } else {
      detail = result.detail;
      times.push(result.ms);
    }
  }
  const t = { name, target, medianMs: median(times), maxMs: Math.max(...times), detail };
  console.log(
    `  ${name.padEnd(48)} median ${t.medianMs.toFixed(1).padStart(8)} ms  max ${t.maxMs
      .toFixed(1)
      .padStart(8)} ms  ${detail}`,
  );
  return t;
}

async function main(): Promise<void> {
  const home = await mkdtemp(join(tmpdir(), 'parapet-web-bench-'));
  const opened = await openDatabase(home, {
    ...DEFAULT_DATABASE_CONFIG,
    port: await freePort(),
    statementTimeoutMs: 0,
    poolMax: 4,
  });
  const loader = opened.db;
  const embedded = opened.embedded;
  if (embedded === null) throw new Error('expected the embedded database');
  // The API's own pool, with the node's default settings (statement timeout included).
  const apiDb = new Db(await embedded.connection(), { poolMax: 10 });
  const results: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    messages: MESSAGES,
    quarantineRows: QUARANTINE_ROWS,
    rounds: ROUNDS,
  };
  const timings: Timing[] = [];
  const dir = join(packageRoot(), 'bench-results');
  const file = join(dir, `web-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  /** Written after each phase, so a run cut short still leaves its figures. */
  const save = async (): Promise<void> => {
    await mkdir(dir, { recursive: true });
    await writeFile(file, `${JSON.stringify({ ...results, timings }, null, 2)}\n`);
  };
  let node: Awaited<ReturnType<typeof startWebNode>> | null = null;
  const browser = BROWSER && chromiumPath() !== null ? await launchBrowser() : null;
  try {
    await migrate(loader);
    console.log(`loading ${String(QUARANTINE_ROWS)} quarantine rows…`);
    results['quarantineLoad'] = await loadQuarantine(loader);
    await save();

    node = await startWebNode({ database: () => Promise.resolve(apiDb) });
    const managerUrl = node.manager.url;
    await node.addUser('bench', 'admin', PASSWORD);
    const client = new WebClient(managerUrl);
    await client.signIn('bench', PASSWORD);
    const get = async (path: string): Promise<{ status: number; text: string }> => {
      const r = await client.request('GET', path);
      if (r.status !== 200) {
        throw new Error(`${path}: HTTP ${String(r.status)} ${r.text.slice(0, 200)}`);
      }
      return r;
    };
    const rowsOf = async (path: string): Promise<string> => {
      const body = JSON.parse((await get(path)).text) as { rows: unknown[]; next?: string | null };
      return `${String(body.rows.length)} rows${body.next === undefined || body.next === null ? '' : ', more'}`;
    };

    console.log('HTTPS API (quarantine):');
    timings.push(
      await rounds('quarantine first page (50, newest held)', '< 300 ms', () =>
        rowsOf('/api/v1/quarantine?limit=50'),
      ),
    );
    const first = JSON.parse((await get('/api/v1/quarantine?limit=50')).text) as { next: string };
    timings.push(
      await rounds('quarantine second page (keyset)', '< 300 ms', () =>
        rowsOf(`/api/v1/quarantine?limit=50&after=${encodeURIComponent(first.next)}`),
      ),
    );
    const since = new Date(Date.now() - 7 * DAY_MS).toISOString();
    for (const [label, q] of [
      ['search sender domain offers7.example', 'sender=offers7.example'],
      ['search recipient user1@corp1.example', 'recipient=user1%40corp1.example'],
      ['search rare recipient user19999@corp24.example', 'recipient=user19999%40corp24.example'],
      ['search subject contains "prize 77"', 'subject=prize%2077'],
      ['search last 7 days, score >= 40', `since=${encodeURIComponent(since)}&minScore=40`],
      ['search virus Win.Trojan.Agent', 'virus=Win.Trojan.Agent'],
      ['search released', 'status=released'],
    ] as const) {
      timings.push(
        await rounds(label, '< 300 ms', () => rowsOf(`/api/v1/quarantine?limit=50&${q}`)),
      );
    }

    const page = browser === null ? null : await newPage(browser);
    /** Full page load at `hash` until `selector` is visible (module scripts, session, API). */
    const visit = async (hash: string, selector: string): Promise<string> => {
      if (page === null) return '';
      await page.goto('about:blank');
      await page.goto(`${managerUrl}/${hash}`);
      await page.locator(selector).first().waitFor({ state: 'visible' });
      return '';
    };
    /**
     * In-app navigation, timed from the click on the tab's link (on another tab, fully drawn)
     * to `selector` visible: the page's own work plus its API calls.
     */
    const navigate = async (
      link: string,
      selector: string,
    ): Promise<{ detail: string; ms: number }> => {
      if (page === null) return { detail: '', ms: 0 };
      await page.goto(`${managerUrl}/#/users`);
      await page.locator('nav a[aria-current="page"]').waitFor();
      const started = now();
      await page.getByRole('link', { name: link, exact: true }).click();
      await page.locator(selector).first().waitFor({ state: 'visible' });
      return { detail: '', ms: now() - started };
    };
    if (page !== null) {
      console.log('chromium (quarantine):');
      await page.goto(managerUrl);
      await page.getByLabel('User name').fill('bench');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('nav').waitFor();
      const firstRow = 'table.quarantine-results tbody tr';
      timings.push(
        await rounds('browser: tab click → first quarantine row visible', '< 300 ms', () =>
          navigate('Quarantine', firstRow),
        ),
      );
      timings.push(
        await rounds('browser: page load → first quarantine row visible', '(full load)', () =>
          visit('#/quarantine', firstRow),
        ),
      );
    }
    await save();

    console.log(`loading ${String(MESSAGES)} message-log rows…`);
    results['messageLogLoad'] = await loadMessageLog(loader);
    await save();
    console.log('roll-up of 31 days…');
    const started = now();
    await rollupMessageLog(
      loader,
      new Date(Date.now() - 31 * DAY_MS),
      new Date(Date.now() + 60_000),
    );
    await snapshotQuarantineSize(loader);
    await loader.execute(
      'VACUUM (ANALYZE) report_category_daily, report_category_hourly, report_top_daily',
    );
    results['rollupSeconds'] = (now() - started) / 1000;
    console.log(`  roll-up: ${(results['rollupSeconds'] as number).toFixed(1)} s`);
    await save();

    console.log('HTTPS API (reports, last 30 days):');
    const to = new Date();
    const from = new Date(to.getTime() - 30 * DAY_MS);
    const range = `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
    const ids = (
      JSON.parse((await get('/api/v1/reports')).text) as { reports: { id: string }[] }
    ).reports.map((r) => r.id);
    for (const id of [
      'message-categories',
      'top-spam-senders',
      'top-recipients',
      'viruses',
      'ip-blocked',
      'quarantine-size',
    ]) {
      timings.push(
        await rounds(`report ${id}`, '< 1000 ms', () => rowsOf(`/api/v1/reports/${id}?${range}`)),
      );
    }
    timings.push(
      await rounds(
        `all ${String(ids.length)} reports at once (the Reports tab)`,
        '< 1000 ms',
        async () => {
          const all = await Promise.all(ids.map((id) => get(`/api/v1/reports/${id}?${range}`)));
          return `${String(all.length)} reports`;
        },
      ),
    );
    timings.push(
      await rounds('CSV top-recipients, 500 rows', '< 1000 ms', async () => {
        const r = await get(`/api/v1/reports/top-recipients?${range}&limit=500&format=csv`);
        return `${String(r.text.split('\r\n').length - 2)} rows`;
      }),
    );
    const twoDays = new Date(to.getTime() - 2 * DAY_MS);
    timings.push(
      await rounds('report message-categories, 48 h hourly', '< 1000 ms', () =>
        rowsOf(
          `/api/v1/reports/message-categories?from=${encodeURIComponent(twoDays.toISOString())}&to=${encodeURIComponent(to.toISOString())}`,
        ),
      ),
    );
    if (page !== null) {
      console.log('chromium (reports):');
      const bar = 'section[data-report="message-categories"] rect.chart-bar';
      timings.push(
        await rounds('browser: tab click → first report bar visible', '< 1000 ms', () =>
          navigate('Reports', bar),
        ),
      );
      timings.push(
        await rounds('browser: tab click → every report drawn', '< 1000 ms', async () => {
          await page.goto(`${managerUrl}/#/users`);
          await page.locator('nav a[aria-current="page"]').waitFor();
          const started = now();
          await page.getByRole('link', { name: 'Reports', exact: true }).click();
          await page.locator(bar).first().waitFor({ state: 'visible' });
          // No section still says "Loading…" (a locator: CSP forbids evaluating strings).
          await page
            .locator('.report-body p.muted', { hasText: 'Loading…' })
            .first()
            .waitFor({ state: 'detached' });
          return { detail: '', ms: now() - started };
        }),
      );
      timings.push(
        await rounds('browser: page load → first report bar visible', '(full load)', () =>
          visit('#/reports', bar),
        ),
      );
    }
  } finally {
    await save().catch(() => undefined);
    await browser?.close();
    await node?.close();
    await apiDb.close();
    await loader.close();
    await embedded.stop();
    await rm(home, { recursive: true, force: true });
  }

  results['finishedAt'] = new Date().toISOString();
  console.log('\n| measurement | target | median ms | max ms |\n|---|---|---:|---:|');
  for (const t of timings) {
    console.log(`| ${t.name} | ${t.target} | ${t.medianMs.toFixed(1)} | ${t.maxMs.toFixed(1)} |`);
  }
  await save();
  console.log(`\nwrote ${file}`);
}

await main();

/**
 * The Reports tab: PureMessage's catalogue over a date range (default the last 30 days) —
 * message categories, IP-blocked connections and quarantine size as charts, the top lists as
 * ranked tables — each with a CSV download. The range lives in the URL (#/reports?from=&to=),
 * so a report has a link.
 */
import { api, ApiError, query } from '../../shared/api.js';
import { chart, rankedTable, type ChartSeries } from '../../shared/chart.js';
import { clear, h, notice } from '../../shared/dom.js';
import type { Tab } from '../tab.js';

interface ReportInfo {
  readonly id: string;
  readonly title: string;
  readonly chart: 'stacked' | 'line' | 'bars';
}

interface ReportTable {
  readonly id: string;
  readonly title: string;
  readonly kind: 'series' | 'top';
  readonly granularity: 'hour' | 'day' | null;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number | null)[])[];
  readonly from: string;
  readonly to: string;
}

const DAY_MS = 86_400_000;

/** yyyy-mm-dd of a date in UTC (the roll-ups' days are UTC days). */
const isoDay = (d: Date): string => d.toISOString().slice(0, 10);

/** The range [from, to) from the URL: whole UTC days, `to` inclusive in the form. */
function rangeOf(params: URLSearchParams): { from: string; to: string } {
  const today = isoDay(new Date());
  const to = /^\d{4}-\d\d-\d\d$/.test(params.get('to') ?? '') ? (params.get('to') ?? today) : today;
  const fallback = isoDay(new Date(Date.parse(`${to}T00:00:00Z`) - 29 * DAY_MS));
  const from = /^\d{4}-\d\d-\d\d$/.test(params.get('from') ?? '')
    ? (params.get('from') ?? fallback)
    : fallback;
  return { from, to };
}

/** API range: from the start of `from` to the end of `to` (UTC). */
function apiRange(r: { from: string; to: string }): { from: string; to: string } {
  return {
    from: `${r.from}T00:00:00.000Z`,
    to: new Date(Date.parse(`${r.to}T00:00:00Z`) + DAY_MS).toISOString(),
  };
}

function bucketLabel(iso: string, granularity: 'hour' | 'day' | null): string {
  return granularity === 'hour' ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(5, 10);
}

const formatBytes = (v: number): string => {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let x = v;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(i === 0 ? 0 : 1)} ${units[i] ?? ''}`;
};

/** The series columns of a report table (everything but the bucket). */
function seriesOf(
  t: ReportTable,
  names: readonly string[],
  labelOf: (column: string) => string = (c) => c,
): ChartSeries[] {
  return names.map((name) => {
    const col = t.columns.indexOf(name);
    return {
      name: labelOf(name),
      values: t.rows.map((r) => {
        const v = r[col];
        return typeof v === 'number' ? v : null;
      }),
    };
  });
}

function renderReport(info: ReportInfo, t: ReportTable, range: string): HTMLElement {
  const description = `${info.title} from ${range}${t.granularity === null ? '' : `, per ${t.granularity}`}.`;
  const labels = t.rows.map((r) => bucketLabel(String(r[0]), t.granularity));
  if (t.kind === 'top') {
    if (t.rows.length === 0) return h('p', { class: 'muted' }, 'Nothing in this range.');
    return rankedTable(
      description,
      t.columns[0] === 'client' ? 'Client address' : 'Name',
      t.rows.map((r) => [String(r[0]), Number(r[1])] as const),
    );
  }
  if (t.id === 'message-categories') {
    return chart({
      kind: 'stacked',
      title: info.title,
      description,
      labels,
      series: seriesOf(t, ['clean', 'spam', 'virus', 'blocked', 'tempfail']),
    });
  }
  if (t.id === 'quarantine-size') {
    return chart({
      kind: 'line',
      title: info.title,
      description: `${description} Messages quarantined per day, and held at the day's last measurement.`,
      labels,
      series: seriesOf(t, ['quarantined', 'held'], (c) =>
        c === 'held' ? 'held (end of day)' : 'quarantined that day',
      ),
    });
  }
  // ip-blocked and any other series: every column after the bucket except totals.
  const names = t.columns.slice(1).filter((c) => c !== 'connections' && c !== 'total');
  return chart({
    kind: info.chart === 'line' ? 'line' : 'stacked',
    title: info.title,
    description,
    labels,
    series: seriesOf(t, names.length > 0 ? names : t.columns.slice(1)),
  });
}

function summaryOf(t: ReportTable): string | null {
  if (t.id === 'message-categories') {
    const col = t.columns.indexOf('total');
    const bytesCol = t.columns.indexOf('bytes');
    let total = 0;
    let bytes = 0;
    for (const r of t.rows) {
      total += Number(r[col] ?? 0);
      bytes += Number(r[bytesCol] ?? 0);
    }
    return `${total.toLocaleString('en')} messages, ${formatBytes(bytes)}`;
  }
  if (t.id === 'ip-blocked') {
    const col = t.columns.indexOf('connections');
    const total = t.rows.reduce((s, r) => s + Number(r[col] ?? 0), 0);
    return `${total.toLocaleString('en')} refused connections`;
  }
  return null;
}

export const reportsTab: Tab = {
  id: 'reports',
  title: 'Reports',
  render: async (root, _session, params) => {
    const range = rangeOf(params);
    const fromInput = h('input', {
      id: 'report-from',
      type: 'date',
      value: range.from,
      required: true,
    });
    const toInput = h('input', { id: 'report-to', type: 'date', value: range.to, required: true });
    const go = (from: string, to: string): void => {
      location.hash = `#/reports${query({ from, to })}`;
    };
    const preset = (label: string, days: number): HTMLButtonElement => {
      const b = h('button', { type: 'button', class: 'secondary' }, label);
      b.addEventListener('click', () => {
        const to = isoDay(new Date());
        go(isoDay(new Date(Date.parse(`${to}T00:00:00Z`) - (days - 1) * DAY_MS)), to);
      });
      return b;
    };
    const form = h(
      'form',
      { class: 'toolbar', 'aria-label': 'Report range' },
      h('p', {}, h('label', { for: 'report-from' }, 'From (UTC day)'), fromInput),
      h('p', {}, h('label', { for: 'report-to' }, 'To (UTC day, inclusive)'), toInput),
      h('p', {}, h('button', { type: 'submit' }, 'Show')),
      h('p', { class: 'presets' }, preset('Today', 1), preset('7 days', 7), preset('30 days', 30)),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (fromInput.value !== '' && toInput.value !== '') go(fromInput.value, toInput.value);
    });
    const status = h('div', { 'aria-live': 'polite' });
    const grid = h('div', { class: 'reports-grid' });
    root.append(h('h1', {}, 'Reports'), form, status, grid);

    if (range.from > range.to) {
      status.append(notice('The start of the range is after its end.', 'error'));
      return undefined;
    }
    const apiR = apiRange(range);
    const rangeText = `${range.from} to ${range.to}`;
    const { reports } = await api<{ reports: ReportInfo[] }>('GET', 'reports');
    const controller = new AbortController();
    for (const info of reports) {
      const body = h('div', { class: 'report-body' }, h('p', { class: 'muted' }, 'Loading…'));
      const summary = h('p', { class: 'report-summary' });
      const csvHref = `/api/v1/reports/${encodeURIComponent(info.id)}${query({ ...apiR, format: 'csv' })}`;
      const section = h(
        'section',
        {
          class: `panel report report-${info.chart}`,
          'aria-labelledby': `report-${info.id}`,
          'data-report': info.id,
        },
        h(
          'div',
          { class: 'report-head' },
          h('h2', { id: `report-${info.id}` }, info.title),
          h(
            'a',
            {
              href: csvHref,
              download: '',
              class: 'csv-link',
              'aria-label': `${info.title} as CSV`,
            },
            'CSV',
          ),
        ),
        summary,
        body,
      );
      grid.append(section);
      void api<ReportTable>('GET', `reports/${encodeURIComponent(info.id)}${query(apiR)}`)
        .then((t) => {
          if (controller.signal.aborted) return;
          clear(body);
          const s = summaryOf(t);
          if (s !== null) summary.append(s);
          body.append(renderReport(info, t, rangeText));
        })
        .catch((err: unknown) => {
          if (controller.signal.aborted) return;
          clear(body);
          body.append(
            notice(
              err instanceof ApiError || err instanceof Error ? err.message : String(err),
              'error',
            ),
          );
        });
    }
    return () => {
      controller.abort();
    };
  },
};

/**
 * /api/v1/reports on the Manager: PureMessage's report catalogue (message categories over time,
 * top spam and virus senders and relays, top recipients, viruses, IP-blocked connections,
 * policy rules and marks, attachment types, quarantine size) over a date range, as JSON for the
 * Reports tab or as CSV (`?format=csv`) for spreadsheets. Every report reads the roll-up tables
 * through appliance/db/reports-repo.ts, never the message log itself, so a month over tens of
 * millions of messages reads a few thousand rows.
 */
import { reports } from '../../../appliance/index.js';
import { ParapetError } from '../../../filter/index.js';
import { ADMIN_READ } from '../access.js';
import type { ApiModule } from '../modules.js';
import { asUiError, requireDatabase } from './quarantine-routes.js';

type ReportId = reports.ReportId;

/** What the Reports tab shows for each report: its title and how it is drawn. */
export const REPORT_CATALOGUE: Readonly<
  Record<ReportId, { readonly title: string; readonly chart: 'stacked' | 'line' | 'bars' }>
> = {
  'message-categories': { title: 'Message categories', chart: 'stacked' },
  'top-spam-senders': { title: 'Top spam senders', chart: 'bars' },
  'top-virus-senders': { title: 'Top virus senders', chart: 'bars' },
  'top-spam-relays': { title: 'Top spam relays', chart: 'bars' },
  'top-virus-relays': { title: 'Top virus relays', chart: 'bars' },
  'top-recipients': { title: 'Top recipients', chart: 'bars' },
  'top-spam-recipients': { title: 'Top spam recipients', chart: 'bars' },
  viruses: { title: 'Viruses', chart: 'bars' },
  'policy-rules': { title: 'Policy rules that decided', chart: 'bars' },
  'policy-marks': { title: 'Policy mark hits', chart: 'bars' },
  'attachment-types': { title: 'Attachment types', chart: 'bars' },
  'ip-blocked': { title: 'IP-blocked connections', chart: 'stacked' },
  'quarantine-size': { title: 'Quarantine size', chart: 'line' },
};

const DAY_MS = 86_400_000;
/** Range when none is given: the last 30 days. */
const DEFAULT_RANGE_MS = 30 * DAY_MS;

function parseDate(value: string | undefined, name: string): Date | undefined {
  if (value === undefined || value === '') return undefined;
  const t = Date.parse(value);
  if (!Number.isFinite(t)) throw new ParapetError('ERR_UI_BAD_REQUEST', `${name} is not a date`);
  return new Date(t);
}

/** A file name part from a date: 2026-11-22. */
const dayOf = (d: Date): string => d.toISOString().slice(0, 10);

interface ReportQuerystring {
  from?: string;
  to?: string;
  limit?: number;
  nodeId?: string;
  format?: 'json' | 'csv';
}

export const reportsModule: ApiModule = {
  name: 'reports',
  surfaces: ['manager'],
  register(app, ctx) {
    app.get(
      '/api/v1/reports',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary: 'the reports on offer, with their titles and chart kinds',
          tags: ['reports'],
        },
      },
      () => ({
        reports: reports.REPORT_IDS.map((id) => ({ id, ...REPORT_CATALOGUE[id] })),
      }),
    );

    app.get<{ Params: { id: ReportId }; Querystring: ReportQuerystring }>(
      '/api/v1/reports/:id',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary:
            'one report over [from, to) (default the last 30 days) as a table; format=csv downloads it',
          tags: ['reports'],
          params: {
            type: 'object',
            required: ['id'],
            additionalProperties: false,
            properties: { id: { type: 'string', enum: [...reports.REPORT_IDS] } },
          },
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              from: { type: 'string', maxLength: 40 },
              to: { type: 'string', maxLength: 40 },
              limit: { type: 'integer', minimum: 1, maximum: 500 },
              nodeId: { type: 'string', maxLength: 100 },
              format: { type: 'string', enum: ['json', 'csv'] },
            },
          },
        },
      },
      async (request, reply) => {
        const q = request.query;
        const to = parseDate(q.to, 'to') ?? new Date();
        const from = parseDate(q.from, 'from') ?? new Date(to.getTime() - DEFAULT_RANGE_MS);
        if (from.getTime() >= to.getTime()) {
          throw new ParapetError('ERR_UI_BAD_REQUEST', 'from must be before to');
        }
        const db = await requireDatabase(ctx);
        let table: reports.ReportTable;
        try {
          table = await reports.runReport(db, request.params.id, {
            from,
            to,
            ...(q.limit === undefined ? {} : { limit: q.limit }),
            ...(q.nodeId === undefined || q.nodeId === '' ? {} : { nodeId: q.nodeId }),
          });
        } catch (err) {
          throw asUiError(err);
        }
        if (q.format === 'csv') {
          const name = `parapet-${table.id}-${dayOf(from)}-${dayOf(new Date(to.getTime() - 1))}.csv`;
          return reply
            .header('content-type', 'text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="${name}"`)
            .send(reports.reportToCsv(table));
        }
        return {
          ...table,
          title: REPORT_CATALOGUE[table.id].title,
          chart: REPORT_CATALOGUE[table.id].chart,
          from: from.toISOString(),
          to: to.toISOString(),
        };
      },
    );
  },
};

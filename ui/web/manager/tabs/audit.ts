/**
 * The Audit log tab: every change made through the web interfaces and `parapet user`, newest
 * first, filtered by actor, action (prefix, e.g. `user.` or `service.restart`), since a date
 * and a count. The filters live in the URL (#/audit?actor=…), so a filtered view has a link.
 */
import { api, query } from '../../shared/api.js';
import { clear, h, notice, table } from '../../shared/dom.js';
import type { Tab } from '../tab.js';

interface AuditEntry {
  readonly at: string;
  readonly actor: string;
  readonly surface: string;
  readonly ip: string | null;
  readonly action: string;
  readonly object: string | null;
  readonly outcome: 'ok' | 'denied' | 'failed';
  readonly details: Readonly<Record<string, unknown>>;
}

function detailsText(d: Readonly<Record<string, unknown>>): string {
  const parts = Object.entries(d)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const text = parts.join(' ');
  return text.length > 240 ? `${text.slice(0, 240)}…` : text;
}

export const auditTab: Tab = {
  id: 'audit',
  title: 'Audit log',
  render: async (root, _session, params) => {
    const actor = h('input', {
      id: 'audit-actor',
      value: params.get('actor') ?? '',
      maxlength: 128,
    });
    const action = h('input', {
      id: 'audit-action',
      value: params.get('action') ?? '',
      maxlength: 64,
      placeholder: 'e.g. user. or service.restart',
    });
    const since = h('input', { id: 'audit-since', type: 'date', value: params.get('since') ?? '' });
    const limit = h(
      'select',
      { id: 'audit-limit' },
      ['100', '200', '1000', '5000'].map((n) =>
        h('option', { value: n, selected: n === (params.get('limit') ?? '200') }, n),
      ),
    );
    const form = h(
      'form',
      { class: 'toolbar', role: 'search', 'aria-label': 'Filter the audit log' },
      h('p', {}, h('label', { for: 'audit-actor' }, 'Actor'), actor),
      h('p', {}, h('label', { for: 'audit-action' }, 'Action starts with'), action),
      h('p', {}, h('label', { for: 'audit-since' }, 'Since (UTC day)'), since),
      h('p', {}, h('label', { for: 'audit-limit' }, 'At most'), limit),
      h('button', { type: 'submit' }, 'Filter'),
    );
    const results = h('div', { class: 'table-wrap', 'aria-live': 'polite' });
    root.append(h('h1', {}, 'Audit log'), form, results);

    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      // The URL holds the filters; the router draws the tab again from it.
      location.hash = `#/audit${query({
        actor: actor.value.trim(),
        action: action.value.trim(),
        since: since.value,
        limit: limit.value === '200' ? '' : limit.value,
      })}`;
    });

    const sinceDay = params.get('since') ?? '';
    try {
      const r = await api<{ entries: AuditEntry[] }>(
        'GET',
        `audit${query({
          actor: params.get('actor'),
          action: params.get('action'),
          since: /^\d{4}-\d\d-\d\d$/.test(sinceDay) ? `${sinceDay}T00:00:00.000Z` : null,
          limit: params.get('limit'),
        })}`,
      );
      clear(results);
      results.append(
        r.entries.length === 0
          ? h('p', { class: 'muted' }, 'No entries match.')
          : table(
              r.entries,
              [
                ['Time', (e) => h('time', { datetime: e.at }, new Date(e.at).toLocaleString())],
                ['Actor', (e) => e.actor],
                ['Where', (e) => `${e.surface}${e.ip === null ? '' : ` ${e.ip}`}`],
                ['Action', (e) => h('code', {}, e.action)],
                ['Object', (e) => e.object ?? '–'],
                [
                  'Outcome',
                  (e) => h('span', { class: `audit-outcome audit-${e.outcome}` }, e.outcome),
                ],
                ['Details', (e) => h('small', {}, detailsText(e.details))],
              ],
              `${String(r.entries.length)} entries, newest first`,
            ),
      );
    } catch (err) {
      clear(results);
      results.append(notice(err instanceof Error ? err.message : String(err), 'error'));
    }
    return undefined;
  },
};

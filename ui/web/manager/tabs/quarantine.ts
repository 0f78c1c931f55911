/**
 * The Quarantine tab: search (sender, recipient, subject, reason, virus, date range, score,
 * status; newest first, "More" fetches the next keyset page), select rows for bulk actions,
 * and the message view (#/quarantine?id=…) with the symbols, scores, deciding rule, headers
 * and the text part. Message content is only ever text in the page: no HTML of a quarantined
 * message is rendered. Viewers see everything but the action buttons.
 */
import { api, ApiError, query, type SessionInfo } from '../../shared/api.js';
import { clear, h, notice } from '../../shared/dom.js';
import type { Tab } from '../tab.js';

interface Row {
  readonly id: string;
  readonly time: string;
  readonly nodeId: string | null;
  readonly from: string | null;
  readonly to: readonly string[];
  readonly subject: string | null;
  readonly reason: string;
  readonly score: number | null;
  readonly sizeBytes: number;
  readonly status: string;
  readonly virusNames: readonly string[];
}

interface Page {
  readonly rows: readonly Row[];
  readonly next: string | null;
  readonly source: 'database' | 'files';
  readonly notice: string | null;
}

interface MessageView {
  readonly id: string;
  readonly time: string | null;
  readonly nodeId: string;
  readonly status: string;
  readonly from: string | null;
  readonly to: readonly string[];
  readonly subject: string | null;
  readonly client: string | null;
  readonly helo: string | null;
  readonly sizeBytes: number;
  readonly reason: string;
  readonly score: number | null;
  readonly rule: string | null;
  readonly virusNames: readonly string[];
  readonly symbols: readonly { name: string; score: number | null }[];
  readonly releasedAt: string | null;
  readonly releasedBy: string | null;
  readonly forwards: readonly { to: string; at: string; by: string }[];
  readonly onThisNode: boolean;
  readonly message: {
    readonly headers: readonly { name: string; value: string }[];
    readonly text: string;
    readonly fromHtml: boolean;
    readonly truncated: boolean;
    readonly attachments: readonly { filename: string | null; mimeType: string; size: number }[];
  } | null;
}

interface ActionResult {
  readonly id: string;
  readonly ok: boolean;
  readonly outcome: string;
  readonly error?: string;
}

/** Search fields: URL parameter, label, input type. */
const FIELDS = [
  ['sender', 'Sender', 'text'],
  ['recipient', 'Recipient', 'text'],
  ['subject', 'Subject contains', 'text'],
  ['reason', 'Reason', 'text'],
  ['virus', 'Virus name', 'text'],
  ['since', 'From day', 'date'],
  ['until', 'To day (inclusive)', 'date'],
  ['minScore', 'Score at least', 'number'],
  ['maxScore', 'Score at most', 'number'],
] as const;

const STATUSES = ['held', 'released', 'deleted', 'expired'] as const;
const PAGE_SIZE = 50;
const DAY_MS = 86_400_000;

const errorText = (err: unknown): string =>
  err instanceof ApiError || err instanceof Error ? err.message : String(err);

const when = (iso: string | null): string =>
  iso === null ? '' : iso.slice(0, 19).replace('T', ' ');

const scoreText = (s: number | null): string => (s === null ? '–' : s.toFixed(1));

/** API search parameters from the URL's (days become UTC instants; `until` is inclusive). */
function apiSearch(params: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key] of FIELDS) {
    const v = params.get(key)?.trim() ?? '';
    if (v === '') continue;
    if (key === 'since' && /^\d{4}-\d\d-\d\d$/.test(v)) out[key] = `${v}T00:00:00.000Z`;
    else if (key === 'until' && /^\d{4}-\d\d-\d\d$/.test(v))
      out[key] = new Date(Date.parse(`${v}T00:00:00Z`) + DAY_MS).toISOString();
    else out[key] = v;
  }
  const status = params.get('status');
  if (status !== null && (STATUSES as readonly string[]).includes(status)) out['status'] = status;
  return out;
}

function actionsAllowed(session: SessionInfo): boolean {
  return session.role === 'admin';
}

function renderSearch(root: HTMLElement, session: SessionInfo, params: URLSearchParams): void {
  const canAct = actionsAllowed(session);
  const inputs = new Map<string, HTMLInputElement>();
  const fieldRows = FIELDS.map(([key, label, type]) => {
    const input = h('input', {
      id: `q-${key}`,
      name: key,
      type,
      value: params.get(key) ?? '',
      ...(type === 'number' ? { step: 'any' } : {}),
      ...(key === 'sender' || key === 'recipient'
        ? { placeholder: 'address, domain or part', autocomplete: 'off' }
        : {}),
    });
    inputs.set(key, input);
    return h('p', {}, h('label', { for: `q-${key}` }, label), input);
  });
  const status = h(
    'select',
    { id: 'q-status', name: 'status' },
    STATUSES.map((s) =>
      h('option', { value: s, selected: (params.get('status') ?? 'held') === s }, s),
    ),
  );
  const form = h(
    'form',
    { class: 'toolbar quarantine-search', role: 'search', 'aria-label': 'Search the quarantine' },
    fieldRows,
    h('p', {}, h('label', { for: 'q-status' }, 'Status'), status),
    h('p', {}, h('button', { type: 'submit' }, 'Search')),
    h('p', {}, h('a', { href: '#/quarantine', class: 'reset' }, 'Clear')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next: Record<string, string> = {};
    for (const [key, input] of inputs)
      if (input.value.trim() !== '') next[key] = input.value.trim();
    if (status.value !== 'held') next['status'] = status.value;
    const target = `#/quarantine${query(next)}`;
    // The same search again still reloads (new mail may have arrived).
    if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = target;
  });

  const live = h('div', { 'aria-live': 'polite', class: 'q-status' });
  const selectAll = h('input', {
    type: 'checkbox',
    id: 'q-select-all',
    'aria-label': 'Select all shown messages',
  });
  const tbody = h('tbody', {});
  const table = h(
    'table',
    { class: 'quarantine-results' },
    h('caption', {}, 'Quarantined messages, newest first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        canAct ? h('th', { scope: 'col', class: 'check' }, selectAll) : null,
        h('th', { scope: 'col' }, 'Time (UTC)'),
        h('th', { scope: 'col' }, 'From'),
        h('th', { scope: 'col' }, 'To'),
        h('th', { scope: 'col' }, 'Subject'),
        h('th', { scope: 'col', class: 'num' }, 'Score'),
        h('th', { scope: 'col' }, 'Reason'),
      ),
    ),
    tbody,
  );
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More');
  const checkboxes = new Map<string, HTMLInputElement>();
  const selected = (): string[] =>
    [...checkboxes].filter(([, box]) => box.checked).map(([id]) => id);

  const back = `#/quarantine${query(Object.fromEntries(params))}`;
  const addRows = (rows: readonly Row[]): void => {
    for (const r of rows) {
      const box = h('input', {
        type: 'checkbox',
        value: r.id,
        'aria-label': `Select the message from ${r.from ?? 'the null sender'}: ${r.subject ?? '(no subject)'}`,
      });
      checkboxes.set(r.id, box);
      const link = h(
        'a',
        { href: `#/quarantine${query({ id: r.id, back })}` },
        r.subject === null || r.subject === '' ? '(no subject)' : r.subject,
      );
      tbody.append(
        h(
          'tr',
          { 'data-id': r.id },
          canAct ? h('td', { class: 'check' }, box) : null,
          h('td', { class: 'time' }, when(r.time)),
          h('td', { class: 'addr' }, r.from === null || r.from === '' ? '<>' : r.from),
          h('td', { class: 'addr' }, r.to.join(', ')),
          h('td', {}, link),
          h('td', { class: 'num' }, scoreText(r.score)),
          h(
            'td',
            {},
            r.reason,
            r.virusNames.length > 0 ? h('span', { class: 'badge' }, r.virusNames.join(', ')) : null,
          ),
        ),
      );
    }
  };
  selectAll.addEventListener('change', () => {
    for (const box of checkboxes.values()) box.checked = selectAll.checked;
  });

  const bulkStatus = h('div', { 'aria-live': 'polite' });
  const bulk = (action: string, to?: string): void => {
    const ids = selected();
    if (ids.length === 0) {
      clear(bulkStatus);
      bulkStatus.append(notice('Select messages first.', 'error'));
      return;
    }
    if (action === 'delete' && !window.confirm(`Delete ${String(ids.length)} message(s)?`)) return;
    clear(bulkStatus);
    bulkStatus.append(notice(`Working on ${String(ids.length)} message(s)…`));
    api<{ results: ActionResult[]; ok: number; failed: number }>('POST', 'quarantine/bulk', {
      action,
      ids,
      ...(to === undefined ? {} : { to }),
    })
      .then((r) => {
        clear(bulkStatus);
        bulkStatus.append(
          notice(
            `${String(r.ok)} done${r.failed > 0 ? `, ${String(r.failed)} failed` : ''}.`,
            r.failed > 0 ? 'error' : 'ok',
          ),
        );
        const failures = r.results.filter((x) => !x.ok);
        if (failures.length > 0) {
          bulkStatus.append(
            h(
              'ul',
              {},
              failures.map((f) => h('li', {}, `${f.id}: ${f.error ?? f.outcome}`)),
            ),
          );
        }
        // Handled messages leave the held list.
        for (const res of r.results) {
          if (!res.ok || action === 'forward') continue;
          tbody.querySelector(`tr[data-id="${CSS.escape(res.id)}"]`)?.remove();
          checkboxes.delete(res.id);
        }
      })
      .catch((err: unknown) => {
        clear(bulkStatus);
        bulkStatus.append(notice(errorText(err), 'error'));
      });
  };
  const forwardTo = h('input', {
    id: 'q-forward-to',
    type: 'email',
    placeholder: 'someone@example.com',
  });
  const button = (label: string, onClick: () => void, cls = ''): HTMLButtonElement => {
    const b = h('button', { type: 'button', class: cls }, label);
    b.addEventListener('click', onClick);
    return b;
  };
  const bulkBar = canAct
    ? h(
        'div',
        { class: 'toolbar bulk', role: 'group', 'aria-label': 'Actions on the selected messages' },
        button('Approve', () => {
          bulk('approve');
        }),
        button(
          'Approve and allow sender',
          () => {
            bulk('approve-allow');
          },
          'secondary',
        ),
        h(
          'p',
          { class: 'inline' },
          h('label', { for: 'q-forward-to' }, 'Forward to'),
          forwardTo,
          button(
            'Forward',
            () => {
              if (forwardTo.value.trim() !== '') bulk('forward', forwardTo.value.trim());
              else forwardTo.focus();
            },
            'secondary',
          ),
        ),
        button(
          'Delete',
          () => {
            bulk('delete');
          },
          'danger',
        ),
      )
    : null;

  root.append(
    h('h1', {}, 'Quarantine'),
    form,
    live,
    bulkBar ?? '',
    bulkStatus,
    h('div', { class: 'table-wrap' }, table),
    h('p', {}, more),
  );

  const search = apiSearch(params);
  let cursor: string | null = null;
  let shown = 0;
  const load = (): void => {
    more.disabled = true;
    const started = performance.now();
    api<Page>(
      'GET',
      `quarantine${query({ ...search, limit: PAGE_SIZE, ...(cursor === null ? {} : { after: cursor }) })}`,
    )
      .then((page) => {
        addRows(page.rows);
        shown += page.rows.length;
        cursor = page.next;
        more.hidden = cursor === null;
        more.disabled = false;
        clear(live);
        if (page.notice !== null) live.append(notice(page.notice, 'error'));
        live.append(
          h(
            'p',
            { class: 'muted' },
            shown === 0
              ? 'No messages match.'
              : `${String(shown)} shown${cursor === null ? '' : ', more available'} (${String(Math.round(performance.now() - started))} ms)`,
          ),
        );
      })
      .catch((err: unknown) => {
        more.disabled = false;
        clear(live);
        live.append(notice(errorText(err), 'error'));
      });
  };
  more.addEventListener('click', load);
  load();
}

function renderMessage(root: HTMLElement, session: SessionInfo, id: string, back: string): void {
  const canAct = actionsAllowed(session);
  const backLink = h(
    'a',
    { href: back.startsWith('#/quarantine') ? back : '#/quarantine', class: 'back' },
    '← Back to the results',
  );
  const status = h('div', { 'aria-live': 'polite' });
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  root.append(backLink, status, body);

  const act = (path: string, method: 'POST' | 'DELETE', payload?: unknown): void => {
    clear(status);
    status.append(notice('Working…'));
    api<ActionResult>(method, path, payload)
      .then((r) => {
        clear(status);
        status.append(notice(`${r.outcome}.`, 'ok'));
        if (method === 'DELETE') clear(body);
        else void reload();
      })
      .catch((err: unknown) => {
        clear(status);
        status.append(notice(errorText(err), 'error'));
      });
  };

  const reload = async (): Promise<void> => {
    let v: MessageView;
    try {
      v = await api<MessageView>('GET', `quarantine/${encodeURIComponent(id)}`);
    } catch (err) {
      clear(body);
      body.append(notice(errorText(err), 'error'));
      return;
    }
    clear(body);
    document.title = `${v.subject ?? '(no subject)'} · Quarantine · Parapet Manager`;
    const fact = (term: string, value: string | null | Node): HTMLElement[] => [
      h('dt', {}, term),
      h('dd', {}, value === null || value === '' ? '–' : value),
    ];
    const forwardTo = h('input', {
      id: 'm-forward-to',
      type: 'email',
      placeholder: 'someone@example.com',
    });
    const button = (label: string, onClick: () => void, cls = ''): HTMLButtonElement => {
      const b = h('button', { type: 'button', class: cls }, label);
      b.addEventListener('click', onClick);
      return b;
    };
    const path = `quarantine/${encodeURIComponent(v.id)}`;
    const actions =
      canAct && v.onThisNode && v.status !== 'deleted'
        ? h(
            'div',
            { class: 'toolbar', role: 'group', 'aria-label': 'Actions on this message' },
            button('Approve', () => {
              act(`${path}/approve`, 'POST', {});
            }),
            button(
              'Approve and allow sender',
              () => {
                act(`${path}/approve`, 'POST', { allowSender: true });
              },
              'secondary',
            ),
            h(
              'p',
              { class: 'inline' },
              h('label', { for: 'm-forward-to' }, 'Forward to'),
              forwardTo,
              button(
                'Forward',
                () => {
                  if (forwardTo.value.trim() === '') forwardTo.focus();
                  else act(`${path}/forward`, 'POST', { to: forwardTo.value.trim() });
                },
                'secondary',
              ),
            ),
            button(
              'Delete',
              () => {
                if (window.confirm('Delete this message from the quarantine?')) {
                  act(path, 'DELETE');
                }
              },
              'danger',
            ),
            h('a', { href: `/api/v1/${path}/raw`, download: `${v.id}.eml` }, 'Download .eml'),
          )
        : null;
    const symbols =
      v.symbols.length === 0
        ? h('p', { class: 'muted' }, 'No symbols recorded.')
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'symbols' },
              h('caption', {}, 'Symbols (what the scanners found), highest score first'),
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  h('th', { scope: 'col' }, 'Symbol'),
                  h('th', { scope: 'col', class: 'num' }, 'Score'),
                ),
              ),
              h(
                'tbody',
                {},
                v.symbols.map((s) =>
                  h(
                    'tr',
                    {},
                    h('td', {}, h('code', {}, s.name)),
                    h('td', { class: 'num' }, scoreText(s.score)),
                  ),
                ),
              ),
            ),
          );
    const m = v.message;
    const content =
      m === null
        ? notice(
            v.onThisNode
              ? 'The stored message could not be read.'
              : `The message is stored on node ${v.nodeId}; its metadata is shown here.`,
            'error',
          )
        : h(
            'div',
            {},
            h(
              'details',
              { class: 'headers' },
              h('summary', {}, `Headers (${String(m.headers.length)})`),
              h(
                'div',
                { class: 'table-wrap' },
                h(
                  'table',
                  {},
                  h('caption', {}, 'Header fields in order'),
                  h(
                    'tbody',
                    {},
                    m.headers.map((f) =>
                      h(
                        'tr',
                        {},
                        h('th', { scope: 'row' }, f.name),
                        h('td', { class: 'hv' }, f.value),
                      ),
                    ),
                  ),
                ),
              ),
            ),
            m.attachments.length === 0
              ? null
              : h(
                  'p',
                  {},
                  'Attachments: ',
                  m.attachments
                    .map(
                      (a) =>
                        `${a.filename ?? '(unnamed)'} (${a.mimeType}, ${String(a.size)} bytes)`,
                    )
                    .join('; '),
                ),
            h(
              'h2',
              {},
              m.fromHtml ? 'Text (made from the HTML part; nothing is rendered)' : 'Text',
            ),
            h('pre', { class: 'message-text', tabindex: 0 }, m.text === '' ? '(empty)' : m.text),
            m.truncated ? notice('The text is longer than shown.', 'error') : null,
          );
    body.append(
      h('h1', {}, v.subject ?? '(no subject)'),
      actions ?? '',
      h(
        'dl',
        { class: 'facts' },
        fact(
          'Status',
          v.releasedAt === null
            ? v.status
            : `${v.status} (${when(v.releasedAt)} by ${v.releasedBy ?? '?'})`,
        ),
        fact('Time (UTC)', when(v.time)),
        fact('From', v.from === null || v.from === '' ? '<>' : v.from),
        fact('To', v.to.join(', ')),
        fact(
          'Client',
          v.client === null ? null : `${v.client}${v.helo === null ? '' : ` (HELO ${v.helo})`}`,
        ),
        fact('Size', `${String(v.sizeBytes)} bytes`),
        fact('Reason', v.reason),
        fact('Score', scoreText(v.score)),
        fact('Policy rule', v.rule === null ? null : h('code', {}, v.rule)),
        fact('Viruses', v.virusNames.join(', ')),
        fact('Node', v.nodeId),
        v.forwards.length === 0
          ? []
          : fact(
              'Forwarded',
              v.forwards.map((f) => `${f.to} (${when(f.at)} by ${f.by})`).join('; '),
            ),
      ),
      h('h2', {}, 'Symbols'),
      symbols,
      content,
    );
  };
  void reload();
}

export const quarantineTab: Tab = {
  id: 'quarantine',
  title: 'Quarantine',
  render: (root, session, params) => {
    const id = params.get('id');
    if (id !== null && /^[A-Za-z0-9_-]{8,64}$/.test(id)) {
      renderMessage(root, session, id, params.get('back') ?? '#/quarantine');
    } else {
      renderSearch(root, session, params);
    }
    return Promise.resolve(undefined);
  },
};

/**
 * The Dashboard tab: mail flow now (last 15 minutes, per minute) and today, the verdict mix,
 * the outbound queue and quarantine sizes, and the node's services. First paint from
 * GET /api/v1/dashboard, then live: a WebSocket pushes a snapshot every 2 s; when it drops,
 * the page falls back to polling and tries the socket again.
 */
import { api } from '../../shared/api.js';
import { clear, h, notice, svg, table } from '../../shared/dom.js';
import type { Tab } from '../tab.js';

type Mix = Record<'delivered' | 'quarantined' | 'rejected' | 'discarded' | 'tempfailed', number>;

interface Counts {
  readonly messages: number;
  readonly bytes: number;
  readonly mix: Mix;
}

interface Snapshot {
  readonly at: string;
  readonly now: Counts & {
    readonly windowMinutes: number;
    readonly perMinute: readonly { readonly minute: string; readonly messages: number }[];
    readonly lastMessageAt: string | null;
  };
  readonly today: Counts & {
    readonly source: string;
    readonly partial: boolean;
    readonly nodes: number;
  };
  readonly queue: {
    readonly queued: number;
    readonly failed: number;
    readonly uncertain: number;
  } | null;
  readonly quarantine: { readonly messages: number } | null;
  readonly services: {
    readonly running: boolean;
    readonly list: readonly {
      readonly name: string;
      readonly status: string;
      readonly pid: number | null;
      readonly uptimeMs: number | null;
      readonly restarts: number;
    }[];
    readonly error: string | null;
  };
}

const MIX_LABELS: readonly (readonly [keyof Mix, string])[] = [
  ['delivered', 'Delivered'],
  ['quarantined', 'Quarantined'],
  ['rejected', 'Rejected'],
  ['discarded', 'Discarded'],
  ['tempfailed', 'Temporarily refused'],
];

export const formatBytes = (v: number): string => {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let x = v;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i += 1;
  }
  return `${x >= 10 || i === 0 ? Math.round(x).toString() : x.toFixed(1)} ${units[i] ?? 'B'}`;
};

export function formatDuration(ms: number | null): string {
  if (ms === null) return '–';
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${String(s)} s`;
  if (s < 7200) return `${String(Math.floor(s / 60))} min`;
  if (s < 172_800) return `${String(Math.floor(s / 3600))} h`;
  return `${String(Math.floor(s / 86_400))} days`;
}

function metric(label: string, value: string, id: string, detail?: string): HTMLElement {
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': `${id}-label` },
    h('h2', { id: `${id}-label` }, label),
    h('p', { class: 'metric', 'data-metric': id }, value),
    detail === undefined ? null : h('p', { class: 'muted' }, detail),
  );
}

/** Messages per minute as bars; the numbers are in the element's accessible label. */
function flowChart(perMinute: Snapshot['now']['perMinute']): SVGElement {
  const width = 300;
  const height = 60;
  const max = Math.max(1, ...perMinute.map((p) => p.messages));
  const barWidth = width / Math.max(1, perMinute.length);
  const bars = perMinute.map((p, i) => {
    const barHeight = Math.round((p.messages / max) * (height - 4));
    const bar = svg('rect', {
      x: Math.round(i * barWidth + 1),
      y: height - barHeight,
      width: Math.max(1, Math.round(barWidth - 2)),
      height: barHeight,
      class: 'dash-bar',
    });
    const title = svg('title');
    title.textContent = `${p.minute.slice(11, 16)}: ${String(p.messages)}`;
    bar.append(title);
    return bar;
  });
  return svg(
    'svg',
    {
      viewBox: `0 0 ${String(width)} ${String(height)}`,
      class: 'dash-flow',
      role: 'img',
      'aria-label': `Messages per minute, last ${String(perMinute.length)} minutes: ${perMinute.map((p) => p.messages).join(', ')}`,
    },
    ...bars,
  );
}

function mixBar(mix: Mix, total: number, label: string): HTMLElement {
  const parts = MIX_LABELS.filter(([k]) => mix[k] > 0);
  return h(
    'div',
    {},
    h(
      'div',
      { class: 'dash-mix', role: 'img', 'aria-label': label },
      parts.map(([k]) =>
        h('span', {
          class: `dash-mix-${k}`,
          'data-width': String(Math.max(1, Math.round((mix[k] / Math.max(1, total)) * 100))),
        }),
      ),
    ),
    h(
      'ul',
      { class: 'dash-legend' },
      MIX_LABELS.map(([k, name]) =>
        h('li', {}, h('span', { class: `dash-key dash-mix-${k}` }), `${name}: ${String(mix[k])}`),
      ),
    ),
  );
}

/** Bar widths come from data attributes: the CSP forbids inline styles. */
function applyWidths(root: HTMLElement): void {
  for (const el of root.querySelectorAll<HTMLElement>('[data-width]')) {
    el.style.flexGrow = el.dataset['width'] ?? '1';
  }
}

function render(view: HTMLElement, s: Snapshot): void {
  clear(view);
  const mixText = (m: Mix): string => MIX_LABELS.map(([k, n]) => `${n} ${String(m[k])}`).join(', ');
  const todayDetail = `${formatBytes(s.today.bytes)}${s.today.nodes > 1 ? ` · ${String(s.today.nodes)} nodes` : ''}${s.today.partial ? ' · at least (log read in part)' : ''}${s.today.source === 'local-log' ? ' · this node’s log' : ''}`;
  const queue = s.queue;
  view.append(
    h(
      'div',
      { class: 'grid' },
      metric(
        `Last ${String(s.now.windowMinutes)} minutes`,
        String(s.now.messages),
        'now',
        `${formatBytes(s.now.bytes)} · last message ${s.now.lastMessageAt === null ? 'none yet' : new Date(s.now.lastMessageAt).toLocaleTimeString()}`,
      ),
      metric('Today (UTC)', String(s.today.messages), 'today', todayDetail),
      metric(
        'Outbound queue',
        queue === null ? '–' : String(queue.queued),
        'queue',
        queue === null
          ? 'cannot be read'
          : `${String(queue.failed)} failed · ${String(queue.uncertain)} uncertain`,
      ),
      metric(
        'Quarantine',
        s.quarantine === null ? '–' : String(s.quarantine.messages),
        'quarantine',
        'messages held on this node',
      ),
    ),
    h(
      'div',
      { class: 'grid' },
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'flow-label' },
        h('h2', { id: 'flow-label' }, 'Messages per minute'),
        flowChart(s.now.perMinute),
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'mix-now-label' },
        h('h2', { id: 'mix-now-label' }, 'Verdicts, last 15 minutes'),
        mixBar(s.now.mix, s.now.messages, mixText(s.now.mix)),
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'mix-today-label' },
        h('h2', { id: 'mix-today-label' }, 'Verdicts today'),
        mixBar(s.today.mix, s.today.messages, mixText(s.today.mix)),
      ),
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'svc-label' },
      h('h2', { id: 'svc-label' }, 'Services'),
      s.services.error !== null
        ? notice(`Services cannot be listed: ${s.services.error}`, 'error')
        : !s.services.running
          ? h(
              'p',
              { class: 'muted' },
              'The node is not running under its supervisor (parapet start).',
            )
          : h(
              'div',
              { class: 'table-wrap' },
              table(s.services.list, [
                ['Service', (r) => h('a', { href: '#/services' }, r.name)],
                [
                  'Status',
                  (r) =>
                    h(
                      'span',
                      { class: `status status-${r.status.replace(/[^a-z-]/g, '')}` },
                      r.status,
                    ),
                ],
                ['Uptime', (r) => formatDuration(r.uptimeMs)],
                ['Restarts', (r) => r.restarts],
              ]),
            ),
    ),
  );
  applyWidths(view);
}

export const dashboardTab: Tab = {
  id: 'dashboard',
  title: 'Dashboard',
  render: async (root) => {
    const state = h('span', { class: 'dash-live', role: 'status' }, 'connecting…');
    const updated = h('span', { class: 'muted' });
    const view = h('div', { 'aria-live': 'off' });
    root.append(h('div', { class: 'toolbar' }, h('h1', {}, 'Dashboard'), state, updated), view);
    let closed = false;
    let socket: WebSocket | null = null;
    let poll: number | undefined;
    let retry: number | undefined;
    const show = (s: Snapshot): void => {
      render(view, s);
      updated.textContent = `updated ${new Date(s.at).toLocaleTimeString()}`;
    };
    const refresh = async (): Promise<void> => {
      try {
        show(await api<Snapshot>('GET', 'dashboard'));
      } catch (err) {
        clear(view);
        view.append(notice(err instanceof Error ? err.message : String(err), 'error'));
      }
    };
    const connect = (): void => {
      if (closed) return;
      const ws = new WebSocket(
        `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/dashboard/live`,
      );
      socket = ws;
      ws.addEventListener('open', () => {
        state.textContent = 'live';
        state.dataset['live'] = 'true';
        window.clearInterval(poll);
        poll = undefined;
      });
      ws.addEventListener('message', (ev: MessageEvent<string>) => {
        try {
          const m = JSON.parse(ev.data) as { type?: string; snapshot?: Snapshot };
          if (m.type === 'snapshot' && m.snapshot !== undefined) show(m.snapshot);
        } catch {
          // not ours: ignored
        }
      });
      ws.addEventListener('close', () => {
        if (closed) return;
        state.textContent = 'reconnecting…';
        state.dataset['live'] = 'false';
        // Poll meanwhile, and try the socket again in a few seconds.
        poll ??= window.setInterval(() => void refresh(), 5000);
        retry = window.setTimeout(connect, 5000);
      });
    };
    await refresh();
    connect();
    return () => {
      closed = true;
      socket?.close();
      window.clearInterval(poll);
      window.clearTimeout(retry);
    };
  },
};

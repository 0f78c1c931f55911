/**
 * Small SVG charts for the Reports tab: stacked bars and lines over labelled buckets, with a
 * y axis of round ticks, x labels thinned to fit, a legend, an accessible name and description
 * (<title>/<desc>, role="img") and the same numbers as a table for screen readers and copying.
 * Colours are presentation attributes (CSP allows no inline style); values are data, never markup.
 */
import { h, svg } from './dom.js';

export interface ChartSeries {
  readonly name: string;
  /** One value per label; null is a gap (a line breaks, a bar is empty). */
  readonly values: readonly (number | null)[];
}

export interface ChartSpec {
  readonly kind: 'stacked' | 'line';
  readonly title: string;
  /** One or two sentences for assistive technology (what is plotted, over which range). */
  readonly description: string;
  /** One per bucket, shown under the x axis. */
  readonly labels: readonly string[];
  readonly series: readonly ChartSeries[];
  /** Formats axis ticks and tooltips (default: grouped integers). */
  readonly format?: (value: number) => string;
  /**
   * Drawing width in SVG units (default: the window's width, 320–880). The SVG scales to its
   * box, so drawing at about the size it is shown keeps its text legible on a phone.
   */
  readonly width?: number;
}

/** Colour-blind-friendly palette (Okabe–Ito order), cycled. */
export const CHART_COLOURS = [
  '#0072b2',
  '#d55e00',
  '#cc79a7',
  '#e69f00',
  '#009e73',
  '#56b4e9',
  '#f0e442',
  '#000000',
] as const;

const colour = (i: number): string => CHART_COLOURS[i % CHART_COLOURS.length] ?? '#000000';

const MAX_W = 880;
const MIN_W = 320;
const H = 280;
const M = { top: 12, right: 12, bottom: 40, left: 64 } as const;

let uid = 0;

/** Round ticks from 0 to at least `max`: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
  const ticks: number[] = [];
  for (let v = 0; v < max + step; v += step) {
    ticks.push(Number(v.toPrecision(12)));
    if (v >= max) break;
  }
  return ticks;
}

const defaultFormat = (v: number): string => Math.round(v).toLocaleString('en');

/** A chart in a <figure>: the SVG, a legend, and a table of the same numbers behind <details>. */
export function chart(spec: ChartSpec): HTMLElement {
  const id = `chart-${String(++uid)}`;
  const format = spec.format ?? defaultFormat;
  const W =
    spec.width ?? Math.round(Math.min(MAX_W, Math.max(MIN_W, (window.innerWidth || MAX_W) - 48)));
  const n = spec.labels.length;
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const totals = spec.labels.map((_, i) =>
    spec.kind === 'stacked'
      ? spec.series.reduce((sum, s) => sum + Math.max(0, s.values[i] ?? 0), 0)
      : Math.max(0, ...spec.series.map((s) => s.values[i] ?? 0)),
  );
  const ticks = niceTicks(Math.max(0, ...totals));
  const top = ticks[ticks.length - 1] ?? 1;
  const y = (v: number): number => M.top + plotH - (v / top) * plotH;
  const slot = n === 0 ? plotW : plotW / n;
  const xCenter = (i: number): number => M.left + slot * i + slot / 2;

  const parts: SVGElement[] = [
    svg('title', { id: `${id}-title` }),
    svg('desc', { id: `${id}-desc` }),
  ];
  parts[0]?.append(spec.title);
  parts[1]?.append(spec.description);

  // Grid lines and y tick labels.
  for (const t of ticks) {
    parts.push(
      svg('line', {
        x1: M.left,
        x2: W - M.right,
        y1: y(t),
        y2: y(t),
        stroke: '#d9dde4',
        'stroke-width': 1,
      }),
    );
    const label = svg('text', {
      x: M.left - 6,
      y: y(t) + 4,
      'text-anchor': 'end',
      'font-size': 11,
      fill: '#5b6475',
    });
    label.append(format(t));
    parts.push(label);
  }
  // Axes.
  parts.push(
    svg('line', { x1: M.left, x2: M.left, y1: M.top, y2: M.top + plotH, stroke: '#5b6475' }),
    svg('line', {
      x1: M.left,
      x2: W - M.right,
      y1: M.top + plotH,
      y2: M.top + plotH,
      stroke: '#5b6475',
    }),
  );
  // X labels, thinned to one per ~90 units (about eight on a desktop, three on a phone).
  const every = Math.max(1, Math.ceil(n / Math.max(2, Math.floor(plotW / 90))));
  spec.labels.forEach((text, i) => {
    // The last bucket is always labelled; the thinned label before it gives way when close.
    const last = i === n - 1;
    if (!last && (i % every !== 0 || n - 1 - i < every)) return;
    const label = svg('text', {
      x: xCenter(i),
      y: M.top + plotH + 16,
      'text-anchor': 'middle',
      'font-size': 11,
      fill: '#5b6475',
    });
    label.append(text);
    parts.push(label);
  });

  if (spec.kind === 'stacked') {
    const barW = Math.max(1, slot * 0.75);
    spec.labels.forEach((label, i) => {
      let base = 0;
      spec.series.forEach((s, si) => {
        const v = Math.max(0, s.values[i] ?? 0);
        if (v === 0) return;
        const rect = svg('rect', {
          x: xCenter(i) - barW / 2,
          y: y(base + v),
          width: barW,
          height: Math.max(0.5, y(base) - y(base + v)),
          fill: colour(si),
          class: 'chart-bar',
        });
        const tip = svg('title');
        tip.append(`${label} · ${s.name}: ${format(v)}`);
        rect.append(tip);
        parts.push(rect);
        base += v;
      });
    });
  } else {
    spec.series.forEach((s, si) => {
      let d = '';
      let pen = false;
      s.values.forEach((v, i) => {
        if (v === null) {
          pen = false;
          return;
        }
        d += `${pen ? 'L' : 'M'}${xCenter(i).toFixed(1)},${y(v).toFixed(1)} `;
        pen = true;
      });
      if (d !== '') {
        parts.push(
          svg('path', {
            d: d.trim(),
            fill: 'none',
            stroke: colour(si),
            'stroke-width': 2,
            class: 'chart-line',
          }),
        );
      }
      s.values.forEach((v, i) => {
        if (v === null) return;
        const dot = svg('circle', { cx: xCenter(i), cy: y(v), r: 2.5, fill: colour(si) });
        const tip = svg('title');
        tip.append(`${spec.labels[i] ?? ''} · ${s.name}: ${format(v)}`);
        dot.append(tip);
        parts.push(dot);
      });
    });
  }

  const picture = svg(
    'svg',
    {
      viewBox: `0 0 ${String(W)} ${String(H)}`,
      role: 'img',
      'aria-labelledby': `${id}-title ${id}-desc`,
      class: 'chart',
      preserveAspectRatio: 'xMidYMid meet',
    },
    ...parts,
  );

  const legend = h(
    'ul',
    { class: 'chart-legend', 'aria-hidden': 'true' },
    spec.series.map((s, si) =>
      h(
        'li',
        {},
        svg(
          'svg',
          { width: 12, height: 12, viewBox: '0 0 12 12' },
          svg('rect', {
            width: 12,
            height: 12,
            fill: colour(si),
          }),
        ),
        ` ${s.name}`,
      ),
    ),
  );

  const table = h(
    'table',
    {},
    h('caption', {}, spec.title),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, ''),
        spec.series.map((s) => h('th', { scope: 'col' }, s.name)),
      ),
    ),
    h(
      'tbody',
      {},
      spec.labels.map((label, i) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, label),
          spec.series.map((s) => {
            const v = s.values[i];
            return h('td', { class: 'num' }, v === null || v === undefined ? '–' : format(v));
          }),
        ),
      ),
    ),
  );

  return h(
    'figure',
    { class: 'chart-figure', 'data-chart': spec.kind },
    picture,
    legend,
    h('details', {}, h('summary', {}, 'Show as a table'), h('div', { class: 'table-wrap' }, table)),
  );
}

/**
 * A ranked list as a table with a bar per row (top senders, viruses…): the bar is decoration,
 * the number is in its own cell.
 */
export function rankedTable(
  caption: string,
  keyHeader: string,
  rows: readonly (readonly [string, number])[],
  format: (value: number) => string = defaultFormat,
): HTMLElement {
  const max = Math.max(1, ...rows.map(([, v]) => v));
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'ranked' },
      h('caption', {}, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, keyHeader),
          h('th', { scope: 'col', class: 'num' }, 'Messages'),
          h('th', { scope: 'col', 'aria-hidden': 'true' }, ''),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map(([key, value]) =>
          h(
            'tr',
            {},
            h('td', { class: 'key' }, key === '' ? '(others)' : key),
            h('td', { class: 'num' }, format(value)),
            h(
              'td',
              { class: 'bar-cell', 'aria-hidden': 'true' },
              svg(
                'svg',
                { viewBox: '0 0 100 10', preserveAspectRatio: 'none', class: 'rank-bar' },
                svg('rect', {
                  width: Math.max(0.5, (value / max) * 100),
                  height: 10,
                  fill: CHART_COLOURS[0],
                }),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

// Small charts drawn with SVG and plain elements: a time series (lines over
// an area), a donut and a list of horizontal bars. No chart library: the
// three shapes the dashboard needs fit in a few hundred lines, and every
// label goes in as a text node (labels are captured text: hostile).
//
// Every drawn value also sits in data-* attributes (data-label, data-value,
// data-t) so that tests can compare what is drawn with what the API said
// without reading pixels.

import { h } from './dom';

const NS = 'http://www.w3.org/2000/svg';

type SvgAttrs = Record<string, string | number>;

// s builds an SVG element; like h(), strings become text nodes.
function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: SvgAttrs, ...children: (Node | string)[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

// A colour per series / slice, from the CSS palette so themes can change it.
const palette = ['--c1', '--c2', '--c3', '--c4', '--c5', '--c6', '--c7', '--c8'];
export function colorVar(i: number): string {
  return `var(${palette[i % palette.length]})`;
}

// ---- number formatting -------------------------------------------------

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

// count formats an exact count with thousands separators ("12,345").
export function count(n: number): string {
  return grouped.format(n);
}

// si formats a rate or size with an SI prefix ("1.23 M"), unit appended.
export function si(n: number, unit = ''): string {
  const abs = Math.abs(n);
  const steps: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [d, p] of steps) {
    if (abs >= d) return `${trim(n / d)} ${p}${unit}`;
  }
  return `${trim(n)} ${unit}`.trim();
}

// bytes formats a byte count in binary units ("1.5 MiB").
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${count(n)} B` : `${trim(v)} ${units[i]}`;
}

// micros formats a duration given in microseconds ("850 µs", "12.3 ms", "1.2 s").
export function micros(us: number): string {
  if (us < 1000) return `${trim(us)} µs`;
  if (us < 1e6) return `${trim(us / 1000)} ms`;
  return `${trim(us / 1e6)} s`;
}

function trim(v: number): string {
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  const t = v.toFixed(digits);
  return t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t;
}

// niceStep picks a round step (1, 2, 5 × 10^n) for about `ticks` ticks.
function niceStep(max: number, ticks: number): number {
  if (max <= 0) return 1;
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) {
    if (raw <= m * mag) return m * mag;
  }
  return 10 * mag;
}

// ---- time series -------------------------------------------------------

export type Point = { t: number; v: number }; // t: ms since the epoch
export type Series = { name: string; points: Point[] };

export type TimeSeriesOptions = {
  title: string;
  format: (v: number) => string;
  height?: number;
  // A test hook and CSS hook for the figure.
  id?: string;
};

// timeSeries draws one or more series against time: lines over a light
// area, a marker per point (its <title> is the tooltip), y grid lines at
// round values and a few time labels.
export function timeSeries(series: Series[], opt: TimeSeriesOptions): HTMLElement {
  const W = 640;
  const H = opt.height ?? 180;
  const m = { l: 64, r: 12, t: 10, b: 24 };
  const iw = W - m.l - m.r;
  const ih = H - m.t - m.b;
  const all = series.flatMap((x) => x.points);
  const fig = h('figure', { class: 'chart timeseries', id: opt.id }, h('figcaption', null, opt.title));
  if (all.length === 0) {
    fig.append(h('p', { class: 'muted empty' }, 'no data in this range'));
    return fig;
  }
  let t0 = Math.min(...all.map((p) => p.t));
  let t1 = Math.max(...all.map((p) => p.t));
  if (t1 === t0) {
    t0 -= 30_000;
    t1 += 30_000;
  }
  const vmax = Math.max(...all.map((p) => p.v), 0);
  const step = niceStep(vmax, 4);
  const top = Math.max(step, Math.ceil(vmax / step) * step);
  const x = (t: number): number => m.l + ((t - t0) / (t1 - t0)) * iw;
  const y = (v: number): number => m.t + ih - (v / top) * ih;

  const root = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': opt.title, class: 'chart-svg' });
  for (let v = 0; v <= top + step / 2; v += step) {
    root.append(
      s('line', { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v), class: 'grid' }),
      s('text', { x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, opt.format(v)),
    );
  }
  for (const t of timeTicks(t0, t1, 5)) {
    // Labels at the edges are anchored inwards so they are not cut off.
    const anchor = x(t) > W - m.r - 30 ? 'end' : x(t) < m.l + 30 ? 'start' : 'middle';
    root.append(s('text', { x: x(t), y: H - 6, 'text-anchor': anchor, class: 'tick' }, timeLabel(t, t1 - t0)));
  }
  series.forEach((ser, i) => {
    const pts = [...ser.points].sort((a, b) => a.t - b.t);
    if (pts.length === 0) return;
    const color = colorVar(i);
    const line = pts.map((p, j) => `${j ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join('');
    const first = pts[0]!;
    const last = pts[pts.length - 1]!;
    const area = `${line}L${x(last.t).toFixed(1)},${y(0)}L${x(first.t).toFixed(1)},${y(0)}Z`;
    const g = s('g', { class: 'series', 'data-series': ser.name });
    g.append(s('path', { d: area, class: 'area', fill: color }), s('path', { d: line, class: 'line', stroke: color }));
    for (const p of pts) {
      const dot = s('circle', { cx: x(p.t), cy: y(p.v), r: 3, class: 'pt', fill: color, 'data-t': new Date(p.t).toISOString(), 'data-v': p.v });
      dot.append(s('title', {}, `${ser.name} ${new Date(p.t).toISOString().replace('.000Z', 'Z')}: ${opt.format(p.v)}`));
      g.append(dot);
    }
    root.append(g);
  });
  fig.append(root);
  if (series.length > 1) {
    fig.append(
      h('ul', { class: 'legend' }, ...series.map((ser, i) => legendItem(ser.name, i))),
    );
  }
  return fig;
}

function legendItem(label: string, i: number, extra?: string): HTMLElement {
  const sw = h('span', { class: 'swatch' });
  sw.style.background = colorVar(i);
  return h('li', null, sw, h('span', { class: 'label' }, label), extra ? h('span', { class: 'muted' }, ' ', extra) : null);
}

function timeTicks(t0: number, t1: number, n: number): number[] {
  const span = t1 - t0;
  const steps = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400].map((x) => x * 1000);
  const step = steps.find((st) => span / st <= n) ?? steps[steps.length - 1]!;
  const out: number[] = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) out.push(t);
  return out;
}

function timeLabel(t: number, span: number): string {
  const iso = new Date(t).toISOString(); // UTC, as the API speaks
  if (span > 2 * 86400_000) return iso.slice(5, 10) + ' ' + iso.slice(11, 16);
  if (span > 600_000) return iso.slice(11, 16);
  return iso.slice(11, 19);
}

// ---- donut ------------------------------------------------------------

export type Slice = { label: string; value: number };

export type DonutOptions = { title: string; format: (v: number) => string; id?: string };

// donut draws shares of a whole as a ring, with a legend of exact values
// and percentages beside it. Zero slices stay in the legend only.
export function donut(slices: Slice[], opt: DonutOptions): HTMLElement {
  const fig = h('figure', { class: 'chart donut', id: opt.id }, h('figcaption', null, opt.title));
  const total = slices.reduce((a, x) => a + x.value, 0);
  const R = 60;
  const r = 36;
  const root = s('svg', { viewBox: '-64 -64 128 128', role: 'img', 'aria-label': opt.title, class: 'donut-svg' });
  if (total <= 0) {
    root.append(s('circle', { cx: 0, cy: 0, r: (R + r) / 2, class: 'empty-ring', 'stroke-width': R - r, fill: 'none' }));
  } else {
    let a0 = -Math.PI / 2;
    slices.forEach((sl, i) => {
      if (sl.value <= 0) return;
      const frac = sl.value / total;
      const a1 = a0 + frac * 2 * Math.PI;
      const path =
        frac >= 0.9999
          ? ring(R, r)
          : arc(R, r, a0, a1);
      const p = s('path', { d: path, fill: colorVar(i), class: 'slice', 'data-label': sl.label, 'data-value': sl.value });
      p.append(s('title', {}, `${sl.label}: ${opt.format(sl.value)} (${pct(frac)})`));
      root.append(p);
      a0 = a1;
    });
  }
  root.append(s('text', { x: 0, y: 5, 'text-anchor': 'middle', class: 'donut-total' }, opt.format(total)));
  const legend = h('ul', { class: 'legend' });
  slices.forEach((sl, i) => {
    const li = legendItem(sl.label, i, `${opt.format(sl.value)} · ${total > 0 ? pct(sl.value / total) : '–'}`);
    li.dataset['label'] = sl.label;
    li.dataset['value'] = String(sl.value);
    legend.append(li);
  });
  fig.append(h('div', { class: 'donut-body' }, root, legend));
  return fig;
}

function pct(f: number): string {
  if (f === 0) return '0%';
  return `${(f * 100).toFixed(f < 0.1 ? 1 : 0)}%`;
}

function polar(rad: number, a: number): string {
  return `${(rad * Math.cos(a)).toFixed(2)},${(rad * Math.sin(a)).toFixed(2)}`;
}

function arc(R: number, r: number, a0: number, a1: number): string {
  const large = a1 - a0 > Math.PI ? 1 : 0;
  return `M${polar(R, a0)}A${R},${R} 0 ${large} 1 ${polar(R, a1)}L${polar(r, a1)}A${r},${r} 0 ${large} 0 ${polar(r, a0)}Z`;
}

function ring(R: number, r: number): string {
  return `M${R},0A${R},${R} 0 1 1 ${-R},0A${R},${R} 0 1 1 ${R},0ZM${r},0A${r},${r} 0 1 0 ${-r},0A${r},${r} 0 1 0 ${r},0Z`;
}

// ---- bar list ---------------------------------------------------------

export type Bar = {
  label: string;
  value: number;
  // An internal link for the label (e.g. the explorer filtered on it).
  href?: string;
  // Extra columns after the value (e.g. an error bound).
  extra?: (string | Node)[];
  // A CSS class for the row (e.g. status classes).
  cls?: string;
};

export type BarListOptions = {
  title?: string;
  format: (v: number) => string;
  head?: [string, string, ...string[]];
  empty?: string;
  id?: string;
};

// barList is a table of labelled horizontal bars, largest first as given:
// the label (full text, wrapped), a bar scaled to the largest value, the
// value. Tables beat drawn bars for long captured labels (paths, names).
export function barList(bars: Bar[], opt: BarListOptions): HTMLElement {
  const max = Math.max(0, ...bars.map((b) => b.value));
  const table = h('table', { class: 'bars', id: opt.id });
  if (opt.head) {
    const [l, v, ...rest] = opt.head;
    table.append(h('thead', null, h('tr', null, h('th', null, l), h('th', { class: 'num' }, v), ...rest.map((x) => h('th', { class: 'num' }, x)))));
  }
  const body = h('tbody');
  for (const b of bars) {
    const fill = h('div', { class: 'bar-fill' });
    fill.style.width = `${max > 0 ? (b.value / max) * 100 : 0}%`;
    const label = b.href ? h('a', { href: b.href, class: 'mono' }, b.label) : h('span', { class: 'mono' }, b.label);
    body.append(
      h(
        'tr',
        { class: b.cls, 'data-label': b.label, 'data-value': b.value },
        h('td', { class: 'bar-label' }, h('div', { class: 'bar-track' }, fill), label),
        h('td', { class: 'num' }, opt.format(b.value)),
        ...(b.extra ?? []).map((x) => h('td', { class: 'num' }, x)),
      ),
    );
  }
  if (bars.length === 0) body.append(h('tr', { class: 'empty' }, h('td', { class: 'muted', colspan: 2 + (opt.head ? opt.head.length - 2 : 0) }, opt.empty ?? 'nothing in this range')));
  table.append(body);
  if (!opt.title) return table;
  return h('figure', { class: 'chart barlist' }, h('figcaption', null, opt.title), table);
}

// The traffic map view: who talks to whom over the selected time range.
// Nodes are hosts, workloads, networks and external addresses (or groups
// of them by a label); edges are conversations per protocol and port,
// thick by bytes and coloured by the share of failed requests. The layout
// runs in a worker; drawing is one canvas. Filters live in the URL
// (group_by, hide_app, hide_label, omit, q, node, edge...).

import './map.css';
import { h, clear, append } from '../lib/dom';
import { getJSON, ApiError } from '../lib/api';
import { onRouteChange, updateParams, timeRange, isLive, type Route } from '../lib/state';
import { Renderer, errorColor, nodeColor, kindColors, type DrawEdge, type DrawNode } from './render';
import { nodeDetails, edgeDetails, type DetailActions } from './details';
import { edgeId, fmtBytes, fmtCount, fmtPct, mapParamKeys, type EdgeResponse, type ExtentResponse, type MapEdge, type MapResponse, type NodeResponse } from './model';
import type { LayoutRequest, LayoutUpdate } from './layout.worker';

// The test and benchmark hook: what is drawn, where, and whether the
// layout has settled (docs/ui.md).
export type MapSnapshot = {
  nodes: { id: string; label: string; x: number; y: number }[];
  edges: { id: string; from: string; to: string; protocol: string; port: number; bytes: number }[];
  stable: boolean;
};
type Timing = { requested: number; fetched: number; firstRender: number; stable: number; layoutTicks: number };
declare global {
  interface Window {
    __wirewatch?: { map?: { snapshot(): MapSnapshot; timing: Timing; fit(): void } };
  }
}

const liveEveryMs = 10_000;
const defaultGroupKeys = ['namespace', 'env', 'archdomain', 'node'];

function mapQuery(p: URLSearchParams): Record<string, string | undefined> {
  const q: Record<string, string | undefined> = { ...timeRange(p) };
  for (const k of mapParamKeys) q[k] = p.get(k) ?? undefined;
  return q;
}

function splitList(v: string | null): string[] {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function mountMap(root: HTMLElement, route: Route): () => void {
  const view = new MapView(root);
  view.route(route);
  const off = onRouteChange((r) => {
    if (r.view === 'map') view.route(r);
  });
  return () => {
    off();
    view.destroy();
  };
}

class MapView {
  private root: HTMLElement;
  private el: HTMLElement;
  private canvas: HTMLCanvasElement;
  private renderer: Renderer;
  private worker: Worker;
  private status: HTMLElement;
  private tooltip: HTMLElement;
  private details: HTMLElement;
  private protoBox: HTMLElement;
  private labelBox: HTMLElement;
  private groupSel: HTMLSelectElement;
  private search: HTMLInputElement;
  private omit: HTMLInputElement;
  private externalBox: HTMLInputElement;
  private loopsBox: HTMLInputElement;
  private scrub: HTMLInputElement;
  private scrubLabel: HTMLElement;
  private playBtn: HTMLButtonElement;
  private notice: HTMLElement;

  private data: MapResponse | null = null;
  private byId = new Map<string, DrawNode>();
  private dataKey = '';
  private detailKey = '';
  private abort: AbortController | null = null;
  private detailAbort: AbortController | null = null;
  private layoutId = 0;
  private stable = false;
  private userMoved = false;
  private liveTimer: ReturnType<typeof setInterval> | null = null;
  private playTimer: ReturnType<typeof setInterval> | null = null;
  private extent: { from: number; to: number } | null = null;
  private knownApps = new Set<string>();
  private knownLabels = new Map<string, Set<string>>();
  private timing: Timing = { requested: 0, fetched: 0, firstRender: 0, stable: 0, layoutTicks: 0 };
  private params = new URLSearchParams();
  private resizeObs: ResizeObserver;
  private destroyed = false;

  constructor(root: HTMLElement) {
    this.root = root;
    this.canvas = h('canvas', { class: 'map-canvas', tabindex: 0, 'aria-label': 'traffic map' });
    this.renderer = new Renderer(this.canvas);
    this.status = h('div', { class: 'map-status' });
    this.tooltip = h('div', { class: 'map-tooltip', hidden: true });
    this.details = h('aside', { class: 'map-details', hidden: true });
    this.protoBox = h('div', { class: 'filter-list', id: 'map-protocols' });
    this.labelBox = h('div', { class: 'filter-list', id: 'map-labels' });
    this.groupSel = h('select', { id: 'map-group-by', title: 'group nodes by a label' });
    this.search = h('input', { id: 'map-search', type: 'search', placeholder: 'search name or IP', size: 18 });
    this.omit = h('input', { id: 'map-omit', type: 'text', placeholder: 'omit: kube-*, *-canary', size: 18, title: 'leave out nodes whose name matches (comma-separated globs)' });
    this.externalBox = h('input', { id: 'map-group-external', type: 'checkbox' });
    this.loopsBox = h('input', { id: 'map-drop-loops', type: 'checkbox' });
    this.scrub = h('input', { id: 'map-scrubber', type: 'range', min: 0, max: 1000, value: 1000, step: 1, disabled: true, title: 'move the time window over the stored data' });
    this.scrubLabel = h('span', { class: 'muted scrub-label' });
    this.playBtn = h('button', { id: 'map-play', title: 'replay the stored data window by window', disabled: true }, '▶');
    this.notice = h('div', { class: 'map-notice', hidden: true });

    const legend = h(
      'div',
      { class: 'map-legend' },
      ...Object.entries(kindColors).map(([k, c]) => h('span', null, h('i', { class: 'dot', 'data-color': c }), k)),
      h('span', null, h('i', { class: 'line ok' }), 'no errors'),
      h('span', null, h('i', { class: 'line warn' }), 'errors'),
      h('span', null, h('i', { class: 'line bad' }), '≥10% errors'),
      h('span', null, h('i', { class: 'line none' }), 'no requests'),
    );
    // Legend dots get their colour by class-free data attributes: the CSP
    // forbids inline styles, so colours come from map.css.
    const toolbar = h(
      'div',
      { class: 'map-toolbar' },
      h('label', null, 'group by ', this.groupSel),
      h('label', null, this.externalBox, ' externals as one'),
      h('label', null, this.loopsBox, ' hide loops'),
      this.omit,
      this.search,
      h('button', { id: 'map-fit', title: 'fit the map to the window', onclick: () => this.renderer.fit() }, 'fit'),
      this.status,
    );
    const filters = h(
      'aside',
      { class: 'map-filters' },
      h('h3', null, 'protocols'),
      this.protoBox,
      h('h3', null, 'labels'),
      h('p', { class: 'muted hint' }, 'unchecked: nodes with the label are hidden'),
      this.labelBox,
    );
    const stage = h('div', { class: 'map-stage' }, this.canvas, this.tooltip, this.notice, legend);
    const scrubber = h(
      'div',
      { class: 'map-scrub' },
      this.playBtn,
      h('button', { id: 'map-all', title: 'show all stored data', onclick: () => this.showAll() }, 'all data'),
      this.scrub,
      this.scrubLabel,
    );
    this.el = h('section', { class: 'map-view' }, toolbar, h('div', { class: 'map-body' }, filters, stage, this.details), scrubber);
    root.append(this.el);

    this.worker = new Worker(new URL('./layout.worker.ts', import.meta.url), { type: 'module' });
    this.worker.onmessage = (ev: MessageEvent<LayoutUpdate>) => this.onPositions(ev.data);

    this.bindInputs();
    this.bindCanvas();
    this.resizeObs = new ResizeObserver(() => {
      this.renderer.resize();
      if (!this.userMoved) this.renderer.fit();
    });
    this.resizeObs.observe(this.canvas);
    this.renderer.resize();
    this.renderer.onFrame = () => {
      if (!this.timing.firstRender && this.renderer.nodes.length > 0) this.timing.firstRender = performance.now();
    };

    window.__wirewatch = window.__wirewatch ?? {};
    window.__wirewatch.map = { snapshot: () => this.snapshot(), timing: this.timing, fit: () => this.renderer.fit() };
    void this.loadExtent();
  }

  destroy(): void {
    this.destroyed = true;
    this.abort?.abort();
    this.detailAbort?.abort();
    this.worker.terminate();
    this.resizeObs.disconnect();
    if (this.onWindowMove) window.removeEventListener('mousemove', this.onWindowMove);
    if (this.onWindowUp) window.removeEventListener('mouseup', this.onWindowUp);
    if (this.liveTimer) clearInterval(this.liveTimer);
    if (this.playTimer) clearInterval(this.playTimer);
    if (window.__wirewatch) delete window.__wirewatch.map;
    this.el.remove();
    void this.root;
  }

  // route applies the URL: reload the map when its parameters changed,
  // otherwise only the selection, search or details.
  route(r: Route): void {
    this.params = r.params;
    const p = r.params;
    const key = JSON.stringify(mapQuery(p));
    if (document.activeElement !== this.search) this.search.value = p.get('q') ?? '';
    if (document.activeElement !== this.omit) this.omit.value = p.get('omit') ?? '';
    this.externalBox.checked = p.get('group_external') === 'true';
    this.loopsBox.checked = p.get('loops') === 'drop';
    this.setLive(isLive(p));
    if (key !== this.dataKey) {
      this.dataKey = key;
      void this.load();
    } else {
      this.applySelection();
    }
    this.applySearch();
  }

  private setLive(on: boolean): void {
    if (on && !this.liveTimer) {
      this.liveTimer = setInterval(() => void this.load(true), liveEveryMs);
    } else if (!on && this.liveTimer) {
      clearInterval(this.liveTimer);
      this.liveTimer = null;
    }
  }

  private async load(refresh = false): Promise<void> {
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    if (!refresh) {
      this.timing.requested = performance.now();
      this.timing.fetched = this.timing.firstRender = this.timing.stable = 0;
      this.status.textContent = 'loading…';
    }
    try {
      const resp = await getJSON<MapResponse>('/api/v1/map', mapQuery(this.params), ac.signal);
      if (this.destroyed || ac.signal.aborted) return;
      if (!refresh) this.timing.fetched = performance.now();
      this.setMap(resp, refresh);
      if (refresh) void this.loadExtent();
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      this.status.textContent = '';
      this.status.append(h('span', { class: 'error' }, e instanceof ApiError ? e.message : `map: ${(e as Error).message}`));
    }
  }

  private setMap(resp: MapResponse, refresh: boolean): void {
    const old = this.byId;
    this.data = resp;
    const maxBytes = Math.max(1, ...resp.nodes.map((n) => n.bytes));
    const maxEdge = Math.max(1, ...resp.edges.map((e) => e.bytes));
    const nodes: DrawNode[] = resp.nodes.map((n) => {
      const prev = old.get(n.id);
      return { ...n, x: prev?.x ?? NaN, y: prev?.y ?? NaN, r: 3 + 9 * Math.sqrt(n.bytes / maxBytes), color: nodeColor(n.kind) };
    });
    this.byId = new Map(nodes.map((n) => [n.id, n]));
    const edges: DrawEdge[] = [];
    for (const e of resp.edges) {
      const s = this.byId.get(e.source), t = this.byId.get(e.target);
      if (!s || !t) continue;
      const w = Math.round((1 + 5 * (Math.log1p(e.bytes) / Math.log1p(maxEdge))) * 2) / 2;
      edges.push({ ...e, id: edgeId(e), s, t, width: w, color: errorColor(e) });
    }
    this.renderer.nodes = nodes;
    this.renderer.edges = edges;

    for (const e of resp.edges) this.knownApps.add(e.app);
    for (const n of resp.nodes)
      for (const [k, v] of Object.entries(n.labels)) {
        if (!this.knownLabels.has(k)) this.knownLabels.set(k, new Set());
        this.knownLabels.get(k)!.add(v);
      }
    this.renderFilters();
    this.renderStatus();
    this.updateScrubber();

    const missing = nodes.some((n) => !Number.isFinite(n.x));
    if (nodes.length > 0 && (!refresh || missing)) {
      this.startLayout(nodes, edges, refresh && !missing ? 0.1 : refresh ? 0.5 : 1);
    } else {
      this.stable = true;
      if (!this.timing.stable) this.timing.stable = performance.now();
      this.renderer.request();
    }
    this.notice.hidden = nodes.length > 0;
    if (nodes.length === 0) this.renderEmptyNotice();
    this.applySelection(true);
  }

  private startLayout(nodes: DrawNode[], edges: DrawEdge[], alpha: number): void {
    const index = new Map(nodes.map((n, i) => [n.id, i]));
    const seen = new Set<string>();
    const links: number[] = [];
    for (const e of edges) {
      const a = index.get(e.source)!, b = index.get(e.target)!;
      if (a === b) continue;
      const k = a < b ? `${a},${b}` : `${b},${a}`;
      if (seen.has(k)) continue;
      seen.add(k);
      links.push(a, b);
    }
    const initial = new Float32Array(nodes.length * 2);
    nodes.forEach((n, i) => {
      initial[2 * i] = n.x;
      initial[2 * i + 1] = n.y;
    });
    this.stable = false;
    this.layoutId++;
    const req: LayoutRequest = { type: 'start', id: this.layoutId, input: { n: nodes.length, links: new Uint32Array(links), initial, seed: 7, alpha } };
    this.worker.postMessage(req);
  }

  private onPositions(u: LayoutUpdate): void {
    if (u.id !== this.layoutId) return;
    const nodes = this.renderer.nodes;
    for (let i = 0; i < nodes.length; i++) {
      nodes[i]!.x = u.positions[2 * i]!;
      nodes[i]!.y = u.positions[2 * i + 1]!;
    }
    if (!this.userMoved) this.renderer.fit();
    this.renderer.request();
    if (u.done) {
      this.stable = true;
      this.timing.layoutTicks = u.ticks;
      // "stable" is when the settled layout is on screen.
      requestAnimationFrame(() => {
        if (!this.timing.stable) this.timing.stable = performance.now();
      });
    }
  }

  private renderStatus(): void {
    const d = this.data;
    if (!d) return;
    clear(this.status);
    append(
      this.status,
      `${d.nodes.length} nodes, ${d.edges.length} edges`,
      d.truncated ? h('span', { class: 'warn', title: `the map was drawn from the ${d.edges_read} largest address edges; raise limit= for more` }, ' (largest only)') : null,
    );
  }

  private renderEmptyNotice(): void {
    clear(this.notice);
    const ext = this.extent;
    this.notice.append(h('p', null, 'No traffic in this time range.'));
    if (ext) {
      this.notice.append(
        h('p', { class: 'muted' }, `Stored data spans ${new Date(ext.from).toISOString()} – ${new Date(ext.to).toISOString()}.`),
        h('button', { id: 'map-show-all', onclick: () => this.showAll() }, 'show all stored data'),
      );
    }
  }

  // Filters: one checkbox per protocol and per label value seen; unchecked
  // ones are in hide_app / hide_label.
  private renderFilters(): void {
    const hiddenApps = new Set(splitList(this.params.get('hide_app')).map((a) => (a === 'none' ? '' : a)));
    for (const a of hiddenApps) this.knownApps.add(a);
    clear(this.protoBox);
    for (const app of [...this.knownApps].sort()) {
      const name = app === '' ? 'none' : app;
      const box = h('input', {
        type: 'checkbox',
        'data-app': name,
        checked: !hiddenApps.has(app),
        onchange: (e: Event) => {
          const hide = new Set(splitList(this.params.get('hide_app')));
          if ((e.target as HTMLInputElement).checked) hide.delete(name);
          else hide.add(name);
          updateParams({ hide_app: [...hide].sort().join(',') }, true);
        },
      });
      this.protoBox.append(h('label', null, box, ' ', name === 'none' ? 'none (not detected)' : name));
    }
    const hiddenLabels = new Set(splitList(this.params.get('hide_label')));
    for (const l of hiddenLabels) {
      const [k, v] = [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)];
      if (!this.knownLabels.has(k)) this.knownLabels.set(k, new Set());
      this.knownLabels.get(k)!.add(v);
    }
    clear(this.labelBox);
    for (const [k, vs] of [...this.knownLabels].sort(([a], [b]) => a.localeCompare(b))) {
      for (const v of [...vs].sort()) {
        const pair = `${k}=${v}`;
        const box = h('input', {
          type: 'checkbox',
          'data-label': pair,
          checked: !hiddenLabels.has(pair),
          onchange: (e: Event) => {
            const hide = new Set(splitList(this.params.get('hide_label')));
            if ((e.target as HTMLInputElement).checked) hide.delete(pair);
            else hide.add(pair);
            updateParams({ hide_label: [...hide].sort().join(',') }, true);
          },
        });
        this.labelBox.append(h('label', null, box, ' ', pair));
      }
    }
    if (this.knownLabels.size === 0) this.labelBox.append(h('p', { class: 'muted' }, 'no labels'));
    // Group-by choices: the usual label keys and every key seen.
    const cur = this.params.get('group_by') ?? '';
    const keys = new Set([...defaultGroupKeys, ...this.knownLabels.keys()]);
    if (cur) keys.add(cur);
    clear(this.groupSel);
    this.groupSel.append(h('option', { value: '' }, 'nothing (one node per host)'));
    for (const k of [...keys].sort()) this.groupSel.append(h('option', { value: k }, k));
    this.groupSel.value = cur;
  }

  private bindInputs(): void {
    this.groupSel.addEventListener('change', () => updateParams({ group_by: this.groupSel.value, node: '', edge: '' }, true));
    this.externalBox.addEventListener('change', () => updateParams({ group_external: this.externalBox.checked ? 'true' : '' }, true));
    this.loopsBox.addEventListener('change', () => updateParams({ loops: this.loopsBox.checked ? 'drop' : '' }, true));
    this.omit.addEventListener('change', () => updateParams({ omit: splitList(this.omit.value).join(',') }, true));
    this.search.addEventListener('input', () => updateParams({ q: this.search.value }));
    this.search.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter') return;
      const first = [...this.renderer.matches][0];
      if (first) this.select({ node: first });
    });
    let debounce: ReturnType<typeof setTimeout> | null = null;
    this.scrub.addEventListener('input', () => {
      this.scrubLabel.textContent = this.scrubText();
      if (debounce) clearTimeout(debounce);
      debounce = setTimeout(() => this.applyScrub(), 250);
    });
    this.playBtn.addEventListener('click', () => this.togglePlay());
  }

  private bindCanvas(): void {
    const c = this.canvas;
    let drag: { x: number; y: number; moved: boolean } | null = null;
    const local = (e: MouseEvent): [number, number] => {
      const r = c.getBoundingClientRect();
      return [e.clientX - r.left, e.clientY - r.top];
    };
    c.addEventListener('wheel', (e) => {
      e.preventDefault();
      const [x, y] = local(e);
      this.userMoved = true;
      this.renderer.zoomAt(x, y, Math.exp(-e.deltaY * 0.0015));
    }, { passive: false });
    c.addEventListener('mousedown', (e) => {
      drag = { x: e.clientX, y: e.clientY, moved: false };
    });
    window.addEventListener('mousemove', this.onWindowMove = (e: MouseEvent) => {
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      drag.moved = true;
      this.userMoved = true;
      this.renderer.panBy(dx, dy);
      drag.x = e.clientX;
      drag.y = e.clientY;
    });
    window.addEventListener('mouseup', this.onWindowUp = () => {
      setTimeout(() => (drag = null), 0);
    });
    c.addEventListener('mousemove', (e) => {
      if (drag?.moved) return;
      const [x, y] = local(e);
      const n = this.renderer.nodeAt(x, y);
      const ed = n ? null : this.renderer.edgeAt(x, y);
      const id = n?.id ?? null;
      if (id !== this.renderer.hoverNode) {
        this.renderer.hoverNode = id;
        this.renderer.request();
      }
      this.showTooltip(x, y, n, ed);
    });
    c.addEventListener('mouseleave', () => {
      this.renderer.hoverNode = null;
      this.tooltip.hidden = true;
      this.renderer.request();
    });
    c.addEventListener('click', (e) => {
      if (drag?.moved) return;
      const [x, y] = local(e);
      const n = this.renderer.nodeAt(x, y);
      if (n) return this.select({ node: n.id });
      const ed = this.renderer.edgeAt(x, y);
      if (ed) return this.select({ edge: ed.id });
      this.select({});
    });
  }

  private onWindowMove: ((e: MouseEvent) => void) | null = null;
  private onWindowUp: (() => void) | null = null;

  private showTooltip(x: number, y: number, n: DrawNode | null, e: DrawEdge | null): void {
    const t = this.tooltip;
    clear(t);
    if (!n && !e) {
      t.hidden = true;
      return;
    }
    if (n) {
      t.append(h('b', null, n.name), h('div', { class: 'muted' }, n.kind + (n.members > 1 ? `, ${n.members} members` : '')), h('div', null, `${fmtBytes(n.bytes)} · ${fmtCount(n.requests)} requests served`));
    } else if (e) {
      t.append(
        h('b', null, `${e.s.name} → ${e.t.name}`),
        h('div', null, `${e.transport}/${e.app || '?'}${e.port ? ':' + e.port : ''} · ${fmtBytes(e.bytes)}`),
        h('div', null, `${fmtCount(e.requests)} requests (${fmtCount(e.request_rate)}/s), ${fmtPct(e.error_rate)} errors`),
      );
    }
    t.hidden = false;
    // Position through a CSS custom property is not possible without
    // inline styles (CSP), so the tooltip is placed with CSSOM, which the
    // CSP allows.
    t.style.left = `${Math.min(x + 14, this.renderer.size.width - 260)}px`;
    t.style.top = `${y + 14}px`;
  }

  private select(sel: { node?: string; edge?: string }): void {
    updateParams({ node: sel.node ?? '', edge: sel.edge ?? '' }, true);
  }

  private applySearch(): void {
    const q = (this.params.get('q') ?? '').trim().toLowerCase();
    const m = new Set<string>();
    if (q) {
      for (const n of this.renderer.nodes) {
        if (n.name.toLowerCase().includes(q) || n.id.toLowerCase().includes(q) || n.addresses.some((a) => a.startsWith(q))) m.add(n.id);
      }
    }
    this.renderer.matches = m;
    this.renderer.request();
  }

  // applySelection shows the details of the node or edge in the URL.
  private applySelection(force = false): void {
    const node = this.params.get('node') ?? '';
    const edge = this.params.get('edge') ?? '';
    this.renderer.selectedNode = node || null;
    this.renderer.selectedEdge = edge || null;
    this.renderer.request();
    const key = `${node}\n${edge}`;
    if (!force && key === this.detailKey) return;
    this.detailKey = key;
    this.detailAbort?.abort();
    if (!node && !edge) {
      this.details.hidden = true;
      clear(this.details);
      return;
    }
    const ac = new AbortController();
    this.detailAbort = ac;
    this.details.hidden = false;
    if (!this.details.firstChild) this.details.append(h('p', { class: 'muted' }, 'loading…'));
    const actions: DetailActions = {
      selectNode: (id) => this.select({ node: id }),
      selectEdge: (e: MapEdge) => this.select({ edge: edgeId(e) }),
      close: () => this.select({}),
      explorerLink: (params) => {
        const p = new URLSearchParams({ tab: 'tx', ...timeRange(this.params), ...params });
        return `/explorer?${p.toString()}`;
      },
    };
    const base = mapQuery(this.params);
    const show = (el: HTMLElement): void => {
      if (ac.signal.aborted) return;
      clear(this.details);
      this.details.append(el);
    };
    const fail = (e: unknown): void => {
      if ((e as Error).name === 'AbortError') return;
      clear(this.details);
      this.details.append(h('p', { class: 'error' }, (e as Error).message));
    };
    if (node) {
      getJSON<NodeResponse>('/api/v1/map/node', { ...base, id: node }, ac.signal).then((r) => show(nodeDetails(r, actions)), fail);
    } else {
      const [source, target, transport, app, port] = edge.split('|');
      getJSON<EdgeResponse>('/api/v1/map/edge', { ...base, source, target, transport, app, port: port === '0' ? undefined : port }, ac.signal).then(
        (r) => show(edgeDetails(r, actions, (id) => this.byId.get(id)?.name ?? id)),
        fail,
      );
    }
  }

  // The scrubber moves a window as long as the current range over the
  // stored data (/api/v1/extent).
  private async loadExtent(): Promise<void> {
    try {
      const r = await getJSON<ExtentResponse>('/api/v1/extent');
      if (this.destroyed) return;
      this.extent = r.from && r.to ? { from: Date.parse(r.from), to: Date.parse(r.to) } : null;
      this.updateScrubber();
      if (this.data && this.data.nodes.length === 0) this.renderEmptyNotice();
    } catch {
      this.extent = null;
    }
  }

  private windowLen(): number {
    const d = this.data;
    if (!d) return 15 * 60_000;
    return Math.max(1000, Date.parse(d.to) - Date.parse(d.from));
  }

  private updateScrubber(): void {
    const ext = this.extent;
    const ok = ext !== null && this.data !== null;
    this.scrub.disabled = !ok;
    this.playBtn.disabled = !ok;
    if (!ok) {
      this.scrubLabel.textContent = 'no stored data';
      return;
    }
    const len = this.windowLen();
    const span = Math.max(0, ext.to - ext.from - len);
    const from = Date.parse(this.data!.from);
    const pos = span > 0 ? Math.round(((from - ext.from) / span) * 1000) : 1000;
    this.scrub.value = String(Math.max(0, Math.min(1000, pos)));
    this.scrubLabel.textContent = this.scrubText();
  }

  private scrubRange(): { from: Date; to: Date } | null {
    const ext = this.extent;
    if (!ext) return null;
    const len = this.windowLen();
    const span = Math.max(0, ext.to - ext.from - len);
    const from = ext.from + (span * Number(this.scrub.value)) / 1000;
    return { from: new Date(Math.floor(from / 1000) * 1000), to: new Date(Math.floor(from / 1000) * 1000 + len) };
  }

  private scrubText(): string {
    const r = this.scrubRange();
    if (!r) return '';
    return `${r.from.toISOString().replace('.000Z', 'Z')} → ${r.to.toISOString().replace('.000Z', 'Z')}`;
  }

  private applyScrub(): void {
    const r = this.scrubRange();
    if (!r) return;
    updateParams({ from: r.from.toISOString(), to: r.to.toISOString(), live: '' }, false);
  }

  private showAll(): void {
    const ext = this.extent;
    if (!ext) return;
    // The API's to is exclusive: one second past the last window's end.
    updateParams({ from: new Date(Math.floor(ext.from / 1000) * 1000).toISOString(), to: new Date(Math.ceil(ext.to / 1000) * 1000 + 1000).toISOString(), live: '' }, true);
  }

  private togglePlay(): void {
    if (this.playTimer) {
      clearInterval(this.playTimer);
      this.playTimer = null;
      this.playBtn.textContent = '▶';
      return;
    }
    const ext = this.extent;
    if (!ext) return;
    this.playBtn.textContent = '❚❚';
    if (Number(this.scrub.value) >= 1000) this.scrub.value = '0';
    const step = (): void => {
      const len = this.windowLen();
      const span = Math.max(1, ext.to - ext.from - len);
      this.applyScrub();
      const next = Number(this.scrub.value) + Math.max(1, Math.round((len / span) * 1000));
      if (Number(this.scrub.value) >= 1000) {
        this.togglePlay();
        return;
      }
      this.scrub.value = String(Math.min(1000, next));
    };
    step();
    this.playTimer = setInterval(step, 2000);
  }

  private snapshot(): MapSnapshot {
    const rect = this.canvas.getBoundingClientRect();
    return {
      nodes: this.renderer.nodes.map((n) => {
        const [x, y] = this.renderer.toScreen(n.x, n.y);
        return { id: n.id, label: n.name, x: rect.left + x, y: rect.top + y };
      }),
      edges: this.renderer.edges.map((e) => ({ id: e.id, from: e.source, to: e.target, protocol: e.app, port: e.port, bytes: e.bytes })),
      stable: this.stable && this.data !== null,
    };
  }
}


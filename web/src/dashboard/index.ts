// The dashboard: one probe, a group of probes (group=LABEL=VALUE) or the
// whole fleet over the shared time range — packet and byte rates, protocol
// mix, top talkers and ports, DNS, HTTP and TLS panels and every loss
// counter. Everything is read from the center's REST API with the same
// parameters a curl user would pass, so each number can be checked there.
//
// URL params (besides from/to/live): probe, group, top.
// Test hooks: section.dashboard[data-state] is loading|ready|error and
// data-generation counts finished loads.

import './dashboard.css';
import '../lib/chart.css';
import { h, clear } from '../lib/dom';
import { getJSON, type Params } from '../lib/api';
import { isLive, onRouteChange, timeRange, updateParams, type Route } from '../lib/state';
import { bytes, count } from '../lib/chart';
import { extentHint } from '../explorer/extent';
import type { SummaryResponse, WindowsResponse, Report, Quantiles } from './types';
import type { ProbesResponse, Probe, TopResponse, TopGroup, TransactionsResponse, Transaction } from '../explorer/types';
import {
  dnsPanel,
  httpPanel,
  l7Panel,
  lossPanel,
  mixPanel,
  panel,
  ratesPanel,
  stat,
  statGrid,
  tlsPanel,
  topPanel,
  type Scope,
} from './panels';

const liveEveryMs = 10_000;
const topChoices = ['5', '10', '20', '50'];
const defaultTop = '10';

// The params that change what is loaded; anything else (other views' keys)
// does not reload.
const keys = ['from', 'to', 'live', 'probe', 'group', 'top'] as const;

export function mountDashboard(root: HTMLElement, route: Route): () => void {
  const d = new Dashboard(root);
  d.update(route);
  const off = onRouteChange((r) => {
    if (r.view === 'dashboard') d.update(r);
  });
  return () => {
    off();
    d.destroy();
  };
}

// settle turns a failed request into its error, so that one panel's
// failure does not blank the others.
function settle<T>(p: Promise<T>): Promise<T | Error> {
  return p.catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
}

type Slow = {
  dns: Transaction[] | Error | null;
  dnsFrom: number | null; // ms
  http: Transaction[] | Error | null;
  httpFrom: number | null;
};

// slowTransactions fetches the slowest DNS and HTTP transactions: those at
// or above the range's p90 latency (the threshold of the summary's top_slow
// lists), in milliseconds rounded down to 10 µs (the API takes decimals).
async function slowTransactions(report: Report | null, base: Params, top: number, sig: AbortSignal): Promise<Slow> {
  const p90ms = (q: Quantiles[]): number | null => {
    const p90s = q.filter((x) => x.count > 0 && x.p90 > 0).map((x) => x.p90);
    return p90s.length ? Math.floor(Math.min(...p90s) / 10) / 100 : null;
  };
  const dnsFrom = p90ms(report?.dns ? [report.dns.xact.out.quantiles_us, report.dns.xact.in.quantiles_us] : []);
  const httpFrom = p90ms(report?.http ? [report.http.latency_us] : []);
  const query = async (proto: string, from: number | null): Promise<Transaction[] | Error | null> => {
    if (from === null) return null;
    const r = await settle(getJSON<TransactionsResponse>('/api/v1/transactions', { ...base, proto, min_latency_ms: from, limit: top }, sig));
    return r instanceof Error ? r : r.transactions ?? [];
  };
  // The HTTP section merges http, http2 and grpc: one query each (the API
  // filters on one protocol), the slowest kept.
  const httpProtos = ['http', 'http2', 'grpc'].filter((p) => report?.l7?.[p]);
  const [dns, ...https] = await Promise.all([query('dns', dnsFrom), ...httpProtos.map((p) => query(p, httpFrom))]);
  const err = https.find((r): r is Error => r instanceof Error);
  const http =
    err ??
    (httpFrom === null
      ? null
      : https
          .flatMap((r) => (Array.isArray(r) ? r : []))
          .sort((a, b) => (b.latency_us ?? 0) - (a.latency_us ?? 0))
          .slice(0, top));
  return { dns: dns ?? null, dnsFrom, http, httpFrom };
}

class Dashboard {
  private readonly el: HTMLElement;
  private readonly scopeSel: HTMLSelectElement;
  private readonly topSel: HTMLSelectElement;
  private readonly status: HTMLElement;
  private readonly body: HTMLElement;
  private params = new URLSearchParams();
  private key = '';
  private abort: AbortController | null = null;
  private timer: number | undefined;
  private generation = 0;
  private probes: Probe[] = [];
  private scopeSig = '';

  constructor(root: HTMLElement) {
    this.scopeSel = h('select', { id: 'dash-scope', title: 'whose traffic: the fleet, one probe or a group of probes' });
    this.scopeSel.addEventListener('change', () => {
      const v = this.scopeSel.value;
      const [kind, ...rest] = v.split(':');
      const val = rest.join(':');
      updateParams({ probe: kind === 'probe' ? val : '', group: kind === 'group' ? val : '' }, true);
    });
    this.topSel = h('select', { id: 'dash-top', title: 'entries in each top list' }, ...topChoices.map((n) => h('option', { value: n }, `top ${n}`)));
    this.topSel.addEventListener('change', () => updateParams({ top: this.topSel.value === defaultTop ? '' : this.topSel.value }, true));
    this.status = h('span', { class: 'dash-status muted', id: 'dash-status' });
    const refresh = h('button', { type: 'button', id: 'dash-refresh', onclick: () => void this.load() }, 'Refresh');
    this.body = h('div', { class: 'dash-body' });
    this.el = h(
      'section',
      { class: 'dashboard', 'data-state': 'loading', 'data-generation': 0 },
      h('div', { class: 'toolbar' }, h('label', null, 'Scope ', this.scopeSel), this.topSel, refresh, this.status),
      this.body,
    );
    root.append(this.el);
  }

  update(r: Route): void {
    this.params = r.params;
    const key = keys.map((k) => `${k}=${r.params.get(k) ?? ''}`).join('&');
    if (key === this.key) return;
    this.key = key;
    this.topSel.value = topChoices.includes(r.params.get('top') ?? '') ? r.params.get('top')! : defaultTop;
    window.clearInterval(this.timer);
    this.timer = isLive(r.params) ? window.setInterval(() => void this.load(), liveEveryMs) : undefined;
    void this.load();
  }

  destroy(): void {
    window.clearInterval(this.timer);
    this.abort?.abort();
    this.el.remove();
  }

  private scope(): Scope {
    return { probe: this.params.get('probe') || undefined, group: this.params.get('group') || undefined };
  }

  private top(): number {
    const n = Number(this.params.get('top') || defaultTop);
    return Number.isInteger(n) && n >= 1 && n <= 100 ? n : Number(defaultTop);
  }

  private async load(): Promise<void> {
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    const sig = ac.signal;
    this.el.dataset['state'] = 'loading';
    const scope = this.scope();
    const base: Params = { ...timeRange(this.params), probe: scope.probe, group: scope.group };
    const top = this.top();
    try {
      const [probes, summary, windows, talkers, ports, apps] = await Promise.all([
        settle(getJSON<ProbesResponse>('/api/v1/probes', undefined, sig)),
        settle(getJSON<SummaryResponse>('/api/v1/summary', { ...base, top }, sig)),
        settle(getJSON<WindowsResponse>('/api/v1/summary/windows', base, sig)),
        settle(getJSON<TopResponse>('/api/v1/flows/top', { ...base, group_by: 'host', order: 'bytes', limit: top }, sig)),
        settle(getJSON<TopResponse>('/api/v1/flows/top', { ...base, group_by: 'port,transport', order: 'bytes', limit: top }, sig)),
        settle(getJSON<TopResponse>('/api/v1/flows/top', { ...base, group_by: 'app', order: 'bytes', limit: top }, sig)),
      ]);
      if (sig.aborted) return;
      if (!(probes instanceof Error)) this.probes = probes.probes ?? [];
      const report = summary instanceof Error ? null : summary.report;
      const slow = await slowTransactions(report, base, top, sig);
      if (sig.aborted) return;
      this.renderScope();
      clear(this.body);
      if (summary instanceof Error) {
        this.body.append(h('p', { class: 'error', id: 'dash-error' }, summary.message));
        this.el.dataset['state'] = 'error';
      } else {
        this.renderAll(summary, windows, talkers, ports, apps, slow, scope);
        this.el.dataset['state'] = 'ready';
      }
      this.generation++;
      this.el.dataset['generation'] = String(this.generation);
    } catch (e) {
      if (sig.aborted) return;
      clear(this.body);
      this.body.append(h('p', { class: 'error', id: 'dash-error' }, e instanceof Error ? e.message : String(e)));
      this.el.dataset['state'] = 'error';
      this.generation++;
      this.el.dataset['generation'] = String(this.generation);
    }
  }

  // renderScope fills the scope selector from the probes and their labels.
  private renderScope(): void {
    const scope = this.scope();
    // Rebuilt only when the probes or the selection changed, so that a
    // live refresh does not close the list while someone is choosing.
    const sig = JSON.stringify([this.probes.map((p) => [p.id, p.labels]), scope]);
    if (sig === this.scopeSig) return;
    this.scopeSig = sig;
    clear(this.scopeSel);
    this.scopeSel.append(h('option', { value: '' }, 'all probes (fleet)'));
    const probeOpts = h('optgroup', { label: 'probe' });
    for (const p of [...this.probes].sort((a, b) => a.id.localeCompare(b.id))) {
      probeOpts.append(h('option', { value: `probe:${p.id}` }, p.id));
    }
    const labels = new Set<string>();
    for (const p of this.probes) for (const [k, v] of Object.entries(p.labels ?? {})) labels.add(`${k}=${v}`);
    const groupOpts = h('optgroup', { label: 'group (label=value)' });
    for (const l of [...labels].sort()) groupOpts.append(h('option', { value: `group:${l}` }, l));
    this.scopeSel.append(probeOpts, groupOpts);
    // A probe or group from a link that is not (or no longer) listed still
    // shows as selected.
    const want = scope.probe ? `probe:${scope.probe}` : scope.group ? `group:${scope.group}` : '';
    if (want && ![...this.scopeSel.options].some((o) => o.value === want)) {
      this.scopeSel.append(h('option', { value: want }, want.replace(':', ': ')));
    }
    this.scopeSel.value = want;
  }

  private inScope(p: Probe, scope: Scope): boolean {
    if (scope.probe && !scope.probe.split(',').includes(p.id)) return false;
    if (scope.group) {
      const i = scope.group.indexOf('=');
      const k = scope.group.slice(0, i);
      const v = scope.group.slice(i + 1);
      if ((p.labels ?? {})[k] !== v) return false;
    }
    return true;
  }

  private renderAll(
    summary: SummaryResponse,
    windows: WindowsResponse | Error,
    talkers: TopResponse | Error,
    ports: TopResponse | Error,
    apps: TopResponse | Error,
    slow: Slow,
    scope: Scope,
  ): void {
    const report: Report | null = summary.report;
    const groups = (r: TopResponse | Error): TopGroup[] | Error => (r instanceof Error ? r : r.groups ?? []);
    const probes = this.probes.filter((p) => this.inScope(p, scope));
    this.status.textContent =
      `${summary.from.replace('T', ' ')} → ${summary.to.replace('T', ' ')} · ${count(summary.windows)} windows from ${count((summary.probes ?? []).length)} probes` +
      (summary.bad_windows ? ` · ${count(summary.bad_windows)} windows did not decode` : '') +
      ` · updated ${new Date().toISOString().slice(11, 19)}Z`;
    if (!report) {
      const empty = h('div', { class: 'muted', id: 'dash-empty' }, h('p', null, 'No summary windows in this range for this scope: pick another range or scope, or turn on live.'));
      this.body.append(empty);
      void extentHint(this.abort?.signal).then((el) => el && empty.append(el));
    }
    const l7 = report?.l7 ?? {};
    const tx = Object.values(l7).reduce((a, p) => a + p.transactions, 0);
    const l7err = Object.values(l7).reduce((a, p) => a + p.errors, 0);
    this.body.append(
      panel(
        'dash-headline',
        'Overview',
        statGrid(
          stat('packets.total', 'packets', report?.packets.total ?? 0),
          stat('bytes.total', 'bytes', report?.bytes.total ?? 0, bytes),
          stat('flows.created', 'flows created', report?.flows.created ?? 0),
          stat('l7.transactions', 'transactions', tx),
          stat('l7.errors', 'L7 errors', l7err),
          stat('windows', 'windows merged', summary.windows),
          stat('probes', 'probes', (summary.probes ?? []).length),
          stat('tcp.retransmissions', 'TCP retransmissions', report?.flows.tcp['retransmissions'] ?? 0),
        ),
      ),
      windows instanceof Error ? panel('dash-rates', 'Traffic rates', h('p', { class: 'error' }, windows.message)) : ratesPanel(windows.windows ?? [], report),
      mixPanel(report, groups(apps), scope),
      topPanel(groups(talkers), groups(ports), report, scope),
      l7Panel(report, scope),
      dnsPanel(report, slow.dns, slow.dnsFrom, scope),
      httpPanel(report, slow.http, slow.httpFrom, scope),
      tlsPanel(report, scope),
      lossPanel(report, probes),
    );
  }
}

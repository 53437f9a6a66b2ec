// The dashboard's panels: each takes what the API answered and returns
// elements. Captured text (names, paths, hosts, SNI) only ever becomes text
// nodes; links to the explorer carry it URL-encoded in a relative href.

import { h } from '../lib/dom';
import { barList, bytes, count, donut, micros, si, timeSeries, type Bar } from '../lib/chart';
import { buildURL } from '../lib/api';
import type { Item, Quantiles, Report, WindowEntry, Loss } from './types';
import type { Probe, TopGroup, Transaction } from '../explorer/types';
import { time } from '../explorer/table';

// Scope: the probes the numbers are about, as the API's parameters.
export type Scope = { probe?: string; group?: string };

export function explorerHref(scope: Scope, params: Record<string, string>): string {
  return buildURL('/explorer', { ...params, probe: scope.probe, group: scope.group });
}

// stat is one headline number: the exact value as text, a label, and the
// metric's name for tests (data-k) with the raw value (data-value).
export function stat(key: string, label: string, value: number, fmt: (v: number) => string = count, title?: string): HTMLElement {
  return h(
    'div',
    { class: 'stat', 'data-k': key, 'data-value': value, title: title ?? `${label}: ${count(value)}` },
    h('div', { class: 'v' }, fmt(value)),
    h('div', { class: 'l' }, label),
  );
}

export function statGrid(...stats: HTMLElement[]): HTMLElement {
  return h('div', { class: 'stats' }, ...stats);
}

export function panel(id: string, title: string, ...body: (Node | null)[]): HTMLElement {
  return h('section', { class: 'panel', id }, h('h2', null, title), ...body);
}

export function row(...cells: (Node | null)[]): HTMLElement {
  return h('div', { class: 'row' }, ...cells);
}

function items(list: Item[] | null | undefined): Item[] {
  return list ?? [];
}

// topItems is a top-N sketch list as bars. A non-zero error bound says the
// estimate may be high by that much (docs/sketches.md).
export function topItems(
  id: string,
  title: string,
  list: Item[] | null | undefined,
  opts: { href?: (name: string) => string; unit?: string; cls?: (name: string) => string; format?: (v: number) => string } = {},
): HTMLElement {
  const all = items(list);
  // The error column only when some estimate has one.
  const errors = all.some((it) => it.error);
  const bars: Bar[] = all.map((it) => ({
    label: it.name,
    value: it.estimate,
    href: opts.href?.(it.name),
    cls: opts.cls?.(it.name),
    extra: errors ? [it.error ? `±${count(it.error)}` : ''] : [],
  }));
  const head: [string, string, ...string[]] = errors ? ['name', opts.unit ?? 'count', 'error'] : ['name', opts.unit ?? 'count'];
  return barList(bars, { id, title, format: opts.format ?? count, head });
}

// quantileBars shows p50…max of a latency sketch (microseconds).
export function quantileBars(id: string, title: string, q: Quantiles | null | undefined): HTMLElement {
  const bars: Bar[] = q && q.count > 0
    ? (['p50', 'p90', 'p95', 'p99', 'max'] as const).map((k) => ({ label: k, value: q[k] }))
    : [];
  const fig = barList(bars, { id, title, format: micros, empty: 'no timed transactions' });
  if (q && q.count > 0) fig.append(h('p', { class: 'muted small' }, `${count(q.count)} timed`));
  return fig;
}

// ---- rates --------------------------------------------------------------

// windowRates turns the per-window totals into rates over each window.
export function windowRates(ws: WindowEntry[]): { pps: { t: number; v: number }[]; bps: { t: number; v: number }[] } {
  const pps: { t: number; v: number }[] = [];
  const bps: { t: number; v: number }[] = [];
  for (const w of ws) {
    const t0 = Date.parse(w.start);
    const secs = (Date.parse(w.end) - t0) / 1000;
    if (!(secs > 0)) continue;
    pps.push({ t: t0, v: w.packets / secs });
    bps.push({ t: t0, v: (w.bytes * 8) / secs });
  }
  return { pps, bps };
}

export function ratesPanel(ws: WindowEntry[], report: Report | null): HTMLElement {
  const r = windowRates(ws);
  const charts = row(
    timeSeries([{ name: 'packets/s', points: r.pps }], { id: 'chart-pps', title: 'Packet rate (average per window)', format: (v) => si(v, 'pps') }),
    timeSeries([{ name: 'bits/s', points: r.bps }], { id: 'chart-bps', title: 'Byte rate (average per window)', format: (v) => si(v, 'bit/s') }),
  );
  const rates = report?.packets.rates ?? {};
  const names = ['pps_in', 'pps_out', 'pps_total', 'bps_in', 'bps_out', 'bps_total'].filter((n) => rates[n]);
  const qs = ['p50', 'p90', 'p95', 'p99', 'max'] as const;
  const table = h(
    'table',
    { class: 'quantiles', id: 'rate-quantiles' },
    h('thead', null, h('tr', null, h('th', null, 'per-second rate'), ...qs.map((q) => h('th', { class: 'num' }, q)))),
    h(
      'tbody',
      null,
      ...names.map((n) =>
        h(
          'tr',
          { 'data-rate': n },
          h('td', null, n.replace('_', ' ')),
          ...qs.map((q) => {
            const v = rates[n]![q];
            return h('td', { class: 'num', 'data-q': q, 'data-value': v, title: count(v) }, n.startsWith('bps') ? si(v, 'bit/s') : si(v, 'pps'));
          }),
        ),
      ),
    ),
  );
  return panel(
    'dash-rates',
    'Traffic rates',
    charts,
    h('figure', { class: 'chart' }, h('figcaption', null, 'Per-second rate quantiles over the range (merged sketch)'), table),
  );
}

// ---- protocol mix -------------------------------------------------------

export function mixPanel(report: Report | null, apps: TopGroup[] | Error | null, scope: Scope): HTMLElement {
  const p = report?.packets;
  const l4 = donut(
    [
      { label: 'tcp', value: p?.tcp ?? 0 },
      { label: 'udp', value: p?.udp ?? 0 },
      { label: 'other L4', value: p?.other_l4 ?? 0 },
      { label: 'non-IP', value: p?.non_ip ?? 0 },
    ],
    { id: 'mix-l4', title: 'Packets by transport', format: count },
  );
  const ipv = donut(
    [
      { label: 'IPv4', value: p?.ipv4 ?? 0 },
      { label: 'IPv6', value: p?.ipv6 ?? 0 },
      { label: 'non-IP', value: p?.non_ip ?? 0 },
    ],
    { id: 'mix-ip', title: 'Packets by IP version', format: count },
  );
  let appsEl: HTMLElement;
  if (apps instanceof Error) {
    appsEl = errorBox('Bytes by application', apps);
  } else {
    appsEl = barList(
      (apps ?? []).map((g) => ({
        label: g.key['app'] || '(none)',
        value: g.bytes,
        href: explorerHref(scope, { tab: 'flows', app: g.key['app'] || '' }),
        extra: [count(g.flows)],
      })),
      { id: 'mix-apps', title: 'Bytes by application (flows)', format: bytes, head: ['app', 'bytes', 'flows'] },
    );
  }
  return panel('dash-mix', 'Protocol mix', row(l4, ipv, appsEl));
}

// ---- top talkers and ports --------------------------------------------------

export function topPanel(talkers: TopGroup[] | Error | null, ports: TopGroup[] | Error | null, report: Report | null, scope: Scope): HTMLElement {
  const talk =
    talkers instanceof Error
      ? errorBox('Top talkers', talkers)
      : barList(
          (talkers ?? []).map((g) => ({
            label: g.key['host'] ?? '',
            value: g.bytes,
            href: explorerHref(scope, { tab: 'flows', host: g.key['host'] ?? '' }),
            extra: [count(g.packets), count(g.flows)],
          })),
          { id: 'top-talkers', title: 'Top talkers (either end of a flow)', format: bytes, head: ['host', 'bytes', 'packets', 'flows'] },
        );
  const port =
    ports instanceof Error
      ? errorBox('Top server ports', ports)
      : barList(
          (ports ?? []).map((g) => ({
            label: `${g.key['port'] ?? ''}/${g.key['transport'] ?? ''}`,
            value: g.bytes,
            href: explorerHref(scope, { tab: 'flows', port: g.key['port'] ?? '', transport: g.key['transport'] ?? '' }),
            extra: [count(g.packets), count(g.flows)],
          })),
          { id: 'top-ports', title: 'Top server ports', format: bytes, head: ['port', 'bytes', 'packets', 'flows'] },
        );
  const conv = topItems('top-conversations', 'Top conversations (IP bytes, sketch)', report?.bytes.top_conversations, { unit: 'bytes', format: bytes });
  return panel('dash-top', 'Top talkers and ports', row(talk, port, conv));
}

// ---- L7 overview -----------------------------------------------------------

export function l7Panel(report: Report | null, scope: Scope): HTMLElement {
  const l7 = report?.l7 ?? {};
  const protos = Object.keys(l7).sort((a, b) => (l7[b]!.transactions - l7[a]!.transactions) || a.localeCompare(b));
  const cols: [string, string][] = [
    ['transactions', 'transactions'],
    ['ok', 'ok'],
    ['client_errors', 'client errors'],
    ['server_errors', 'server errors'],
    ['no_response', 'no response'],
    ['no_request', 'no request'],
    ['sqli', 'sqli'],
  ];
  const table = h(
    'table',
    { id: 'l7-table' },
    h(
      'thead',
      null,
      h('tr', null, h('th', null, 'protocol'), ...cols.map(([, l]) => h('th', { class: 'num' }, l)), h('th', { class: 'num' }, 'p50'), h('th', { class: 'num' }, 'p99')),
    ),
    h(
      'tbody',
      null,
      ...protos.map((name) => {
        const p = l7[name]!;
        return h(
          'tr',
          { 'data-proto': name },
          h('td', null, h('a', { href: explorerHref(scope, { tab: 'tx', proto: name }) }, name)),
          ...cols.map(([k]) => {
            const v = (p as unknown as Record<string, number>)[k] ?? 0;
            const bad = v > 0 && k !== 'transactions' && k !== 'ok';
            return h('td', { class: bad ? 'num warn' : 'num', 'data-k': k, 'data-value': v }, count(v));
          }),
          h('td', { class: 'num' }, p.latency_us.count ? micros(p.latency_us.p50) : '–'),
          h('td', { class: 'num' }, p.latency_us.count ? micros(p.latency_us.p99) : '–'),
        );
      }),
      protos.length ? null : h('tr', null, h('td', { class: 'muted', colspan: cols.length + 3 }, 'no transactions in this range')),
    ),
  );
  return panel('dash-l7', 'Application protocols', table);
}

// ---- DNS ---------------------------------------------------------------------

export function dnsPanel(report: Report | null, slow: Transaction[] | Error | null, slowFrom: number | null, scope: Scope): HTMLElement {
  const d = report?.dns;
  if (!d) return panel('dash-dns', 'DNS', h('p', { class: 'muted' }, 'no DNS in this range'));
  const w = d.wire_packets;
  const q = (name: string): string => explorerHref(scope, { tab: 'tx', proto: 'dns', target: name });
  const stats = statGrid(
    stat('dns.queries', 'queries', w['queries'] ?? 0),
    stat('dns.replies', 'replies', w['replies'] ?? 0),
    stat('dns.noerror', 'NOERROR', w['noerror'] ?? 0),
    stat('dns.nxdomain', 'NXDOMAIN', w['nxdomain'] ?? 0),
    stat('dns.srvfail', 'SERVFAIL', w['srvfail'] ?? 0),
    stat('dns.refused', 'REFUSED', w['refused'] ?? 0),
    stat('dns.nodata', 'NODATA', w['nodata'] ?? 0),
    stat('dns.xact', 'query+reply pairs', d.xact.counts.total),
    stat('dns.timed_out', 'timed out', d.xact.counts.timed_out),
    stat('dns.qnames', 'distinct names', d.cardinality.qname),
  );
  const rcodes = donut(
    items(d.top_rcode).map((it) => ({ label: it.name, value: it.estimate })),
    { id: 'dns-rcodes', title: 'Response codes', format: count },
  );
  return panel(
    'dash-dns',
    'DNS',
    stats,
    row(
      rcodes,
      topItems('dns-qname2', 'Top names (2nd level)', d.top_qname2, { href: q }),
      topItems('dns-qname3', 'Top names (3rd level)', d.top_qname3, { href: q }),
    ),
    row(
      topItems('dns-nxdomain', 'NXDOMAIN names', d.top_nxdomain, { href: q }),
      topItems('dns-qtype', 'Query types', d.top_qtype),
      topItems('dns-slow', 'Slow names (at or above p90)', [...items(d.xact.out.top_slow), ...items(d.xact.in.top_slow)], { href: q }),
    ),
    row(
      quantileBars('dns-latency', 'Query latency (to servers elsewhere)', d.xact.out.quantiles_us),
      quantileBars('dns-latency-in', 'Query latency (to this host)', d.xact.in.quantiles_us),
    ),
    slowTable('dns-slow-tx', 'Slowest DNS transactions', slow, slowFrom, explorerHref(scope, { tab: 'tx', proto: 'dns', min_latency_ms: slowFrom !== null ? String(slowFrom) : '' })),
  );
}

// ---- HTTP --------------------------------------------------------------------

function statusClass(code: string): string {
  const c = code.charAt(0);
  return c === '5' ? 's5' : c === '4' ? 's4' : c === '3' ? 's3' : c === '2' ? 's2' : 's1';
}

export function httpPanel(report: Report | null, slow: Transaction[] | Error | null, slowFrom: number | null, scope: Scope): HTMLElement {
  const d = report?.http;
  if (!d) return panel('dash-http', 'HTTP', h('p', { class: 'muted' }, 'no HTTP in this range'));
  return panel(
    'dash-http',
    'HTTP',
    statGrid(stat('http.requests', 'requests', d.requests), stat('http.responses', 'responses', d.responses)),
    row(
      topItems('http-status', 'Status codes', d.top_status, { href: (code) => explorerHref(scope, { tab: 'tx', status: code }), cls: statusClass }),
      topItems('http-methods', 'Methods', d.top_methods, { href: (m) => explorerHref(scope, { tab: 'tx', op: m }) }),
      quantileBars('http-latency', 'Latency (request to response)', d.latency_us),
    ),
    row(
      topItems('http-paths', 'Top paths', d.top_paths, { href: (p) => explorerHref(scope, { tab: 'tx', target: p }) }),
      topItems('http-hosts', 'Top hosts', d.top_hosts, { href: (v) => explorerHref(scope, { tab: 'tx', 'field.host': v }) }),
      topItems('http-slow', 'Slow paths (at or above p90)', d.top_slow, { href: (p) => explorerHref(scope, { tab: 'tx', target: p }) }),
    ),
    slowTable('http-slow-tx', 'Slowest HTTP transactions', slow, slowFrom, explorerHref(scope, { tab: 'tx', min_latency_ms: slowFrom !== null ? String(slowFrom) : '' })),
  );
}

// ---- TLS ---------------------------------------------------------------------

export function tlsPanel(report: Report | null, scope: Scope): HTMLElement {
  const d = report?.tls;
  if (!d) return panel('dash-tls', 'TLS', h('p', { class: 'muted' }, 'no TLS handshakes in this range'));
  return panel(
    'dash-tls',
    'TLS',
    statGrid(stat('tls.client_hellos', 'ClientHellos', d.client_hellos), stat('tls.server_hellos', 'ServerHellos', d.server_hellos)),
    row(
      topItems('tls-sni', 'Server names (SNI)', d.top_sni, { href: (n) => explorerHref(scope, { tab: 'tx', proto: 'tls', 'field.sni': n }) }),
      topItems('tls-versions', 'Negotiated versions', d.top_versions),
      topItems('tls-alpn', 'ALPN', d.top_alpn),
    ),
    row(topItems('tls-ja4', 'JA4 fingerprints', d.top_ja4), topItems('tls-ja3', 'JA3 fingerprints', d.top_ja3)),
  );
}

// ---- slow transactions ---------------------------------------------------------

function slowTable(id: string, title: string, slow: Transaction[] | Error | null, fromMs: number | null, more: string): HTMLElement {
  if (slow instanceof Error) return errorBox(title, slow);
  const rows = [...(slow ?? [])].sort((a, b) => (b.latency_us ?? 0) - (a.latency_us ?? 0));
  const caption = fromMs !== null ? `${title} (at or above the p90 latency, ${micros(fromMs * 1000)})` : title;
  return h(
    'figure',
    { class: 'chart slow' },
    h('figcaption', null, caption, ' ', h('a', { href: more, class: 'more' }, 'all in the explorer →')),
    h(
      'table',
      { id },
      h('thead', null, h('tr', null, h('th', null, 'time'), h('th', null, 'client → server'), h('th', null, 'op'), h('th', null, 'target'), h('th', null, 'status'), h('th', { class: 'num' }, 'latency'))),
      h(
        'tbody',
        null,
        ...rows.map((t) =>
          h(
            'tr',
            { 'data-latency': t.latency_us ?? '' },
            h('td', { class: 'mono nowrap' }, time(t.request_time ?? t.response_time)),
            h('td', { class: 'mono' }, `${t.client} → ${t.server}`),
            h('td', { class: 'mono' }, t.op),
            h('td', { class: 'mono' }, t.target),
            h('td', { class: 'mono' }, t.status),
            h('td', { class: 'num' }, t.latency_us !== undefined ? micros(t.latency_us) : '–'),
          ),
        ),
        rows.length ? null : h('tr', null, h('td', { colspan: 6, class: 'muted' }, 'none')),
      ),
    ),
  );
}

// ---- loss --------------------------------------------------------------------

// flattenLoss lists a summary's loss section as name → count, nested
// sections as "section.reason".
export function flattenLoss(loss: Loss | null | undefined): [string, number][] {
  const out: [string, number][] = [];
  for (const [k, v] of Object.entries(loss ?? {})) {
    if (typeof v === 'number') out.push([k, v]);
    else if (v && typeof v === 'object') for (const [r, n] of Object.entries(v)) out.push([`${k}.${r}`, n]);
  }
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

export function lossPanel(report: Report | null, probes: Probe[]): HTMLElement {
  const range = flattenLoss(report?.loss);
  const rangeTable = h(
    'table',
    { id: 'loss-range', class: 'loss' },
    h('thead', null, h('tr', null, h('th', null, 'counter'), h('th', { class: 'num' }, 'in this range'))),
    h(
      'tbody',
      null,
      ...range.map(([k, v]) => h('tr', { class: v > 0 ? 'nonzero' : '', 'data-counter': k }, h('td', { class: 'mono' }, k), h('td', { class: 'num', 'data-value': v }, count(v)))),
      range.length ? null : h('tr', null, h('td', { colspan: 2, class: 'muted' }, 'no summary in this range')),
    ),
  );
  const keys = [...new Set(probes.flatMap((p) => Object.keys(p.loss ?? {})))].sort();
  const total = (k: string): number => probes.reduce((a, p) => a + (p.loss?.[k] ?? 0), 0);
  const many = probes.length > 1;
  const probeTable = h(
    'table',
    { id: 'loss-probes', class: 'loss' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', null, 'counter'),
        ...probes.map((p) =>
          h(
            'th',
            { class: 'num probe-col', 'data-probe': p.id, title: `last report ${p.last_report} (${Math.round(p.since_report_s)} s ago), seq ${p.last_seq}` },
            h('span', { class: 'mono' }, p.id),
            h('span', { class: `health ${p.health === 'ok' ? 'ok' : 'stale'}` }, p.health),
          ),
        ),
        many ? h('th', { class: 'num' }, 'total') : null,
      ),
    ),
    h(
      'tbody',
      null,
      ...keys.map((k) =>
        h(
          'tr',
          { 'data-counter': k, class: total(k) > 0 ? 'nonzero' : '' },
          h('td', { class: 'mono' }, k),
          ...probes.map((p) => {
            const v = p.loss?.[k] ?? 0;
            return h('td', { class: v > 0 ? 'num nonzero' : 'num', 'data-probe': p.id, 'data-value': v }, count(v));
          }),
          many ? h('td', { class: 'num', 'data-value': total(k) }, count(total(k))) : null,
        ),
      ),
      keys.length ? null : h('tr', null, h('td', { class: 'muted', colspan: probes.length + 2 }, probes.length ? 'no loss counters reported' : 'no probe in this scope')),
    ),
  );
  return panel(
    'dash-loss',
    'Loss',
    row(
      h('figure', { class: 'chart' }, h('figcaption', null, 'What was not seen or not kept, in this range (summary windows)'), rangeTable),
      h('figure', { class: 'chart wide' }, h('figcaption', null, "Each probe's cumulative loss counters as of its last report"), h('div', { class: 'scroll-x' }, probeTable)),
    ),
  );
}

export function errorBox(title: string, err: Error): HTMLElement {
  return h('figure', { class: 'chart' }, h('figcaption', null, title), h('p', { class: 'error' }, err.message));
}

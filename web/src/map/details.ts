// The details panel of a node or an edge: who it talks to, over what,
// how the requests went (L7 latency and status), and the newest
// transactions. Every string from the API is captured data and goes in as
// text through h().

import { h } from '../lib/dom';
import type { Breakdown, EdgeResponse, MapEdge, NodeResponse, Transaction } from './model';
import { fmtBytes, fmtCount, fmtPct, fmtUS } from './model';

export type DetailActions = {
  selectNode: (id: string) => void;
  selectEdge: (e: MapEdge) => void;
  close: () => void;
  explorerLink: (params: Record<string, string>) => string;
};

function kv(rows: [string, string | number | Node][]): HTMLTableElement {
  return h('table', { class: 'kv' }, h('tbody', null, ...rows.map(([k, v]) => h('tr', null, h('th', null, k), h('td', null, v)))));
}

function table(head: string[], rows: (string | number | Node)[][], numeric: boolean[] = []): HTMLTableElement {
  return h(
    'table',
    null,
    h('thead', null, h('tr', null, ...head.map((c, i) => h('th', { class: numeric[i] ? 'num' : undefined }, c)))),
    h('tbody', null, ...rows.map((r) => h('tr', null, ...r.map((c, i) => h('td', { class: numeric[i] ? 'num' : undefined }, c))))),
  );
}

function section(title: string, ...body: (Node | string | null)[]): HTMLElement {
  return h('section', { class: 'detail-section' }, h('h3', null, title), ...body);
}

function edgeLabel(e: MapEdge): string {
  return `${e.app || e.transport}${e.port ? ':' + e.port : ''}`;
}

function when(t: Transaction): string {
  const s = t.request_time ?? t.response_time;
  return s ? s.replace('T', ' ').replace('Z', '') : '';
}

function breakdown(b: Breakdown, a: DetailActions, explorer: Record<string, string>, what: string): HTMLElement[] {
  if (b.protocols.length === 0) return [h('p', { class: 'muted' }, `no transactions ${what}`)];
  const out: HTMLElement[] = [];
  out.push(
    table(
      ['protocol', 'requests', 'req/s', 'errors', 'p50', 'p90', 'p99', 'max'],
      b.protocols.map((p) => [
        p.proto,
        fmtCount(p.requests),
        fmtCount(p.request_rate),
        `${fmtCount(p.errors)} (${fmtPct(p.error_rate)})`,
        p.latency_count ? fmtUS(p.latency_p50_us) : '–',
        p.latency_count ? fmtUS(p.latency_p90_us) : '–',
        p.latency_count ? fmtUS(p.latency_p99_us) : '–',
        p.latency_count ? fmtUS(p.latency_max_us) : '–',
      ]),
      [false, true, true, true, true, true, true, true],
    ),
  );
  out.push(
    h('h4', null, 'status'),
    table(
      ['protocol', 'status', 'outcome', 'count'],
      b.statuses.map((s) => [s.proto, s.status || '–', h('span', { class: s.outcome === 'ok' ? 'ok' : 'bad' }, s.outcome), fmtCount(s.count)]),
      [false, false, false, true],
    ),
  );
  out.push(
    h('h4', null, 'recent transactions'),
    table(
      ['time', 'client', 'server', 'proto', 'op', 'target', 'status', 'latency'],
      b.recent.map((t) => [
        when(t),
        t.client,
        t.server,
        t.proto,
        t.op,
        h('span', { class: 'mono target' }, t.target),
        t.status,
        t.latency_us !== undefined ? fmtUS(t.latency_us) : '–',
      ]),
      [false, false, false, false, false, false, false, true],
    ),
    h('a', { class: 'explorer-link', href: a.explorerLink(explorer) }, 'all of them in the explorer →'),
  );
  return out;
}

export function nodeDetails(r: NodeResponse, a: DetailActions): HTMLElement {
  const close = h('button', { class: 'close', title: 'close', onclick: () => a.close() }, '×');
  if (!r.node) {
    return h('div', { class: 'details' }, close, h('p', { class: 'muted' }, 'This node is not in the map of this range and filters.'));
  }
  const n = r.node;
  const labels = Object.entries(n.labels).sort(([x], [y]) => x.localeCompare(y));
  const addrs = r.addresses.slice(0, 24).join(', ') + (r.addresses.length > 24 ? ` … (${r.addresses.length})` : '');
  const firstAddr = r.addresses[0];
  // Protocols: the node's edges summed by direction and protocol/port.
  const protos = new Map<string, { dir: string; label: string; bytes: number; flows: number; requests: number; errors: number }>();
  for (const e of r.edges) {
    const dir = e.source === n.id && e.target === n.id ? 'inside' : e.source === n.id ? 'out' : 'in';
    const key = `${dir}|${e.transport}|${e.app}|${e.port}`;
    const p = protos.get(key) ?? { dir, label: `${e.transport}/${e.app || '?'}${e.port ? ':' + e.port : ''}`, bytes: 0, flows: 0, requests: 0, errors: 0 };
    p.bytes += e.bytes;
    p.flows += e.flows;
    p.requests += e.requests;
    p.errors += e.errors;
    protos.set(key, p);
  }
  const protoRows = [...protos.values()].sort((x, y) => y.bytes - x.bytes);
  const one = firstAddr !== undefined && r.addresses.length === 1;
  const explorerParams: Record<string, string> = one ? { server: firstAddr } : {};
  const requestedParams: Record<string, string> = one ? { client: firstAddr } : {};
  return h(
    'div',
    { class: 'details', 'data-node': n.id },
    close,
    h('h2', { class: 'detail-title' }, n.name),
    kv([
      ['kind', n.kind + (n.members > 1 ? ` (${n.members} members)` : '')],
      ['id', h('span', { class: 'mono' }, n.id)],
      ['labels', labels.length ? labels.map(([k, v]) => `${k}=${v}`).join(', ') : '–'],
      ['addresses', h('span', { class: 'mono' }, addrs || '–')],
      ['traffic', `${fmtBytes(n.bytes)} (out ${fmtBytes(n.client_bytes)}, in ${fmtBytes(n.server_bytes)})`],
      ['requests served', `${fmtCount(n.requests)}, ${fmtCount(n.errors)} failed`],
    ]),
    section(
      `top peers (${r.peers.length})`,
      table(
        ['peer', 'out', 'in', 'requests', 'errors', 'protocols'],
        r.peers.slice(0, 20).map((p) => [
          h('a', { href: '#', class: 'peer', 'data-peer': p.id, onclick: (e: Event) => (e.preventDefault(), a.selectNode(p.id)) }, p.name || p.id),
          fmtBytes(p.bytes_out),
          fmtBytes(p.bytes_in),
          fmtCount(p.requests),
          fmtCount(p.errors),
          p.apps.map((x) => x || '?').join(', '),
        ]),
        [false, true, true, true, true, false],
      ),
    ),
    section(
      'protocols',
      table(
        ['direction', 'protocol', 'bytes', 'flows', 'requests', 'errors'],
        protoRows.map((p) => [p.dir, p.label, fmtBytes(p.bytes), fmtCount(p.flows), fmtCount(p.requests), fmtCount(p.errors)]),
        [false, false, true, true, true, true],
      ),
    ),
    section('requests served (L7)', ...breakdown(r.served, a, explorerParams, 'served')),
    section('requests sent (L7)', ...breakdown(r.requested, a, requestedParams, 'sent')),
  );
}

export function edgeDetails(r: EdgeResponse, a: DetailActions, names: (id: string) => string): HTMLElement {
  const close = h('button', { class: 'close', title: 'close', onclick: () => a.close() }, '×');
  if (!r.edge) {
    return h('div', { class: 'details' }, close, h('p', { class: 'muted' }, 'This edge is not in the map of this range and filters.'));
  }
  const e = r.edge;
  const params: Record<string, string> = {};
  if (r.clients.length === 1) params.client = r.clients[0]!;
  if (r.servers.length === 1) params.server = r.servers[0]!;
  if (e.port) params.port = String(e.port);
  return h(
    'div',
    { class: 'details', 'data-edge': `${e.source}|${e.target}|${e.transport}|${e.app}|${e.port}` },
    close,
    h('h2', { class: 'detail-title' }, `${names(e.source)} → ${names(e.target)}`),
    kv([
      ['client', h('a', { href: '#', onclick: (ev: Event) => (ev.preventDefault(), a.selectNode(e.source)) }, names(e.source))],
      ['server', h('a', { href: '#', onclick: (ev: Event) => (ev.preventDefault(), a.selectNode(e.target)) }, names(e.target))],
      ['protocol', `${e.transport} ${edgeLabel(e)}`],
      ['traffic', `${fmtBytes(e.bytes)}, ${fmtCount(e.packets)} packets, ${fmtCount(e.flows)} flows`],
      ['requests', `${fmtCount(e.requests)} (${fmtCount(e.request_rate)}/s), ${fmtCount(e.errors)} failed (${fmtPct(e.error_rate)})`],
      ['latency', e.latency_mean_us ? `mean ${fmtUS(e.latency_mean_us)}, max ${fmtUS(e.latency_max_us)}` : '–'],
      ['client addresses', h('span', { class: 'mono' }, r.clients.slice(0, 12).join(', ') + (r.clients.length > 12 ? ' …' : ''))],
      ['server addresses', h('span', { class: 'mono' }, r.servers.slice(0, 12).join(', ') + (r.servers.length > 12 ? ' …' : ''))],
    ]),
    section('requests (L7)', ...breakdown(r.transactions, a, params, 'on this edge')),
  );
}

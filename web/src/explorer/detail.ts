// Detail views: every field of one transaction or flow as a key/value
// table. Values are text exactly as the API gave them (a byte that was not
// UTF-8 stays the four characters \xNN); header blocks are split into one
// row per header line so that long ones wrap instead of running off.

import { h } from '../lib/dom';
import { buildURL } from '../lib/api';
import { bytes, count, micros } from '../lib/chart';
import type { Flow, Transaction } from './types';
import { time } from './table';

type KV = [string, string | Node];

function kvTable(id: string, rows: KV[]): HTMLTableElement {
  return h(
    'table',
    { class: 'kv', id },
    h(
      'tbody',
      null,
      ...rows.map(([k, v]) => h('tr', { 'data-key': k }, h('th', { class: 'mono' }, k), h('td', { class: 'mono value' }, v))),
    ),
  );
}

// headerRows splits a header block ("Name: value" lines joined by \n) at
// each line's first colon.
export function headerRows(block: string): [string, string][] {
  return block
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const i = l.indexOf(':');
      return i < 0 ? ['', l] : [l.slice(0, i), l.slice(i + 1).replace(/^ /, '')];
    });
}

function headerTable(kind: string, block: string): HTMLTableElement {
  return h(
    'table',
    { class: 'kv headers', 'data-headers': kind },
    h(
      'tbody',
      null,
      ...headerRows(block).map(([n, v]) => h('tr', { 'data-header': n }, h('th', { class: 'mono' }, n), h('td', { class: 'mono value' }, v))),
    ),
  );
}

// hostOf takes the address out of "ip:port" / "[v6]:port".
export function hostPort(ep: string): { host: string; port: string } {
  const i = ep.lastIndexOf(':');
  if (i < 0) return { host: ep, port: '' };
  return { host: ep.slice(0, i).replace(/^\[|\]$/g, ''), port: ep.slice(i + 1) };
}

function link(label: string, params: Record<string, string>): HTMLAnchorElement {
  // Port 0 (ICMP and other portless transports) is no port to filter on.
  if (params['port'] === '0') params['port'] = '';
  return h('a', { href: buildURL('/explorer', params), class: 'detail-link' }, label);
}

function shell(title: string, onClose: () => void, ...body: (Node | null)[]): HTMLElement {
  return h(
    'aside',
    { class: 'detail', id: 'ex-detail' },
    h('div', { class: 'detail-head' }, h('h3', { class: 'mono' }, title), h('button', { type: 'button', id: 'ex-detail-close', title: 'close', onclick: onClose }, '×')),
    ...body,
  );
}

export function txDetail(t: Transaction, onClose: () => void): HTMLElement {
  const c = hostPort(t.client);
  const s = hostPort(t.server);
  const record: KV[] = [
    ['probe', t.probe],
    ['proto', t.proto],
    ['transport', t.transport],
    ['client', t.client],
    ['server', t.server],
    ['request_time', t.request_time ?? '(no request seen)'],
    ['response_time', t.response_time ?? '(no response seen)'],
    ['latency_us', t.latency_us === undefined ? '–' : `${t.latency_us} (${micros(t.latency_us)})`],
    ['request_bytes', count(t.request_bytes)],
    ['response_bytes', count(t.response_bytes)],
    ['op', t.op],
    ['target', t.target],
    ['status', t.status],
    ['outcome', t.outcome],
    ['flags', (t.flags ?? []).join(', ') || '–'],
  ];
  const fields = t.fields ?? [];
  const fieldRows: KV[] = fields.map((f) => [f.key, f.key.endsWith('_headers') ? headerTable(f.key, f.value) : f.value]);
  return shell(
    `${t.proto} ${t.op} ${t.target}`,
    onClose,
    h('h4', null, 'Record'),
    kvTable('ex-detail-record', record),
    h('h4', null, `Fields (${fields.length})`),
    fields.length ? kvTable('ex-detail-fields', fieldRows) : h('p', { class: 'muted' }, 'no protocol fields'),
    h(
      'p',
      { class: 'detail-links' },
      link('flows between these endpoints', { tab: 'flows', client: c.host, server: s.host, port: s.port, probe: t.probe }),
      ' · ',
      link(`${t.proto} to this server`, { tab: 'tx', proto: t.proto, server: s.host, port: s.port }),
    ),
  );
}

export function flowDetail(f: Flow, onClose: () => void): HTMLElement {
  const c = hostPort(f.client);
  const s = hostPort(f.server);
  const dur = (Date.parse(f.end) - Date.parse(f.start)) * 1000;
  const rows: KV[] = [
    ['probe', f.probe],
    ['start', f.start],
    ['end', f.end],
    ['duration', Number.isFinite(dur) ? micros(Math.max(0, dur)) : '–'],
    ['transport', f.transport],
    ['client', f.client],
    ['server', f.server],
    ['app', f.app || '(none detected)'],
    ['device', f.device],
    ['vlan', String(f.vlan)],
    ['tunnel_id', String(f.tunnel_id)],
    ['packets_to_server', count(f.packets_to_server)],
    ['packets_to_client', count(f.packets_to_client)],
    ['bytes_to_server', `${count(f.bytes_to_server)} (${bytes(f.bytes_to_server)})`],
    ['bytes_to_client', `${count(f.bytes_to_client)} (${bytes(f.bytes_to_client)})`],
    ['retransmissions_to_server', count(f.retransmissions_to_server)],
    ['retransmissions_to_client', count(f.retransmissions_to_client)],
    ['rtt_us', f.rtt_us ? `${f.rtt_us} (${micros(f.rtt_us)})` : '–'],
    ['state', f.state],
    ['ended', String(f.ended)],
  ];
  return shell(
    `${f.transport} ${f.client} → ${f.server}`,
    onClose,
    kvTable('ex-detail-record', rows),
    h(
      'p',
      { class: 'detail-links' },
      link('transactions between these endpoints', { tab: 'tx', client: c.host, server: s.host, port: s.port, probe: f.probe }),
      ' · ',
      link('all flows of the client', { tab: 'flows', host: c.host }),
      ' · ',
      link('all flows of the server', { tab: 'flows', host: s.host }),
    ),
    h('p', { class: 'muted small' }, `A long flow has one record per reporting period; this one covers ${time(f.start)} to ${time(f.end)}.`),
  );
}

// The explorer's result tables: the columns of a flow and of a
// transaction, and sorting a page by a column. The API returns rows newest
// first and cannot sort (docs/api.md), so a sort reorders the page on
// screen only, and the view says so.

import { h } from '../lib/dom';
import { bytes, count, micros } from '../lib/chart';
import type { Flow, Transaction } from './types';

export type Column<T> = {
  key: string;
  label: string;
  // The value sorted by and exposed as data-value.
  value: (r: T) => string | number;
  // What is shown; defaults to the value.
  text?: (r: T) => string;
  num?: boolean;
  cls?: (r: T) => string;
};

// time shows an RFC 3339 time from the API as UTC with milliseconds.
export function time(s: string | undefined): string {
  if (!s) return '';
  return s.replace('T', ' ').replace(/Z$/, '').replace(/(\.\d{3})\d*$/, '$1');
}

export const txColumns: Column<Transaction>[] = [
  { key: 'time', label: 'time (UTC)', value: (t) => t.request_time ?? t.response_time ?? '', text: (t) => time(t.request_time ?? t.response_time) },
  { key: 'probe', label: 'probe', value: (t) => t.probe },
  { key: 'proto', label: 'proto', value: (t) => t.proto },
  { key: 'client', label: 'client', value: (t) => t.client },
  { key: 'server', label: 'server', value: (t) => t.server },
  { key: 'op', label: 'op', value: (t) => t.op },
  { key: 'target', label: 'target', value: (t) => t.target, cls: () => 'target' },
  { key: 'status', label: 'status', value: (t) => t.status },
  { key: 'outcome', label: 'outcome', value: (t) => t.outcome, cls: (t) => `outcome ${t.outcome}` },
  { key: 'latency', label: 'latency', num: true, value: (t) => t.latency_us ?? -1, text: (t) => (t.latency_us === undefined ? '–' : micros(t.latency_us)) },
  { key: 'request_bytes', label: 'req bytes', num: true, value: (t) => t.request_bytes, text: (t) => count(t.request_bytes) },
  { key: 'response_bytes', label: 'resp bytes', num: true, value: (t) => t.response_bytes, text: (t) => count(t.response_bytes) },
  { key: 'flags', label: 'flags', value: (t) => (t.flags ?? []).join(', ') },
];

export const flowColumns: Column<Flow>[] = [
  { key: 'start', label: 'start (UTC)', value: (f) => f.start, text: (f) => time(f.start) },
  { key: 'end', label: 'end (UTC)', value: (f) => f.end, text: (f) => time(f.end) },
  { key: 'probe', label: 'probe', value: (f) => f.probe },
  { key: 'transport', label: 'transport', value: (f) => f.transport },
  { key: 'app', label: 'app', value: (f) => f.app },
  { key: 'client', label: 'client', value: (f) => f.client },
  { key: 'server', label: 'server', value: (f) => f.server },
  { key: 'packets', label: 'packets', num: true, value: (f) => f.packets_to_server + f.packets_to_client, text: (f) => count(f.packets_to_server + f.packets_to_client) },
  { key: 'bytes', label: 'bytes', num: true, value: (f) => f.bytes_to_server + f.bytes_to_client, text: (f) => bytes(f.bytes_to_server + f.bytes_to_client) },
  {
    key: 'retransmissions',
    label: 'retrans',
    num: true,
    value: (f) => f.retransmissions_to_server + f.retransmissions_to_client,
    text: (f) => count(f.retransmissions_to_server + f.retransmissions_to_client),
  },
  { key: 'rtt', label: 'rtt', num: true, value: (f) => f.rtt_us, text: (f) => (f.rtt_us ? micros(f.rtt_us) : '–') },
  { key: 'state', label: 'state', value: (f) => f.state },
  { key: 'device', label: 'device', value: (f) => f.device },
];

// sortedIndexes returns the page's row indexes in the order of column key
// (ascending or descending); rows that compare equal keep the API's order.
export function sortedIndexes<T>(rows: T[], cols: Column<T>[], key: string | null, desc: boolean): number[] {
  const idx = rows.map((_, i) => i);
  const col = cols.find((c) => c.key === key);
  if (!col) return idx;
  const cmp = (a: string | number, b: string | number): number =>
    typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b), 'en', { numeric: true });
  return idx.sort((i, j) => {
    const c = cmp(col.value(rows[i]!), col.value(rows[j]!));
    return (desc ? -c : c) || i - j;
  });
}

// The columns kept beside an open detail view, where the table has half
// the width: enough to recognise a row and pick the next one.
const compactKeys = new Set(['time', 'probe', 'proto', 'op', 'target', 'status', 'outcome', 'latency', 'start', 'app', 'client', 'server', 'bytes', 'state']);

export function compactColumns<T>(cols: Column<T>[]): Column<T>[] {
  return cols.filter((c) => compactKeys.has(c.key));
}

export type TableOptions<T> = {
  rows: T[];
  // The columns drawn, and all the columns (a sort may be by one not drawn).
  cols: Column<T>[];
  all: Column<T>[];
  sort: string | null;
  desc: boolean;
  selected: number | null;
  onSort: (key: string) => void;
  onSelect: (i: number) => void;
};

// resultTable draws a page. Rows carry data-i, their index in the API's
// order, so selection survives sorting.
export function resultTable<T>(o: TableOptions<T>): HTMLTableElement {
  const head = h(
    'tr',
    null,
    ...o.cols.map((c) => {
      const active = c.key === o.sort;
      const arrow = active ? (o.desc ? ' ▼' : ' ▲') : '';
      return h(
        'th',
        { class: `${c.num ? 'num ' : ''}sortable${active ? ' sorted' : ''}`, 'data-col': c.key, 'aria-sort': active ? (o.desc ? 'descending' : 'ascending') : 'none' },
        h('button', { type: 'button', class: 'sort', title: `sort this page by ${c.label}`, onclick: () => o.onSort(c.key) }, c.label + arrow),
      );
    }),
  );
  const body = h('tbody');
  for (const i of sortedIndexes(o.rows, o.all, o.sort, o.desc)) {
    const r = o.rows[i]!;
    const tr = h(
      'tr',
      { 'data-i': i, class: i === o.selected ? 'selected' : '', tabindex: 0 },
      ...o.cols.map((c) => {
        const v = c.value(r);
        const text = c.text ? c.text(r) : String(v);
        // Long cells are cut with an ellipsis on screen; the title shows all.
        return h('td', { class: [c.num ? 'num' : 'mono', c.cls?.(r) ?? ''].join(' ').trim(), 'data-col': c.key, 'data-value': v, title: c.num ? undefined : text }, text);
      }),
    );
    tr.addEventListener('click', () => o.onSelect(i));
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') o.onSelect(i);
    });
    body.append(tr);
  }
  return h('table', { class: 'results', id: 'ex-table' }, h('thead', null, head), body);
}

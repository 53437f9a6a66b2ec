// The explorer: flow records and transactions, a page at a time, filtered
// by the API's own parameters, with a detail view of one row.
//
// URL params (besides from/to/live):
//   tab      flows | tx (default tx)
//   <filter> every filter of /api/v1/flows or /api/v1/transactions, under
//            the API's name (host, server, proto, status, field.host, ...)
//   limit    rows per page
//   cursor   the API's cursor of this page ('' = first page)
//   back     the cursors of the pages before it (a JSON list), for Back
//   sort,dir a column to sort this page by, asc|desc
//   sel      the selected row (its index in the API's order)
// Test hooks: section.explorer[data-state] is loading|ready|error and
// data-generation counts finished loads.

import './explorer.css';
import { h, clear } from '../lib/dom';
import { ApiError, getJSON } from '../lib/api';
import { isLive, onRouteChange, timeRange, updateParams, navigate, type Route } from '../lib/state';
import { count } from '../lib/chart';
import type { Flow, FlowsResponse, OpenAPIDoc, Transaction, TransactionsResponse } from './types';
import { filterForm, filterParams, firstInvalid, specFor, type EndpointSpec, type FilterForm } from './filters';
import { compactColumns, flowColumns, resultTable, txColumns, type Column } from './table';
import { flowDetail, txDetail } from './detail';
import { extentHint } from './extent';

type Tab = 'flows' | 'tx';

const endpoints: Record<Tab, string> = { flows: '/api/v1/flows', tx: '/api/v1/transactions' };
const limits = ['25', '50', '100', '250', '1000'];
const defaultLimit = '50';
const liveEveryMs = 10_000;

// The OpenAPI document is fetched once per page load.
let docPromise: Promise<OpenAPIDoc> | null = null;
function openapi(): Promise<OpenAPIDoc> {
  docPromise ??= getJSON<OpenAPIDoc>('/api/openapi.json').catch((e: unknown) => {
    docPromise = null;
    throw e;
  });
  return docPromise;
}

export function mountExplorer(root: HTMLElement, route: Route): () => void {
  const ex = new Explorer(root);
  ex.update(route);
  const off = onRouteChange((r) => {
    if (r.view === 'explorer') ex.update(r);
  });
  return () => {
    off();
    ex.destroy();
  };
}

// Keys that change which rows the API returns. sort, dir and sel only
// change what is drawn.
function dataKey(tab: Tab, spec: EndpointSpec, p: URLSearchParams): string {
  const f = filterParams(spec, p);
  return JSON.stringify([tab, timeRange(p), p.get('live'), f, p.get('limit'), p.get('cursor')]);
}

function parseBack(p: URLSearchParams): string[] {
  try {
    const v: unknown = JSON.parse(p.get('back') || '[]');
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : [];
  } catch {
    return [];
  }
}

class Explorer {
  private readonly el: HTMLElement;
  private readonly tabs: HTMLElement;
  private readonly formBox: HTMLElement;
  private readonly pager: HTMLElement;
  private readonly note: HTMLElement;
  private readonly errorEl: HTMLElement;
  private readonly results: HTMLElement;
  private readonly detail: HTMLElement;
  private params = new URLSearchParams();
  private tab: Tab = 'tx';
  private specs: Record<Tab, EndpointSpec> | null = null;
  private form: FilterForm | null = null;
  private formTab: Tab | null = null;
  private formFilters: string | null = null;
  private key = '';
  private rows: (Flow | Transaction)[] = [];
  private next = '';
  private abort: AbortController | null = null;
  private timer: number | undefined;
  private generation = 0;
  private destroyed = false;

  constructor(root: HTMLElement) {
    this.tabs = h('nav', { class: 'ex-tabs' });
    this.formBox = h('div', { class: 'ex-form' });
    this.pager = h('div', { class: 'pager', id: 'ex-pager' });
    this.note = h('p', { class: 'muted small', id: 'ex-sort-note' });
    this.errorEl = h('p', { class: 'error api-error', id: 'ex-error', role: 'alert' });
    this.results = h('div', { class: 'ex-results' });
    this.detail = h('div', { class: 'ex-detail-box' });
    this.el = h(
      'section',
      { class: 'explorer', 'data-state': 'loading', 'data-generation': 0 },
      this.tabs,
      this.formBox,
      this.errorEl,
      this.pager,
      this.note,
      h('div', { class: 'ex-main' }, this.results, this.detail),
    );
    root.append(this.el);
  }

  destroy(): void {
    this.destroyed = true;
    window.clearInterval(this.timer);
    this.abort?.abort();
    this.el.remove();
  }

  update(r: Route): void {
    this.params = r.params;
    this.tab = r.params.get('tab') === 'flows' ? 'flows' : 'tx';
    this.renderTabs();
    if (!this.specs) {
      this.el.dataset['state'] = 'loading';
      openapi()
        .then((doc) => {
          if (this.destroyed) return;
          this.specs = { flows: specFor(doc, endpoints.flows), tx: specFor(doc, endpoints.tx) };
          this.update({ view: 'explorer', params: this.params });
        })
        .catch((e: unknown) => this.fail(`the API's description (/api/openapi.json) did not load: ${e instanceof Error ? e.message : String(e)}`));
      return;
    }
    const spec = this.specs[this.tab];
    if (this.formTab !== this.tab) {
      this.form = filterForm(spec, (values) => {
        // New filters start at the first page.
        const changes: Record<string, string> = { ...values, cursor: '', back: '', sel: '' };
        // Free-key filters that were removed from the form.
        for (const k of this.params.keys()) if (spec.fieldPrefix && k.startsWith(spec.fieldPrefix) && !(k in values)) changes[k] = '';
        updateParams(changes, true);
      });
      this.formTab = this.tab;
      this.formFilters = null;
      clear(this.formBox);
      this.formBox.append(this.form.el);
    }
    // Refill the form only when the applied filters changed (a link, back,
    // Apply), so that sorting or paging keeps what is being typed.
    const applied = JSON.stringify(filterParams(spec, r.params));
    if (applied !== this.formFilters) {
      this.formFilters = applied;
      this.form!.set(r.params);
    }
    window.clearInterval(this.timer);
    // Live refresh only makes sense on the first page: later pages are
    // fixed by their cursor.
    this.timer = isLive(r.params) && !r.params.get('cursor') ? window.setInterval(() => void this.load(true), liveEveryMs) : undefined;
    const key = dataKey(this.tab, spec, r.params);
    if (key !== this.key) {
      this.key = key;
      void this.load(false);
    } else {
      this.render();
    }
  }

  private renderTabs(): void {
    clear(this.tabs);
    const tab = (id: Tab, label: string): HTMLElement =>
      h(
        'a',
        {
          href: `/explorer?tab=${id}`,
          class: id === this.tab ? 'ex-tab active' : 'ex-tab',
          'data-tab': id,
          onclick: (e: Event) => {
            e.preventDefault();
            if (id !== this.tab) navigate('explorer', { tab: id, probe: this.params.get('probe') ?? '', group: this.params.get('group') ?? '' });
          },
        },
        label,
      );
    this.tabs.append(tab('tx', 'Transactions'), tab('flows', 'Flows'));
  }

  private fail(msg: string): void {
    this.errorEl.textContent = msg;
    this.el.dataset['state'] = 'error';
    this.generation++;
    this.el.dataset['generation'] = String(this.generation);
  }

  private limit(): string {
    return this.params.get('limit') || defaultLimit;
  }

  private async load(quiet: boolean): Promise<void> {
    const spec = this.specs![this.tab];
    const filters = filterParams(spec, this.params);
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    if (!quiet) this.el.dataset['state'] = 'loading';
    // A URL typed or linked with a value the API would refuse: say which,
    // as the API would, without asking it.
    const bad = firstInvalid(spec, filters);
    if (bad) {
      this.rows = [];
      this.next = '';
      this.fail(bad);
      this.render();
      return;
    }
    try {
      const query = { ...timeRange(this.params), ...filters, limit: this.limit(), cursor: this.params.get('cursor') ?? '' };
      let rows: (Flow | Transaction)[];
      let next: string;
      if (this.tab === 'flows') {
        const r = await getJSON<FlowsResponse>(endpoints.flows, query, ac.signal);
        rows = r.flows ?? [];
        next = r.next;
      } else {
        const r = await getJSON<TransactionsResponse>(endpoints.tx, query, ac.signal);
        rows = r.transactions ?? [];
        next = r.next;
      }
      if (ac.signal.aborted) return;
      this.rows = rows;
      this.next = next;
      this.errorEl.textContent = '';
      this.render();
      this.el.dataset['state'] = 'ready';
      this.generation++;
      this.el.dataset['generation'] = String(this.generation);
    } catch (e) {
      if (ac.signal.aborted || (e instanceof Error && e.name === 'AbortError')) return;
      this.rows = [];
      this.next = '';
      // The API's own message: it names the parameter it refused.
      this.fail(e instanceof ApiError ? `${e.status === 400 ? 'The API refused the query: ' : ''}${e.message}` : e instanceof Error ? e.message : String(e));
      this.render();
    }
  }

  private render(): void {
    const p = this.params;
    const sort = p.get('sort');
    const desc = p.get('dir') === 'desc';
    const selRaw = p.get('sel');
    const sel = selRaw !== null && /^\d+$/.test(selRaw) && Number(selRaw) < this.rows.length ? Number(selRaw) : null;

    // Pager.
    const back = parseBack(p);
    const cursor = p.get('cursor') ?? '';
    const page = cursor ? back.length + 1 : 1;
    const limitSel = h('select', { id: 'ex-limit', title: 'rows per page' }, ...limits.map((l) => h('option', { value: l }, `${l} rows`)));
    if (!limits.includes(this.limit())) limitSel.append(h('option', { value: this.limit() }, `${this.limit()} rows`));
    limitSel.value = this.limit();
    limitSel.addEventListener('change', () => updateParams({ limit: limitSel.value === defaultLimit ? '' : limitSel.value, cursor: '', back: '', sel: '' }, true));
    const first = h('button', { type: 'button', id: 'ex-first', disabled: !cursor, onclick: () => updateParams({ cursor: '', back: '', sel: '' }, true) }, '« First');
    const prev = h(
      'button',
      {
        type: 'button',
        id: 'ex-back',
        disabled: !cursor,
        onclick: () => {
          const b = [...back];
          const c = b.pop() ?? '';
          updateParams({ cursor: c, back: b.length ? JSON.stringify(b) : '', sel: '' }, true);
        },
      },
      '◀ Back',
    );
    const next = h(
      'button',
      {
        type: 'button',
        id: 'ex-next',
        disabled: !this.next,
        onclick: () => updateParams({ cursor: this.next, back: JSON.stringify([...back, cursor]), sel: '' }, true),
      },
      'Next ▶',
    );
    const what = this.tab === 'flows' ? 'flow records' : 'transactions';
    const start = (page - 1) * Number(this.limit());
    clear(this.pager);
    this.pager.append(
      first,
      prev,
      h('span', { class: 'page-info', id: 'ex-page-info' }, this.rows.length ? `page ${page} · ${what} ${count(start + 1)}–${count(start + this.rows.length)}` : `page ${page}`),
      next,
      limitSel,
      h('span', { class: 'muted small' }, this.next ? 'more after this page' : this.rows.length ? 'last page' : ''),
    );

    this.note.textContent = sort
      ? 'Sorted within this page only: the API returns rows newest first and cannot sort, so Next continues in its order.'
      : 'Newest first, as the API returns them. Click a column to sort this page.';

    clear(this.results);
    if (this.rows.length === 0) {
      if (this.el.dataset['state'] !== 'error') {
        const empty = h('div', { class: 'muted', id: 'ex-empty' }, h('p', null, `No ${what} match in this range.`));
        this.results.append(empty);
        void extentHint(this.abort?.signal).then((el) => el && empty.append(el));
      }
    } else {
      const onSort = (key: string): void => updateParams({ sort: key, dir: sort === key && !desc ? 'desc' : 'asc' }, true);
      const onSelect = (i: number): void => updateParams({ sel: String(i) }, true);
      // Beside an open detail view, fewer columns (the detail has them all).
      const cols = <T,>(all: Column<T>[]): Column<T>[] => (sel !== null ? compactColumns(all) : all);
      this.results.append(
        this.tab === 'flows'
          ? resultTable({ rows: this.rows as Flow[], cols: cols(flowColumns), all: flowColumns, sort, desc, selected: sel, onSort, onSelect })
          : resultTable({ rows: this.rows as Transaction[], cols: cols(txColumns), all: txColumns, sort, desc, selected: sel, onSort, onSelect }),
      );
    }

    clear(this.detail);
    this.el.classList.toggle('has-detail', sel !== null);
    if (sel !== null) {
      const close = (): void => updateParams({ sel: '' }, true);
      const r = this.rows[sel]!;
      this.detail.append(this.tab === 'flows' ? flowDetail(r as Flow, close) : txDetail(r as Transaction, close));
    }
  }
}

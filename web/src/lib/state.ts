// The shared route and filter state. It lives in the URL (path = view, query =
// the view's filters and the global time range) so every view is linkable and
// the browser's back/forward buttons walk through filter changes.
//
//   /map?from=-1h&group=namespace     /dashboard?probe=node-1     /explorer?tab=tx
//
// Global keys, shared by all views: from, to (the API's time syntax: RFC 3339,
// unix seconds, "now" or a negative duration like -15m) and live ("1" = refresh
// periodically, the range follows the clock).

import type { TimeRange } from './api';

export type Route = { view: 'map' | 'dashboard' | 'explorer'; params: URLSearchParams };

const views: readonly Route['view'][] = ['map', 'dashboard', 'explorer'];

// Kept across navigate() between views unless the caller sets them.
export const globalKeys = ['from', 'to', 'live'] as const;

export const defaultRange: TimeRange = { from: '-1h', to: 'now' };

export function currentRoute(): Route {
  const seg = location.pathname.replace(/^\/+/, '').split('/')[0] ?? '';
  const view = (views as readonly string[]).includes(seg) ? (seg as Route['view']) : 'map';
  return { view, params: new URLSearchParams(location.search) };
}

const listeners = new Set<(r: Route) => void>();

function notify(): void {
  const r = currentRoute();
  for (const fn of [...listeners]) fn(r);
}

window.addEventListener('popstate', notify);

function write(view: Route['view'], params: URLSearchParams, push: boolean): void {
  params.sort();
  const qs = params.toString();
  const url = `/${view}${qs ? '?' + qs : ''}`;
  if (url === location.pathname + location.search) return;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
  notify();
}

// navigate switches to view with params (a new history entry). The global keys
// (from, to, live) are carried over from the current URL unless params names
// them; an empty string value removes a key.
export function navigate(view: Route['view'], params: Record<string, string>): void {
  const cur = currentRoute().params;
  const next = new URLSearchParams();
  for (const k of globalKeys) {
    const v = cur.get(k);
    if (v !== null) next.set(k, v);
  }
  for (const [k, v] of Object.entries(params)) {
    if (v === '') next.delete(k);
    else next.set(k, v);
  }
  write(view, next, true);
}

// updateParams changes some keys of the current view's params ('' removes a
// key). With push=false (filters typed or dragged) it replaces the history
// entry instead of adding one per keystroke.
export function updateParams(changes: Record<string, string>, push = false): void {
  const r = currentRoute();
  const next = new URLSearchParams(r.params);
  for (const [k, v] of Object.entries(changes)) {
    if (v === '') next.delete(k);
    else next.set(k, v);
  }
  write(r.view, next, push);
}

export function onRouteChange(fn: (r: Route) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// timeRange reads the global range from route params (defaults: last hour).
export function timeRange(params: URLSearchParams): TimeRange {
  return { from: params.get('from') || defaultRange.from, to: params.get('to') || defaultRange.to };
}

export function isLive(params: URLSearchParams): boolean {
  return params.get('live') === '1';
}

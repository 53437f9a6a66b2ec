// The app shell: a header with the view tabs, the time range shared by every
// view and the live toggle, and a router that mounts one view at a time.
// Views own everything below the header and return an unmount function.

import './style.css';
import { h, clear } from './lib/dom';
import { currentRoute, navigate, onRouteChange, updateParams, timeRange, isLive, type Route } from './lib/state';
import { mountMap } from './map/index';
import { mountDashboard } from './dashboard/index';
import { mountExplorer } from './explorer/index';

type Mount = (root: HTMLElement, route: Route) => () => void;

const views: { id: Route['view']; title: string; mount: Mount }[] = [
  { id: 'map', title: 'Map', mount: mountMap },
  { id: 'dashboard', title: 'Dashboard', mount: mountDashboard },
  { id: 'explorer', title: 'Explorer', mount: mountExplorer },
];

const presets: [string, string][] = [
  ['-5m', 'last 5 minutes'],
  ['-15m', 'last 15 minutes'],
  ['-1h', 'last hour'],
  ['-6h', 'last 6 hours'],
  ['-24h', 'last 24 hours'],
  ['-7d', 'last 7 days'],
];

function shell(app: HTMLElement): void {
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'views' });
  const main = h('main', { id: 'view' });

  const preset = h('select', { id: 'range-preset', title: 'time range' });
  const fromInput = h('input', { id: 'range-from', type: 'text', size: 22, placeholder: 'from', title: 'from: RFC 3339, now, or -15m' });
  const toInput = h('input', { id: 'range-to', type: 'text', size: 22, placeholder: 'to', title: 'to: RFC 3339, now, or -5m' });
  const live = h('input', { id: 'live', type: 'checkbox' });

  for (const [value, label] of presets) preset.append(h('option', { value }, label));
  preset.append(h('option', { value: 'custom' }, 'custom range'));

  preset.addEventListener('change', () => {
    if (preset.value === 'custom') return;
    updateParams({ from: preset.value, to: '' }, true);
  });
  const applyRange = (): void => {
    updateParams({ from: fromInput.value.trim(), to: toInput.value.trim() }, true);
  };
  fromInput.addEventListener('change', applyRange);
  toInput.addEventListener('change', applyRange);
  live.addEventListener('change', () => updateParams({ live: live.checked ? '1' : '' }, true));

  const header = h(
    'header',
    { class: 'shell' },
    h('a', { class: 'brand', href: '/map' }, 'wirewatch'),
    tabs,
    h(
      'div',
      { class: 'range' },
      preset,
      fromInput,
      h('span', { class: 'muted' }, '→'),
      toInput,
      h('label', { class: 'live' }, live, ' live'),
    ),
  );
  app.append(header, main);

  let unmount: (() => void) | null = null;
  let mounted: Route['view'] | null = null;

  const render = (r: Route): void => {
    clear(tabs);
    for (const v of views) {
      const a = h(
        'a',
        {
          href: `/${v.id}`,
          class: v.id === r.view ? 'tab active' : 'tab',
          'data-view': v.id,
          onclick: (e: Event) => {
            e.preventDefault();
            navigate(v.id, {});
          },
        },
        v.title,
      );
      tabs.append(a);
    }
    const tr = timeRange(r.params);
    const known = presets.some(([p]) => p === tr.from) && tr.to === 'now';
    preset.value = known ? tr.from : 'custom';
    if (document.activeElement !== fromInput) fromInput.value = tr.from;
    if (document.activeElement !== toInput) toInput.value = tr.to;
    live.checked = isLive(r.params);

    // A view re-reads its params itself on route changes; the shell only
    // remounts when the view changes.
    if (mounted !== r.view) {
      unmount?.();
      clear(main);
      const v = views.find((x) => x.id === r.view) ?? views[0]!;
      mounted = r.view;
      unmount = v.mount(main, r);
    }
  };

  onRouteChange(render);
  // Internal links (href="/explorer?...") navigate without a page load.
  document.addEventListener('click', (e) => {
    const a = (e.target as Element | null)?.closest?.('a[href^="/"]');
    if (!a || e.defaultPrevented || (e as MouseEvent).button !== 0 || (e as MouseEvent).ctrlKey || (e as MouseEvent).metaKey) return;
    const url = new URL((a as HTMLAnchorElement).href);
    const view = url.pathname.replace(/^\//, '').split('/')[0];
    if (view !== 'map' && view !== 'dashboard' && view !== 'explorer') return;
    e.preventDefault();
    const params: Record<string, string> = {};
    url.searchParams.forEach((v, k) => (params[k] = v));
    navigate(view, params);
  });
  render(currentRoute());
}

const app = document.getElementById('app');
if (app) shell(app);

// The dashboard against the API, in Chromium: for the fleet, each probe and
// each group of probes, every number, list and chart point the dashboard
// shows must equal what the REST API returns for the same range and scope
// (fetched here, independently of the page). Also: the scope and top-N
// selectors change the URL and the numbers as the API says, live mode
// refreshes by itself, an empty range says so, and a range the API refuses
// shows the API's message.
//
//   node web/tests/dashboard.test.mjs BASE_URL

import { launch, api, check, main, shotPath, dataRange } from './lib.mjs';

const base = process.argv[2];
const num = (s) => Number(String(s).replace(/,/g, ''));

// apiError is the API's own {"error"} message for a request it refuses
// ('' when it does not refuse it).
async function apiError(path, params) {
  const u = new URL(path, base);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, String(v));
  const res = await fetch(u);
  return res.ok ? '' : (await res.json()).error;
}

// ready waits until the dashboard finished a load after generation prev.
async function ready(page, prev = -1) {
  await page.waitForFunction(
    (prev) => {
      const el = document.querySelector('section.dashboard');
      return el && el.dataset.state !== 'loading' && Number(el.dataset.generation) > prev;
    },
    prev,
    { timeout: 30000 },
  );
  return page.$eval('section.dashboard', (el) => ({ state: el.dataset.state, gen: Number(el.dataset.generation) }));
}

function sameList(what, got, want) {
  check(got.length === want.length, `${what}: ${got.length} rows drawn, the API has ${want.length}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
  want.forEach((w, i) => {
    check(got[i].label === w.label && got[i].value === w.value, `${what} row ${i}: drawn ${JSON.stringify(got[i])}, API ${JSON.stringify(w)}`);
  });
}

const rows = (page, id) =>
  page.$$eval(`#${id} tbody tr[data-label]`, (els) => els.map((e) => ({ label: e.dataset.label, value: Number(e.dataset.value), text: e.textContent })));
const legend = (page, id) => page.$$eval(`#${id} li[data-label]`, (els) => els.map((e) => ({ label: e.dataset.label, value: Number(e.dataset.value) })));
const items = (list) => (list ?? []).map((it) => ({ label: it.name, value: it.estimate }));

// flatten lists a loss section the way docs/summary-json.md names it.
function flatten(loss) {
  const out = [];
  for (const [k, v] of Object.entries(loss ?? {})) {
    if (typeof v === 'number') out.push([k, v]);
    else if (v) for (const [r, n] of Object.entries(v)) out.push([`${k}.${r}`, n]);
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

// checkScope compares everything on the page with the API for one scope.
async function checkScope(page, range, scope, top) {
  const q = { ...range, ...scope };
  const tag = JSON.stringify(scope);
  const [sum, win, talkers, ports, apps, probes] = await Promise.all([
    api(base, '/api/v1/summary', { ...q, top }),
    api(base, '/api/v1/summary/windows', q),
    api(base, '/api/v1/flows/top', { ...q, group_by: 'host', order: 'bytes', limit: top }),
    api(base, '/api/v1/flows/top', { ...q, group_by: 'port,transport', order: 'bytes', limit: top }),
    api(base, '/api/v1/flows/top', { ...q, group_by: 'app', order: 'bytes', limit: top }),
    api(base, '/api/v1/probes'),
  ]);
  const r = sum.report;
  check(r !== null, `${tag}: the API has a report for the range`);

  // Headline numbers: the visible text, exact.
  const stats = await page.$$eval('#dash-headline .stat', (els) =>
    Object.fromEntries(els.map((e) => [e.dataset.k, { text: e.querySelector('.v').textContent, value: Number(e.dataset.value) }])),
  );
  const tx = Object.values(r.l7 ?? {}).reduce((a, p) => a + p.transactions, 0);
  check(num(stats['packets.total'].text) === r.packets.total, `${tag} packets: shown ${stats['packets.total'].text}, API ${r.packets.total}`);
  check(stats['bytes.total'].value === r.bytes.total, `${tag} bytes: shown ${stats['bytes.total'].value}, API ${r.bytes.total}`);
  check(num(stats['flows.created'].text) === r.flows.created, `${tag} flows created: ${stats['flows.created'].text} vs ${r.flows.created}`);
  check(num(stats['l7.transactions'].text) === tx, `${tag} transactions: ${stats['l7.transactions'].text} vs ${tx}`);
  check(num(stats['windows'].text) === sum.windows, `${tag} windows: ${stats['windows'].text} vs ${sum.windows}`);
  check(num(stats['probes'].text) === sum.probes.length, `${tag} probes: ${stats['probes'].text} vs ${sum.probes.length}`);

  // Rate charts: one point per window, rate = count / window length,
  // and drawn higher for a higher rate.
  for (const [id, f] of [
    ['chart-pps', (w) => w.packets],
    ['chart-bps', (w) => w.bytes * 8],
  ]) {
    const pts = await page.$$eval(`#${id} circle.pt`, (els) => els.map((e) => ({ t: e.dataset.t, v: Number(e.dataset.v), y: Number(e.getAttribute('cy')) })));
    const want = win.windows.map((w) => ({ t: new Date(w.start).toISOString(), v: f(w) / ((Date.parse(w.end) - Date.parse(w.start)) / 1000) }));
    check(pts.length === want.length && want.length > 0, `${tag} ${id}: ${pts.length} points, ${want.length} windows`);
    want.forEach((w, i) => check(pts[i].t === w.t && Math.abs(pts[i].v - w.v) <= 1e-9 * Math.max(1, w.v), `${tag} ${id} point ${i}: ${JSON.stringify(pts[i])} vs ${JSON.stringify(w)}`));
    for (let i = 1; i < pts.length; i++) {
      const a = pts[i - 1];
      const b = pts[i];
      check(Math.sign(b.v - a.v) === Math.sign(a.y - b.y) || Math.abs(b.v - a.v) < 1e-9, `${tag} ${id}: points ${i - 1},${i} drawn in the wrong order`);
    }
  }
  const pq = await page.$$eval('#rate-quantiles tr[data-rate] td[data-q]', (els) => els.map((e) => [e.parentElement.dataset.rate, e.dataset.q, Number(e.dataset.value)]));
  check(pq.length > 0, `${tag}: rate quantiles drawn`);
  for (const [rate, qn, v] of pq) check(r.packets.rates[rate][qn] === v, `${tag} ${rate} ${qn}: ${v} vs ${r.packets.rates[rate][qn]}`);

  // Protocol mix, top talkers, ports, applications.
  const l4 = await legend(page, 'mix-l4');
  const l4want = [['tcp', r.packets.tcp], ['udp', r.packets.udp], ['other L4', r.packets.other_l4], ['non-IP', r.packets.non_ip]].map(([label, value]) => ({ label, value }));
  sameList(`${tag} packets by transport`, l4, l4want);
  sameList(`${tag} top talkers`, await rows(page, 'top-talkers'), talkers.groups.map((g) => ({ label: g.key.host, value: g.bytes })));
  sameList(`${tag} top ports`, await rows(page, 'top-ports'), ports.groups.map((g) => ({ label: `${g.key.port}/${g.key.transport}`, value: g.bytes })));
  sameList(`${tag} apps`, await rows(page, 'mix-apps'), apps.groups.map((g) => ({ label: g.key.app || '(none)', value: g.bytes })));
  sameList(`${tag} top conversations`, await rows(page, 'top-conversations'), items(r.bytes.top_conversations));

  // L7 table.
  const l7 = await page.$$eval('#l7-table tr[data-proto]', (els) => els.map((e) => [e.dataset.proto, Number(e.querySelector('[data-k=transactions]').dataset.value), Number(e.querySelector('[data-k=server_errors]').dataset.value)]));
  check(l7.length === Object.keys(r.l7 ?? {}).length, `${tag}: ${l7.length} protocols drawn, API ${Object.keys(r.l7 ?? {})}`);
  for (const [p, n, se] of l7) check(r.l7[p].transactions === n && r.l7[p].server_errors === se, `${tag} l7 ${p}: ${n}/${se} vs ${r.l7[p].transactions}/${r.l7[p].server_errors}`);

  // DNS.
  if (r.dns) {
    sameList(`${tag} dns qname2`, await rows(page, 'dns-qname2'), items(r.dns.top_qname2));
    sameList(`${tag} dns qname3`, await rows(page, 'dns-qname3'), items(r.dns.top_qname3));
    sameList(`${tag} dns nxdomain`, await rows(page, 'dns-nxdomain'), items(r.dns.top_nxdomain));
    sameList(`${tag} dns rcodes`, await legend(page, 'dns-rcodes'), items(r.dns.top_rcode));
    const queries = await page.$eval('[data-k="dns.queries"] .v', (e) => e.textContent);
    check(num(queries) === r.dns.wire_packets.queries, `${tag} dns queries ${queries} vs ${r.dns.wire_packets.queries}`);
    const lat = await rows(page, 'dns-latency');
    const ql = r.dns.xact.out.quantiles_us;
    if (ql.count > 0) sameList(`${tag} dns latency`, lat, ['p50', 'p90', 'p95', 'p99', 'max'].map((k) => ({ label: k, value: ql[k] })));
    // Slow transactions: every one listed is at or above the p90 of the
    // range, and the API lists as many from that threshold.
    const p90 = Math.min(...[r.dns.xact.out, r.dns.xact.in].filter((x) => x.quantiles_us.count > 0).map((x) => x.quantiles_us.p90));
    const slow = await page.$$eval('#dns-slow-tx tbody tr[data-latency]', (els) => els.map((e) => Number(e.dataset.latency)));
    const apiSlow = await api(base, '/api/v1/transactions', { ...q, proto: 'dns', min_latency_ms: Math.floor(p90 / 10) / 100, limit: top });
    check(slow.length === apiSlow.transactions.length && slow.length > 0, `${tag} slow dns: ${slow.length} drawn, API ${apiSlow.transactions.length}`);
    for (const l of slow) check(l >= Math.floor(p90 / 10) * 10, `${tag} slow dns ${l} µs below p90 ${p90}`);
  } else {
    check((await page.$('#dns-qname2')) === null, `${tag}: no DNS panel lists without DNS`);
  }

  // HTTP.
  if (r.http) {
    sameList(`${tag} http status`, await rows(page, 'http-status'), items(r.http.top_status));
    sameList(`${tag} http paths`, await rows(page, 'http-paths'), items(r.http.top_paths));
    sameList(`${tag} http hosts`, await rows(page, 'http-hosts'), items(r.http.top_hosts));
    sameList(`${tag} http methods`, await rows(page, 'http-methods'), items(r.http.top_methods));
    const lq = r.http.latency_us;
    if (lq.count > 0) sameList(`${tag} http latency`, await rows(page, 'http-latency'), ['p50', 'p90', 'p95', 'p99', 'max'].map((k) => ({ label: k, value: lq[k] })));
    const req = await page.$eval('[data-k="http.requests"] .v', (e) => e.textContent);
    check(num(req) === r.http.requests, `${tag} http requests ${req} vs ${r.http.requests}`);
  }

  // TLS.
  if (r.tls) {
    sameList(`${tag} tls sni`, await rows(page, 'tls-sni'), items(r.tls.top_sni));
    sameList(`${tag} tls versions`, await rows(page, 'tls-versions'), items(r.tls.top_versions));
    sameList(`${tag} tls ja4`, await rows(page, 'tls-ja4'), items(r.tls.top_ja4));
  }

  // Loss: the range's counters, and every counter of every probe in scope.
  const lossRange = await page.$$eval('#loss-range tr[data-counter]', (els) => els.map((e) => [e.dataset.counter, Number(e.querySelector('[data-value]').dataset.value), e.classList.contains('nonzero')]));
  const wantLoss = flatten(r.loss);
  check(JSON.stringify(lossRange.map(([k, v]) => [k, v])) === JSON.stringify(wantLoss), `${tag} range loss: ${JSON.stringify(lossRange)} vs ${JSON.stringify(wantLoss)}`);
  for (const [k, v, hl] of lossRange) check(hl === v > 0, `${tag} range loss ${k}=${v} highlighted=${hl}`);
  const inScope = probes.probes.filter((p) => (!scope.probe || p.id === scope.probe) && (!scope.group || (p.labels ?? {})[scope.group.split('=')[0]] === scope.group.split('=').slice(1).join('=')));
  check(inScope.length > 0 && inScope.every((p) => sum.probes.includes(p.id)), `${tag}: probes in scope ${inScope.map((p) => p.id)} vs the summary's ${sum.probes}`);
  const cols = await page.$$eval('#loss-probes thead th[data-probe]', (els) => els.map((e) => e.dataset.probe));
  check(JSON.stringify([...cols].sort()) === JSON.stringify(inScope.map((p) => p.id).sort()), `${tag} loss columns ${cols} vs probes ${inScope.map((p) => p.id)}`);
  const cells = await page.$$eval('#loss-probes tbody td[data-probe]', (els) => els.map((e) => [e.parentElement.dataset.counter, e.dataset.probe, Number(e.dataset.value), e.classList.contains('nonzero')]));
  let want = 0;
  for (const p of inScope) {
    for (const [k, v] of Object.entries(p.loss ?? {})) {
      want++;
      const c = cells.find(([ck, cp]) => ck === k && cp === p.id);
      check(c && c[2] === v && c[3] === v > 0, `${tag} probe ${p.id} loss ${k}: drawn ${JSON.stringify(c)}, API ${v}`);
    }
  }
  check(want > 0, `${tag}: the probes report loss counters`);
  return { packets: r.packets.total, bytes: r.bytes.total };
}

// fullShot saves the whole view: the page itself does not scroll (the view
// does), so the viewport is made as tall as the view for the shot.
async function fullShot(page, name) {
  const vp = page.viewportSize();
  const h = await page.evaluate(() => document.getElementById('view').scrollHeight + document.querySelector('header').offsetHeight);
  await page.setViewportSize({ width: vp.width, height: Math.min(Math.max(h, vp.height), 8000) });
  await page.screenshot({ path: shotPath(name) });
  await page.setViewportSize(vp);
}

await main(async () => {
  const { browser, page, errors } = await launch();
  const range = await dataRange(base);
  const qs = new URLSearchParams(range);

  await page.goto(`${base}/dashboard?${qs}`);
  let st = await ready(page);
  check(st.state === 'ready', `dashboard loaded (${st.state})`);
  const fleet = await checkScope(page, range, {}, 10);
  await fullShot(page, 'dashboard-global');

  // Every probe and every label group, chosen in the scope selector.
  const { probes } = await api(base, '/api/v1/probes');
  const opts = await page.$$eval('#dash-scope option', (els) => els.map((e) => e.value));
  const results = [];
  for (const p of probes) {
    check(opts.includes(`probe:${p.id}`), `scope selector offers probe ${p.id}`);
    await page.selectOption('#dash-scope', `probe:${p.id}`);
    st = await ready(page, st.gen);
    check(new URL(page.url()).searchParams.get('probe') === p.id, `URL carries probe=${p.id}: ${page.url()}`);
    results.push(await checkScope(page, range, { probe: p.id }, 10));
    await fullShot(page, `dashboard-probe-${results.length}`);
  }
  const labels = [...new Set(probes.flatMap((p) => Object.entries(p.labels ?? {}).map(([k, v]) => `${k}=${v}`)))];
  for (const g of labels) {
    check(opts.includes(`group:${g}`), `scope selector offers group ${g}`);
    await page.selectOption('#dash-scope', `group:${g}`);
    st = await ready(page, st.gen);
    check(new URL(page.url()).searchParams.get('group') === g, `URL carries group=${g}`);
    await checkScope(page, range, { group: g }, 10);
  }
  if (probes.length > 1) {
    // With several probes the scopes must really differ, or the checks
    // above could not tell a scope from the fleet.
    check(results.some((r) => r.packets !== fleet.packets), 'a probe scope shows other numbers than the fleet');
    check(results.reduce((a, r) => a + r.packets, 0) === fleet.packets, 'the probes add up to the fleet');
  }

  // Back to the fleet, top 5.
  await page.selectOption('#dash-scope', '');
  st = await ready(page, st.gen);
  await page.selectOption('#dash-top', '5');
  st = await ready(page, st.gen);
  check(new URL(page.url()).searchParams.get('top') === '5', 'URL carries top=5');
  await checkScope(page, range, {}, 5);

  // Live: the page reloads by itself (every 10 s).
  await page.click('#live');
  check(new URL(page.url()).searchParams.get('live') === '1', 'live toggle sets live=1');
  st = await ready(page, st.gen);
  const t0 = Date.now();
  st = await ready(page, st.gen);
  check(Date.now() - t0 > 5000, 'the live refresh came from the timer, not from the click');
  await page.click('#live');
  check(new URL(page.url()).searchParams.get('live') === null, 'live toggle off');

  check(errors.length === 0, `no console errors or CSP violations: ${errors.join('\n')}`);

  // A range without data, and one the API refuses (the browser logs the
  // refused requests: those are the only errors allowed from here on).
  await page.goto(`${base}/dashboard?from=2001-01-01T00:00:00Z&to=2001-01-01T01:00:00Z`);
  st = await ready(page);
  const empty = await api(base, '/api/v1/summary', { from: '2001-01-01T00:00:00Z', to: '2001-01-01T01:00:00Z' });
  check(empty.report === null && (await page.$('#dash-empty')) !== null, 'an empty range says so');
  // ... and offers the stored data's span.
  await page.waitForSelector('#show-extent');
  await page.click('#show-extent');
  st = await ready(page, st.gen);
  const ext = await api(base, '/api/v1/extent');
  const u = new URL(page.url()).searchParams;
  check(u.get('from') === ext.from && u.get('to') === ext.to, `the extent button sets the range ${u.get('from')}..${u.get('to')} to the API's ${ext.from}..${ext.to}`);
  check(st.state === 'ready' && (await page.$('#dash-empty')) === null, 'the stored range has data');
  await page.goto(`${base}/dashboard?from=yesterday`);
  st = await ready(page);
  const apiErr = await apiError('/api/v1/summary', { from: 'yesterday' });
  const shown = await page.$eval('#dash-error', (e) => e.textContent).catch(() => '');
  check(st.state === 'error' && apiErr !== '' && shown === apiErr, `a refused range shows the API's message: ${JSON.stringify(shown)} vs ${JSON.stringify(apiErr)}`);

  const other = errors.filter((e) => !/status of 400/.test(e));
  check(other.length === 0, `no console errors or CSP violations: ${other.join('\n')}`);
  await browser.close();
});

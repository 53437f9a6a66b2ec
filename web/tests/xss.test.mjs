// Captured text is shown, never run. The center holds a capture whose HTTP
// targets, hosts and headers, DNS name and TLS SNI carry script payloads
// (internal/corpus/hostile), from a probe whose ID, device and labels carry
// more, with inventory names that carry more (cmd/wirewatch/ui_explorer_test.go
// writes what to expect to EXPECT.json). Every view that shows that text
// is opened: the explorer's rows and detail views (transactions and flows),
// the dashboard's lists and scope selector, the map's labels and details.
// After each: window.__xss is undefined, no dialog opened, no CSP violation
// was reported (an injected handler that the CSP blocked still counts as a
// failure), no element carries an on* attribute or a javascript: URL, and
// the payload text is in the page's text, literally.
//
//   node web/tests/xss.test.mjs BASE_URL EXPECT.json

import { readFileSync } from 'node:fs';
import { launch, api, check, main, shotPath } from './lib.mjs';

const base = process.argv[2];
const expect = JSON.parse(readFileSync(process.argv[3], 'utf8'));
const range = { from: expect.from, to: expect.to };

// Sinks: what an injected payload would leave behind, whether or not the
// CSP let it run.
function sinks() {
  const out = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const v = a.value.trim().toLowerCase();
      if (a.name.toLowerCase().startsWith('on')) out.push(`${el.tagName} ${a.name}=${a.value}`);
      if (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(a.name.toLowerCase()) && (v.startsWith('javascript:') || v.startsWith('data:text'))) {
        out.push(`${el.tagName} ${a.name}=${a.value}`);
      }
    }
    if (el.tagName === 'SCRIPT' && !el.src) out.push('inline SCRIPT');
    if (['IFRAME', 'OBJECT', 'EMBED', 'IMG'].includes(el.tagName)) out.push(el.tagName);
  }
  return out;
}

async function assertInert(page, where, dialogs) {
  const s = await page.evaluate(() => ({
    xss: typeof window[window.__marker],
    violations: window.__violations.map((v) => `${v.directive}: ${v.sample}`),
  }));
  check(s.xss === 'undefined', `${where}: window.${expect.marker} is ${s.xss}`);
  check(s.violations.length === 0, `${where}: CSP violations: ${s.violations.join('; ')}`);
  check(dialogs.length === 0, `${where}: dialogs opened: ${dialogs.join('; ')}`);
  const found = await page.evaluate(sinks);
  check(found.length === 0, `${where}: injected elements or attributes: ${found.join('; ')}`);
}

async function assertShown(page, where, texts) {
  const text = await page.evaluate(() => document.getElementById('view').textContent);
  for (const t of texts) check(text.includes(t), `${where}: the text ${JSON.stringify(t)} is shown literally`);
}

async function waitState(page, sel, prev = -1) {
  await page.waitForFunction(
    ([sel, prev]) => {
      const el = document.querySelector(sel);
      return el && el.dataset.state !== 'loading' && Number(el.dataset.generation) > prev;
    },
    [sel, prev],
    { timeout: 30000 },
  );
  return page.$eval(sel, (el) => ({ state: el.dataset.state, gen: Number(el.dataset.generation) }));
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
  const { browser, context, page, errors } = await launch();
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  // The test's own listeners, installed before the app runs (init scripts
  // are not subject to the page's CSP). The marker name is passed in so
  // that nothing here defines window.__xss itself.
  await context.addInitScript((marker) => {
    window.__marker = marker;
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push({ directive: e.violatedDirective, sample: e.sample }));
  }, expect.marker);

  // The API has the hostile text (so the checks below are about the UI).
  const tx = await api(base, '/api/v1/transactions', { ...range, probe: expect.probe, limit: 100 });
  const apiTargets = tx.transactions.map((t) => t.target);
  for (const t of expect.targets) check(apiTargets.includes(t), `the API returns the target ${JSON.stringify(t)}`);

  // ---- explorer: transactions, and each one's detail ----
  const q = (extra) => new URLSearchParams({ ...range, ...extra }).toString();
  await page.goto(`${base}/explorer?${q({ tab: 'tx', probe: expect.probe })}`);
  let st = await waitState(page, 'section.explorer');
  check(st.state === 'ready', `explorer loaded (${st.state})`);
  await assertInert(page, 'explorer transactions', dialogs);
  await assertShown(page, 'explorer transactions', [...expect.targets, expect.probe]);
  await page.screenshot({ path: shotPath('xss-explorer-tx') });
  const n = await page.$$eval('#ex-table tbody tr', (r) => r.length);
  check(n === tx.transactions.length, `every transaction is listed (${n} of ${tx.transactions.length})`);
  const seen = new Set();
  for (let i = 0; i < n; i++) {
    await page.click(`#ex-table tbody tr[data-i="${i}"]`);
    await page.waitForSelector(`#ex-detail`);
    await assertInert(page, `transaction detail ${i}`, dialogs);
    const text = await page.$eval('#ex-detail', (e) => e.textContent);
    check(text.includes(tx.transactions[i].target), `detail ${i} shows its target`);
    for (const h of expect.headers) {
      const [name, ...rest] = h.split(': ');
      const value = rest.join(': ');
      // A header line is drawn as a name cell and a value cell.
      const rows = await page.$$eval('#ex-detail table.headers tr', (trs) => trs.map((tr) => `${tr.querySelector('th').textContent}: ${tr.querySelector('td').textContent}`));
      if (rows.includes(`${name}: ${value}`)) seen.add(h);
    }
    if (i === 0) await page.screenshot({ path: shotPath('xss-explorer-detail') });
  }
  for (const h of expect.headers) check(seen.has(h), `the header line ${JSON.stringify(h)} is shown literally in a detail view`);

  // ---- explorer: flows (probe ID and device) ----
  await page.goto(`${base}/explorer?${q({ tab: 'flows', probe: expect.probe })}`);
  st = await waitState(page, 'section.explorer');
  await assertInert(page, 'explorer flows', dialogs);
  await page.click('#ex-table tbody tr[data-i="0"]');
  await page.waitForSelector('#ex-detail');
  await assertInert(page, 'flow detail', dialogs);
  await assertShown(page, 'explorer flows', [expect.probe]);

  // ---- dashboard: the hostile probe's scope, chosen in the selector ----
  await page.goto(`${base}/dashboard?${q({})}`);
  st = await waitState(page, 'section.dashboard');
  const options = await page.$$eval('#dash-scope option', (os) => os.map((o) => o.textContent));
  check(options.includes(expect.probe), 'the scope selector lists the probe by its ID, as text');
  for (const [k, v] of Object.entries(expect.labels)) check(options.includes(`${k}=${v}`), `the scope selector lists the group ${k}=${v} as text`);
  await page.selectOption('#dash-scope', `probe:${expect.probe}`);
  st = await waitState(page, 'section.dashboard', st.gen);
  check(new URL(page.url()).searchParams.get('probe') === expect.probe, 'the probe scope is in the URL');
  await assertInert(page, 'dashboard', dialogs);
  await assertShown(page, 'dashboard', expect.dashboard);
  await fullShot(page, 'xss-dashboard');
  for (const [k, v] of Object.entries(expect.labels)) {
    await page.selectOption('#dash-scope', `group:${k}=${v}`);
    st = await waitState(page, 'section.dashboard', st.gen);
    check(new URL(page.url()).searchParams.get('group') === `${k}=${v}`, `the group ${k}=${v} is in the URL`);
    await assertInert(page, `dashboard group ${k}`, dialogs);
    await assertShown(page, `dashboard group ${k}`, [expect.probe, expect.targets[0]]);
  }

  // ---- map: node labels and each named node's details ----
  const map = await api(base, '/api/v1/map', range);
  for (const name of expect.nodes) check(map.nodes.some((nd) => nd.name === name), `the map API names a node ${JSON.stringify(name)}`);
  await page.goto(`${base}/map?${q({})}`);
  await page.waitForFunction(() => window.__wirewatch?.map?.snapshot().stable, null, { timeout: 30000 });
  const snap = await page.evaluate(() => window.__wirewatch.map.snapshot());
  await assertInert(page, 'map', dialogs);
  for (const name of expect.nodes) check(snap.nodes.some((nd) => nd.label === name), `the map draws the label ${JSON.stringify(name)}`);
  await page.screenshot({ path: shotPath('xss-map') });
  for (const name of expect.nodes) {
    // A fresh map for each, so that no open details panel covers the node.
    await page.goto(`${base}/map?${q({})}`);
    await page.waitForFunction(() => window.__wirewatch?.map?.snapshot().stable, null, { timeout: 30000 });
    const node = (await page.evaluate(() => window.__wirewatch.map.snapshot())).nodes.find((nd) => nd.label === name);
    if (!node) continue;
    await page.mouse.click(node.x, node.y);
    await page.waitForFunction((id) => document.querySelector('.details')?.dataset.node === id, node.id, { timeout: 15000 });
    await assertInert(page, `map details of ${name}`, dialogs);
    const title = await page.textContent('.details .detail-title');
    check(title === name, `the map's details title is the name as text: ${JSON.stringify(title)}`);
  }
  await page.screenshot({ path: shotPath('xss-map-details') });

  check(errors.length === 0, `no console errors: ${errors.join('\n')}`);

  // ---- the checks can fail: a real injection is caught ----
  // (An HTML parse of one payload, done here on purpose: the CSP blocks its
  // handler, and the violation and the element are both seen.)
  await page.evaluate(() => {
    const div = document.createElement('div');
    div.innerHTML = '<img src="x" onerror="window[window.__marker]=1">'; // the test's own canary, not app code
    document.getElementById('view').append(div);
  });
  await page.waitForFunction(() => window.__violations.length > 0, null, { timeout: 5000 }).catch(() => {});
  const canary = await page.evaluate(() => ({ v: window.__violations.length, sinks: 0 }));
  const canarySinks = await page.evaluate(sinks);
  check(canary.v > 0 && canarySinks.length > 0, `the canary injection is detected (violations ${canary.v}, sinks ${canarySinks.length})`);

  await browser.close();
});

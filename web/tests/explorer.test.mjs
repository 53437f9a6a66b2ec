// The explorer against the API, in Chromium: the rows of every page equal
// the API's pages (walking Next, Back and First with the API's cursors),
// filters typed in the form change the rows exactly as the same API
// parameters do, values the API would refuse are flagged with the API's own
// message (and the API's 400 is shown when only it can tell), sorting
// reorders the page and says it is the page only, and the detail views show
// every field and header of the record.
//
//   node web/tests/explorer.test.mjs BASE_URL

import { launch, api, check, main, shotPath, dataRange } from './lib.mjs';

const base = process.argv[2];
const limit = 25;

async function ready(page, prev = -1) {
  await page.waitForFunction(
    (prev) => {
      const el = document.querySelector('section.explorer');
      return el && el.dataset.state !== 'loading' && Number(el.dataset.generation) > prev;
    },
    prev,
    { timeout: 30000 },
  );
  return page.$eval('section.explorer', (el) => ({ state: el.dataset.state, gen: Number(el.dataset.generation) }));
}

// drawn reads the table: per row (in screen order) its API index and cells.
function drawn(page) {
  return page.$$eval('#ex-table tbody tr', (trs) =>
    trs.map((tr) => ({
      i: Number(tr.dataset.i),
      cells: Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.col, { text: td.textContent, value: td.dataset.value }])),
    })),
  );
}

// What each column must say about an API row.
const txExpect = (t) => ({
  time: t.request_time ?? t.response_time ?? '',
  probe: t.probe,
  proto: t.proto,
  client: t.client,
  server: t.server,
  op: t.op,
  target: t.target,
  status: t.status,
  outcome: t.outcome,
  latency: String(t.latency_us ?? -1),
  request_bytes: String(t.request_bytes),
  response_bytes: String(t.response_bytes),
  flags: (t.flags ?? []).join(', '),
});
const flowExpect = (f) => ({
  start: f.start,
  end: f.end,
  probe: f.probe,
  transport: f.transport,
  app: f.app,
  client: f.client,
  server: f.server,
  packets: String(f.packets_to_server + f.packets_to_client),
  bytes: String(f.bytes_to_server + f.bytes_to_client),
  state: f.state,
  device: f.device,
});
// Columns whose visible text is the API's value itself (others are
// formatted: their data-value is compared).
const verbatim = new Set(['probe', 'proto', 'client', 'server', 'op', 'target', 'status', 'outcome', 'transport', 'app', 'state', 'device', 'flags']);

function samePage(what, rows, apiRows, expect) {
  check(rows.length === apiRows.length, `${what}: ${rows.length} rows drawn, the API's page has ${apiRows.length}`);
  rows.forEach((r, pos) => {
    const want = expect(apiRows[r.i]);
    for (const [col, v] of Object.entries(want)) {
      const c = r.cells[col];
      check(c && c.value === v, `${what} row ${pos} (API ${r.i}) ${col}: data ${JSON.stringify(c?.value)}, API ${JSON.stringify(v)}`);
      if (verbatim.has(col)) check(c.text === v, `${what} row ${pos} ${col}: shows ${JSON.stringify(c.text)}, API ${JSON.stringify(v)}`);
    }
  });
  check(
    rows.map((r) => r.i).sort((a, b) => a - b).join() === apiRows.map((_, i) => i).join(),
    `${what}: every API row drawn once`,
  );
}

const urlParam = (page, k) => new URL(page.url()).searchParams.get(k);

// clear empties the filter form; the rows reload when that changed the URL.
async function clearFilters(page, st) {
  const before = page.url();
  await page.click('#f-clear');
  return page.url() === before ? st : ready(page, st.gen);
}

// apiError is the API's own {"error"} message for a request it refuses
// ('' when it does not refuse it).
async function apiError(path, params) {
  const u = new URL(path, base);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, String(v));
  const res = await fetch(u);
  return res.ok ? '' : (await res.json()).error;
}

await main(async () => {
  const { browser, page, errors } = await launch();
  const range = await dataRange(base);
  const qs = new URLSearchParams({ ...range, tab: 'tx', limit: String(limit) });

  // ---- pages: Next to the end, Back, First ----
  await page.goto(`${base}/explorer?${qs}`);
  let st = await ready(page);
  check(st.state === 'ready', `explorer loaded (${st.state})`);
  const apiPages = [];
  let cursor = '';
  do {
    const p = await api(base, '/api/v1/transactions', { ...range, limit, cursor });
    apiPages.push(p);
    cursor = p.next;
  } while (cursor && apiPages.length < 50);
  check(apiPages.length >= 3, `the capture has at least 3 pages of ${limit} transactions (${apiPages.length})`);
  for (let i = 0; i < apiPages.length; i++) {
    samePage(`page ${i + 1}`, await drawn(page), apiPages[i].transactions, txExpect);
    const info = await page.$eval('#ex-page-info', (e) => e.textContent);
    check(info.startsWith(`page ${i + 1} `), `page info says page ${i + 1}: ${info}`);
    const nextDisabled = await page.$eval('#ex-next', (b) => b.disabled);
    check(nextDisabled === (apiPages[i].next === ''), `Next is ${nextDisabled ? 'disabled' : 'enabled'} on page ${i + 1}`);
    if (i === 0) await page.screenshot({ path: shotPath('explorer-tx-page1') });
    if (apiPages[i].next) {
      await page.click('#ex-next');
      st = await ready(page, st.gen);
      check(urlParam(page, 'cursor') === apiPages[i].next, `page ${i + 2}'s URL carries the API's cursor`);
    }
  }
  await page.click('#ex-back');
  st = await ready(page, st.gen);
  samePage('Back', await drawn(page), apiPages[apiPages.length - 2].transactions, txExpect);
  await page.goBack(); // the browser's back button walks the pages too
  st = await ready(page, st.gen);
  samePage('browser back', await drawn(page), apiPages[apiPages.length - 1].transactions, txExpect);
  await page.click('#ex-first');
  st = await ready(page, st.gen);
  samePage('First', await drawn(page), apiPages[0].transactions, txExpect);
  const total = apiPages.reduce((a, p) => a + p.transactions.length, 0);

  // ---- filters typed in the form ----
  const filters = [
    [{ proto: 'dns' }, 'select proto=dns'],
    [{ proto: 'http', status: '200' }, 'proto and status'],
    [{ outcome: 'client_error' }, 'outcome'],
    [{ min_latency_ms: '100' }, 'min latency'],
  ];
  // A server address and a target substring taken from the data.
  const some = apiPages[0].transactions.find((t) => t.proto === 'http') ?? apiPages[0].transactions[0];
  filters.push([{ server: some.server.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''), target: some.target.slice(0, 6) }, 'server and target']);
  const host = (some.fields ?? []).find((f) => f.key === 'host');
  for (const [f, what] of filters) {
    st = await clearFilters(page, st);
    for (const [k, v] of Object.entries(f)) {
      const tag = await page.$eval(`#f-${k}`, (e) => e.tagName);
      if (tag === 'SELECT') await page.selectOption(`#f-${k}`, v);
      else await page.fill(`#f-${k}`, v);
    }
    await page.click('#f-apply');
    st = await ready(page, st.gen);
    for (const [k, v] of Object.entries(f)) check(urlParam(page, k) === v, `${what}: URL carries ${k}=${v}`);
    const want = await api(base, '/api/v1/transactions', { ...range, ...f, limit });
    samePage(`filter ${what}`, await drawn(page), want.transactions, txExpect);
    check(want.transactions.length < total, `filter ${what} leaves rows out (${want.transactions.length} of ${total})`);
  }
  if (host) {
    st = await clearFilters(page, st);
    await page.click('#f-add-field');
    await page.fill('.field-row .fkey', 'host');
    await page.fill('.field-row .fval', host.value);
    await page.click('#f-apply');
    st = await ready(page, st.gen);
    check(urlParam(page, 'field.host') === host.value, 'URL carries field.host');
    const want = await api(base, '/api/v1/transactions', { ...range, 'field.host': host.value, limit });
    samePage('filter field.host', await drawn(page), want.transactions, txExpect);
    await page.screenshot({ path: shotPath('explorer-tx-field-filter') });
  }

  // ---- values the API refuses ----
  st = await clearFilters(page, st);
  for (const [k, v] of [
    ['port', '70000'],
    ['client', '10.0.0.300'],
    ['server', '10.0.0.0/33'],
    ['min_latency_ms', 'fast'],
  ]) {
    await page.fill(`#f-${k}`, v);
    const gen = st.gen;
    await page.click('#f-apply');
    const msg = await page.$eval(`#f-${k}-error`, (e) => e.textContent);
    const want = await apiError('/api/v1/transactions', { ...range, [k]: v });
    check(want !== '' && msg === want, `${k}=${v} is flagged with the API's message: ${JSON.stringify(msg)} vs ${JSON.stringify(want)}`);
    check(urlParam(page, k) === null, `${k}=${v} was not applied`);
    await page.fill(`#f-${k}`, '');
    check((await page.$eval('section.explorer', (e) => Number(e.dataset.generation))) === gen, 'no request for a refused value');
  }
  // Only the API can tell: a cursor it did not make, a limit out of range.
  for (const [k, v] of [
    ['cursor', 'not-a-cursor'],
    ['limit', '0'],
  ]) {
    await page.goto(`${base}/explorer?${new URLSearchParams({ ...range, tab: 'tx', [k]: v })}`);
    st = await ready(page);
    const msg = await page.$eval('#ex-error', (e) => e.textContent);
    const want = await apiError('/api/v1/transactions', { ...range, [k]: v });
    check(st.state === 'error' && want !== '' && msg.endsWith(want), `${k}=${v}: the API's 400 is shown: ${JSON.stringify(msg)} vs ${JSON.stringify(want)}`);
  }

  // ---- sort (within the page) ----
  await page.goto(`${base}/explorer?${qs}`);
  st = await ready(page);
  await page.click('th[data-col=latency] button');
  st = await ready(page, st.gen - 1); // no reload: only a re-render
  check(urlParam(page, 'sort') === 'latency' && urlParam(page, 'dir') === 'asc', 'sort is in the URL');
  let rows = await drawn(page);
  samePage('sorted page', rows, apiPages[0].transactions, txExpect);
  const lat = rows.map((r) => Number(r.cells.latency.value));
  check(lat.every((v, i) => i === 0 || lat[i - 1] <= v), `ascending latency: ${lat}`);
  const note = await page.$eval('#ex-sort-note', (e) => e.textContent);
  check(/this page only/.test(note), `the view says the sort is within the page: ${note}`);
  await page.click('th[data-col=latency] button');
  rows = await drawn(page);
  const lat2 = rows.map((r) => Number(r.cells.latency.value));
  check(urlParam(page, 'dir') === 'desc' && lat2.every((v, i) => i === 0 || lat2[i - 1] >= v), `descending latency: ${lat2}`);

  // ---- transaction detail: every field, every header line ----
  const withHeaders = apiPages.flatMap((p, n) => p.transactions.map((t, i) => ({ t, n, i }))).find(({ t }) => (t.fields ?? []).some((f) => f.key === 'request_headers'));
  check(withHeaders !== undefined, 'the capture has an HTTP transaction with headers');
  await page.goto(`${base}/explorer?${qs}`);
  st = await ready(page);
  for (let n = 0; n < withHeaders.n; n++) {
    await page.click('#ex-next');
    st = await ready(page, st.gen);
  }
  await page.click(`#ex-table tbody tr[data-i="${withHeaders.i}"]`);
  await page.waitForSelector('#ex-detail');
  check(urlParam(page, 'sel') === String(withHeaders.i), 'the selection is in the URL');
  const t = withHeaders.t;
  const rec = await page.$$eval('#ex-detail-record tr', (trs) => Object.fromEntries(trs.map((tr) => [tr.dataset.key, tr.querySelector('td').textContent])));
  for (const k of ['probe', 'proto', 'transport', 'client', 'server', 'op', 'target', 'status', 'outcome']) {
    check(rec[k] === t[k], `detail ${k}: ${JSON.stringify(rec[k])} vs ${JSON.stringify(t[k])}`);
  }
  check(rec.request_time === (t.request_time ?? '(no request seen)'), 'detail request_time');
  const fields = await page.$$eval('#ex-detail-fields > tbody > tr', (trs) =>
    trs.map((tr) => ({
      key: tr.dataset.key,
      value: tr.querySelector(':scope > td').textContent,
      headers: [...tr.querySelectorAll('table.headers tr')].map((h) => [h.querySelector('th').textContent, h.querySelector('td').textContent]),
    })),
  );
  check(fields.length === t.fields.length, `detail shows ${fields.length} fields, the API ${t.fields.length}`);
  t.fields.forEach((f, i) => {
    check(fields[i].key === f.key, `field ${i}: key ${fields[i].key} vs ${f.key}`);
    if (f.key.endsWith('_headers')) {
      const lines = f.value.split('\n').filter((l) => l !== '');
      check(fields[i].headers.length === lines.length, `${f.key}: ${fields[i].headers.length} header rows, ${lines.length} lines`);
      lines.forEach((l, j) => check(`${fields[i].headers[j][0]}: ${fields[i].headers[j][1]}` === l, `${f.key} line ${j}: ${JSON.stringify(fields[i].headers[j])} vs ${JSON.stringify(l)}`));
    } else {
      check(fields[i].value === f.value, `field ${f.key}: ${JSON.stringify(fields[i].value)} vs ${JSON.stringify(f.value)}`);
    }
  });
  await page.screenshot({ path: shotPath('explorer-tx-detail') });
  // Closing the detail.
  await page.click('#ex-detail-close');
  check((await page.$('#ex-detail')) === null && urlParam(page, 'sel') === null, 'the detail closes');

  // ---- flows tab ----
  await page.click('a[data-tab=flows]');
  st = await ready(page, st.gen);
  check(urlParam(page, 'tab') === 'flows', 'flows tab in the URL');
  await page.selectOption('#ex-limit', String(limit));
  st = await ready(page, st.gen);
  const f1 = await api(base, '/api/v1/flows', { ...range, limit });
  samePage('flows page 1', await drawn(page), f1.flows, flowExpect);
  await page.click('#ex-next');
  st = await ready(page, st.gen);
  const f2 = await api(base, '/api/v1/flows', { ...range, limit, cursor: f1.next });
  samePage('flows page 2', await drawn(page), f2.flows, flowExpect);
  await page.fill('#f-transport', 'udp');
  await page.click('#f-apply');
  st = await ready(page, st.gen);
  check(urlParam(page, 'cursor') === null, 'new filters start at the first page');
  const fu = await api(base, '/api/v1/flows', { ...range, limit, transport: 'udp' });
  samePage('flows transport=udp', await drawn(page), fu.flows, flowExpect);
  await page.click('#ex-table tbody tr[data-i="0"]');
  await page.waitForSelector('#ex-detail');
  const frec = await page.$$eval('#ex-detail-record tr', (trs) => Object.fromEntries(trs.map((tr) => [tr.dataset.key, tr.querySelector('td').textContent])));
  const f0 = fu.flows[0];
  for (const k of ['probe', 'start', 'end', 'transport', 'client', 'server', 'state']) check(frec[k] === String(f0[k]), `flow detail ${k}: ${frec[k]} vs ${f0[k]}`);
  check(frec.bytes_to_server.startsWith(f0.bytes_to_server.toLocaleString('en-US') + ' '), `flow detail bytes_to_server ${frec.bytes_to_server}`);
  await page.screenshot({ path: shotPath('explorer-flow-detail') });

  // The flow's "transactions between these endpoints" link filters as the API would.
  await page.click('#ex-detail a.detail-link');
  st = await ready(page, st.gen);
  const u = new URL(page.url());
  check(u.pathname === '/explorer' && u.searchParams.get('tab') === 'tx' && u.searchParams.get('client') === f0.client.replace(/:\d+$/, ''), `link to the flow's transactions: ${page.url()}`);
  const linked = Object.fromEntries([...u.searchParams].filter(([k]) => !['tab', 'live'].includes(k)));
  const lt = await api(base, '/api/v1/transactions', { ...linked, limit: await page.$eval('#ex-limit', (e) => e.value) });
  samePage('linked transactions', await drawn(page), lt.transactions, txExpect);

  const other = errors.filter((e) => !/status of 400/.test(e));
  check(other.length === 0, `no console errors or CSP violations: ${other.join('\n')}`);
  await browser.close();
});

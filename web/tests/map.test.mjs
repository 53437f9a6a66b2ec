// The traffic map in Chromium against a replay center (run by
// cmd/wirewatch/ui_test.go): what is drawn equals what /api/v1/map
// answers; grouping, the protocol filter and the label filter change the
// drawing as the API (and a computation from the ungrouped map) say; a
// click on a node opens that node's details. Screenshots in
// $WIREWATCH_SHOTS. Usage: node web/tests/map.test.mjs BASE_URL
import { launch, api, dataRange, check, main, shotPath } from './lib.mjs';

const base = process.argv[2];
const edgeKey = (e) => `${e.source}|${e.target}|${e.transport}|${e.app}|${e.port}`;

async function stableSnapshot(page, previous) {
  // Wait for a new map (different from the previous one, when given) that
  // has settled.
  await page.waitForFunction(
    (prev) => {
      const m = window.__wirewatch?.map;
      if (!m) return false;
      const s = m.snapshot();
      if (!s.stable) return false;
      return prev === null || JSON.stringify(s.edges.map((e) => e.id).sort()) !== prev;
    },
    previous ? JSON.stringify(previous.edges.map((e) => e.id).sort()) : null,
    { timeout: 30000 },
  );
  return page.evaluate(() => window.__wirewatch.map.snapshot());
}

function compare(what, snap, resp) {
  const drawnNodes = snap.nodes.map((n) => n.id).sort();
  const apiNodes = resp.nodes.map((n) => n.id).sort();
  check(JSON.stringify(drawnNodes) === JSON.stringify(apiNodes), `${what}: drawn nodes ${drawnNodes.length} = API nodes ${apiNodes.length}`);
  const names = new Map(resp.nodes.map((n) => [n.id, n.name]));
  check(snap.nodes.every((n) => names.get(n.id) === n.label), `${what}: node labels are the API's names`);
  const apiEdges = new Map(resp.edges.map((e) => [edgeKey(e), e]));
  check(snap.edges.length === resp.edges.length, `${what}: drawn edges ${snap.edges.length} = API edges ${resp.edges.length}`);
  for (const e of snap.edges) {
    const a = apiEdges.get(e.id);
    if (!check(a !== undefined, `${what}: drawn edge ${e.id} is in the API's map`)) continue;
    check(a.source === e.from && a.target === e.to && a.app === e.protocol && a.port === e.port && a.bytes === e.bytes,
      `${what}: edge ${e.id} drawn as the API says (bytes ${e.bytes} vs ${a.bytes})`);
  }
}

await main(async () => {
  const range = await dataRange(base);
  const { browser, page, errors } = await launch();
  const q = (extra = {}) => new URLSearchParams({ ...range, ...extra }).toString();

  // 1. The ungrouped map.
  await page.goto(`${base}/map?${q()}`);
  let snap = await stableSnapshot(page, null);
  const full = await api(base, '/api/v1/map', range);
  check(full.nodes.length >= 10 && full.edges.length >= 10, `the capture gives a real map (${full.nodes.length} nodes, ${full.edges.length} edges)`);
  compare('ungrouped', snap, full);
  const w = await page.evaluate(() => [innerWidth, innerHeight]);
  const onScreen = snap.nodes.filter((n) => n.x >= 0 && n.y >= 0 && n.x <= w[0] && n.y <= w[1]).length;
  check(onScreen === snap.nodes.length, `every node is on screen after the fit (${onScreen}/${snap.nodes.length})`);
  await page.screenshot({ path: shotPath('map-1-ungrouped') });

  // 2. A click on the busiest node opens its details.
  const degree = new Map();
  for (const e of full.edges) {
    for (const id of new Set([e.source, e.target])) degree.set(id, (degree.get(id) ?? 0) + 1);
  }
  const busiest = [...degree].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0][0];
  const target = snap.nodes.find((n) => n.id === busiest);
  await page.mouse.click(target.x, target.y);
  await page.waitForSelector(`.details[data-node="${busiest}"]`, { timeout: 15000 });
  const title = await page.textContent('.details .detail-title');
  const name = full.nodes.find((n) => n.id === busiest).name;
  check(title === name, `the details are the clicked node's: "${title}" = "${name}"`);
  check(new URL(page.url()).searchParams.get('node') === busiest, 'the URL names the selected node');
  // Peers, computed from the map's edges (not from the detail endpoint).
  const peers = new Set();
  for (const e of full.edges) {
    if (e.source === busiest) peers.add(e.target);
    if (e.target === busiest) peers.add(e.source);
  }
  const peerRows = await page.$$eval('.details a.peer', (as) => as.map((a) => a.getAttribute('data-peer')));
  check(peerRows.length === Math.min(peers.size, 20) && peerRows.every((p) => peers.has(p)),
    `the details list the node's peers (${peerRows.length} shown, ${peers.size} in the map)`);
  const detail = await api(base, '/api/v1/map/node', { ...range, id: busiest });
  const servedRequests = detail.served.protocols.reduce((s, p) => s + p.requests, 0);
  const nodeRequests = full.nodes.find((n) => n.id === busiest).requests;
  check(servedRequests === nodeRequests, `requests served by the node: transactions ${servedRequests} = map's count ${nodeRequests}`);
  await page.screenshot({ path: shotPath('map-2-node-details') });

  // 3. The protocol filter: unchecking http hides exactly the http edges.
  const apps = [...new Set(full.edges.map((e) => e.app))];
  check(apps.includes('http'), `the map has http edges (protocols ${apps.join(',')})`);
  await page.click('input[data-app="http"]');
  snap = await stableSnapshot(page, snap);
  const noHTTP = await api(base, '/api/v1/map', { ...range, hide_app: 'http' });
  compare('hide_app=http', snap, noHTTP);
  const expectEdges = full.edges.filter((e) => e.app !== 'http').map(edgeKey).sort();
  check(JSON.stringify(snap.edges.map((e) => e.id).sort()) === JSON.stringify(expectEdges),
    `without http the drawn edges are the map's non-http edges (${expectEdges.length})`);
  check(new URL(page.url()).searchParams.get('hide_app') === 'http', 'the URL holds the protocol filter');
  await page.screenshot({ path: shotPath('map-3-no-http') });
  await page.click('input[data-app="http"]');
  snap = await stableSnapshot(page, snap);
  compare('http back', snap, full);

  // 4. Grouping by a label: nodes carrying env merge into group:VALUE.
  const labelled = full.nodes.filter((n) => n.labels.env);
  check(labelled.length >= 2, `the inventory labels some nodes (${labelled.length})`);
  await page.selectOption('#map-group-by', 'env');
  snap = await stableSnapshot(page, snap);
  const grouped = await api(base, '/api/v1/map', { ...range, group_by: 'env' });
  compare('group_by=env', snap, grouped);
  const mapped = new Map(full.nodes.map((n) => [n.id, n.labels.env ? `group:${n.labels.env}` : n.id]));
  const expectNodes = [...new Set(mapped.values())].sort();
  check(JSON.stringify(snap.nodes.map((n) => n.id).sort()) === JSON.stringify(expectNodes),
    `grouped nodes = the ungrouped nodes with env merged (${expectNodes.length} from ${full.nodes.length})`);
  const expectGrouped = new Map();
  for (const e of full.edges) {
    const k = `${mapped.get(e.source)}|${mapped.get(e.target)}|${e.transport}|${e.app}|${e.port}`;
    expectGrouped.set(k, (expectGrouped.get(k) ?? 0) + e.bytes);
  }
  check(snap.edges.length === expectGrouped.size && snap.edges.every((e) => expectGrouped.get(e.id) === e.bytes),
    `grouped edges sum the ungrouped ones (${snap.edges.length} drawn, ${expectGrouped.size} computed)`);
  check(snap.nodes.length < full.nodes.length, 'grouping draws fewer nodes');
  await page.screenshot({ path: shotPath('map-4-group-env') });

  // 5. Hiding a label: the env=cdn nodes and their edges go.
  await page.selectOption('#map-group-by', '');
  snap = await stableSnapshot(page, snap);
  await page.click('input[data-label="env=cdn"]');
  snap = await stableSnapshot(page, snap);
  const cdn = new Set(full.nodes.filter((n) => n.labels.env === 'cdn').map((n) => n.id));
  check(cdn.size >= 1, `some nodes are env=cdn (${cdn.size})`);
  const expectHidden = full.edges.filter((e) => !cdn.has(e.source) && !cdn.has(e.target)).map(edgeKey).sort();
  check(JSON.stringify(snap.edges.map((e) => e.id).sort()) === JSON.stringify(expectHidden),
    `hiding env=cdn leaves the other edges (${expectHidden.length} of ${full.edges.length})`);
  compare('hide_label=env=cdn', snap, await api(base, '/api/v1/map', { ...range, hide_label: 'env=cdn' }));
  await page.screenshot({ path: shotPath('map-5-hide-cdn') });

  // 6. The URL is the state: a reload shows the same map.
  await page.reload();
  const again = await stableSnapshot(page, null);
  check(JSON.stringify(again.edges.map((e) => e.id).sort()) === JSON.stringify(expectHidden), 'a reload of the URL draws the same map');

  check(errors.length === 0, `no page errors or CSP violations: ${errors.join(' | ')}`);
  await browser.close();
});

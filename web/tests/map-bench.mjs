// The map's speed in Chromium on a big map (bench/ui-map.sh): time from
// the page's request of /api/v1/map to the first frame with nodes, and to
// the settled layout on screen; several runs, median and worst.
// Usage: node web/tests/map-bench.mjs BASE_URL FROM TO [RUNS]
import { launch, check, main, shotPath } from './lib.mjs';

const [base, from, to, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 3);

await main(async () => {
  const { browser, page, errors } = await launch({ width: 1600, height: 1000 });
  const rows = [];
  for (let i = 0; i < runs; i++) {
    const t0 = Date.now();
    await page.goto(`${base}/map?${new URLSearchParams({ from, to, limit: '10000' })}`);
    await page.waitForFunction(() => window.__wirewatch?.map?.timing.stable > 0, null, { timeout: 120000 });
    const r = await page.evaluate(() => {
      const m = window.__wirewatch.map;
      const s = m.snapshot();
      return { ...m.timing, nodes: s.nodes.length, edges: s.edges.length };
    });
    rows.push({ fetch: r.fetched - r.requested, first: r.firstRender - r.requested, stable: r.stable - r.requested, ticks: r.layoutTicks, nodes: r.nodes, edges: r.edges, wall: Date.now() - t0 });
    if (i === 0) await page.screenshot({ path: shotPath('map-bench') });
  }
  const med = (k) => [...rows.map((r) => r[k])].sort((a, b) => a - b)[Math.floor(rows.length / 2)];
  const worst = (k) => Math.max(...rows.map((r) => r[k]));
  // Frame time of a redraw at rest (pan by one pixel), the cost of
  // interacting with the settled map.
  const frame = await page.evaluate(async () => {
    const times = [];
    const c = document.querySelector('canvas.map-canvas');
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      c.dispatchEvent(new WheelEvent('wheel', { deltaY: i % 2 ? 5 : -5, clientX: 400, clientY: 300, bubbles: true, cancelable: true }));
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)];
  });
  const r0 = rows[0];
  console.log(`map: ${r0.nodes} nodes, ${r0.edges} edges drawn; ${runs} runs in Chromium`);
  console.log(`  API answer (fetch):    median ${med('fetch').toFixed(0)} ms, worst ${worst('fetch').toFixed(0)} ms`);
  console.log(`  time to first render:  median ${med('first').toFixed(0)} ms, worst ${worst('first').toFixed(0)} ms`);
  console.log(`  time to stable layout: median ${med('stable').toFixed(0)} ms, worst ${worst('stable').toFixed(0)} ms (${r0.ticks} layout ticks)`);
  console.log(`  zoom redraw at rest:   median ${frame.toFixed(1)} ms per frame (two animation frames)`);
  check(r0.nodes >= 2000 && r0.edges >= 10000, `the whole map is drawn (${r0.nodes} nodes, ${r0.edges} edges)`);
  check(errors.length === 0, `no page errors: ${errors.join(' | ')}`);
  await browser.close();
});

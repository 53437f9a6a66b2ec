// The map's layout thread: runs Layout ticks and posts positions, so that
// the page stays responsive while 2,000 nodes settle.

import { Layout, type LayoutInput } from './layout';

export type LayoutRequest = { type: 'start'; id: number; input: LayoutInput } | { type: 'stop' };
export type LayoutUpdate = { type: 'positions'; id: number; positions: Float32Array; done: boolean; ticks: number };

let current: { id: number; layout: Layout } | null = null;
let timer: ReturnType<typeof setTimeout> | null = null;

// Ticks run in slices of about this long before positions are posted.
const sliceMs = 30;
const maxTicks = 600;

function run(): void {
  timer = null;
  const cur = current;
  if (!cur) return;
  const t0 = performance.now();
  do {
    cur.layout.tick();
  } while (!cur.layout.done && cur.layout.ticks < maxTicks && performance.now() - t0 < sliceMs);
  const done = cur.layout.done || cur.layout.ticks >= maxTicks;
  const positions = cur.layout.positions();
  const msg: LayoutUpdate = { type: 'positions', id: cur.id, positions, done, ticks: cur.layout.ticks };
  (self as unknown as Worker).postMessage(msg, [positions.buffer]);
  if (done) {
    current = null;
    return;
  }
  timer = setTimeout(run, 0);
}

self.onmessage = (ev: MessageEvent<LayoutRequest>) => {
  const req = ev.data;
  if (timer !== null) {
    clearTimeout(timer);
    timer = null;
  }
  if (req.type === 'stop') {
    current = null;
    return;
  }
  current = { id: req.id, layout: new Layout(req.input) };
  run();
};

// Force-directed layout for the traffic map, run in a Web Worker
// (layout.worker.ts). Forces as in the usual spring embedders: every pair
// of nodes repels (Barnes–Hut: far groups of nodes act as one body, so a
// tick costs O(n log n), not O(n²)), linked nodes pull towards a rest
// length, and a weak gravity keeps separate components on screen. The
// simulation cools down (alpha) and stops when it is stable. It is
// deterministic: no Math.random, initial positions come from the node
// order and a seeded generator, so one map always lays out the same way.

export type LayoutInput = {
  n: number;
  // links as pairs of node indexes (each unordered pair once).
  links: Uint32Array;
  // known positions (x, y per node; NaN = unknown), e.g. from the previous
  // map of a live refresh, so that a refresh does not reshuffle the map.
  initial?: Float32Array;
  seed?: number;
  // start temperature: 1 for a fresh layout, less to settle a known one.
  alpha?: number;
};

const alphaMin = 0.001;
const alphaDecay = 1 - Math.pow(alphaMin, 1 / 300);
const velocityDecay = 0.4; // fraction of velocity lost per tick
const theta2 = 0.81; // Barnes–Hut opening criterion, squared
const charge = -40;
const linkDistance = 40;
const gravity = 0.03;
const stillMove = 0.05; // px per tick below which a node counts as still

// mulberry32: small, fast, good enough for jitter.
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Quadtree in flat arrays, rebuilt every tick. Cell i covers a square;
// children are 4 consecutive cells starting at child[i] (-1: a leaf).
class QuadTree {
  cx = new Float64Array(0); // centre of mass
  cy = new Float64Array(0);
  mass = new Float64Array(0);
  size = new Float64Array(0); // side length
  x0 = new Float64Array(0);
  y0 = new Float64Array(0);
  child = new Int32Array(0);
  body = new Int32Array(0); // the one body of a leaf (-1: empty or internal)
  cells = 0;

  private grow(need: number): void {
    if (need <= this.cx.length) return;
    const cap = Math.max(need, this.cx.length * 2, 64);
    const f = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    const g = (a: Int32Array) => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    this.cx = f(this.cx);
    this.cy = f(this.cy);
    this.mass = f(this.mass);
    this.size = f(this.size);
    this.x0 = f(this.x0);
    this.y0 = f(this.y0);
    this.child = g(this.child);
    this.body = g(this.body);
  }

  private cell(x0: number, y0: number, size: number): number {
    const i = this.cells++;
    this.grow(this.cells);
    this.x0[i] = x0;
    this.y0[i] = y0;
    this.size[i] = size;
    this.child[i] = -1;
    this.body[i] = -1;
    this.mass[i] = 0;
    this.cx[i] = 0;
    this.cy[i] = 0;
    return i;
  }

  build(x: Float64Array, y: Float64Array, n: number): void {
    this.cells = 0;
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      minX = Math.min(minX, x[i]!);
      maxX = Math.max(maxX, x[i]!);
      minY = Math.min(minY, y[i]!);
      maxY = Math.max(maxY, y[i]!);
    }
    const size = Math.max(maxX - minX, maxY - minY, 1) * 1.0001;
    this.cell(minX, minY, size);
    for (let i = 0; i < n; i++) this.insert(i, x, y, 0);
    this.summarize(0, x, y);
  }

  private quadrant(c: number, px: number, py: number): number {
    const h = this.size[c]! / 2;
    return (px >= this.x0[c]! + h ? 1 : 0) + (py >= this.y0[c]! + h ? 2 : 0);
  }

  private split(c: number): void {
    const h = this.size[c]! / 2;
    const x0 = this.x0[c]!, y0 = this.y0[c]!;
    const first = this.cell(x0, y0, h);
    this.cell(x0 + h, y0, h);
    this.cell(x0, y0 + h, h);
    this.cell(x0 + h, y0 + h, h);
    this.child[c] = first;
  }

  private insert(b: number, x: Float64Array, y: Float64Array, c: number): void {
    for (let depth = 0; ; depth++) {
      if (this.child[c] === -1) {
        if (this.body[c] === -1 && this.mass[c] === 0) {
          this.body[c] = b;
          this.mass[c] = 1; // marks "occupied" until summarize
          return;
        }
        // Coincident points (or too deep): keep them in one leaf as a
        // chain of weight; summarize counts them by the leaf's mass.
        if (depth > 40) {
          this.mass[c]! += 1;
          return;
        }
        const old = this.body[c]!;
        const oldMass = this.mass[c]!;
        this.body[c] = -1;
        this.mass[c] = 0;
        this.split(c);
        if (old >= 0) {
          const q = this.child[c]! + this.quadrant(c, x[old]!, y[old]!);
          this.body[q] = old;
          this.mass[q] = oldMass;
        }
      }
      c = this.child[c]! + this.quadrant(c, x[b]!, y[b]!);
    }
  }

  private summarize(c: number, x: Float64Array, y: Float64Array): void {
    // Iterative post-order over the flat tree.
    const order: number[] = [];
    const stack = [c];
    while (stack.length) {
      const i = stack.pop()!;
      order.push(i);
      const ch = this.child[i]!;
      if (ch >= 0) for (let k = 0; k < 4; k++) stack.push(ch + k);
    }
    for (let j = order.length - 1; j >= 0; j--) {
      const i = order[j]!;
      const ch = this.child[i]!;
      if (ch < 0) {
        const b = this.body[i]!;
        if (b >= 0) {
          this.cx[i] = x[b]!;
          this.cy[i] = y[b]!;
        } else {
          this.mass[i] = 0;
        }
        continue;
      }
      let m = 0, sx = 0, sy = 0;
      for (let k = 0; k < 4; k++) {
        const q = ch + k;
        const mq = this.mass[q]!;
        if (mq > 0) {
          m += mq;
          sx += this.cx[q]! * mq;
          sy += this.cy[q]! * mq;
        }
      }
      this.mass[i] = m;
      if (m > 0) {
        this.cx[i] = sx / m;
        this.cy[i] = sy / m;
      }
    }
  }

  // Adds the repulsion on body b to (fx, fy) via out[0..1].
  force(b: number, px: number, py: number, strength: number, out: Float64Array): void {
    let fx = 0, fy = 0;
    const stack: number[] = [0];
    while (stack.length) {
      const c = stack.pop()!;
      const m = this.mass[c]!;
      if (m === 0) continue;
      let dx = this.cx[c]! - px;
      let dy = this.cy[c]! - py;
      let d2 = dx * dx + dy * dy;
      const ch = this.child[c]!;
      const s = this.size[c]!;
      if (ch < 0 || (s * s) / theta2 < d2) {
        if (ch < 0 && this.body[c] === b && m <= 1) continue;
        if (d2 < 1e-6) {
          // Same spot: push apart in a direction derived from the index,
          // deterministic.
          dx = Math.cos(b) * 0.1;
          dy = Math.sin(b) * 0.1;
          d2 = dx * dx + dy * dy;
        }
        if (d2 < 1) d2 = Math.sqrt(d2);
        const w = (strength * m) / d2;
        fx += dx * w;
        fy += dy * w;
        continue;
      }
      for (let k = 0; k < 4; k++) stack.push(ch + k);
    }
    out[0] = fx;
    out[1] = fy;
  }
}

export class Layout {
  readonly n: number;
  readonly x: Float64Array;
  readonly y: Float64Array;
  private vx: Float64Array;
  private vy: Float64Array;
  private links: Uint32Array;
  private strength: Float64Array; // per link
  private bias: Float64Array; // per link: share of the pull on the source
  private tree = new QuadTree();
  alpha: number;
  ticks = 0;
  lastMaxMove = Infinity;

  constructor(inp: LayoutInput) {
    const n = inp.n;
    this.n = n;
    this.x = new Float64Array(n);
    this.y = new Float64Array(n);
    this.vx = new Float64Array(n);
    this.vy = new Float64Array(n);
    this.links = inp.links;
    this.alpha = inp.alpha ?? 1;
    const m = inp.links.length / 2;
    const degree = new Uint32Array(n);
    for (let i = 0; i < m; i++) {
      degree[inp.links[2 * i]!]!++;
      degree[inp.links[2 * i + 1]!]!++;
    }
    this.strength = new Float64Array(m);
    this.bias = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      const s = degree[inp.links[2 * i]!]!, t = degree[inp.links[2 * i + 1]!]!;
      this.strength[i] = 1 / Math.max(1, Math.min(s, t));
      this.bias[i] = s / (s + t);
    }
    this.place(inp, degree);
  }

  // Initial positions: known ones kept; a new node next to a placed
  // neighbour; the rest on a phyllotaxis spiral (even density, no random
  // clumps).
  private place(inp: LayoutInput, degree: Uint32Array): void {
    const rand = rng(inp.seed ?? 1);
    const known = new Uint8Array(this.n);
    if (inp.initial) {
      for (let i = 0; i < this.n; i++) {
        const px = inp.initial[2 * i]!, py = inp.initial[2 * i + 1]!;
        if (Number.isFinite(px) && Number.isFinite(py)) {
          this.x[i] = px;
          this.y[i] = py;
          known[i] = 1;
        }
      }
    }
    const anyKnown = known.some((k) => k === 1);
    if (anyKnown) {
      const m = this.links.length / 2;
      for (let pass = 0; pass < 2; pass++) {
        for (let i = 0; i < m; i++) {
          const a = this.links[2 * i]!, b = this.links[2 * i + 1]!;
          if (known[a] && !known[b]) {
            this.x[b] = this.x[a]! + (rand() - 0.5) * linkDistance;
            this.y[b] = this.y[a]! + (rand() - 0.5) * linkDistance;
            known[b] = 1;
          } else if (known[b] && !known[a]) {
            this.x[a] = this.x[b]! + (rand() - 0.5) * linkDistance;
            this.y[a] = this.y[b]! + (rand() - 0.5) * linkDistance;
            known[a] = 1;
          }
        }
      }
    }
    // Busy nodes first on the spiral: they end up near the centre.
    const order = Array.from({ length: this.n }, (_, i) => i).filter((i) => !known[i]);
    order.sort((a, b) => degree[b]! - degree[a]! || a - b);
    const golden = Math.PI * (3 - Math.sqrt(5));
    order.forEach((i, k) => {
      const r = 10 * Math.sqrt(0.5 + k);
      const a = k * golden;
      this.x[i] = r * Math.cos(a) + (rand() - 0.5);
      this.y[i] = r * Math.sin(a) + (rand() - 0.5);
    });
  }

  get done(): boolean {
    return this.alpha < alphaMin || this.lastMaxMove < stillMove;
  }

  tick(): void {
    const { n, x, y, vx, vy, links } = this;
    const alpha = this.alpha;
    // Links.
    const m = links.length / 2;
    for (let i = 0; i < m; i++) {
      const s = links[2 * i]!, t = links[2 * i + 1]!;
      if (s === t) continue;
      let dx = x[t]! + vx[t]! - x[s]! - vx[s]!;
      let dy = y[t]! + vy[t]! - y[s]! - vy[s]!;
      let l = Math.sqrt(dx * dx + dy * dy) || 1e-3;
      l = ((l - linkDistance) / l) * alpha * this.strength[i]!;
      dx *= l;
      dy *= l;
      const b = this.bias[i]!;
      vx[t]! -= dx * b;
      vy[t]! -= dy * b;
      vx[s]! += dx * (1 - b);
      vy[s]! += dy * (1 - b);
    }
    // Repulsion.
    if (n > 1) {
      this.tree.build(x, y, n);
      const f = new Float64Array(2);
      for (let i = 0; i < n; i++) {
        this.tree.force(i, x[i]!, y[i]!, charge * alpha, f);
        vx[i]! += f[0]!;
        vy[i]! += f[1]!;
      }
    }
    // Gravity towards the origin, then move.
    let maxMove = 0;
    for (let i = 0; i < n; i++) {
      vx[i]! -= x[i]! * gravity * alpha;
      vy[i]! -= y[i]! * gravity * alpha;
      vx[i]! *= 1 - velocityDecay;
      vy[i]! *= 1 - velocityDecay;
      x[i]! += vx[i]!;
      y[i]! += vy[i]!;
      maxMove = Math.max(maxMove, Math.abs(vx[i]!) + Math.abs(vy[i]!));
    }
    this.lastMaxMove = this.ticks < 30 ? Infinity : maxMove;
    this.alpha += (0 - this.alpha) * alphaDecay;
    this.ticks++;
  }

  positions(): Float32Array {
    const out = new Float32Array(2 * this.n);
    for (let i = 0; i < this.n; i++) {
      out[2 * i] = this.x[i]!;
      out[2 * i + 1] = this.y[i]!;
    }
    return out;
  }
}

// Canvas 2D drawing of the map, with a camera (zoom, pan) and hit testing.
// Canvas rather than DOM/SVG: 10,000 edges as elements would make the page
// crawl. Edges are drawn in a few batches (one path per width × colour
// bucket), labels with fillText, so captured names are never markup.

import type { MapEdge, MapNode } from './model';

export type DrawNode = MapNode & { x: number; y: number; r: number; color: string };
export type DrawEdge = MapEdge & { id: string; s: DrawNode; t: DrawNode; width: number; color: string };

export type Camera = { x: number; y: number; k: number };

const kindColor: Record<string, string> = {
  host: '#4fa3ff',
  workload: '#3fb96f',
  network: '#b67cff',
  external: '#8593a3',
  group: '#2ec4b6',
};
export const kindColors = kindColor;

// Edge colour by error rate (requests that failed), grey without requests.
export function errorColor(e: MapEdge): string {
  if (e.requests === 0) return '#5b6b7d';
  if (e.error_rate >= 0.1) return '#e5534b';
  if (e.error_rate > 0) return '#e0a32e';
  return '#3fb96f';
}

export function nodeColor(kind: string): string {
  return kindColor[kind] ?? '#8593a3';
}

export class Renderer {
  readonly canvas: HTMLCanvasElement;
  private ctx: CanvasRenderingContext2D;
  cam: Camera = { x: 0, y: 0, k: 1 };
  nodes: DrawNode[] = [];
  edges: DrawEdge[] = [];
  selectedNode: string | null = null;
  selectedEdge: string | null = null;
  hoverNode: string | null = null;
  matches = new Set<string>();
  private width = 0;
  private height = 0;
  private dpr = 1;
  private pending = false;
  onFrame: (() => void) | null = null;
  frames = 0;

  constructor(canvas: HTMLCanvasElement) {
    this.canvas = canvas;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no canvas 2D context');
    this.ctx = ctx;
  }

  resize(): void {
    const rect = this.canvas.getBoundingClientRect();
    this.dpr = window.devicePixelRatio || 1;
    this.width = Math.max(1, rect.width);
    this.height = Math.max(1, rect.height);
    this.canvas.width = Math.round(this.width * this.dpr);
    this.canvas.height = Math.round(this.height * this.dpr);
    this.request();
  }

  get size(): { width: number; height: number } {
    return { width: this.width, height: this.height };
  }

  // World → canvas CSS pixels.
  toScreen(x: number, y: number): [number, number] {
    return [(x - this.cam.x) * this.cam.k + this.width / 2, (y - this.cam.y) * this.cam.k + this.height / 2];
  }

  toWorld(sx: number, sy: number): [number, number] {
    return [(sx - this.width / 2) / this.cam.k + this.cam.x, (sy - this.height / 2) / this.cam.k + this.cam.y];
  }

  // fit centres the camera on the nodes with a margin.
  fit(): void {
    if (this.nodes.length === 0) return;
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (const n of this.nodes) {
      minX = Math.min(minX, n.x - n.r);
      maxX = Math.max(maxX, n.x + n.r);
      minY = Math.min(minY, n.y - n.r);
      maxY = Math.max(maxY, n.y + n.r);
    }
    const w = Math.max(maxX - minX, 1), hgt = Math.max(maxY - minY, 1);
    const margin = 60;
    const k = Math.min((this.width - margin) / w, (this.height - margin) / hgt, 4);
    this.cam = { x: (minX + maxX) / 2, y: (minY + maxY) / 2, k: Math.max(k, 0.02) };
    this.request();
  }

  zoomAt(sx: number, sy: number, factor: number): void {
    const [wx, wy] = this.toWorld(sx, sy);
    const k = Math.min(Math.max(this.cam.k * factor, 0.01), 40);
    this.cam.k = k;
    // keep (wx, wy) under the cursor
    this.cam.x = wx - (sx - this.width / 2) / k;
    this.cam.y = wy - (sy - this.height / 2) / k;
    this.request();
  }

  panBy(dx: number, dy: number): void {
    this.cam.x -= dx / this.cam.k;
    this.cam.y -= dy / this.cam.k;
    this.request();
  }

  request(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  nodeAt(sx: number, sy: number): DrawNode | null {
    const [wx, wy] = this.toWorld(sx, sy);
    let best: DrawNode | null = null;
    let bestD = Infinity;
    const slop = 4 / this.cam.k; // a few pixels around small nodes
    for (const n of this.nodes) {
      const dx = n.x - wx, dy = n.y - wy;
      const d = Math.sqrt(dx * dx + dy * dy) - n.r;
      if (d < slop && d < bestD) {
        best = n;
        bestD = d;
      }
    }
    return best;
  }

  edgeAt(sx: number, sy: number): DrawEdge | null {
    const [wx, wy] = this.toWorld(sx, sy);
    const tol = 5 / this.cam.k;
    let best: DrawEdge | null = null;
    let bestD = tol;
    for (const e of this.edges) {
      let d: number;
      if (e.s === e.t) {
        const [cx, cy, rr] = loopCircle(e.s);
        d = Math.abs(Math.hypot(wx - cx, wy - cy) - rr);
      } else {
        d = segDist(wx, wy, e.s.x, e.s.y, e.t.x, e.t.y);
      }
      // Among overlapping edges the largest (drawn widest) wins.
      if (d < bestD || (best && d === bestD && e.bytes > best.bytes)) {
        best = e;
        bestD = d;
      }
    }
    return best;
  }

  draw(): void {
    const ctx = this.ctx;
    const { k } = this.cam;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.clearRect(0, 0, this.width, this.height);
    ctx.setTransform(this.dpr * k, 0, 0, this.dpr * k, this.dpr * (this.width / 2 - this.cam.x * k), this.dpr * (this.height / 2 - this.cam.y * k));

    const focus = this.selectedNode ?? this.hoverNode;
    // Edges, batched by style. Line widths are in screen pixels.
    const batches = new Map<string, DrawEdge[]>();
    for (const e of this.edges) {
      const key = e.color + '|' + e.width;
      let b = batches.get(key);
      if (!b) batches.set(key, (b = []));
      b.push(e);
    }
    const many = this.edges.length > 2000;
    ctx.globalAlpha = focus ? 0.25 : many ? 0.45 : 0.7;
    for (const [key, list] of batches) {
      const [color, width] = key.split('|');
      ctx.strokeStyle = color!;
      ctx.lineWidth = Number(width) / k;
      ctx.beginPath();
      for (const e of list) this.edgePath(e);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    // Focused edges on top, with arrows.
    const arrows = !many || k > 2;
    for (const e of this.edges) {
      const hot = e.id === this.selectedEdge || (focus !== null && (e.source === focus || e.target === focus));
      if (!hot && !(arrows && this.edges.length <= 1500)) continue;
      if (hot) {
        ctx.strokeStyle = e.id === this.selectedEdge ? '#ffffff' : e.color;
        ctx.lineWidth = (e.width + 1) / k;
        ctx.beginPath();
        this.edgePath(e);
        ctx.stroke();
      }
      if (e.s !== e.t) this.arrow(e, hot);
    }

    // Nodes, batched by colour.
    const byColor = new Map<string, DrawNode[]>();
    for (const n of this.nodes) {
      let b = byColor.get(n.color);
      if (!b) byColor.set(n.color, (b = []));
      b.push(n);
    }
    for (const [color, list] of byColor) {
      ctx.fillStyle = color;
      ctx.beginPath();
      for (const n of list) {
        ctx.moveTo(n.x + n.r, n.y);
        ctx.arc(n.x, n.y, n.r, 0, Math.PI * 2);
      }
      ctx.fill();
    }
    // Rings: selection, hover, search matches.
    ctx.lineWidth = 2 / k;
    for (const n of this.nodes) {
      let ring: string | null = null;
      if (n.id === this.selectedNode) ring = '#ffffff';
      else if (n.id === this.hoverNode) ring = '#d8dee6';
      else if (this.matches.has(n.id)) ring = '#e0a32e';
      if (!ring) continue;
      ctx.strokeStyle = ring;
      ctx.beginPath();
      ctx.arc(n.x, n.y, n.r + 3 / k, 0, Math.PI * 2);
      ctx.stroke();
    }

    // Labels in screen space (constant size), for the nodes that have
    // room: the largest first, skipping any that would overlap a drawn one.
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.font = '12px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const budget = Math.min(400, Math.round(40 * Math.max(1, k)));
    const taken: [number, number, number, number][] = [];
    const cand = this.labelCandidates(budget);
    for (const n of cand) {
      const [sx, sy] = this.toScreen(n.x, n.y);
      if (sx < -50 || sy < -20 || sx > this.width + 50 || sy > this.height + 20) continue;
      const label = n.name.length > 40 ? n.name.slice(0, 39) + '…' : n.name;
      const w = ctx.measureText(label).width;
      const x = sx + n.r * k + 4, y = sy;
      const box: [number, number, number, number] = [x, y - 7, x + w, y + 7];
      const forced = n.id === this.selectedNode || n.id === this.hoverNode || this.matches.has(n.id);
      if (!forced && taken.some((b) => !(box[2] < b[0] || box[0] > b[2] || box[3] < b[1] || box[1] > b[3]))) continue;
      taken.push(box);
      ctx.fillStyle = 'rgba(15,20,25,0.75)';
      ctx.fillRect(x - 2, y - 8, w + 4, 16);
      ctx.fillStyle = forced ? '#ffffff' : '#d8dee6';
      ctx.fillText(label, x, y);
    }
    this.frames++;
    this.onFrame?.();
  }

  private labelCandidates(budget: number): DrawNode[] {
    const forced = this.nodes.filter((n) => n.id === this.selectedNode || n.id === this.hoverNode || this.matches.has(n.id));
    const rest = this.nodes.length <= budget ? this.nodes : [...this.nodes].sort((a, b) => b.bytes - a.bytes).slice(0, budget);
    return [...forced, ...rest.filter((n) => !forced.includes(n))];
  }

  private edgePath(e: DrawEdge): void {
    const ctx = this.ctx;
    if (e.s === e.t) {
      const [cx, cy, rr] = loopCircle(e.s);
      ctx.moveTo(cx + rr, cy);
      ctx.arc(cx, cy, rr, 0, Math.PI * 2);
      return;
    }
    ctx.moveTo(e.s.x, e.s.y);
    ctx.lineTo(e.t.x, e.t.y);
  }

  private arrow(e: DrawEdge, hot: boolean): void {
    const ctx = this.ctx;
    const k = this.cam.k;
    const dx = e.t.x - e.s.x, dy = e.t.y - e.s.y;
    const len = Math.hypot(dx, dy);
    if (len < e.t.r + 2) return;
    const ux = dx / len, uy = dy / len;
    const tipX = e.t.x - ux * (e.t.r + 1 / k), tipY = e.t.y - uy * (e.t.r + 1 / k);
    const size = (4 + e.width) / k;
    ctx.fillStyle = hot ? '#ffffff' : e.color;
    ctx.beginPath();
    ctx.moveTo(tipX, tipY);
    ctx.lineTo(tipX - ux * size - uy * size * 0.5, tipY - uy * size + ux * size * 0.5);
    ctx.lineTo(tipX - ux * size + uy * size * 0.5, tipY - uy * size - ux * size * 0.5);
    ctx.closePath();
    ctx.fill();
  }
}

// A loop (traffic inside a group) is a small circle on the node's
// upper right.
function loopCircle(n: DrawNode): [number, number, number] {
  const rr = n.r * 0.8 + 4;
  return [n.x + n.r * 0.7, n.y - n.r * 0.7, rr];
}

function segDist(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax, dy = by - ay;
  const l2 = dx * dx + dy * dy;
  let t = l2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / l2 : 0;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

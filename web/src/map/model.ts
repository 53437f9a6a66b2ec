// The traffic map as /api/v1/map and its detail endpoints answer it
// (docs/api.md, "Traffic map").

export type MapNode = {
  id: string;
  name: string;
  kind: string;
  labels: Record<string, string>;
  addresses: string[];
  address_count: number;
  members: number;
  bytes: number;
  client_bytes: number;
  server_bytes: number;
  requests: number;
  errors: number;
};

export type MapEdge = {
  source: string;
  target: string;
  transport: string;
  app: string;
  port: number;
  bytes: number;
  packets: number;
  flows: number;
  requests: number;
  errors: number;
  error_rate: number;
  request_rate: number;
  latency_mean_us: number;
  latency_max_us: number;
};

export type MapResponse = {
  from: string;
  to: string;
  group_by: string;
  nodes: MapNode[];
  edges: MapEdge[];
  edges_read: number;
  truncated: boolean;
};

import type { Transaction } from '../lib/apitypes';
export type { Transaction };

export type ProtoStats = {
  proto: string;
  requests: number;
  request_rate: number;
  errors: number;
  error_rate: number;
  latency_count: number;
  latency_mean_us: number;
  latency_p50_us: number;
  latency_p90_us: number;
  latency_p99_us: number;
  latency_max_us: number;
};

export type Breakdown = {
  protocols: ProtoStats[];
  statuses: { proto: string; status: string; outcome: string; count: number }[];
  recent: Transaction[];
};

export type Peer = {
  id: string;
  name: string;
  kind: string;
  bytes_out: number;
  bytes_in: number;
  bytes: number;
  flows: number;
  requests: number;
  errors: number;
  apps: string[];
};

export type NodeResponse = {
  from: string;
  to: string;
  node: MapNode | null;
  addresses: string[];
  addresses_truncated: boolean;
  peers: Peer[];
  edges: MapEdge[];
  served: Breakdown;
  requested: Breakdown;
};

export type EdgeResponse = {
  from: string;
  to: string;
  edge: MapEdge | null;
  clients: string[];
  servers: string[];
  transactions: Breakdown;
};

export type ExtentResponse = { from: string | null; to: string | null };

// edgeId names an edge by its key in the API (source, target, transport,
// protocol, port): unique within one map.
export function edgeId(e: Pick<MapEdge, 'source' | 'target' | 'transport' | 'app' | 'port'>): string {
  return `${e.source}|${e.target}|${e.transport}|${e.app}|${e.port}`;
}

// The map parameters kept in the URL and passed to the API as they are.
export const mapParamKeys = ['group_by', 'app', 'hide_app', 'hide_label', 'omit', 'group_external', 'loops', 'probe', 'group', 'limit'] as const;

export function fmtBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

export function fmtCount(n: number): string {
  if (n < 1000) return String(Math.round(n * 100) / 100);
  if (n < 1e6) return `${(n / 1e3).toFixed(1)}k`;
  return `${(n / 1e6).toFixed(1)}M`;
}

export function fmtUS(us: number): string {
  if (us < 1000) return `${us.toFixed(0)} µs`;
  if (us < 1e6) return `${(us / 1e3).toFixed(us < 1e4 ? 2 : 1)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}

export function fmtPct(r: number): string {
  return `${(r * 100).toFixed(r > 0 && r < 0.01 ? 2 : 1)}%`;
}

// The merged summary report (docs/summary-json.md) as /api/v1/summary and
// /api/v1/summary/windows return it. Only what the dashboard reads is
// typed; sections a center leaves out are optional.

export type Item = { name: string; estimate: number; error?: number };

export type Quantiles = { p50: number; p90: number; p95: number; p99: number; max: number; count: number };

export type Counts = {
  total: number;
  ipv4: number;
  ipv6: number;
  tcp: number;
  udp: number;
  other_l4: number;
  non_ip: number;
  ip_fragments: number;
  in: number;
  out: number;
  unknown_dir: number;
};

export type Loss = {
  [key: string]: number | Record<string, number> | null | undefined;
  malformed?: Record<string, number> | null;
  fragments_dropped?: Record<string, number> | null;
  l7?: Record<string, number> | null;
};

export type ProtoReport = {
  transactions: number;
  ok: number;
  errors: number;
  client_errors: number;
  server_errors: number;
  no_response: number;
  no_request: number;
  one_way: number;
  sqli: number;
  truncated: number;
  request_bytes: number;
  response_bytes: number;
  latency_us: Quantiles;
  top_ops: Item[] | null;
  top_status: Item[] | null;
  top_targets: Item[] | null;
  top_slow: Item[] | null;
};

export type XactDir = { total: number; quantiles_us: Quantiles; top_slow: Item[] | null };

export type DNSReport = {
  wire_packets: Record<string, number>;
  cardinality: { qname: number };
  top_qname2: Item[] | null;
  top_qname3: Item[] | null;
  top_qtype: Item[] | null;
  top_rcode: Item[] | null;
  top_nxdomain: Item[] | null;
  top_refused: Item[] | null;
  top_srvfail: Item[] | null;
  top_udp_ports: Item[] | null;
  xact: { counts: { total: number; timed_out: number }; in: XactDir; out: XactDir };
};

export type HTTPReport = {
  requests: number;
  responses: number;
  top_methods: Item[] | null;
  top_status: Item[] | null;
  top_hosts: Item[] | null;
  top_paths: Item[] | null;
  latency_us: Quantiles;
  top_slow: Item[] | null;
};

export type TLSReport = {
  client_hellos: number;
  server_hellos: number;
  top_sni: Item[] | null;
  top_versions: Item[] | null;
  top_ja4: Item[] | null;
  top_ja3: Item[] | null;
  top_alpn: Item[] | null;
};

export type Report = {
  period: { start_ts: number; length: number; first_ts: number; last_ts: number; seconds: number; merged: number; start_utc: string };
  packets: Counts & {
    tcp_syn: number;
    cardinality: Record<string, number>;
    top_ipv4: Item[] | null;
    top_ipv6: Item[] | null;
    top_ports: Item[] | null;
    rates: Record<string, Quantiles>;
    payload_size: Quantiles;
  };
  bytes: Counts & { top_ipv4: Item[] | null; top_ipv6: Item[] | null; top_ports: Item[] | null; top_conversations: Item[] | null };
  flows: {
    created: number;
    ended_idle: number;
    ended_closed: number;
    ended_active_timeout: number;
    ended_flush: number;
    evicted: number;
    active: number;
    tcp: Record<string, number>;
    rtt_us: Quantiles;
  };
  devices: Record<string, Record<'in' | 'out' | 'other', { packets: number; bytes: number }>> | null;
  loss: Loss;
  l7: Record<string, ProtoReport> | null;
  dns?: DNSReport | null;
  http?: HTTPReport | null;
  tls?: TLSReport | null;
};

export type SummaryResponse = {
  from: string;
  to: string;
  probes: string[] | null;
  windows: number;
  bad_windows: number;
  report: Report | null;
};

export type WindowEntry = { start: string; end: string; probes: string[] | null; packets: number; bytes: number };

export type WindowsResponse = { from: string; to: string; windows: WindowEntry[] | null; bad_windows: number };

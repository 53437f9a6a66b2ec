// The JSON the center's REST API answers (docs/api.md) for the endpoints
// the dashboard and the explorer read. Every string that came from
// captured traffic arrives escaped for JSON and with non-UTF-8 bytes as the
// four characters \xNN; the views show it as text, never as markup.

export type Flow = {
  probe: string;
  start: string;
  end: string;
  transport: string;
  client: string;
  server: string;
  app: string;
  device: string;
  vlan: number;
  tunnel_id: number;
  packets_to_server: number;
  packets_to_client: number;
  bytes_to_server: number;
  bytes_to_client: number;
  retransmissions_to_server: number;
  retransmissions_to_client: number;
  rtt_us: number;
  state: string;
  ended: boolean;
};

export type FlowsResponse = { flows: Flow[]; next: string };

import type { Field, Transaction } from '../lib/apitypes';
export type { Field, Transaction };

export type TransactionsResponse = { transactions: Transaction[]; next: string };

export type TopGroup = { key: Record<string, string>; flows: number; packets: number; bytes: number };
export type TopResponse = { group_by: string[]; order: string; groups: TopGroup[] };

export type Probe = {
  id: string;
  hostname: string;
  version: string;
  labels: Record<string, string> | null;
  devices: string[] | null;
  addresses: string[] | null;
  started: string;
  first_seen: string;
  last_report: string;
  last_seq: number;
  batches: number;
  records: number;
  health: string;
  since_report_s: number;
  stale_after_s: number;
  loss: Record<string, number> | null;
};

export type ProbesResponse = { probes: Probe[] };

// OpenAPI 3 (the part the explorer reads: query parameters).
export type OpenAPIParam = {
  name: string;
  in: string;
  description?: string;
  example?: unknown;
  'x-name-prefix'?: string;
  schema: {
    type: string;
    format?: string;
    enum?: string[];
    items?: { type: string; enum?: string[] };
    minimum?: number;
    maximum?: number;
    maxLength?: number;
    pattern?: string;
    default?: unknown;
  };
};

export type OpenAPIDoc = {
  paths: Record<string, { get?: { parameters?: OpenAPIParam[] } }>;
};

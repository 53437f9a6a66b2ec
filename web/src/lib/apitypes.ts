// Shapes of the center API's answers that several views read
// (docs/api.md). Captured text arrives as JSON strings and is shown as text.

export type Field = { key: string; value: string };

export type Transaction = {
  probe: string;
  proto: string;
  transport: string;
  client: string;
  server: string;
  request_time?: string;
  response_time?: string;
  latency_us?: number;
  request_bytes: number;
  response_bytes: number;
  op: string;
  target: string;
  status: string;
  outcome: string;
  flags: string[] | null;
  fields: Field[] | null;
};

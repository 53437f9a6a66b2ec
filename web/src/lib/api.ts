// The center's REST API (docs/api.md) as seen by the views: one JSON getter
// that turns the API's {"error": "..."} answers into an ApiError.

export type TimeRange = { from: string; to: string };

export type Params = Record<string, string | number | boolean | string[] | undefined>;

export class ApiError extends Error {
  readonly status: number;
  readonly path: string;
  constructor(status: number, path: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.path = path;
  }
}

export function buildURL(path: string, params?: Params): string {
  const q = new URLSearchParams();
  if (params) {
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined || v === '') continue;
      if (Array.isArray(v)) {
        for (const item of v) q.append(k, item);
      } else {
        q.set(k, String(v));
      }
    }
  }
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

export async function getJSON<T>(path: string, params?: Params, signal?: AbortSignal): Promise<T> {
  const url = buildURL(path, params);
  const res = await fetch(url, { signal, headers: { Accept: 'application/json' } });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(res.status, path, `${path}: ${res.status} ${res.statusText}: not JSON`);
  }
  if (!res.ok) {
    const msg =
      body && typeof body === 'object' && 'error' in body && typeof (body as { error: unknown }).error === 'string'
        ? (body as { error: string }).error
        : `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, path, msg);
  }
  return body as T;
}

import type { Clock } from '../core/clock.js';
import { MAX_RESPONSE_BYTES, OutboundRefused, OutboundTooLarge } from './outbound.js';
import { lookup, render, renderDeep, type Variables } from './template.js';

/**
 * One templated HTTP request, shared by the `http` node and conversation tools.
 * Never throws: every failure (bad URL, network, timeout, non-2xx) comes back as
 * a typed result so the flow can take its error edge.
 */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface HttpRequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
  save: Record<string, string>;
}

export type HttpOutcome =
  | { ok: true; status: number; data: unknown; saved: Record<string, unknown>; ms: number }
  | {
      ok: false;
      /** `blocked`: an internal destination not on HTTP_ALLOW_HOSTS (./outbound.ts); `too_large`: over MAX_RESPONSE_BYTES. */
      error: 'bad_url' | 'blocked' | 'network' | 'timeout' | 'status' | 'too_large' | 'aborted';
      status?: number;
      data?: unknown;
      message: string;
      ms: number;
    };

/** Reads a reply body as text, failing past MAX_RESPONSE_BYTES whatever the transport. */
async function readCapped(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel().catch(() => {});
      throw new OutboundTooLarge(`the reply is larger than ${MAX_RESPONSE_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function renderRequest(spec: HttpRequestSpec, vars: Variables): { method: string; url: string; headers: Record<string, string>; body?: string } {
  const url = render(spec.url, vars);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.headers)) headers[k] = render(v, vars);
  const withBody = spec.body !== undefined && spec.method !== 'GET' && spec.method !== 'DELETE';
  if (withBody && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/json';
  }
  return {
    method: spec.method,
    url,
    headers,
    ...(withBody ? { body: JSON.stringify(renderDeep(spec.body, vars)) } : {}),
  };
}

/** Values picked from the reply by dotted path; "" or "." is the whole reply. */
export function pickSaved(save: Record<string, string>, data: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, path] of Object.entries(save)) {
    const value = path === '' || path === '.' ? data : lookup({ $: data }, `$.${path}`);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

export async function performHttpRequest(
  spec: HttpRequestSpec,
  vars: Variables,
  deps: { fetch: FetchLike; clock: Clock; signal?: AbortSignal },
): Promise<HttpOutcome> {
  const started = deps.clock.now();
  const ms = () => Math.round(deps.clock.now() - started);
  const req = renderRequest(spec, vars);
  let parsed: URL;
  try {
    parsed = new URL(req.url);
  } catch {
    return { ok: false, error: 'bad_url', message: `not a URL: ${req.url}`, ms: ms() };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return { ok: false, error: 'bad_url', message: `only http and https URLs are allowed`, ms: ms() };
  }

  const controller = new AbortController();
  let timedOut = false;
  const timer = deps.clock.setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('timeout'));
  }, spec.timeoutMs);
  const onAbort = () => controller.abort(deps.signal?.reason);
  if (deps.signal?.aborted) onAbort();
  deps.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const res = await deps.fetch(parsed.toString(), {
      method: req.method,
      headers: req.headers,
      ...(req.body !== undefined ? { body: req.body } : {}),
      signal: controller.signal,
    });
    const raw = await readCapped(res);
    let data: unknown = raw;
    try {
      data = raw ? JSON.parse(raw) : null;
    } catch {
      // Not JSON: keep the text; `save` paths into it find nothing.
    }
    if (res.status < 200 || res.status >= 300) {
      return { ok: false, error: 'status', status: res.status, data, message: `HTTP ${res.status}`, ms: ms() };
    }
    return { ok: true, status: res.status, data, saved: pickSaved(spec.save, data), ms: ms() };
  } catch (err) {
    if (timedOut) return { ok: false, error: 'timeout', message: `no reply within ${spec.timeoutMs} ms`, ms: ms() };
    if (deps.signal?.aborted) return { ok: false, error: 'aborted', message: 'aborted', ms: ms() };
    if (err instanceof OutboundRefused) return { ok: false, error: 'blocked', message: err.message, ms: ms() };
    if (err instanceof OutboundTooLarge) return { ok: false, error: 'too_large', message: err.message, ms: ms() };
    return { ok: false, error: 'network', message: err instanceof Error ? err.message : String(err), ms: ms() };
  } finally {
    timer.cancel();
    deps.signal?.removeEventListener('abort', onAbort);
  }
}

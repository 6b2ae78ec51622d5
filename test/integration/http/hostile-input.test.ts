import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOW_BODY_LIMIT, SMALL_BODY_LIMIT } from '../../../src/http/body-limits.js';
import { MAX_ECHO_CHARS } from '../../../src/http/errors.js';
import { MAX_JSON_DEPTH } from '../../../src/http/request-body.js';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { bearer, validFlow } from './fixtures.js';

/**
 * Invariant: every 4xx and 5xx is `{ error: { code, message, details? } }`, unknown
 * fields are refused on every API route, echoes are bounded, and deep or odd
 * bodies get a clear 4xx, never a 500.
 */
let t: TestApp;
let port = 0;

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
const api = (method: Method, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({
    method,
    url: `/api/v1${url}`,
    headers: { ...bearer(t.adminKey), ...headers },
    ...(payload === undefined ? {} : typeof payload === 'string' ? { payload } : { payload: payload as object }),
  });

function expectErrorShape(res: { statusCode: number; json(): unknown; headers: Record<string, unknown> }, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
  const body = res.json() as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toMatchObject({ code, message: expect.any(String) });
  return body.error as { code: string; message: string; details?: { issues?: { path: string; message: string }[]; limit?: number } };
}

/** Sends raw bytes to the listening server and returns the raw reply. */
function raw(text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(text));
    let out = '';
    socket.on('data', (c: Buffer) => (out += c.toString()));
    socket.on('close', () => resolve(out));
    socket.on('error', () => resolve(out));
  });
}

beforeAll(async () => {
  t = await buildTestApp({ env: { PUBLIC_URL: 'https://voice.example.com' } });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  port = (t.app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await t.close();
});

describe('one policy for unknown fields', () => {
  it('POST /agents, POST /api-keys, PUT draft and query strings refuse unknown fields with 400 naming them, like PATCH /agents', async () => {
    const cases = [
      await api('POST', '/agents', { name: 'Extra', bogus: 1 }),
      await api('POST', '/api-keys', { name: 'k', role: 'support', bogus: 1 }),
      await api('GET', '/agents?bogus=1'),
    ];
    for (const res of cases) {
      const error = expectErrorShape(res, 400, 'VALIDATION_FAILED');
      expect(error.message).toMatch(/bogus/);
      expect(error.details!.issues![0]!.path).toMatch(/\.bogus$/);
    }
    const id = (await api('POST', '/agents', { name: 'Strict' })).json().id as string;
    const draft = await api('PUT', `/agents/${id}/draft`, { flow: validFlow(), baseRevision: 0, bogus: true });
    expect(expectErrorShape(draft, 400, 'VALIDATION_FAILED').message).toMatch(/bogus/);
    expect(expectErrorShape(await api('PATCH', `/agents/${id}`, { bogus: 1 }), 400, 'VALIDATION_FAILED').message).toMatch(/bogus/);
  });

  it('a wrong body type is reported at "body", not "body."', async () => {
    const error = expectErrorShape(await api('POST', '/agents', []), 400, 'VALIDATION_FAILED');
    expect(error.details!.issues![0]!.path).toBe('body');
    expect(error.message).toMatch(/^body: /);
  });
});

describe('one error shape for Fastify’s and Node’s own errors', () => {
  it('bad JSON, 413, 415, 414, bad URL encoding and unknown routes', async () => {
    expectErrorShape(await api('POST', '/agents', '{bad', { 'content-type': 'application/json' }), 400, 'INVALID_JSON');
    expectErrorShape(await api('POST', '/agents', 'a,b', { 'content-type': 'text/csv' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectErrorShape(await api('POST', '/agents', `"${'a'.repeat(3 * 1024 * 1024)}"`, { 'content-type': 'application/json' }), 413, 'PAYLOAD_TOO_LARGE');
    const long = expectErrorShape(await api('GET', `/agents/${'a'.repeat(5000)}`), 414, 'URI_TOO_LONG');
    expect(long.message.length).toBeLessThan(MAX_ECHO_CHARS * 2 + 10);
    expectErrorShape(await api('GET', '/agents/%E0%A4%A'), 400, 'BAD_REQUEST');
    const missing = expectErrorShape(await t.app.inject({ method: 'GET', url: `/nope/${'x'.repeat(10_000)}` }), 404, 'NOT_FOUND');
    expect(missing.message.length).toBeLessThan(MAX_ECHO_CHARS + 50);
  });

  it('request bodies are limited per route: 64 KiB on Twilio webhooks and small API routes, 2 MiB where a flow travels', async () => {
    const padding = 'x'.repeat(100 * 1024);
    // Small routes: 413 naming the limit, whatever the body holds.
    for (const url of ['/api-keys', '/auth/login', '/staff', '/queues', `/agents/nope/test-chat`]) {
      const error = expectErrorShape(await api('POST', url, JSON.stringify({ name: padding }), { 'content-type': 'application/json' }), 413, 'PAYLOAD_TOO_LARGE');
      expect(error.details).toEqual({ limit: SMALL_BODY_LIMIT });
      expect(error.message).toContain(String(SMALL_BODY_LIMIT));
    }
    const form = `CallSid=CA${'a'.repeat(32)}&Junk=${padding}`;
    for (const url of ['/twilio/voice', '/twilio/status', '/twilio/stream-ended']) {
      expectErrorShape(await t.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: form }), 413, 'PAYLOAD_TOO_LARGE');
    }
    // A flow of the same size is welcome where flows travel; past 2 MiB it is not.
    const big = { ...validFlow(), description: padding };
    const created = await api('POST', '/agents', { name: 'Big flow', flow: big });
    expect(created.statusCode, created.body).toBe(201);
    const saved = await api('PUT', `/agents/${created.json().id}/draft`, { flow: big, baseRevision: 1 });
    expect(saved.statusCode, saved.body).toBe(200);
    const huge = expectErrorShape(await api('POST', '/agents', JSON.stringify({ name: 'Huge', flow: { ...big, description: 'x'.repeat(FLOW_BODY_LIMIT) } }), { 'content-type': 'application/json' }), 413, 'PAYLOAD_TOO_LARGE');
    expect(huge.details).toEqual({ limit: FLOW_BODY_LIMIT });
  });

  it('431 (headers too large) and malformed HTTP, answered before Fastify sees a request', async () => {
    const big = await raw(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(big.slice(big.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'HEADERS_TOO_LARGE', message: expect.any(String) } });
    const garbage = await raw('GARBAGE\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(garbage.slice(garbage.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'BAD_REQUEST' } });
  });

  it('DELETE with Content-Type: application/json and no body works (the README curl session sends it)', async () => {
    const id = (await api('POST', '/agents', { name: 'Doomed' })).json().id as string;
    const res = await api('DELETE', `/agents/${id}`, undefined, { 'content-type': 'application/json' });
    expect(res.statusCode).toBeLessThan(300);
    expect((await api('GET', `/agents/${id}`)).statusCode).toBe(404);
  });
});

describe('deep nesting and bounded echoes', () => {
  const nested = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

  it(`PUT draft with 10,000 nested levels in an http node body gets 400 BODY_TOO_DEEP naming the limit (${MAX_JSON_DEPTH}), not a 500`, async () => {
    const id = (await api('POST', '/agents', { name: 'Deep' })).json().id as string;
    const flow = JSON.stringify(validFlow()).replace(/}$/, '');
    const node = `{"id":"h","type":"http","url":"https://api.example/x","body":${nested(10_000)},"next":"bye"}`;
    const payload = `{"flow":${flow.replace('"nodes":[', `"nodes":[${node},`)}},"baseRevision":0}`;
    const error = expectErrorShape(await api('PUT', `/agents/${id}/draft`, payload, { 'content-type': 'application/json' }), 400, 'BODY_TOO_DEEP');
    expect(error.message).toContain(String(MAX_JSON_DEPTH));
    expect(error.details).toEqual({ limit: MAX_JSON_DEPTH });
    // Depth within the limit is fine, and brackets inside strings do not count.
    const ok = `{"name":"Shallow ${'['.repeat(100)}","unavailable":null}`;
    expect((await api('PATCH', `/agents/${id}`, ok, { 'content-type': 'application/json' })).statusCode).toBe(200);
  });

  it('validate does not echo a 1 MB node id back', async () => {
    const id = (await api('POST', '/agents', { name: 'Echo' })).json().id as string;
    const flow = validFlow() as { nodes: { id: string }[] };
    flow.nodes.push({ id: 'x'.repeat(1024 * 1024), type: 'end' } as never);
    const saved = await api('PUT', `/agents/${id}/draft`, { flow, baseRevision: 0 });
    expect(saved.statusCode).toBeLessThan(500);
    expect(saved.body.length).toBeLessThan(20_000);
    const res = await api('POST', `/agents/${id}/validate`, {});
    expect(res.statusCode).toBeLessThan(500);
    expect(res.body.length).toBeLessThan(20_000);
  });
});

describe('security headers and CORS', () => {
  it('every response carries the security headers; the CSP keeps everything same-origin', async () => {
    for (const url of ['/health', '/api/v1/agents', '/docs/', '/nope']) {
      const res = await t.app.inject({ method: 'GET', url, headers: bearer(t.adminKey) });
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toContain('upgrade-insecure-requests');
    }
  });

  it('the Swagger UI page loads only same-origin scripts (what the CSP allows)', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    const scripts = [...page.body.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, inline] of scripts) {
      expect(attrs).toMatch(/src="\.\//);
      expect(inline!.trim()).toBe('');
    }
  });

  it('cross-origin requests are refused; same-origin and Origin-less requests pass', async () => {
    const evil = await api('GET', '/agents', undefined, { origin: 'https://evil.example' });
    expectErrorShape(evil, 403, 'FORBIDDEN');
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await api('OPTIONS', '/agents', undefined, { origin: 'https://evil.example', 'access-control-request-method': 'DELETE' });
    expect(preflight.statusCode).toBeGreaterThanOrEqual(400);
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    expect((await api('GET', '/agents', undefined, { origin: 'https://voice.example.com' })).statusCode).toBe(200);
    expect((await api('GET', '/agents', undefined, { origin: `http://localhost:80`, host: 'localhost:80' })).statusCode).toBe(200);
    expect((await api('GET', '/agents')).statusCode).toBe(200);
  });
});

describe('agent names and slugs', () => {
  it('names without Latin letters get unique readable slugs instead of 409', async () => {
    const made = [];
    for (const name of ['日本語', 'Русский', '🍕🍕', '日本語']) {
      const res = await api('POST', '/agents', { name });
      expect(res.statusCode).toBe(201);
      made.push(res.json() as { id: string; slug: string; name: string });
    }
    const slugs = made.map((a) => a.slug);
    expect(new Set(slugs).size).toBe(4);
    expect(slugs[1]).toBe('russkiy');
    for (const a of made) expect((await api('GET', `/agents/${a.slug}`)).json()).toMatchObject({ id: a.id, name: a.name });
  });

  it('blank names are refused with a clear 400, on create and rename', async () => {
    const error = expectErrorShape(await api('POST', '/agents', { name: ' \t\n ' }), 400, 'VALIDATION_FAILED');
    expect(error.message).toMatch(/name.*blank/);
    const id = (await api('POST', '/agents', { name: 'Named' })).json().id as string;
    expect(expectErrorShape(await api('PATCH', `/agents/${id}`, { name: '   ' }), 400, 'VALIDATION_FAILED').message).toMatch(/blank/);
  });

  it('a slug may not be (or look like) an agent id', async () => {
    const other = (await api('POST', '/agents', { name: 'Target' })).json() as { id: string };
    const error = expectErrorShape(await api('POST', '/agents', { name: 'Impostor', slug: other.id }), 400, 'VALIDATION_FAILED');
    expect(error.message).toMatch(/ag_/);
    expect((await api('GET', `/agents/${other.id}`)).json().name).toBe('Target');
  });
});

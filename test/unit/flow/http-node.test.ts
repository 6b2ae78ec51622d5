import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { performHttpRequest } from '../../../src/flow/http-request.js';
import { createOutboundFetch } from '../../../src/flow/outbound.js';
import { harness, makeFlow } from './harness.js';

/** A real loopback server: the http node and tools go through the real transport (src/flow/outbound.ts). */
interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Loopback is internal: these tests name it in the allow-list (HTTP_ALLOW_HOSTS). */
const loopback = createOutboundFetch({ allowHosts: ['127.0.0.1'] });

let server: http.Server;
let base = '';
const seen: Seen[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (req.url!.startsWith('/slow')) {
        const t = setTimeout(() => res.end('{}'), 2000);
        res.on('close', () => clearTimeout(t));
        return;
      }
      if (req.url!.startsWith('/fail')) {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"down"}');
        return;
      }
      if (req.url!.startsWith('/text')) {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('plain words');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ order: { id: 'A-17', items: [{ name: 'pizza' }] }, ok: true }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

function httpFlow(node: Record<string, unknown>) {
  return makeFlow(
    [
      { id: 'h', type: 'http', next: 'ok', onError: 'err', ...node } as never,
      { id: 'ok', type: 'end', text: 'ok {{orderId}} {{first}}' },
      { id: 'err', type: 'end', text: 'error' },
    ],
    { variables: { token: 's3cret', pizza: 'margherita' } },
  );
}

describe('http node against a loopback server', () => {
  it('sends the templated method, URL, headers and JSON body and saves reply fields by dotted path', async () => {
    seen.length = 0;
    const flow = httpFlow({
      method: 'POST',
      url: `${base}/orders?caller={{caller.number}}`,
      headers: { authorization: 'Bearer {{token}}' },
      body: { pizza: '{{pizza}}', qty: 2, nested: ['{{call.sid}}'] },
      save: { orderId: 'order.id', first: 'order.items.0.name', all: '' },
    });
    const h = harness(flow, { clock: systemClock, http: loopback });
    expect((await h.interpreter.run()).outcome).toBe('completed');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.method).toBe('POST');
    expect(seen[0]!.url).toBe('/orders?caller=+15550100999');
    expect(seen[0]!.headers.authorization).toBe('Bearer s3cret');
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(seen[0]!.body)).toEqual({ pizza: 'margherita', qty: 2, nested: ['CA123'] });
    expect(h.port.texts).toEqual(['ok A-17 pizza']);
    expect(h.interpreter.snapshot().variables.all).toMatchObject({ ok: true });
    expect(h.eventsOf('tool.called')[0]).toMatchObject({ name: 'h', status: 200 });
  });

  it('a non-2xx reply takes onError', async () => {
    const h = harness(httpFlow({ url: `${base}/fail` }), { clock: systemClock, http: loopback });
    await h.interpreter.run();
    expect(h.port.texts).toEqual(['error']);
    expect(h.eventsOf('tool.called')[0]).toMatchObject({ status: 503 });
  });

  it('a reply slower than timeoutMs takes onError', async () => {
    const h = harness(httpFlow({ url: `${base}/slow`, timeoutMs: 100 }), { clock: systemClock, http: loopback });
    await h.interpreter.run();
    expect(h.port.texts).toEqual(['error']);
    expect(h.eventsOf('tool.called')[0]).toMatchObject({ status: 'timeout' });
  });

  it('a refused connection takes onError; without onError the fallback applies', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const h = harness(httpFlow({ url: `http://127.0.0.1:${port}/x` }), { clock: systemClock, http: loopback });
    await h.interpreter.run();
    expect(h.eventsOf('tool.called')[0]).toMatchObject({ status: 'network' });
    expect(h.port.texts).toEqual(['error']);

    const noEdge = makeFlow([{ id: 'h', type: 'http', url: `http://127.0.0.1:${port}/x`, next: 'ok' }, { id: 'ok', type: 'end' }], { fallbackMessage: 'Sorry.' });
    const h2 = harness(noEdge, { clock: systemClock, http: loopback });
    expect((await h2.interpreter.run()).reason).toBe('http_network');
    expect(h2.port.texts).toEqual(['Sorry.']);
  });

  it('bad or non-http URLs fail without a request', async () => {
    const deps = { fetch: () => Promise.reject(new Error('must not be called')), clock: systemClock };
    const spec = { method: 'GET' as const, headers: {}, timeoutMs: 1000, save: {} };
    expect(await performHttpRequest({ ...spec, url: '{{missing}}/x' }, {}, deps)).toMatchObject({ ok: false, error: 'bad_url' });
    expect(await performHttpRequest({ ...spec, url: 'file:///etc/passwd' }, {}, deps)).toMatchObject({ ok: false, error: 'bad_url' });
  });

  it('a non-JSON reply is kept as text; save paths into it find nothing', async () => {
    const r = await performHttpRequest({ method: 'GET', url: `${base}/text`, headers: {}, timeoutMs: 1000, save: { x: 'a.b', whole: '.' } }, {}, { fetch: loopback, clock: systemClock });
    expect(r).toMatchObject({ ok: true, status: 200, data: 'plain words', saved: { whole: 'plain words' } });
  });

  it('GET sends no body even if one is configured', async () => {
    seen.length = 0;
    await performHttpRequest({ method: 'GET', url: `${base}/x`, headers: {}, body: { a: 1 }, timeoutMs: 1000, save: {} }, {}, { fetch: loopback, clock: systemClock });
    expect(seen[0]!.body).toBe('');
    expect(seen[0]!.headers['content-type']).toBeUndefined();
  });
});

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { performHttpRequest, type HttpRequestSpec } from '../../../src/flow/http-request.js';
import { createOutboundFetch, isInternalAddress, MAX_RESPONSE_BYTES } from '../../../src/flow/outbound.js';
import { loadConfig, ConfigError } from '../../../src/config.js';
import { harness, makeFlow } from './harness.js';

/**
 * Server-side request forgery: flows must not reach the server's own network.
 * One loopback server plays both a "secret" internal service and, through a
 * resolver stub and the allow-list, a permitted API that redirects.
 */
interface Seen {
  url: string;
  host: string | undefined;
  authorization: string | undefined;
  method: string;
}
let server: http.Server;
let port = 0;
const seen: Seen[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push({ url: req.url!, host: req.headers.host, authorization: req.headers.authorization, method: req.method! });
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/secret') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"secret":"s3cr3t"}');
    if (url.pathname === '/redirect') return void res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to')! }).end();
    if (url.pathname === '/big') return void res.writeHead(200).end('x'.repeat(MAX_RESPONSE_BYTES + 1));
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const spec = (url: string, extra: Partial<HttpRequestSpec> = {}): HttpRequestSpec => ({ method: 'GET', url, headers: {}, timeoutMs: 2000, save: {}, ...extra });
const get = (fetch: ReturnType<typeof createOutboundFetch>, url: string, extra?: Partial<HttpRequestSpec>) =>
  performHttpRequest(spec(url, extra), {}, { fetch, clock: systemClock });

/** `api.test` is "public" for these tests: it resolves to loopback and is allowed by name. */
const resolveApi = async (hostname: string) => {
  if (hostname === 'api.test' || hostname === 'other.test') return [{ address: '127.0.0.1', family: 4 }];
  if (hostname === 'rebind.test') return [{ address: '127.0.0.1', family: 4 }];
  throw new Error(`unexpected lookup ${hostname}`);
};

describe('outbound requests from flows (SSRF)', () => {
  it.each([
    '127.0.0.1', '127.8.9.10', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd00:ec2::254', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:10.0.0.1',
    '64:ff9b::a9fe:a9fe', '2002:7f00:1::1', 'ff02::1', 'not-an-ip',
  ])('%s is internal', (address) => {
    expect(isInternalAddress(address)).toBe(true);
  });

  it.each(['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8', '172.32.0.1', '100.128.0.1'])('%s is public', (address) => {
    expect(isInternalAddress(address)).toBe(false);
  });

  it('an http node cannot read a loopback service: it takes onError, and nothing reaches the service', async () => {
    seen.length = 0;
    const flow = makeFlow([
      { id: 'h', type: 'http', url: `http://127.0.0.1:${port}/secret`, save: { s: 'secret' }, next: 'say', onError: 'err' },
      { id: 'say', type: 'end', text: 'got {{s}}' },
      { id: 'err', type: 'end', text: 'refused' },
    ]);
    const h = harness(flow, { clock: systemClock }); // the interpreter's default transport
    await h.interpreter.run();
    expect(h.port.texts).toEqual(['refused']);
    expect(seen).toEqual([]);
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://[::1]:1/x', 'http://[::ffff:127.0.0.1]:1/x', 'http://localhost:1/x', 'http://0x7f000001:1/x']) {
      expect(await get(createOutboundFetch(), url)).toMatchObject({ ok: false, error: 'blocked' });
    }
  });

  it('HTTP_ALLOW_HOSTS names exceptions by address, CIDR or host name', async () => {
    for (const allowHosts of [['127.0.0.1'], ['127.0.0.0/8'], ['api.test']]) {
      const fetch = createOutboundFetch({ allowHosts, resolve: resolveApi });
      const host = allowHosts[0] === 'api.test' ? 'api.test' : '127.0.0.1';
      expect(await get(fetch, `http://${host}:${port}/ok`)).toMatchObject({ ok: true, status: 200 });
    }
    // A host name that resolves to an internal address is refused unless named.
    expect(await get(createOutboundFetch({ resolve: resolveApi }), `http://api.test:${port}/ok`)).toMatchObject({ ok: false, error: 'blocked' });
  });

  it('connects to the address it checked: a second DNS answer (rebinding) is never asked for', async () => {
    seen.length = 0;
    const answers = ['127.0.0.2', '127.0.0.1']; // first an allowed address, then the internal one
    let lookups = 0;
    const fetch = createOutboundFetch({
      allowHosts: ['127.0.0.2'],
      resolve: async () => [{ address: answers[Math.min(lookups++, 1)]!, family: 4 }],
    });
    const r = await get(fetch, `http://rebind.test:${port}/secret`);
    // Nothing listens on 127.0.0.2: the connection went to the checked address, not to the server on 127.0.0.1.
    expect(r).toMatchObject({ ok: false, error: 'network' });
    expect(lookups).toBe(1);
    expect(seen).toEqual([]);
  });

  it('every redirect hop is checked: an allowed API cannot bounce the request to loopback or the metadata address', async () => {
    const fetch = createOutboundFetch({ allowHosts: ['api.test', 'other.test'], resolve: resolveApi });
    seen.length = 0;
    const toSecret = `http://api.test:${port}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${port}/secret`)}`;
    expect(await get(fetch, toSecret)).toMatchObject({ ok: false, error: 'blocked' });
    expect(seen.map((s) => s.url)).toEqual([expect.stringMatching(/^\/redirect/)]);
    const toMetadata = `http://api.test:${port}/redirect?status=307&to=${encodeURIComponent('http://169.254.169.254/latest/meta-data/')}`;
    expect(await get(fetch, toMetadata)).toMatchObject({ ok: false, error: 'blocked' });
  });

  it('allowed redirects are followed: 303 turns a POST into a GET, and credentials stay with their origin', async () => {
    const fetch = createOutboundFetch({ allowHosts: ['api.test', 'other.test'], resolve: resolveApi });
    seen.length = 0;
    const url = `http://api.test:${port}/redirect?status=303&to=${encodeURIComponent(`http://other.test:${port}/ok`)}`;
    const r = await get(fetch, url, { method: 'POST', body: { a: 1 }, headers: { authorization: 'Bearer t0ken' } });
    expect(r).toMatchObject({ ok: true, data: { ok: true } });
    expect(seen.map((s) => [s.method, s.host, s.authorization])).toEqual([
      ['POST', `api.test:${port}`, 'Bearer t0ken'],
      ['GET', `other.test:${port}`, undefined],
    ]);
  });

  it('endless redirects and oversized replies fail the request', async () => {
    const fetch = createOutboundFetch({ allowHosts: ['127.0.0.1'] });
    let self = `http://127.0.0.1:${port}/ok`;
    for (let i = 0; i < 7; i++) self = `http://127.0.0.1:${port}/redirect?to=${encodeURIComponent(self)}`;
    expect(await get(fetch, self)).toMatchObject({ ok: false, error: 'network', message: expect.stringMatching(/redirects/) });
    expect(await get(fetch, `http://127.0.0.1:${port}/big`)).toMatchObject({ ok: false, error: 'too_large' });
    // The cap holds for any transport, not only this one.
    const huge = async () => new Response('y'.repeat(MAX_RESPONSE_BYTES + 1));
    expect(await performHttpRequest(spec('https://api.example/x'), {}, { fetch: huge, clock: systemClock })).toMatchObject({ ok: false, error: 'too_large' });
  });

  it('HTTP_ALLOW_HOSTS is parsed from the environment; a bad entry stops the start naming it', () => {
    expect(loadConfig({ HTTP_ALLOW_HOSTS: ' api.internal, 10.1.0.0/16 ,::1' }).HTTP_ALLOW_HOSTS).toEqual(['api.internal', '10.1.0.0/16', '::1']);
    expect(loadConfig({}).HTTP_ALLOW_HOSTS).toEqual([]);
    expect(() => loadConfig({ HTTP_ALLOW_HOSTS: '10.0.0.0/99' })).toThrow(ConfigError);
    expect(() => loadConfig({ HTTP_ALLOW_HOSTS: 'http://x/' })).toThrow(/HTTP_ALLOW_HOSTS/);
  });
});

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleRoutes } from '../../../src/http/console.js';
import { buildTestApp, type TestApp } from '../../support/app.js';

/** The /console static plugin on its own, with a built folder and without one. */
describe('console static files', () => {
  let dir: string;
  let app: FastifyInstance;
  let bare: FastifyInstance;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'console-dist-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title><div id="app"></div>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    app = Fastify();
    await app.register(consoleRoutes, { root: dir });
    bare = Fastify();
    await bare.register(consoleRoutes, { root: join(dir, 'missing') });
  });

  afterAll(async () => {
    await app.close();
    await bare.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at /console, /console/ and every client-side route, revalidated each time', async () => {
    for (const url of ['/console', '/console/', '/console/agents', '/console/agents/clinic/versions', '/console/activate?token=abc']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toMatch(/^text\/html/);
      expect(res.headers['cache-control'], url).toBe('no-cache');
      expect(res.body, url).toContain('<div id="app">');
    }
  });

  it('serves hashed assets as immutable and answers a missing asset with 404, not the app', async () => {
    const js = await app.inject({ method: 'GET', url: '/console/assets/index-abc123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const missing = await app.inject({ method: 'GET', url: '/console/assets/gone-000.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect((await app.inject({ method: 'POST', url: '/console/agents' })).statusCode).toBe(404);
  });

  it('explains a missing build with 503 instead of failing', async () => {
    for (const url of ['/console', '/console/', '/console/agents/x']) {
      const res = await bare.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(503);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('npm run build:console');
    }
  });
});

describe('console in the app', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(async () => t.close());

  it('is mounted beside the API, which stays authenticated', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/console/agents' });
    // 200 when `npm install` built it, 503 with instructions when not: never a crash.
    expect([200, 503]).toContain(res.statusCode);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    // The app-wide security headers cover the console too; it needs no inline script.
    expect(res.headers['content-security-policy']).toMatch(/script-src 'self'(;|$)/);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/agents' })).statusCode).toBe(401);
  });
});

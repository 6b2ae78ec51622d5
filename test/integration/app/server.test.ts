import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { createContainer, type Container } from '../../../src/container.js';
import { silentLogger } from '../../../src/core/logger.js';

let app: FastifyInstance | undefined;
let container: Container | undefined;

async function start(): Promise<{ app: FastifyInstance; container: Container }> {
  container = await createContainer(loadConfig({ DATABASE_URL: 'sqlite::memory:' }), silentLogger);
  app = await buildApp(container);
  return { app, container };
}

afterEach(async () => {
  await app?.close();
  await container?.close();
  app = undefined;
  container = undefined;
});

describe('server basics', () => {
  it('answers /health', async () => {
    const { app } = await start();
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('is not ready while start-up tasks are pending, then ready', async () => {
    const { app, container } = await start();
    container.readiness.pending.add('warm-up');
    const busy = await app.inject({ method: 'GET', url: '/ready' });
    expect(busy.statusCode).toBe(503);
    expect(busy.json().pending).toContain('warm-up');
    container.readiness.pending.delete('warm-up');
    expect((await app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
  });

  it('unknown routes get the error shape with a stable code', async () => {
    const { app } = await start();
    const res = await app.inject({ method: 'GET', url: '/nope?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no route GET /nope' } });
  });

  it('refuses new work with 503 while shutting down, but still answers /health', async () => {
    const { app, container } = await start();
    container.readiness.shuttingDown = true;
    const res = await app.inject({ method: 'GET', url: '/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('SHUTTING_DOWN');
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('serves the OpenAPI document at /docs', async () => {
    const { app } = await start();
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    expect(res.json().openapi).toMatch(/^3\./);
  });
});

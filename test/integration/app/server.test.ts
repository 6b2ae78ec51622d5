import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { createContainer, type Container } from '../../../src/container.js';
import { silentLogger } from '../../../src/core/logger.js';
import { createShutdown } from '../../../src/http/shutdown.js';

let app: FastifyInstance | undefined;
let container: Container | undefined;

async function start(): Promise<{ app: FastifyInstance; container: Container }> {
  container = await createContainer(loadConfig({ DATABASE_URL: 'sqlite::memory:' }), silentLogger);
  app = await buildApp(container);
  return { app, container };
}

let appClosed = false;
afterEach(async () => {
  if (!appClosed) {
    await app?.close();
    await container?.close();
  }
  appClosed = false;
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

  it('shutdown with no live calls: ready turns 503 at once, then the history is flushed, app and container close, exit 0', async () => {
    const { app, container } = await start();
    const exits: number[] = [];
    let flushed = 0;
    const flush = container.callRecorder.flush.bind(container.callRecorder);
    container.callRecorder.flush = async () => {
      flushed++;
      await flush();
    };
    const done = createShutdown({ app, container, exit: (code) => exits.push(code) }).begin('SIGTERM');
    // Not ready from the moment it begins (the drain with live calls is test/scenarios/shutdown-drain.test.ts).
    expect(container.readiness.shuttingDown).toBe(true);
    expect((await app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(503);
    expect(await done).toEqual({ seen: 0, stopped: 0 });
    expect(flushed).toBeGreaterThanOrEqual(1);
    expect(exits).toEqual([0]);
    // Closed by the shutdown itself.
    await expect(app.inject({ method: 'GET', url: '/health' })).rejects.toThrow();
    appClosed = true;
  });

  it('serves the OpenAPI document at /docs', async () => {
    const { app } = await start();
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    expect(res.json().openapi).toMatch(/^3\./);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { parseScrape } from '../../support/prometheus.js';

/**
 * Invariant: GET /metrics answers the Prometheus text format outside the API's
 * auth; with METRICS_TOKEN set, only `Authorization: Bearer <METRICS_TOKEN>`
 * gets it (401 otherwise, the token never accepted elsewhere).
 */
const TOKEN = 'metrics-token-0123456789abcdef';

describe('GET /metrics without METRICS_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(async () => t.close());

  it('answers the text format, which parses, with the call figures and the process event-loop delay', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parseScrape(res.body);
    expect(m.value('voice_calls_in_progress')).toBe(0);
    expect(m.type('voice_turn_response_seconds')).toBe('HISTOGRAM');
    expect(m.names).toEqual(expect.arrayContaining(['voice_calls_ended_total', 'voice_barge_ins_total', 'voice_provider_errors_total', 'voice_playout_underruns_total', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds']));
  });

  it('keeps answering while the server drains for shutdown', async () => {
    t.container.readiness.shuttingDown = true;
    try {
      expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    } finally {
      t.container.readiness.shuttingDown = false;
    }
  });
});

describe('GET /metrics with METRICS_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ env: { METRICS_TOKEN: TOKEN } });
  });
  afterAll(async () => t.close());

  it('answers 401 without the token, with a wrong one and with an API key', async () => {
    for (const authorization of [undefined, `Bearer ${TOKEN}x`, `Bearer ${t.adminKey}`, TOKEN, `Basic ${TOKEN}`]) {
      const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });
      expect(res.statusCode, String(authorization)).toBe(401);
      expect(res.json().error.code).toBe('UNAUTHENTICATED');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    }
  });

  it('answers the metrics to the bearer token', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.statusCode).toBe(200);
    expect(parseScrape(res.body).value('voice_calls_in_progress')).toBe(0);
  });

  it('is not an API credential', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/agents', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.statusCode).toBe(401);
  });
});

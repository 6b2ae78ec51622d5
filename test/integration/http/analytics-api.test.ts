import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAnalyticsDate } from '../../../src/http/routes/analytics.js';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { bearer } from './fixtures.js';

/**
 * Invariant: GET /analytics refuses what it cannot read (400 naming the
 * parameter): dates that are not dates, `from` after `to`, a version without
 * its agent, unknown parameters; dates mean UTC days, and a date as `to`
 * includes that whole day.
 */
let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const get = (query: string) => t.app.inject({ method: 'GET', url: `/api/v1/analytics${query}`, headers: bearer(t.adminKey) });

describe('GET /analytics', () => {
  it.each([
    ['?from=yesterday', 'from'],
    ['?to=2026-13-01', 'to'],
    ['?from=2026-02-31', 'from'],
    ['?from=2026-03-01T10:00:00', 'from'],
    ['?from=1700000000000', 'from'],
  ])('%s is a 400 naming %s', async (query, name) => {
    const res = await get(query);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error.code).toBe('BAD_REQUEST');
    expect(res.json().error.message).toContain(name);
  });

  it('refuses from after to, a version without agentId, and unknown parameters', async () => {
    expect((await get('?from=2026-03-05&to=2026-03-01')).json().error.message).toContain('from must not be after to');
    expect((await get('?from=2026-03-02T00:00:00Z&to=2026-03-01T23:00:00Z')).statusCode).toBe(400);
    expect((await get('?version=2')).json().error.message).toContain('version needs agentId');
    expect((await get('?version=two&agentId=a')).statusCode).toBe(400);
    expect((await get('?agent=a')).statusCode).toBe(400);
  });

  it('answers an empty report for a range without calls, echoing the range (a date as to includes that day)', async () => {
    const res = await get('?from=2026-03-01&to=2026-03-01');
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z', agentId: null, version: null, days: [], agents: [], versions: [] });
    expect(body.totals).toMatchObject({ calls: 0, transferRate: null, outcomes: { completed: 0, transferred: 0, abandoned: 0, failed: 0, unavailable: 0, other: 0 } });
  });

  it('defaults to the last 30 days up to now', async () => {
    const body = (await get('')).json();
    expect(Date.parse(body.to) - Date.parse(body.from)).toBe(30 * 86_400_000);
    expect(Math.abs(Date.parse(body.to) - Date.now())).toBeLessThan(60_000);
  });

  it('reads zoned date-times as instants', () => {
    expect(parseAnalyticsDate('2026-03-01T10:00:00+02:00', 'from')).toBe(Date.UTC(2026, 2, 1, 8));
    expect(parseAnalyticsDate('2026-03-01', 'to')).toBe(Date.UTC(2026, 2, 2));
  });
});

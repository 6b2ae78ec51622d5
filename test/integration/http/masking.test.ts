import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES, type Role } from '../../../src/auth/roles.js';
import { newCallRecord } from '../../../src/calls/call-record.js';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { bearer, documentedApiRoutes, keysByRole, signedIn } from './fixtures.js';

/**
 * Invariant: a caller's number reaches a viewer only if they may see it (a person
 * with showRealPhoneNumbers, or an admin API key); everyone else gets
 * `+<cc>****<last four>`. The walk covers every GET route of the API, so a new
 * route that carries numbers without masking fails here.
 */
const CALLER = '+447700900123';
const MASKED = '+44****0123';
const SPOKEN = '+14155550199';
const CALL = 'CAmasking00000000000000000000001';

/** Routes that carry callers' numbers, with the path to request. */
const CARRIERS: Record<string, string> = {
  'GET /calls': '/api/v1/calls',
  'GET /calls/:id': `/api/v1/calls/${CALL}`,
};

let t: TestApp;
const viewers: { name: string; token: string; sees: boolean }[] = [];

beforeAll(async () => {
  t = await buildTestApp();
  const keys = await keysByRole(t);
  for (const role of ROLES) {
    viewers.push({ name: `${role} key`, token: keys[role], sees: role === 'admin' });
    for (const show of [false, true]) {
      viewers.push({ name: `${role} person, showRealPhoneNumbers ${show}`, token: (await signedIn(t, role as Role, { showRealPhoneNumbers: show })).token, sees: show });
    }
  }
  const record = newCallRecord({ callSid: CALL, accountSid: 'AC1', agentId: 'ag', slug: 's', version: 1, from: CALLER, to: '+15550100002', direction: 'inbound', nowMs: Date.now() });
  record.turns.push({ role: 'caller', text: `my other number is ${SPOKEN}`, at: Date.now(), via: 'speech' });
  record.nextStep = { kind: 'dial', number: CALLER };
  await t.container.callHistory.save(record);
  await t.container.callHistory.appendEvents([{ type: 'transfer.requested', callSid: CALL, at: Date.now(), mode: 'cold', target: { number: CALLER }, nodeId: 'n' }]);
});
afterAll(async () => t.close());

describe.each(Object.keys(CARRIERS))('%s', (route) => {
  it('shows real numbers exactly to the viewers allowed, masked ones to everyone else', async () => {
    for (const v of viewers) {
      const res = await t.app.inject({ method: 'GET', url: CARRIERS[route]!, headers: bearer(v.token) });
      expect(res.statusCode, v.name).toBe(200);
      if (v.sees) {
        expect(res.body, v.name).toContain(CALLER);
      } else {
        expect(res.body, v.name).not.toContain(CALLER);
        expect(res.body, v.name).not.toContain(SPOKEN);
        expect(res.body, v.name).toContain(MASKED);
      }
    }
  });
});

describe('every GET route', () => {
  it('never shows the caller’s number to a viewer who may not see it', async () => {
    const masked = viewers.find((v) => v.name === 'support person, showRealPhoneNumbers false')!;
    const routes = (await documentedApiRoutes(t.app)).filter((r) => r.startsWith('GET ') && r !== 'GET /workspace');
    expect(routes.length).toBeGreaterThan(10);
    for (const route of routes) {
      const url = CARRIERS[route] ?? `/api/v1${route.slice(4).replace(/:\w+/g, 'x')}`;
      const res = await t.app.inject({ method: 'GET', url, headers: bearer(masked.token) });
      expect(res.body, route).not.toContain(CALLER);
      if (res.statusCode === 200 && res.body.includes(MASKED)) expect(Object.keys(CARRIERS), route).toContain(route);
    }
  });
});

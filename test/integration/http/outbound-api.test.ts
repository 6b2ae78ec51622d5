import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../../src/testing/twilio-rest.js';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { agentIn, bearer, keysByRole, uniqueNumber } from './fixtures.js';

/**
 * POST /calls refuses bad input with a clear 4xx and dials nothing: an invalid
 * number, an unknown, draft or inactive agent, an agent with no number to call
 * from, unknown fields, bad variables. What it accepts is answered 202 with the
 * request's state, numbers masked for viewers who may not see them.
 */

const ACCOUNT_SID = 'AC' + 'a'.repeat(32);
const CALLEE = '+14155550123';
let t: TestApp;
let rest: FakeTwilioRest;
let keys: Awaited<ReturnType<typeof keysByRole>>;

beforeAll(async () => {
  rest = await startFakeTwilioRest();
  t = await buildTestApp({ env: { TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: 'outbound-token', TWILIO_API_BASE_URL: rest.url } });
  keys = await keysByRole(t);
});
afterAll(async () => {
  await t.close();
  await rest.close();
});

async function callableAgent() {
  const agent = await agentIn(t, 'active');
  await t.container.persistence.phoneNumbers.assign(uniqueNumber(), agent.id);
  return agent;
}

const post = (payload: unknown, key = t.adminKey) =>
  t.app.inject({ method: 'POST', url: '/api/v1/calls', headers: bearer(key), payload: payload as object });

const creates = () => rest.requests.filter((r) => r.path.endsWith('/Calls.json')).length;

describe('POST /calls: bad input', () => {
  it.each([
    ['an invalid number', async () => ({ agentId: (await callableAgent()).id, to: '+1555010' }), 400, 'VALIDATION_FAILED'],
    ['a number that is not one', async () => ({ agentId: (await callableAgent()).id, to: 'call me maybe' }), 400, 'VALIDATION_FAILED'],
    ['an unknown agent', async () => ({ agentId: 'ag_nobody', to: CALLEE }), 404, 'NOT_FOUND'],
    ['a draft agent', async () => ({ agentId: (await agentIn(t, 'draft')).id, to: CALLEE }), 409, 'AGENT_NOT_ACTIVE'],
    ['an inactive agent', async () => ({ agentId: (await agentIn(t, 'inactive')).id, to: CALLEE }), 409, 'AGENT_NOT_ACTIVE'],
    ['an agent without a number', async () => ({ agentId: (await agentIn(t, 'active')).id, to: CALLEE }), 409, 'CONFLICT'],
    ['an unknown field', async () => ({ agentId: (await callableAgent()).id, to: CALLEE, from: '+14155550100' }), 400, undefined],
    ['a bad variable name', async () => ({ agentId: (await callableAgent()).id, to: CALLEE, variables: { 'a b': 1 } }), 400, 'VALIDATION_FAILED'],
    ['a nested variable', async () => ({ agentId: (await callableAgent()).id, to: CALLEE, variables: { a: { b: 1 } } }), 400, undefined],
  ])('%s: a clear 4xx, nothing dialled', async (_what, payload, status, code) => {
    const before = creates();
    const res = await post(await payload());
    expect(res.statusCode, res.body).toBe(status);
    if (code) expect(res.json().error.code).toBe(code);
    expect(res.json().error.message.length).toBeGreaterThan(10);
    expect(creates()).toBe(before);
  });

  it('support may not place calls (403), builders and admins may', async () => {
    const agent = await callableAgent();
    expect((await post({ agentId: agent.id, to: CALLEE }, keys.support)).statusCode).toBe(403);
    expect((await post({ agentId: agent.id, to: CALLEE }, keys.builder)).statusCode).toBe(202);
    expect((await post({ agentId: agent.id, to: CALLEE })).statusCode).toBe(202);
  });
});

describe('POST /calls: accepted', () => {
  it('202 with the request: dialled at once, the CallSid, numbers masked for a non-admin key', async () => {
    const agent = await callableAgent();
    const res = await post({ agentId: agent.slug, to: '+1 (415) 555-0123', variables: { name: 'Ada' } }, keys.builder);
    expect(res.statusCode, res.body).toBe(202);
    const body = res.json();
    expect(body).toMatchObject({ state: 'dialing', agent: { id: agent.id, slug: agent.slug }, to: '+1****0123', machineDetection: false, version: 1 });
    expect(body.callSid).toMatch(/^CA[0-9a-f]{32}$/);
    // Placed in E.164 from the agent's number; the admin sees real numbers.
    const create = rest.requests.filter((r) => r.path.endsWith('/Calls.json')).at(-1)!;
    expect(create.form.To).toBe(CALLEE);
    expect(create.form).not.toHaveProperty('MachineDetection');
    const seen = await t.app.inject({ method: 'GET', url: `/api/v1/calls/outbound/${body.id}`, headers: bearer(t.adminKey) });
    expect(seen.json()).toMatchObject({ id: body.id, to: CALLEE, callSid: body.callSid });
    const call = await t.app.inject({ method: 'GET', url: `/api/v1/calls/${body.callSid}`, headers: bearer(t.adminKey) });
    expect(call.json()).toMatchObject({ direction: 'outbound', to: CALLEE, state: 'connecting' });
  });

  it('Twilio refuses the call: the request ends failed with Twilio’s code', async () => {
    const agent = await callableAgent();
    rest.failNext(400);
    const res = await post({ agentId: agent.id, to: CALLEE });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ state: 'ended', outcome: 'failed', callSid: null, error: { code: 'TWILIO_20500' } });
  });

  it('an unknown request id is a 404', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/calls/outbound/ob_nope', headers: bearer(t.adminKey) });
    expect(res.statusCode).toBe(404);
  });

  it('outbound limits: shown with defaults, set and validated through PATCH /agents/:id', async () => {
    const agent = await agentIn(t, 'draft');
    const url = `/api/v1/agents/${agent.id}`;
    expect((await t.app.inject({ method: 'GET', url, headers: bearer(t.adminKey) })).json().outbound).toEqual({ maxConcurrent: 5, perMinute: 30 });
    const bad = await t.app.inject({ method: 'PATCH', url, headers: bearer(t.adminKey), payload: { outbound: { maxConcurrent: 0, perMinute: 1 } } });
    expect(bad.statusCode).toBe(400);
    const ok = await t.app.inject({ method: 'PATCH', url, headers: bearer(t.adminKey), payload: { outbound: { maxConcurrent: 2, perMinute: 10 } } });
    expect(ok.json().outbound).toEqual({ maxConcurrent: 2, perMinute: 10 });
    const reset = await t.app.inject({ method: 'PATCH', url, headers: bearer(t.adminKey), payload: { outbound: null } });
    expect(reset.json().outbound).toEqual({ maxConcurrent: 5, perMinute: 30 });
  });
});

describe('POST /calls without Twilio credentials', () => {
  it('503 NOT_CONFIGURED naming the variable, nothing queued', async () => {
    const bare = await buildTestApp();
    try {
      const agent = await bare.container.persistence.agents.create({ name: 'x' });
      const res = await bare.app.inject({ method: 'POST', url: '/api/v1/calls', headers: bearer(bare.adminKey), payload: { agentId: agent.id, to: CALLEE } });
      expect(res.statusCode).toBe(503);
      expect(res.json().error).toMatchObject({ code: 'NOT_CONFIGURED', details: { variable: 'TWILIO_ACCOUNT_SID' } });
      expect(bare.container.outbound.dialer.pending()).toEqual([]);
    } finally {
      await bare.close();
    }
  });
});

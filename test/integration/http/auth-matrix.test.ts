import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_ROLES } from '../../../src/http/auth.js';
import { ROLES, type Role } from '../../../src/auth/roles.js';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { agentIn, bearer, documentedApiRoutes, keysByRole, uniqueNumber, validFlow, waitingFlow } from './fixtures.js';

/**
 * Invariant: every /api/v1 route answers 401 without a valid bearer token, and
 * with one answers 403 exactly for the roles its row of ROUTE_ROLES leaves out.
 * Each case prepares fresh data so an allowed role gets a real 2xx.
 */
type Prepared = { url: string; payload?: unknown; status: number };

let t: TestApp;
let keys: Record<Role, string>;

const CASES: Record<string, () => Promise<Prepared>> = {
  'GET /agents': async () => ({ url: '/api/v1/agents', status: 200 }),
  'POST /agents': async () => ({ url: '/api/v1/agents', payload: { name: `New ${Math.random()}` }, status: 201 }),
  'GET /agents/:id': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'draft')).id}`, status: 200 }),
  'PATCH /agents/:id': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'draft')).id}`, payload: { name: 'Renamed' }, status: 200 }),
  'DELETE /agents/:id': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'draft')).id}`, status: 204 }),
  'GET /agents/:id/draft': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'draft')).id}/draft`, status: 200 }),
  'PUT /agents/:id/draft': async () => ({
    url: `/api/v1/agents/${(await agentIn(t, 'draft')).id}/draft`,
    payload: { flow: validFlow('edited'), baseRevision: 1 },
    status: 200,
  }),
  'POST /agents/:id/validate': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'draft')).id}/validate`, payload: {}, status: 200 }),
  'POST /agents/:id/publish': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'draft')).id}/publish`, payload: { note: 'n' }, status: 201 }),
  'GET /agents/:id/versions': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'published')).id}/versions`, status: 200 }),
  'GET /agents/:id/versions/:version': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'published')).id}/versions/1`, status: 200 }),
  'POST /agents/:id/activate': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'published')).id}/activate`, payload: {}, status: 200 }),
  'POST /agents/:id/deactivate': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'active')).id}/deactivate`, payload: {}, status: 200 }),
  'POST /agents/:id/rollback': async () => ({
    url: `/api/v1/agents/${(await agentIn(t, 'active', 2)).id}/rollback`,
    payload: { version: 1 },
    status: 200,
  }),
  'GET /agents/:id/audit': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'active')).id}/audit`, status: 200 }),
  'POST /agents/:id/test-chat': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'draft')).id}/test-chat`, payload: {}, status: 201 }),
  'POST /test-chats/:id/messages': async () => {
    const chat = await t.app.inject({
      method: 'POST',
      url: `/api/v1/agents/${(await t.container.persistence.agents.create({ name: `Chat ${Math.random()}`, flow: waitingFlow() })).id}/test-chat`,
      headers: bearer(t.adminKey),
      payload: {},
    });
    return { url: `/api/v1/test-chats/${chat.json().id}/messages`, payload: { digits: '5' }, status: 200 };
  },
  'GET /phone-numbers': async () => ({ url: '/api/v1/phone-numbers', status: 200 }),
  'PUT /phone-numbers/:e164': async () => ({
    url: `/api/v1/phone-numbers/${encodeURIComponent(uniqueNumber())}`,
    payload: { agentId: (await agentIn(t, 'draft')).id },
    status: 200,
  }),
  'DELETE /phone-numbers/:e164': async () => {
    const n = uniqueNumber();
    await t.container.persistence.phoneNumbers.assign(n, (await agentIn(t, 'draft')).id);
    return { url: `/api/v1/phone-numbers/${encodeURIComponent(n)}`, status: 204 };
  },
  'GET /api-keys': async () => ({ url: '/api/v1/api-keys', status: 200 }),
  'POST /api-keys': async () => ({ url: '/api/v1/api-keys', payload: { name: 'ci', role: 'support' }, status: 201 }),
  'DELETE /api-keys/:id': async () => {
    const { record } = await t.container.persistence.apiKeys.create({ name: 'temp', role: 'support' }, 'test');
    return { url: `/api/v1/api-keys/${record.id}`, status: 204 };
  },
};

beforeAll(async () => {
  t = await buildTestApp();
  keys = await keysByRole(t);
});
afterAll(async () => t.close());

describe('the role matrix', () => {
  it('has a row for every documented /api/v1 route', async () => {
    const routes = await documentedApiRoutes(t.app);
    expect(routes.length).toBeGreaterThan(15);
    expect(routes.filter((r) => !(r in ROUTE_ROLES))).toEqual([]);
  });

  it('has an auth test case for every route this module registers', async () => {
    const routes = await documentedApiRoutes(t.app);
    const mine = routes.filter((r) => /^\w+ \/(agents|phone-numbers|api-keys|test-chats)/.test(r));
    expect(mine.filter((r) => !(r in CASES))).toEqual([]);
  });

  it('keeps changes to agents and numbers for admin and builder, keys for admin, reads for everyone', () => {
    for (const [route, roles] of Object.entries(ROUTE_ROLES)) {
      if (roles === 'public') continue;
      if (route.startsWith('GET /agents') || route === 'GET /phone-numbers') expect(roles, route).toEqual(['admin', 'builder', 'support']);
      else if (/^(POST|PUT|PATCH|DELETE) \/(agents|phone-numbers|test-chats)/.test(route)) {
        const expected = route.endsWith('/validate') ? ['admin', 'builder', 'support'] : ['admin', 'builder'];
        expect(roles, route).toEqual(expected);
      } else if (route.includes('/api-keys')) expect(roles, route).toEqual(['admin']);
    }
  });
});

describe.each(Object.keys(CASES))('%s', (route) => {
  const [method] = route.split(' ') as [string];

  it('answers 401 UNAUTHENTICATED without a token, with a bad token and with a malformed header', async () => {
    const { url, payload } = await CASES[route]!();
    for (const headers of [{}, bearer('vak_not-a-real-key'), { authorization: 'Basic abc' }]) {
      const res = await t.app.inject({ method: method as 'GET', url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });
      expect(res.statusCode, JSON.stringify(headers)).toBe(401);
      expect(res.json().error.code).toBe('UNAUTHENTICATED');
    }
  });

  it.each(ROLES)('role %s gets the status its row allows', async (role) => {
    const allowed = ROUTE_ROLES[route];
    if (allowed === undefined || allowed === 'public') throw new Error(`no matrix row for ${route}`);
    const { url, payload, status } = await CASES[route]!();
    const res = await t.app.inject({
      method: method as 'GET',
      url,
      headers: bearer(keys[role]),
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
    if (allowed.includes(role)) {
      expect(res.statusCode, res.body).toBe(status);
    } else {
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json().error).toMatchObject({ code: 'FORBIDDEN', details: { role } });
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_ROLES } from '../../../src/http/auth.js';
import { ROLES, type Role } from '../../../src/auth/roles.js';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { newCallRecord } from '../../../src/calls/call-record.js';
import type { MemoryJobRunner } from '../../../src/jobs/memory-runner.js';
import { WEBHOOK_JOB } from '../../../src/jobs/processors/webhook-delivery.js';
import { ManualClock } from '../../../src/core/clock.js';
import { SimRecording } from '../../../src/testing/twilio-recording.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../../src/testing/twilio-rest.js';
import { attachSimulatorToRest } from '../../../src/testing/twilio-sim-rest.js';
import { TwilioSimulator } from '../../../src/testing/twilio-simulator.js';
import {
  agentIn,
  bearer,
  documentedApiRoutes,
  keysByRole,
  sessionsByRole,
  signedIn,
  uniqueNumber,
  validFlow,
  waitingFlow,
} from './fixtures.js';

/**
 * Invariant: every /api/v1 route answers 401 without a valid bearer token, and
 * with one answers 403 exactly for the roles its row of ROUTE_ROLES leaves out,
 * whether the token is an API key or a person's session token (one auth path).
 * Each case prepares fresh data so an allowed role gets a real 2xx.
 */
type Prepared = {
  url: string;
  payload?: unknown;
  status: number;
  /** What an allowed API key gets when the route is for people only (e.g. logout: 400). */
  keyStatus?: number;
  /** The route uses up the session (logout): each call gets a fresh one. */
  freshSession?: boolean;
};

let t: TestApp;
/** Twilio's REST API on loopback, acted out by a simulator whose clock never moves: calls placed ring for ever. */
let rest: FakeTwilioRest;
let sim: TwilioSimulator;
const ACCOUNT_SID = 'AC' + 'b'.repeat(32);
let keys: Record<Role, string>;
let sessions: Record<Role, string>;
let seq = 0;

async function newPerson(state: 'enabled' | 'invited' = 'enabled') {
  return t.container.people.staff.create({
    displayName: 'Matrix',
    username: `matrix${++seq}`,
    role: 'support',
    ...(state === 'enabled' ? { password: 'secret-password' } : {}),
  });
}
/** A suite the fixtures' valid flow passes. */
const MATRIX_SUITE = { version: 1, cases: [{ name: 'greets', expect: { path: ['hello', 'bye'] } }] };
async function endedCall(): Promise<string> {
  const callSid = `CAmatrix${++seq}`;
  await t.container.callHistory.save({
    ...newCallRecord({ callSid, accountSid: 'AC1', agentId: 'ag', slug: 's', version: 1, from: '+15550001111', to: '+15550002222', direction: 'inbound', nowMs: Date.now() }),
    state: 'ended',
  });
  return callSid;
}
const newQueue = async () => t.container.people.queues.create({ name: `Matrix queue ${++seq}` });

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
  'GET /agents/:id/versions/:version/diff/:other': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'published', 2)).id}/versions/1/diff/2`, status: 200 }),
  'POST /agents/:id/activate': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'published')).id}/activate`, payload: {}, status: 200 }),
  'POST /agents/:id/deactivate': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'active')).id}/deactivate`, payload: {}, status: 200 }),
  'POST /agents/:id/rollback': async () => ({
    url: `/api/v1/agents/${(await agentIn(t, 'active', 2)).id}/rollback`,
    payload: { version: 1 },
    status: 200,
  }),
  'GET /agents/:id/audit': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'active')).id}/audit`, status: 200 }),
  'POST /agents/:id/test-chat': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'draft')).id}/test-chat`, payload: {}, status: 201 }),
  'GET /agents/:id/tests': async () => {
    const a = await agentIn(t, 'draft');
    await t.container.persistence.flowTests.put(a.id, MATRIX_SUITE, 'test');
    return { url: `/api/v1/agents/${a.id}/tests`, status: 200 };
  },
  'PUT /agents/:id/tests': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'draft')).id}/tests`, payload: MATRIX_SUITE, status: 200 }),
  'POST /agents/:id/tests/run': async () => {
    const a = await agentIn(t, 'draft');
    await t.container.persistence.flowTests.put(a.id, MATRIX_SUITE, 'test');
    return { url: `/api/v1/agents/${a.id}/tests/run`, payload: {}, status: 200 };
  },
  'POST /agents/:id/replay': async () => ({ url: `/api/v1/agents/${(await agentIn(t, 'published')).id}/replay`, payload: { last: 5, version: 1 }, status: 200 }),
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
  'GET /calls': async () => ({ url: '/api/v1/calls', status: 200 }),
  'GET /calls/:id': async () => {
    const callSid = `CAmatrix${++seq}`;
    await t.container.callHistory.save(
      newCallRecord({ callSid, accountSid: 'AC1', agentId: 'ag', slug: 's', version: 1, from: '+15550001111', to: '+15550002222', direction: 'inbound', nowMs: Date.now() }),
    );
    return { url: `/api/v1/calls/${callSid}`, status: 200 };
  },
  'GET /analytics': async () => ({ url: '/api/v1/analytics', status: 200 }),
  'GET /webhooks/failed': async () => ({ url: '/api/v1/webhooks/failed', status: 200 }),
  'POST /webhooks/failed/:id/retry': async () => {
    // A delivery to a loopback URL (not in HTTP_ALLOW_HOSTS here) fails at once and lands in the failed list.
    const agent = await agentIn(t, 'draft');
    await t.container.persistence.agents.patch(agent.id, { webhook: { url: 'http://127.0.0.1:9/hook', secret: 'matrix-webhook-secret' } });
    const id = `wh-matrix-${++seq}`;
    const call = { id: 'CAmatrix', direction: 'inbound', from: '', to: '', version: 1, state: 'ended', outcome: null };
    const envelope = { id, type: 'call.ended', createdAt: new Date().toISOString(), agent: { id: agent.id, slug: agent.slug }, call, data: {} };
    await t.container.jobs.enqueue(WEBHOOK_JOB, { agentId: agent.id, envelope }, { jobId: id });
    await (t.container.jobs as MemoryJobRunner).idle();
    return { url: `/api/v1/webhooks/failed/${id}/retry`, payload: {}, status: 202 };
  },
  // A call that has ended: every allowed role gets past the matrix to the call's own 409.
  'POST /calls/:id/assume': async () => ({ url: `/api/v1/calls/${await endedCall()}/assume`, payload: { staffId: 'st_anyone' }, status: 409 }),
  'POST /calls/:id/transfer-to-ai': async () => ({ url: `/api/v1/calls/${await endedCall()}/transfer-to-ai`, payload: { agentId: 'any' }, status: 409 }),
  'POST /calls/:id/hang-up': async () => ({ url: `/api/v1/calls/${await endedCall()}/hang-up`, payload: {}, status: 409 }),
  'POST /calls': async () => {
    const agent = await agentIn(t, 'active');
    await t.container.persistence.phoneNumbers.assign(uniqueNumber(), agent.id);
    return { url: '/api/v1/calls', payload: { agentId: agent.id, to: '+14155550123' }, status: 202 };
  },
  'GET /calls/outbound/:id': async () => {
    const agent = await agentIn(t, 'active');
    await t.container.persistence.phoneNumbers.assign(uniqueNumber(), agent.id);
    const request = await t.container.outbound.dialer.submit({ agentId: agent.id, to: '+14155550123' });
    return { url: `/api/v1/calls/outbound/${request.id}`, status: 200 };
  },
  'GET /calls/:id/recording': async () => {
    const callSid = `CA${String(++seq).padStart(32, '0')}`;
    const rec = new SimRecording({
      sid: `RE${String(seq).padStart(32, '0')}`,
      accountSid: ACCOUNT_SID,
      callSid,
      channels: 2,
      track: 'both',
      statusEvents: ['completed'],
      startedWallMs: Date.now(),
      audioOffset: 0,
    });
    rec.complete([Buffer.alloc(800, 0xff)], Date.now() + 1000);
    sim.recordings.set(rec.sid, rec);
    const record = newCallRecord({ callSid, accountSid: ACCOUNT_SID, agentId: 'ag', slug: 's', version: 1, from: '+15550001111', to: '+15550002222', direction: 'inbound', nowMs: Date.now() });
    record.recording = { sid: rec.sid, status: 'completed', url: rec.mediaUrl, durationSeconds: 1, channels: 2, startedAt: Date.now() };
    await t.container.callHistory.save(record);
    return { url: `/api/v1/calls/${callSid}/recording`, status: 200 };
  },
  'GET /staff': async () => ({ url: '/api/v1/staff', status: 200 }),
  'POST /staff': async () => ({ url: '/api/v1/staff', payload: { displayName: 'New', username: `made${++seq}`, role: 'support' }, status: 201 }),
  'GET /staff/:id': async () => ({ url: `/api/v1/staff/${(await newPerson()).id}`, status: 200 }),
  'PATCH /staff/:id': async () => ({ url: `/api/v1/staff/${(await newPerson()).id}`, payload: { displayName: 'Renamed' }, status: 200 }),
  'DELETE /staff/:id': async () => ({ url: `/api/v1/staff/${(await newPerson()).id}`, status: 204 }),
  'POST /staff/:id/invite': async () => ({ url: `/api/v1/staff/${(await newPerson('invited')).id}/invite`, payload: {}, status: 200 }),
  'POST /staff/:id/remove': async () => ({ url: `/api/v1/staff/${(await newPerson()).id}/remove`, payload: {}, status: 200 }),
  'POST /staff/bulk': async () => ({ url: '/api/v1/staff/bulk', payload: { ids: [(await newPerson()).id], action: 'disable' }, status: 200 }),
  'GET /usage': async () => ({ url: '/api/v1/usage', status: 200 }),
  'GET /queues': async () => ({ url: '/api/v1/queues', status: 200 }),
  'POST /queues': async () => ({ url: '/api/v1/queues', payload: { name: `Queue ${++seq}` }, status: 201 }),
  'PATCH /queues/:id': async () => ({ url: `/api/v1/queues/${(await newQueue()).id}`, payload: { name: `Renamed ${++seq}` }, status: 200 }),
  'DELETE /queues/:id': async () => ({ url: `/api/v1/queues/${(await newQueue()).id}`, status: 204 }),
  'POST /auth/logout': async () => ({ url: '/api/v1/auth/logout', status: 204, keyStatus: 400, freshSession: true }),
  'GET /me': async () => ({ url: '/api/v1/me', status: 200 }),
};

/** Routes anyone may call: how a person gets a token at all. */
const PUBLIC: Record<string, () => Promise<{ url: string; payload: unknown; status: number }>> = {
  'POST /auth/login': async () => {
    const p = await newPerson();
    return { url: '/api/v1/auth/login', payload: { username: p.username, password: 'secret-password' }, status: 200 };
  },
  'POST /auth/activate': async () => {
    const inv = await t.container.people.staff.invite((await newPerson('invited')).id);
    return { url: '/api/v1/auth/activate', payload: { token: new URL(inv.activationUrl).searchParams.get('token'), password: 'chosen-pw' }, status: 200 };
  },
};

/** WebSocket routes, walked with injectWS. */
const SOCKETS = ['GET /workspace', 'GET /calls/:id/live'];

beforeAll(async () => {
  rest = await startFakeTwilioRest();
  const env = { TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: 'matrix-token', TWILIO_API_BASE_URL: rest.url, PUBLIC_URL: 'https://matrix.test' };
  t = await buildTestApp({ env });
  sim = new TwilioSimulator({ serverUrl: 'http://127.0.0.1:9', publicUrl: env.PUBLIC_URL, authToken: env.TWILIO_AUTH_TOKEN, accountSid: ACCOUNT_SID, clock: new ManualClock() });
  attachSimulatorToRest(sim, rest);
  keys = await keysByRole(t);
  sessions = await sessionsByRole(t);
});
afterAll(async () => {
  await t.close();
  await rest.close();
});

describe('the role matrix', () => {
  it('has a row for every documented /api/v1 route', async () => {
    const routes = await documentedApiRoutes(t.app);
    expect(routes.length).toBeGreaterThan(15);
    expect(routes.filter((r) => !(r in ROUTE_ROLES))).toEqual([]);
  });

  it('has an auth test case for every documented route', async () => {
    const routes = await documentedApiRoutes(t.app);
    expect(routes.filter((r) => !(r in CASES) && !(r in PUBLIC) && !SOCKETS.includes(r))).toEqual([]);
  });

  it('keeps staff, queues (changes), usage and keys for admin; calls for every role', () => {
    for (const [route, roles] of Object.entries(ROUTE_ROLES)) {
      if (/^\w+ \/(staff|usage)/.test(route) || /^(POST|PATCH|DELETE) \/queues/.test(route)) expect(roles, route).toEqual(['admin']);
      if (/^GET \/calls/.test(route) || /^POST \/calls\/:id\//.test(route)) expect(roles, route).toEqual(['admin', 'builder', 'support']);
    }
    expect(Object.entries(ROUTE_ROLES).filter(([, r]) => r === 'public').map(([k]) => k).sort()).toEqual(Object.keys(PUBLIC).sort());
  });

  it('keeps changes to agents for admin and builder, numbers and keys for admin, reads for everyone', () => {
    for (const [route, roles] of Object.entries(ROUTE_ROLES)) {
      if (roles === 'public') continue;
      if (route.startsWith('GET /agents') || route === 'GET /phone-numbers') expect(roles, route).toEqual(['admin', 'builder', 'support']);
      else if (/^(POST|PUT|PATCH|DELETE) \/(agents|test-chats)/.test(route)) {
        const expected = route.endsWith('/validate') ? ['admin', 'builder', 'support'] : ['admin', 'builder'];
        expect(roles, route).toEqual(expected);
      } else if (/^(PUT|DELETE) \/phone-numbers/.test(route) || route.includes('/api-keys')) expect(roles, route).toEqual(['admin']);
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

  it.each(ROLES.flatMap((r) => [[r, 'api-key'] as const, [r, 'session'] as const]))('role %s with an %s gets the status its row allows', async (role, kind) => {
    const allowed = ROUTE_ROLES[route];
    if (allowed === undefined || allowed === 'public') throw new Error(`no matrix row for ${route}`);
    const { url, payload, status, keyStatus, freshSession } = await CASES[route]!();
    const token = kind === 'api-key' ? keys[role] : freshSession ? (await signedIn(t, role)).token : sessions[role];
    const res = await t.app.inject({
      method: method as 'GET',
      url,
      headers: bearer(token),
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
    if (allowed.includes(role)) {
      expect(res.statusCode, res.body).toBe(kind === 'api-key' && keyStatus !== undefined ? keyStatus : status);
    } else {
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json().error).toMatchObject({ code: 'FORBIDDEN', details: { role } });
    }
  });
});

describe.each(Object.keys(PUBLIC))('%s (public)', (route) => {
  it('works without a token', async () => {
    const { url, payload, status } = await PUBLIC[route]!();
    const res = await t.app.inject({ method: 'POST', url, payload: payload as object });
    expect(res.statusCode, res.body).toBe(status);
  });
});

describe('GET /workspace (WebSocket)', () => {
  it('refuses the upgrade without a valid token (401) and for API keys (403); opens for every role signed in', async () => {
    await expect(t.app.injectWS('/api/v1/workspace')).rejects.toThrow('401');
    await expect(t.app.injectWS('/api/v1/workspace?token=vas_bad')).rejects.toThrow('401');
    for (const role of ROLES) {
      await expect(t.app.injectWS(`/api/v1/workspace?token=${keys[role]}`), role).rejects.toThrow('403');
      const ws = await t.app.injectWS(`/api/v1/workspace?token=${sessions[role]}`);
      ws.terminate();
    }
  });
});

describe('GET /calls/:id/live (WebSocket)', () => {
  it('refuses the upgrade without a valid token (401); opens for every role, as API key and signed in', async () => {
    const id = await endedCall();
    await expect(t.app.injectWS(`/api/v1/calls/${id}/live`)).rejects.toThrow('401');
    await expect(t.app.injectWS(`/api/v1/calls/${id}/live?token=vas_bad`)).rejects.toThrow('401');
    for (const role of ROLES) {
      for (const token of [keys[role], sessions[role]]) {
        const ws = await t.app.injectWS(`/api/v1/calls/${id}/live?token=${token}`);
        ws.terminate();
      }
    }
  });
});

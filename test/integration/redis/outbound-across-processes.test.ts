import { randomBytes } from 'node:crypto';
import twilio from 'twilio';
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RATE_WINDOW_MS } from '../../../src/outbound/admission.js';
import { OUTBOUND_SLOT_POLL_MS } from '../../../src/outbound/dialer.js';
import type { OutboundTelephony, PlaceCallRequest } from '../../../src/outbound/port.js';
import { RedisCallHolders } from '../../../src/store/redis/call-holders.js';
import { RedisOutboundSlots } from '../../../src/store/redis/outbound-slots.js';
import type { TestApp } from '../../support/app.js';
import { TEST_REDIS_URL, redisFixture } from './redis-test.js';
import { eventually, startProcesses, type Processes } from './two-processes.js';

/**
 * Outbound calls behind a load balancer (real Redis). An agent's limits
 * (`maxConcurrent`, `perMinute`) hold across processes: whichever process a
 * request lands on, the agent never has more calls dialling or in progress than
 * its limit, and a slot freed on one process is taken by a request waiting on
 * another. Twilio's answer and answering-machine callbacks landing on the other
 * process run where the request or the call is.
 */
const AUTH_TOKEN = 'outbound-token';
let fixture = redisFixture();
let p: Processes | undefined;
afterEach(async () => {
  const prefix = p?.prefix;
  await p?.close();
  p = undefined;
  await fixture.cleanup();
  const r = new Redis(TEST_REDIS_URL);
  try {
    expect(await r.keys(`${fixture.prefix}*`)).toEqual([]);
    if (prefix) expect(await r.keys(`${prefix}*`)).toEqual([]);
  } finally {
    r.disconnect();
  }
  fixture = redisFixture();
});

/** Processes (connections of their own) that beat at `nowMs`, or their slots would count as a dead process's. */
async function beatingProcesses(count: number, nowMs: number): Promise<RedisOutboundSlots[]> {
  const out: RedisOutboundSlots[] = [];
  for (let i = 0; i < count; i++) {
    const redis = await fixture.connect();
    await new RedisCallHolders(redis).beat(nowMs);
    out.push(new RedisOutboundSlots(redis, 15_000));
  }
  return out;
}

describe('shared outbound slots', () => {
  it('two processes racing for one agent: exactly maxConcurrent slots taken', async () => {
    const now = Date.UTC(2026, 0, 5, 15);
    const slots = await beatingProcesses(2, now);
    const verdicts = await Promise.all(
      Array.from({ length: 100 }, (_, i) => slots[i % 2]!.take('ag_1', `ob_${i}`, { maxConcurrent: 3, perMinute: 1000 }, now)),
    );
    expect(verdicts.filter((v) => v.ok)).toHaveLength(3);
    expect(verdicts.filter((v) => !v.ok && v.reason === 'concurrency')).toHaveLength(97);
    // A release on either frees one slot for anyone.
    const taken = verdicts.flatMap((v, i) => (v.ok ? [i] : []));
    await slots[0]!.release('ag_1', `ob_${taken[0]}`);
    expect((await slots[1]!.take('ag_1', 'ob_next', { maxConcurrent: 3, perMinute: 1000 }, now)).ok).toBe(true);
    expect((await slots[0]!.take('ag_1', 'ob_more', { maxConcurrent: 3, perMinute: 1000 }, now)).ok).toBe(false);
  });

  it('perMinute counts every process’s starts; the window reopens a minute after the oldest', async () => {
    const t0 = Date.UTC(2026, 0, 5, 15);
    const slots = await beatingProcesses(2, t0);
    const limits = { maxConcurrent: 100, perMinute: 4 };
    for (let i = 0; i < 4; i++) expect((await slots[i % 2]!.take('ag_2', `ob_${i}`, limits, t0 + i * 1000)).ok).toBe(true);
    expect(await slots[0]!.take('ag_2', 'ob_4', limits, t0 + 10_000)).toEqual({ ok: false, reason: 'rate', retryAtMs: t0 + RATE_WINDOW_MS });
    expect((await slots[1]!.take('ag_2', 'ob_4', limits, t0 + RATE_WINDOW_MS)).ok).toBe(true);
  });

  it('a process that stopped beating holds no slots any more', async () => {
    const deadRedis = await fixture.connect();
    const liveRedis = await fixture.connect();
    const dead = new RedisOutboundSlots(deadRedis, 15_000);
    const live = new RedisOutboundSlots(liveRedis, 15_000);
    const t0 = Date.UTC(2026, 0, 5, 15);
    await new RedisCallHolders(deadRedis).beat(t0);
    const limits = { maxConcurrent: 2, perMinute: 1000 };
    expect((await dead.take('ag_3', 'ob_a', limits, t0)).ok).toBe(true);
    expect((await dead.take('ag_3', 'ob_b', limits, t0)).ok).toBe(true);
    await new RedisCallHolders(liveRedis).beat(t0 + 20_000);
    // Still within the heartbeat timeout: full.
    expect((await live.take('ag_3', 'ob_c', limits, t0 + 10_000)).ok).toBe(false);
    // Past it: the dead process's slots are freed in the same step.
    expect((await live.take('ag_3', 'ob_c', limits, t0 + 20_000)).ok).toBe(true);
  });
});

/** Places nothing: each call gets a CallSid and stays ringing until the test ends it. */
function countingPort(placed: PlaceCallRequest[]): OutboundTelephony {
  return {
    async placeCall(request) {
      placed.push(request);
      return `CA${randomBytes(16).toString('hex')}`;
    },
    async startRecording() {
      return `RE${randomBytes(16).toString('hex')}`;
    },
    async recordingMedia() {
      return undefined;
    },
    async deleteRecording() {},
  };
}

describe('outbound limits across two server processes', () => {
  it('100 requests split over two processes: never more than maxConcurrent dialled; a slot freed on one goes to a request waiting on the other', async () => {
    const placed: PlaceCallRequest[] = [];
    p = await startProcesses(2, { env: { TWILIO_ACCOUNT_SID: 'AC' + 'a'.repeat(32), TWILIO_AUTH_TOKEN: 'outbound-token' }, overrides: () => ({ outbound: countingPort(placed) }) });
    const [a, b] = p.apps as [TestApp, TestApp];
    const agents = a.container.persistence.agents;
    const agent = await agents.create({ name: 'Campaign', flow: { version: 1, name: 'Campaign', start: 'bye', nodes: [{ id: 'bye', type: 'end', text: 'Goodbye.' }] } });
    await agents.publish(agent.id, {}, 'test');
    await agents.activate(agent.id, {}, 'test');
    await a.container.persistence.phoneNumbers.assign('+15550100077', agent.id);
    const patched = await a.app.inject({
      method: 'PATCH',
      url: `/api/v1/agents/${agent.id}`,
      headers: { authorization: `Bearer ${a.adminKey}` },
      payload: { outbound: { maxConcurrent: 3, perMinute: 1000 } },
    });
    expect(patched.statusCode, patched.body).toBe(200);

    const post = (t: TestApp, i: number) =>
      t.app.inject({
        method: 'POST',
        url: '/api/v1/calls',
        headers: { authorization: `Bearer ${t.adminKey}` },
        payload: { agentId: agent.id, to: `+1415555${String(1000 + i).padStart(4, '0')}` },
      });
    const responses = await Promise.all(Array.from({ length: 100 }, (_, i) => post(i % 2 === 0 ? a : b, i)));
    expect(responses.map((r) => r.statusCode), responses[0]!.body).toEqual(responses.map(() => 202));
    const states = responses.map((r) => r.json().state as string);
    expect(states.filter((s) => s === 'dialing')).toHaveLength(3);
    expect(placed).toHaveLength(3);
    expect(a.container.outbound.dialer.inFlight(agent.id) + b.container.outbound.dialer.inFlight(agent.id)).toBe(3);

    // One of A's calls ends (its final status callback lands on B): a request waiting on either process takes the slot.
    const ofA = responses.find((r, i) => i % 2 === 0 && r.json().state === 'dialing') ?? responses.find((r) => r.json().state === 'dialing')!;
    await b.container.telephony.calls.end(ofA.json().callSid as string, 'status:completed', 'completed');
    for (let i = 0; i < 50 && placed.length < 4; i++) {
      await p.clock.advance(OUTBOUND_SLOT_POLL_MS);
      await new Promise((r) => setTimeout(r, 5));
    }
    await eventually(() => placed.length === 4, 'the freed slot to be taken');
    // Settle a few more polls: still only one more.
    for (let i = 0; i < 5; i++) {
      await p.clock.advance(OUTBOUND_SLOT_POLL_MS);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(placed).toHaveLength(4);
    expect(a.container.outbound.dialer.inFlight(agent.id) + b.container.outbound.dialer.inFlight(agent.id)).toBe(3);
  });

  it('the callee answers and Twilio’s answer lands on the other process: it runs where the request waits (`via`), answered with the stream', async () => {
    const placed: PlaceCallRequest[] = [];
    p = await startProcesses(2, { env: { TWILIO_ACCOUNT_SID: 'AC' + 'a'.repeat(32), TWILIO_AUTH_TOKEN: AUTH_TOKEN }, overrides: () => ({ outbound: countingPort(placed) }) });
    const [a, b] = p.apps as [TestApp, TestApp];
    const agents = a.container.persistence.agents;
    const agent = await agents.create({ name: 'Campaign', flow: { version: 1, name: 'Campaign', start: 'bye', nodes: [{ id: 'bye', type: 'end', text: 'Goodbye.' }] } });
    await agents.publish(agent.id, {}, 'test');
    await agents.activate(agent.id, {}, 'test');
    await a.container.persistence.phoneNumbers.assign('+15550100078', agent.id);
    const res = await a.app.inject({
      method: 'POST',
      url: '/api/v1/calls',
      headers: { authorization: `Bearer ${a.adminKey}` },
      payload: { agentId: agent.id, to: '+14155551234' },
    });
    expect(res.statusCode, res.body).toBe(202);
    const { id, callSid } = res.json() as { id: string; callSid: string };
    const answerUrl = new URL(placed[0]!.answerUrl);
    expect(answerUrl.searchParams.get('via')).toBe(a.container.liveState.processId);

    const path = answerUrl.pathname + answerUrl.search;
    const params = { CallSid: callSid, AccountSid: 'AC' + 'a'.repeat(32), CallStatus: 'in-progress' };
    const answered = await b.app.inject({
      method: 'POST',
      url: path,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': twilio.getExpectedTwilioSignature(AUTH_TOKEN, b.container.config.PUBLIC_URL + path, params),
      },
      payload: new URLSearchParams(params).toString(),
    });
    expect(answered.statusCode, answered.body).toBe(200);
    expect(answered.body).toContain('<Connect');
    expect(answered.body).toContain('<Stream');
    // A's request moved on: the answer ran in A's dialer, not B's (which has no such request).
    expect(a.container.outbound.dialer.get(id)?.state).toBe('in_progress');
    expect(b.container.outbound.dialer.get(id)).toBeUndefined();
  });

  it('the answering-machine verdict landing on another process is stored and announced by the process holding the call', async () => {
    p = await startProcesses(2, { env: { TWILIO_ACCOUNT_SID: 'AC' + 'a'.repeat(32), TWILIO_AUTH_TOKEN: AUTH_TOKEN }, overrides: () => ({ outbound: countingPort([]) }) });
    const [a, b] = p.apps as [TestApp, TestApp];
    const callSid = 'CA' + '5'.repeat(32);
    await a.container.telephony.calls.open({
      callSid,
      accountSid: 'AC' + 'a'.repeat(32),
      agentId: 'ag_x',
      slug: 'x',
      version: 1,
      from: '+15550100078',
      to: '+14155551234',
      direction: 'outbound',
    });
    // A's own events only (a live call waiting for the verdict listens where it runs).
    const heardOnA: string[] = [];
    a.container.telephony.calls.bus.subscribe((e) => {
      if (e.type === 'call.answered_by') heardOnA.push(e.answeredBy);
    });
    const params = { CallSid: callSid, AccountSid: 'AC' + 'a'.repeat(32), AnsweredBy: 'machine_end_beep', MachineDetectionDuration: '2400' };
    const res = await b.app.inject({
      method: 'POST',
      url: '/twilio/amd-status',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': twilio.getExpectedTwilioSignature(AUTH_TOKEN, b.container.config.PUBLIC_URL + '/twilio/amd-status', params),
      },
      payload: new URLSearchParams(params).toString(),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(heardOnA).toEqual(['machine_end_beep']);
    expect((await b.container.telephony.calls.get(callSid))?.answeredBy).toBe('machine_end_beep');
    await a.container.telephony.calls.end(callSid, 'status:completed', 'completed');
  });
});

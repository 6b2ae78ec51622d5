import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/calls/call-record.js';
import { deletePrefix, TEST_REDIS_URL, uniquePrefix } from '../integration/redis/redis-test.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { realTick } from '../support/virtual-time.js';
import { ACCOUNT_SID, CALLER, PIZZA_NUMBER, startHarness, type Harness } from './harness.js';

/**
 * Redis going away mid-call (docs/reliability.md#infrastructure-faults): the server's
 * REDIS_URL points at a TCP proxy on loopback in front of the real Redis, which the test
 * cuts and restores. Calls in progress go on from the process's own copy of their records;
 * what changed meanwhile is written when Redis answers again, and a Redis that came back
 * empty gets the live calls back.
 */
let proxy: TcpProxy;
let prefix: string;
let h: Harness;
let redis: Redis;

beforeEach(async () => {
  proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
  prefix = uniquePrefix();
  redis = new Redis(TEST_REDIS_URL);
  h = await startHarness({ env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_PREFIX: prefix, POST_CALL_PROCESSING: 'off', WORKERS: 'off' } });
});
afterEach(async () => {
  await proxy.restore();
  await h.close();
  await proxy.close();
  redis.disconnect();
  await deletePrefix(prefix);
});

const inRedis = async (callSid: string): Promise<CallRecord | undefined> => {
  const json = await redis.hget(`${prefix}call:${callSid}`, 'json');
  return json === null ? undefined : (JSON.parse(json) as CallRecord);
};
const ready = async () => (await h.app.inject({ method: 'GET', url: '/ready' })).json() as { status: string; liveState?: { failing: boolean; backlog: number } };

/** Redis comes back: ioredis reconnects on real time, the replay runs on the clock. */
async function untilResynced(): Promise<void> {
  const shared = h.container.liveState.shared!;
  for (let i = 0; i < 500 && (shared.health.failing || shared.backlog() > 0); i++) {
    await h.clock.advance(250);
    await realTick();
    await new Promise((r) => setTimeout(r, 10));
  }
  expect({ failing: shared.health.failing, backlog: shared.backlog() }).toEqual({ failing: false, backlog: 0 });
}

describe('Redis unreachable mid-call', () => {
  it('a call in progress goes on while Redis is unreachable, /ready reads degraded, and its record is written when Redis returns', async () => {
    const call = await h.sim.placeCall({ from: CALLER, to: PIZZA_NUMBER });
    const sid = call.callSid;
    await h.until(() => h.eventsOf(sid).some((e) => e.type === 'turn.agent' && e.nodeId === 'menu'), { what: 'menu prompt' });
    expect((await inRedis(sid))?.state).toBe('ai');

    await proxy.cut();
    call.pressDigit('2');
    await h.until(() => h.eventsOf(sid).some((e) => e.type === 'node.entered' && e.nodeId === 'quantity'), { what: 'quantity' });
    call.pressDigit('3');
    const record = await h.finish(call);
    // The caller heard the whole order, to the goodbye, as with Redis up.
    expect(record.outcome).toEqual({ kind: 'completed', detail: expect.any(String) });
    expect(record.turns.map((t) => t.text)).toContain("Thanks for ordering from Tony's Pizza. Goodbye!");
    expect(h.eventsOf(sid).filter((e) => e.type === 'call.ended')).toHaveLength(1);
    expect(await ready()).toMatchObject({ status: 'degraded', liveState: { failing: true, backlog: expect.any(Number) } });
    expect((await ready()).liveState!.backlog).toBeGreaterThan(0);
    // Redis still has the call as it was when it went away.
    expect((await inRedis(sid))?.state).toBe('ai');

    await proxy.restore();
    await untilResynced();
    const synced = (await inRedis(sid))!;
    expect(synced.state).toBe('ended');
    expect(synced.outcome).toEqual(record.outcome);
    // Every turn once, in Redis as in this process's copy (the copy is Redis's again now).
    expect(synced.turns).toHaveLength(record.turns.length);
    expect(synced.turns).toEqual(expect.arrayContaining(record.turns));
    expect((await h.record(sid)).turns).toEqual(synced.turns);
    expect(await redis.hget(`${prefix}calls:holder`, sid)).toBeNull();
    expect(await ready()).toMatchObject({ status: 'ready', liveState: { failing: false, backlog: 0 } });
  });

  it('a Redis that comes back empty (restarted without persistence) gets the live call back: its record and who holds it', async () => {
    const call = await h.sim.placeCall({ from: CALLER, to: PIZZA_NUMBER });
    const sid = call.callSid;
    await h.until(() => h.eventsOf(sid).some((e) => e.type === 'turn.agent' && e.nodeId === 'menu'), { what: 'menu prompt' });
    const holder = await redis.hget(`${prefix}calls:holder`, sid);
    expect(holder).toBe(h.container.liveState.processId);

    await proxy.cut();
    await deletePrefix(prefix);
    call.pressDigit('2');
    await h.until(() => h.eventsOf(sid).some((e) => e.type === 'node.entered' && e.nodeId === 'quantity'), { what: 'quantity' });

    await proxy.restore();
    await untilResynced();
    // Written back while the call is still live, with what happened during the outage.
    await h.until(async () => (await redis.hget(`${prefix}calls:holder`, sid)) === holder, { what: 'the holder written back', maxMs: 30_000 });
    const back = (await inRedis(sid))!;
    expect(back.state).toBe('ai');
    expect(back.turns.some((t) => t.role === 'caller' && t.text === '2')).toBe(true);

    // The call goes on and ends normally, in Redis too.
    call.pressDigit('3');
    const record = await h.finish(call);
    expect(record.outcome?.kind).toBe('completed');
    expect((await inRedis(sid))?.state).toBe('ended');
    expect(await redis.hget(`${prefix}calls:holder`, sid)).toBeNull();
  });

  it('a new call while Redis is unreachable hears the agent’s unavailable answer, not an application error', async () => {
    await proxy.cut();
    const callSid = 'CA' + 'b'.repeat(32);
    const res = await h.sim.post('/twilio/voice', { CallSid: callSid, AccountSid: ACCOUNT_SID, From: CALLER, To: PIZZA_NUMBER, CallStatus: 'ringing', Direction: 'inbound' });
    expect(res.status).toBe(200);
    expect(res.body).toContain('<Say');
    expect(res.body).not.toContain('<Connect');
    await proxy.restore();
  });
});

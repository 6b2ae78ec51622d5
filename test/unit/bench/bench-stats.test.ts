import { afterEach, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../support/app.js';

/** GET /bench/stats exists only for `npm run bench` (BENCH_STATS=1); production never exposes it. */
describe('bench stats route', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('is absent unless BENCH_STATS is on', async () => {
    t = await buildTestApp();
    const res = await t.app.inject({ method: 'GET', url: '/bench/stats' });
    expect(res.statusCode).toBe(404);
  });

  it('with BENCH_STATS=1: per-turn metrics in a wall-clock window, event-loop delay and memory', async () => {
    t = await buildTestApp({ env: { BENCH_STATS: '1' } });
    const calls = t.container.telephony.calls;
    await calls.open({ callSid: 'CA1', accountSid: 'AC1', agentId: 'a', slug: 's', version: 1, from: '+15550000001', to: '+15550000002', direction: 'inbound' });
    const metrics = { endpointMs: 150, responseMs: 620, llmFirstTokenMs: 300, llmFirstSentenceMs: 400, ttsFirstByteMs: 150, overheadMs: 70 };
    await calls.addTurn('CA1', { role: 'agent', text: 'hi', at: 1000, metrics });
    await calls.addTurn('CA1', { role: 'agent', text: 'later', at: 5000, metrics: { ...metrics, overheadMs: 5 } });
    await calls.addTurn('CA1', { role: 'caller', text: 'no metrics', at: 1500 });

    const res = await t.app.inject({ method: 'GET', url: '/bench/stats?from=500&to=2000' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.turns).toEqual([{ role: 'agent', metrics }]);
    expect(body.calls).toMatchObject({ records: 1, ended: 0, sessions: 0 });
    expect(typeof body.eventLoopDelayMs.p99).toBe('number');
    expect(body.memory.rss).toBeGreaterThan(0);

    // Without a window the records are not listed at all.
    const cheap = (await t.app.inject({ method: 'GET', url: '/bench/stats?resetEld=1' })).json();
    expect(cheap.turns).toEqual([]);
    expect(cheap.calls.records).toBe(0);
  });

  it('counts how the calls that ended in the window ended (a fallback hang-up looks normal to the generator)', async () => {
    t = await buildTestApp({ env: { BENCH_STATS: '1' } });
    const calls = t.container.telephony.calls;
    const open = (callSid: string) =>
      calls.open({ callSid, accountSid: 'AC1', agentId: 'a', slug: 's', version: 1, from: '+15550000001', to: '+15550000002', direction: 'inbound' });
    await open('CA1');
    await open('CA2');
    await open('CA3');
    await calls.end('CA1', 'tts_failed', 'tts_failed');
    await calls.end('CA2', 'hangup', 'completed');

    const all = (await t.app.inject({ method: 'GET', url: '/bench/stats?from=0' })).json();
    expect(all.outcomes).toEqual({ tts_failed: 1, completed: 1 });
    const before = (await t.app.inject({ method: 'GET', url: '/bench/stats?from=0&to=1' })).json();
    expect(before.outcomes).toEqual({});
  });

  it('counts the calls ended in the window that took the flow fallback, by outcome and reason (a fallback node can end completed)', async () => {
    t = await buildTestApp({ env: { BENCH_STATS: '1' } });
    const calls = t.container.telephony.calls;
    const open = (callSid: string) =>
      calls.open({ callSid, accountSid: 'AC1', agentId: 'a', slug: 's', version: 1, from: '+15550000001', to: '+15550000002', direction: 'inbound' });
    for (const sid of ['CA1', 'CA2', 'CA3', 'CA4']) await open(sid);
    // CA1: the fallback node, then an end node: completed. CA2: twice (node, then the message): failed, one call.
    await calls.addFallback('CA1', { reason: 'llm_failed', nodeId: 'chat', fallbackNode: 'desk', at: 100 });
    await calls.addFallback('CA2', { reason: 'llm_failed', nodeId: 'chat', fallbackNode: 'desk', at: 100 });
    await calls.addFallback('CA2', { reason: 'gather_failed', nodeId: 'desk', at: 200 });
    // CA4 takes a fallback but is still live: not counted.
    await calls.addFallback('CA4', { reason: 'stt_failed', nodeId: 'chat', at: 100 });
    await calls.end('CA1', 'hangup', 'completed');
    await calls.end('CA2', 'fallback', 'failed');
    await calls.end('CA3', 'hangup', 'completed');

    const all = (await t.app.inject({ method: 'GET', url: '/bench/stats?from=0' })).json();
    expect(all.outcomes).toEqual({ completed: 2, failed: 1 });
    expect(all.fallbacks).toEqual({ calls: 2, byOutcome: { completed: 1, failed: 1 }, byReason: { llm_failed: 2, gather_failed: 1 } });
    const before = (await t.app.inject({ method: 'GET', url: '/bench/stats?from=0&to=1' })).json();
    expect(before.fallbacks).toEqual({ calls: 0, byOutcome: {}, byReason: {} });
  });
});

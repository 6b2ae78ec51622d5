import { afterEach, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/calls/call-record.js';
import { BACKENDS, type Backend } from '../contract/store/backends.js';
import { CALLER } from './harness.js';
import { agentTurnsDone, startTalkHarness, TALK_NUMBER, type TalkHarness } from './spoken-flows.js';

/**
 * Invariant: GET /analytics agrees with the calls that were made, over the
 * real protocols, on SQLite and PostgreSQL: one call the flow ends, one the
 * caller leaves mid-way, one transferred to a person; counts, result classes,
 * durations, the transfer rate and the reply latency percentiles match what
 * the call records say.
 */
const ADMIN_KEY = 'Analytics-Scenario-Key-0123456789-abcdefXYZ';

let h: TalkHarness | undefined;
let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await h?.dispose();
  await cleanup?.();
  h = undefined;
  cleanup = undefined;
});

function nearestRank(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
}

async function start(backend: Backend): Promise<TalkHarness> {
  const created = await backend.create();
  cleanup = created.cleanup;
  const env: Record<string, string> = { ADMIN_API_KEY: ADMIN_KEY };
  if (backend.name === 'postgres') env.DATABASE_URL = created.databaseUrl;
  return startTalkHarness(undefined, { env, dialOutcome: 'completed' });
}

describe.each(BACKENDS)('analytics over real calls on $name', (backend) => {
  it('count each call once under its result, with its duration, transfer and reply latency', async () => {
    h = await start(backend);
    const harness = h;
    const records: CallRecord[] = [];

    // 1. Answered, then the caller is done: the flow ends the call.
    harness.openai!.enqueue({ text: 'We offer checkups for the whole family.' }, { toolCalls: [{ name: 'done', arguments: '{}' }] });
    let call = await harness.sim.placeCall({ from: CALLER, to: TALK_NUMBER });
    await agentTurnsDone(harness, call.callSid, 1, 'greeting');
    harness.say('Tell me about your services.');
    await agentTurnsDone(harness, call.callSid, 2, 'the answer');
    harness.say("That's all, thanks.");
    records.push(await harness.finish(call));

    // 2. The caller hangs up after one answer.
    harness.openai!.enqueue({ text: 'We open at nine every weekday.' });
    call = await harness.sim.placeCall({ from: CALLER, to: TALK_NUMBER });
    await agentTurnsDone(harness, call.callSid, 1, 'greeting');
    harness.say('When do you open?');
    await agentTurnsDone(harness, call.callSid, 2, 'the answer');
    await call.hangUp();
    records.push(await harness.finish(call));

    // 3. The caller asks for a person: a cold transfer that is answered.
    harness.openai!.enqueue({ toolCalls: [{ name: 'person', arguments: '{}' }] });
    call = await harness.sim.placeCall({ from: CALLER, to: TALK_NUMBER });
    await agentTurnsDone(harness, call.callSid, 1, 'greeting');
    harness.say('Can I speak to a person?');
    records.push(await harness.finish(call));

    expect(records.map((r) => r.outcome?.kind)).toEqual(['completed', 'completed', 'transferred']);
    const res = await harness.app.inject({
      method: 'GET',
      url: '/api/v1/analytics?from=2026-01-01&to=2026-01-31',
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    const agentId = records[0]!.agentId;

    const durations = records.map((r) => r.endedAt! - r.createdAt);
    const total = durations.reduce((a, b) => a + b, 0);
    const turns = records.flatMap((r) => r.turns.filter((t) => typeof t.metrics?.responseMs === 'number').map((t) => t.metrics!));
    expect(turns.length).toBeGreaterThanOrEqual(2);
    const response = turns.map((m) => m.responseMs!);
    const overhead = turns.map((m) => m.overheadMs!);

    for (const summary of [body.totals, body.agents[0], body.versions[0]]) {
      expect(summary).toMatchObject({
        calls: 3,
        ended: 3,
        durationMs: { total, average: Math.round(total / 3) },
        outcomes: { completed: 1, abandoned: 1, transferred: 1, failed: 0, unavailable: 0, other: 0 },
        transferRate: 0.3333,
        handoffRate: 0,
      });
      expect(summary.latency).toEqual({
        turns: turns.length,
        responseMs: { p50: nearestRank(response, 50), p95: nearestRank(response, 95) },
        overheadMs: { p50: nearestRank(overhead, 50), p95: nearestRank(overhead, 95) },
      });
    }
    expect(body.agents).toHaveLength(1);
    expect(body.versions).toEqual([expect.objectContaining({ agentId, slug: 'talk', version: 1 })]);
    expect(body.days).toEqual([{ day: '2026-01-05', calls: 3, outcomes: expect.objectContaining({ completed: 1, abandoned: 1, transferred: 1 }) }]);
  }, 30_000);
});

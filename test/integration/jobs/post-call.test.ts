import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { MemoryJobRunner } from '../../../src/jobs/memory-runner.js';
import { POST_CALL_JOB } from '../../../src/jobs/processors/post-call.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../../src/testing/openai-server.js';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { BACKENDS } from '../../contract/store/backends.js';
import { bearer, keysByRole } from '../http/fixtures.js';

/**
 * Invariant: when a call ends, a job asks the LLM (OpenAI's JSON mode, through
 * the real SDK against the loopback fake) for a summary, a disposition and the
 * caller's facts, and stores them on the call in their own column, on SQLite and
 * PostgreSQL alike: later flushes of the record keep them, GET /calls/:id shows
 * them (numbers masked for viewers who may not see them), a call where the
 * caller said nothing is skipped, and a failing LLM is retried with backoff on
 * the manual clock, then kept in the failed list, from which a retry succeeds.
 */

const ANSWER = {
  summary: 'The caller booked a cleaning for Friday and asked to be called back on +15550001234.',
  disposition: 'follow_up',
  variables: { name: 'Ana', day: 'Friday', partySize: 2, confirmed: true, nested: { dropped: true } },
};

describe.each(BACKENDS)('post-call processing on $name', (backend) => {
  let t: TestApp;
  let fake: FakeOpenAI;
  let jobClock: ManualClock;
  let runner: MemoryJobRunner;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey: 'sk-post-call' });
    const db = await backend.create();
    cleanup = db.cleanup;
    jobClock = new ManualClock();
    runner = new MemoryJobRunner({ clock: jobClock, logger: silentLogger });
    t = await buildTestApp({
      databaseUrl: db.databaseUrl,
      env: { OPENAI_API_KEY: 'sk-post-call', OPENAI_BASE_URL: fake.url },
      overrides: { jobs: runner, jobPolicies: { [POST_CALL_JOB]: { attempts: 3, backoff: { type: 'exponential', delayMs: 1000 } } } },
    });
  });

  afterAll(async () => {
    await t?.close();
    await fake?.close();
    await cleanup?.();
  });

  async function endCall(callSid: string, turns: { role: 'caller' | 'agent'; text: string }[]): Promise<void> {
    const calls = t.container.telephony.calls;
    await calls.open({ callSid, accountSid: 'AC1', agentId: 'ag_postcall', slug: 'clinic', version: 1, from: '+15550001234', to: '+15550009876', direction: 'inbound' });
    let at = Date.now();
    for (const turn of turns) await calls.addTurn(callSid, { ...turn, at: at++ });
    await calls.end(callSid, 'caller hung up');
    await t.container.postCall.settled();
    await runner.idle();
  }

  const getCall = (id: string, key: string) => t.app.inject({ method: 'GET', url: `/api/v1/calls/${id}`, headers: bearer(key) });

  it('summarises an ended call in JSON mode and stores it beside the record', async () => {
    fake.requests.length = 0;
    fake.enqueue({ text: JSON.stringify(ANSWER) });
    await endCall('CApostcall1', [
      { role: 'agent', text: 'Bright Smile dental, how can I help?' },
      { role: 'caller', text: 'Hi, this is Ana, I would like a cleaning on Friday for two.' },
      { role: 'agent', text: 'Booked. Anything else?' },
    ]);

    expect(fake.requests).toHaveLength(1);
    const request = fake.requests[0]!;
    expect(request.response_format).toEqual({ type: 'json_object' });
    const messages = request.messages as { role: string; content: string }[];
    expect(messages[0]!.content).toContain('JSON');
    expect(messages[1]!.content).toContain('Caller: Hi, this is Ana');
    expect(messages[1]!.content).toContain('Agent: Booked. Anything else?');
    expect(messages[1]!.content).toContain('How the call ended: completed (caller hung up)');

    const stored = await t.container.callHistory.getPostCall('CApostcall1');
    expect(stored).toMatchObject({
      summary: ANSWER.summary,
      disposition: 'follow_up',
      variables: { name: 'Ana', day: 'Friday', partySize: 2, confirmed: true },
    });
    expect(stored!.variables).not.toHaveProperty('nested');

    // The recorder rewrites the record on every flush: the result lives in its own column and stays.
    const record = (await t.container.callHistory.get('CApostcall1'))!;
    await t.container.callHistory.save({ ...record, metrics: { ...record.metrics, framesIn: 99 } });
    expect(await t.container.callHistory.getPostCall('CApostcall1')).toEqual(stored);

    const keys = await keysByRole(t);
    const admin = await getCall('CApostcall1', t.adminKey);
    expect(admin.statusCode).toBe(200);
    expect(admin.json().postCall).toEqual({ ...stored, at: new Date(stored!.at).toISOString() });
    const viewer = await getCall('CApostcall1', keys.support);
    expect(viewer.json().postCall.summary).toBe('The caller booked a cleaning for Friday and asked to be called back on +1****1234.');
    expect(viewer.body).not.toContain('+15550001234');
  });

  it('skips a call where the caller said nothing: no LLM request, postCall null', async () => {
    fake.requests.length = 0;
    await endCall('CApostcall2', [{ role: 'agent', text: 'Hello? Is anyone there?' }]);
    expect(fake.requests).toHaveLength(0);
    const res = await getCall('CApostcall2', t.adminKey);
    expect(res.statusCode).toBe(200);
    expect(res.json().postCall).toBeNull();
  });

  it('retries a failing LLM with backoff, keeps it in the failed list, and a retry stores the result', async () => {
    fake.requests.length = 0;
    const broken = { status: 400, errorBody: { error: { message: 'model overloaded', type: 'invalid_request_error' } } };
    fake.enqueue(broken, { text: 'this is not JSON' }, broken);
    await endCall('CApostcall3', [{ role: 'caller', text: 'I want to cancel my appointment.' }]);
    expect(fake.requests).toHaveLength(1);

    await jobClock.advance(999);
    await runner.idle();
    expect(fake.requests).toHaveLength(1);
    await jobClock.advance(1);
    await runner.idle();
    expect(fake.requests).toHaveLength(2);
    await jobClock.advance(2000);
    await runner.idle();
    expect(fake.requests).toHaveLength(3);

    const [failed] = await runner.failed(POST_CALL_JOB, { offset: 0, limit: 10 });
    expect(failed).toMatchObject({ id: 'post-call-CApostcall3', payload: { callSid: 'CApostcall3' }, attemptsMade: 3 });
    expect((await getCall('CApostcall3', t.adminKey)).json().postCall).toBeNull();

    fake.enqueue({ text: JSON.stringify({ summary: 'The caller cancelled.', disposition: 'cancelled', variables: {} }) });
    expect(await runner.retry(POST_CALL_JOB, 'post-call-CApostcall3')).toBe(true);
    await runner.idle();
    expect(fake.requests).toHaveLength(4);
    // A disposition outside the fixed set is kept as `other`.
    expect((await getCall('CApostcall3', t.adminKey)).json().postCall).toMatchObject({ summary: 'The caller cancelled.', disposition: 'other', variables: {} });
    expect(await runner.failed(POST_CALL_JOB, { offset: 0, limit: 10 })).toHaveLength(0);
  });
});

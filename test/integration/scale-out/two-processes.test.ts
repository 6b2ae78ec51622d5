import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPostgresSchema } from '../../../src/store/db.js';
import { startFakeElevenLabs, type FakeElevenLabs } from '../../../src/testing/elevenlabs-server.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../../src/testing/twilio-rest.js';
import { attachSimulatorToRest } from '../../../src/testing/twilio-sim-rest.js';
import { TwilioSimulator, sid } from '../../../src/testing/twilio-simulator.js';
import { TEST_POSTGRES_URL } from '../../contract/store/backends.js';
import { startServerProcess, type ServerProcess } from '../../support/server-process.js';
import { TEST_REDIS_URL, deletePrefix } from '../redis/redis-test.js';

/**
 * Invariant (issue 12, docs/architecture.md#several-processes): two real server
 * processes on one Redis and one PostgreSQL behave as one. A call's webhook lands
 * on A and its media stream on B, and B plays the greeting; a deactivation
 * through A changes routing on B for the very next call; an assume through A's
 * API reaches B (which holds the call) and stops the AI there within 500 ms,
 * and its Twilio REST requests reach Twilio; the person's leg callbacks landing
 * on A are run on B, and a hand back through A's API returns the caller to the
 * AI; a SIGKILLed B has its calls ended
 * as failed / process_lost within the heartbeat timeout while A's call goes on
 * and the history keeps everything.
 *
 * Providers are loopback fakes in this process (ElevenLabs, Twilio's REST API
 * and the Twilio simulator signing every webhook); Redis keys live under a prefix
 * of this run and the PostgreSQL tables in a schema of its own, both removed after.
 */

const ACCOUNT_SID = 'AC' + '0'.repeat(31) + '7';
const AUTH_TOKEN = 'two-processes-twilio-auth-token';
const PUBLIC_URL = 'https://voice.test';
const ADMIN_KEY = 'two-processes-admin-key-0123456789abcdefXYZ';
const HEARTBEAT_TIMEOUT_MS = 1500;
/** ProcessWatch beats (and sweeps) every third of the timeout. */
const BEAT_MS = HEARTBEAT_TIMEOUT_MS / 3;
const CALLER = '+15550001111';
const LONG_NUMBER = '+15550100071';
const GATE_NUMBER = '+15550100072';
const SHORT_NUMBER = '+15550100073';
const PERSON_PHONE = '+15550109001';
/** A person who never answers: the call they are rung for stays on hold in its conference. */
const AWAY_PHONE = '+15550109002';
const STREAM_TWIML = /<Connect[^>]*><Stream /;

const sentence = (i: number) => `This is sentence number ${i} of a long greeting, played slowly so that a person can take the call in the middle of it.`;
const FLOWS: Record<string, Record<string, unknown>> = {
  // About 12 s of agent speech: the assume lands in the middle of it.
  long: {
    version: 1,
    name: 'Long greeting',
    start: 'hello',
    nodes: [
      { id: 'hello', type: 'say', text: Array.from({ length: 10 }, (_, i) => sentence(i + 1)).join(' '), next: 'bye' },
      { id: 'bye', type: 'end', text: 'Goodbye from long.' },
    ],
  },
  gate: keyFlow('gate'),
  short: keyFlow('short'),
};

function keyFlow(tag: string): Record<string, unknown> {
  return {
    version: 1,
    name: `Keys ${tag}`,
    start: 'hello',
    nodes: [
      { id: 'hello', type: 'say', text: `Hello from ${tag}.`, next: 'ask' },
      {
        id: 'ask',
        type: 'gather',
        prompt: `Press 1 for ${tag}.`,
        variable: 'key',
        input: ['dtmf'],
        valueType: 'digits',
        digits: { min: 1, max: 1, terminator: 'none' },
        timeoutMs: 60_000,
        next: 'bye',
        onFailure: 'bye',
      },
      { id: 'bye', type: 'end', text: `Goodbye from ${tag}.` },
    ],
  };
}

const prefix = `test-two-${process.pid}-${randomBytes(4).toString('hex')}:`;
const schema = `test_two_${process.pid}_${randomBytes(4).toString('hex')}`;
let dir: string;
let tts: FakeElevenLabs;
let rest: FakeTwilioRest;
const servers: ServerProcess[] = [];
const sims: TwilioSimulator[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'two-processes-'));
  await Promise.all(Object.entries(FLOWS).map(([slug, flow]) => writeFile(join(dir, `${slug}.json`), JSON.stringify(flow))));
  [tts, rest] = await Promise.all([startFakeElevenLabs(), startFakeTwilioRest()]);
});

afterAll(async () => {
  for (const call of sims.flatMap((s) => s.calls)) if (!call.ended) await call.hangUp().catch(() => {});
  await Promise.all(servers.map((s) => s.kill()));
  await Promise.allSettled([tts?.close(), rest?.close()]);
  await deletePrefix(prefix);
  await dropPostgresSchema(TEST_POSTGRES_URL, schema);
  if (dir) await rm(dir, { recursive: true, force: true });
});

function serverEnv(): Record<string, string> {
  const database = new URL(TEST_POSTGRES_URL);
  database.searchParams.set('schema', schema);
  return {
    DATABASE_URL: database.toString(),
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: prefix,
    PROCESS_HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS),
    PUBLIC_URL,
    ADMIN_API_KEY: ADMIN_KEY,
    SECRET_KEY: 'two-processes-secret-key-0123456789',
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_API_BASE_URL: rest.url,
    ELEVENLABS_API_KEY: tts.apiKey,
    ELEVENLABS_BASE_URL: tts.url,
    FLOWS_DIR: dir,
    PHONE_NUMBERS: `${LONG_NUMBER}=long,${GATE_NUMBER}=gate,${SHORT_NUMBER}=short`,
    WORKERS: 'off',
    POST_CALL_PROCESSING: 'off',
    // Real time on a shared machine: a slow loop must not turn calls away.
    LOOP_LAG_LIMIT_MS: '0',
  };
}

function simulator(webhooks: ServerProcess, streams: ServerProcess = webhooks): TwilioSimulator {
  const sim = new TwilioSimulator({
    serverUrl: webhooks.url,
    streamServerUrl: streams.url,
    publicUrl: PUBLIC_URL,
    authToken: AUTH_TOKEN,
    accountSid: ACCOUNT_SID,
    people: { [PERSON_PHONE]: 'accept', [AWAY_PHONE]: 'no-answer' },
  });
  sims.push(sim);
  return sim;
}

/** A call as GET /calls/:id shows it (the fields asserted on). */
interface CallView {
  id: string;
  state: string;
  outcome: { kind: string; detail?: string } | null;
  events: { type: string }[];
  turns: { role: string; text: string }[];
}

async function api<T = Record<string, unknown>>(server: ServerProcess, method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

/** Real time: the processes run on their own clocks. Polls `check` until it returns something truthy. */
async function until<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000, stepMs = 20): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

const voiceParams = (callSid: string, to: string) => ({
  CallSid: callSid,
  AccountSid: ACCOUNT_SID,
  From: CALLER,
  To: to,
  Direction: 'inbound',
  ApiVersion: '2010-04-01',
  CallStatus: 'ringing',
});

async function holderOf(callSid: string): Promise<string | null> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    return await redis.hget(`${prefix}calls:holder`, callSid);
  } finally {
    redis.disconnect();
  }
}

const ready = (s: ServerProcess) => until(async () => (await fetch(`${s.url}/ready`)).status === 200, 'ready', 60_000, 100);

describe('two server processes on one Redis and PostgreSQL', () => {
  it('webhook on A and stream on B; deactivation, assume and process loss act across both', async () => {
    // Both at once on the empty schema: one migrates and imports the flows under the start-up
    // lock while the other waits, then finds them there (docs/architecture.md#storage).
    const started = performance.now();
    const starting = await Promise.allSettled([startServerProcess(serverEnv()), startServerProcess(serverEnv())]);
    for (const s of starting) if (s.status === 'fulfilled') servers.push(s.value);
    for (const s of starting) if (s.status === 'rejected') throw s.reason;
    const [a, b] = servers as [ServerProcess, ServerProcess];
    await Promise.all([ready(a), ready(b)]);
    console.info(`two processes ready after ${(performance.now() - started).toFixed(0)} ms`);
    expect(a.processId).toBeDefined();
    expect(b.processId).toBeDefined();
    expect(a.processId).not.toBe(b.processId);

    // The people the assumes below ring, made before the long greeting starts: password hashing on a
    // loaded machine must not eat into the ~12 s the assume has to land in.
    const staff = (displayName: string, username: string, phone: string) =>
      api<{ id: string }>(a, 'POST', '/staff', { displayName, username: `${username}-${randomBytes(3).toString('hex')}`, password: 'secret-pass', role: 'support', phone });
    const person = await staff('Pat Person', 'pat', PERSON_PHONE);
    expect(person.status).toBe(201);
    const away = await staff('Alex Away', 'alex', AWAY_PHONE);
    expect(away.status).toBe(201);

    // (a) The webhook lands on A, the stream on B, and B plays the greeting.
    const ab = simulator(a, b);
    attachSimulatorToRest(ab, rest);
    const call1 = await ab.placeCall({ from: CALLER, to: LONG_NUMBER });
    expect(call1.events[0]).toMatchObject({ kind: 'twiml', path: '/twilio/voice' });
    expect((call1.events[0] as { xml: string }).xml).toMatch(STREAM_TWIML);
    await until(() => call1.audioBytes >= 8000, 'a second of greeting audio on the stream to B');
    expect(await holderOf(call1.callSid)).toBe(b.processId);
    expect((await api(a, 'GET', `/calls/${call1.callSid}`)).json).toMatchObject({ state: 'ai', agent: { slug: 'long' } });

    // (b) B serves the gate agent (its lookup cached), A deactivates it, B's very next call is turned away.
    const onB = simulator(b);
    const warm = sid('CA');
    expect((await onB.post('/twilio/voice', voiceParams(warm, GATE_NUMBER))).body).toMatch(STREAM_TWIML);
    await onB.post('/twilio/status', { ...voiceParams(warm, GATE_NUMBER), CallStatus: 'completed' });
    const agents = (await api<{ items: { id: string; slug: string }[] }>(a, 'GET', '/agents?limit=50')).json.items;
    const gate = agents.find((x) => x.slug === 'gate')!;
    expect((await api(a, 'POST', `/agents/${gate.id}/deactivate`, { reason: 'two-process test' })).status).toBe(200);
    const turnedAway = await Promise.all([
      onB.post('/twilio/voice', voiceParams(sid('CA'), GATE_NUMBER)),
      simulator(a).post('/twilio/voice', voiceParams(sid('CA'), GATE_NUMBER)),
    ]);
    for (const answer of turnedAway) {
      expect(answer.status).toBe(200);
      expect(answer.body).toContain('<Say');
      expect(answer.body).not.toContain('<Stream');
    }

    // (c) An assume through A's API stops the AI on B: `clear` first, no agent audio after it.
    const clearsBefore = call1.clears;
    const t0 = performance.now();
    const assumed = api(a, 'POST', `/calls/${call1.callSid}/assume`, { staffId: person.json.id, reason: 'two-process test' });
    const clearedAt = await until(() => (call1.clears > clearsBefore ? performance.now() : 0), 'the clear on B’s stream', 10_000, 1);
    const answer = await assumed;
    const answeredAt = performance.now();
    expect(answer.status, JSON.stringify(answer.json)).toBe(202);
    expect(answer.json).toMatchObject({ id: call1.callSid, state: 'transferring' });
    const stopMs = clearedAt - t0;
    console.info(`assume through A → clear on B's stream: ${stopMs.toFixed(1)} ms; 202 after ${(answeredAt - t0).toFixed(1)} ms`);
    expect(stopMs).toBeLessThan(500);
    const clearIndex = call1.received.findIndex((m) => m.event === 'clear');
    expect(call1.received.slice(clearIndex + 1).filter((m) => m.event === 'media')).toEqual([]);
    // The caller is moved to the conference and the person rung, both through Twilio's REST API, from B.
    const callPath = `/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${call1.callSid}.json`;
    await until(
      () => rest.requests.some((r) => r.method === 'POST' && r.path === callPath && String(r.form.Twiml ?? '').includes(`call-${call1.callSid}`)),
      'the REST redirect of the caller into the conference',
    );
    await until(
      () => rest.requests.some((r) => r.method === 'POST' && /\/Conferences\/[^/]+\/Participants\.json$/.test(r.path) && r.form.To === PERSON_PHONE),
      'the REST participant create ringing the person',
    );
    expect((await api<CallView>(b, 'GET', `/calls/${call1.callSid}`)).json.events.map((e) => e.type)).toContain('handoff.assumed');

    // The person answers: their leg's callbacks land on A and are run on B, which runs the transfer.
    await until(async () => (await api<CallView>(a, 'GET', `/calls/${call1.callSid}`)).json.state === 'human', 'the person to have the call');
    // The hand back through A's API is run on B too; the caller comes back to the AI on a new stream.
    const streamsBefore = call1.events.filter((e) => e.kind === 'stream_open').length;
    const handedBack = await api<CallView>(a, 'POST', `/calls/${call1.callSid}/transfer-to-ai`, { agentId: 'long', reason: 'two-process test' });
    expect(handedBack.status, JSON.stringify(handedBack.json)).toBe(202);
    await until(() => call1.events.filter((e) => e.kind === 'stream_open').length > streamsBefore, 'the caller back on a media stream');
    await until(async () => (await api<CallView>(a, 'GET', `/calls/${call1.callSid}`)).json.state === 'ai', 'the AI to have the call again');
    expect(await holderOf(call1.callSid)).toBe(b.processId);

    // A second call on B, assumed for a person who does not answer: the caller holds in the conference
    // (no stream whose end Twilio would report), so only B knows of it.
    const call3 = await ab.placeCall({ from: CALLER, to: LONG_NUMBER });
    await until(() => call3.audioBytes >= 1600, 'call 3’s greeting on B');
    expect(await holderOf(call3.callSid)).toBe(b.processId);
    const onHold = await api<CallView>(a, 'POST', `/calls/${call3.callSid}/assume`, { staffId: away.json.id });
    expect(onHold.status, JSON.stringify(onHold.json)).toBe(202);

    // (d) A holds a call of its own; then B dies.
    const onA = simulator(a);
    const call2 = await onA.placeCall({ from: CALLER, to: SHORT_NUMBER });
    await until(() => call2.marksReturned.length >= 2, 'A’s call to reach its keypad prompt');
    expect(await holderOf(call2.callSid)).toBe(a.processId);
    const killedAt = performance.now();
    await b.kill();
    const lost = await until(
      async () => {
        const r = (await api<CallView>(a, 'GET', `/calls/${call3.callSid}`)).json;
        return r.state === 'ended' ? r : undefined;
      },
      'B’s call on hold to be ended by A',
      HEARTBEAT_TIMEOUT_MS + BEAT_MS + 10_000,
      10,
    );
    const lostMs = performance.now() - killedAt;
    console.info(`SIGKILL of B → its call on hold ended as process_lost after ${lostMs.toFixed(0)} ms (timeout ${HEARTBEAT_TIMEOUT_MS} ms + one beat)`);
    expect(lost.outcome).toEqual({ kind: 'failed', detail: 'process_lost' });
    // A beat plus the sweep's own work; the loaded-machine slack is in the poll, not in the promise.
    expect(lostMs).toBeLessThan(HEARTBEAT_TIMEOUT_MS + BEAT_MS + 2_000);

    // A's call goes on: the key is heard, the goodbye played, the call completes normally.
    expect((await api<CallView>(a, 'GET', `/calls/${call2.callSid}`)).json.state).toBe('ai');
    call2.pressDigit('1');
    const done2 = await until(
      async () => {
        const r = (await api<CallView>(a, 'GET', `/calls/${call2.callSid}`)).json;
        return r.state === 'ended' ? r : undefined;
      },
      'A’s call to end',
    );
    expect(done2.outcome?.kind).toBe('completed');
    expect(done2.outcome?.detail).not.toBe('process_lost');
    const agentSaid = done2.turns.filter((t) => t.role === 'agent').map((t) => t.text);
    expect(agentSaid).toEqual(expect.arrayContaining(['Hello from short.', 'Press 1 for short.', 'Goodbye from short.']));

    // The history, read through A, has every call with its events.
    const history = (await api<{ items: CallView[] }>(a, 'GET', '/calls?limit=50')).json.items;
    const byId = new Map(history.map((c) => [c.id, c]));
    expect(byId.get(call3.callSid)).toMatchObject({ state: 'ended', outcome: { kind: 'failed', detail: 'process_lost' } });
    // B's call on a stream: Twilio saw the socket drop and asked A what next, or A's sweep ended it.
    expect(byId.get(call1.callSid)).toMatchObject({ state: 'ended' });
    expect(byId.get(call2.callSid)).toMatchObject({ state: 'ended', outcome: { kind: 'completed' } });
    expect(byId.get(warm)).toMatchObject({ state: 'ended' });
    expect(history).toHaveLength(6);
    const events1 = (await api<CallView>(a, 'GET', `/calls/${call1.callSid}`)).json.events.map((e) => e.type);
    expect(events1).toEqual(expect.arrayContaining(['call.started', 'stream.started', 'handoff.assumed', 'transfer.accepted', 'call.ended']));
    const events3 = (await api<CallView>(a, 'GET', `/calls/${call3.callSid}`)).json.events.map((e) => e.type);
    expect(events3).toEqual(expect.arrayContaining(['call.started', 'stream.started', 'handoff.assumed', 'call.ended']));
    const events2 = (await api<CallView>(a, 'GET', `/calls/${call2.callSid}`)).json.events.map((e) => e.type);
    expect(events2).toEqual(expect.arrayContaining(['call.started', 'stream.started', 'call.ended']));
  }, 120_000);
});

/**
 * Hostile input, fuzzed with fast-check (seeded, bounded runs so the suite stays
 * fast). Invariants: the media-stream frame parser never throws, whatever
 * arrives; the flow validator never throws on any JSON; signed Twilio webhooks
 * with random, missing and extra parameters never get a 5xx; the public API
 * answers any JSON body with a 2xx or a 4xx in the `{ error: { code, message } }`
 * shape, never a 5xx; a random flow that validates never hangs the interpreter or
 * the test chat.
 */
import fc from 'fast-check';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { MAX_AGENT_SPEECH_WITHOUT_INPUT_MS, MAX_STEPS_WITHOUT_INPUT, SPOKEN_CHARS_PER_SECOND } from '../../../src/flow/budget.js';
import { createInterpreter } from '../../../src/flow/interpreter.js';
import { validateFlow } from '../../../src/flow/validator.js';
import type { LlmPort } from '../../../src/providers/llm/port.js';
import { ScriptedPort, dtmf, speech, timeout, type ListenStep } from '../../support/scripted-port.js';
import { parseInbound } from '../../../src/telephony/messages.js';
import { TWILIO_PATHS } from '../../../src/telephony/twiml.js';
import { buildTestApp, type TestApp } from '../../support/app.js';

const SEED = 14;
const AUTH_TOKEN = 'fuzz-twilio-auth-token';
const PUBLIC_URL = 'https://voice.test';

/** JSON values, including the shapes the parsers expect with wrong types inside. */
const json = fc.jsonValue({ maxDepth: 4 });
const frameLike = fc.record(
  {
    event: fc.oneof(fc.constantFrom('connected', 'start', 'media', 'mark', 'dtmf', 'stop'), fc.string(), fc.integer()),
    streamSid: fc.oneof(fc.string(), json),
    start: json,
    media: fc.oneof(json, fc.record({ payload: fc.oneof(fc.base64String(), fc.string(), json), track: json, timestamp: json })),
    mark: json,
    dtmf: json,
    sequenceNumber: json,
  },
  { requiredKeys: [] },
);

describe('media-stream frames', () => {
  it('the parser never throws on random text, JSON of the wrong shape, or binary', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), json.map((v) => JSON.stringify(v)), frameLike.map((v) => JSON.stringify(v))), (text) => {
        expect(() => parseInbound(Buffer.from(text), false)).not.toThrow();
      }),
      { seed: SEED, numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        expect(() => parseInbound(Buffer.from(bytes), true)).not.toThrow();
        expect(() => parseInbound(Buffer.from(bytes), false)).not.toThrow();
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});

describe('flows', () => {
  const nodeLike = fc.record(
    {
      id: fc.oneof(fc.constantFrom('a', 'b', 'c', 'start'), fc.string(), json),
      type: fc.oneof(fc.constantFrom('say', 'conversation', 'gather', 'branch', 'http', 'transfer', 'end'), fc.string()),
      text: json,
      next: fc.oneof(fc.constantFrom('a', 'b', 'c'), json),
      branches: json,
      exits: json,
      else: fc.constantFrom('a', 'b', 'c'),
    },
    { requiredKeys: ['id', 'type'] },
  );
  it('the validator never throws on random JSON or random flow-shaped graphs', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          json,
          fc.record({ version: fc.oneof(fc.constant(1), json), name: json, settings: json, start: fc.oneof(fc.constantFrom('a', 'b'), json), nodes: fc.array(nodeLike, { maxLength: 8 }) }),
        ),
        (flow) => {
          const result = validateFlow(flow);
          expect(Array.isArray(result.errors)).toBe(true);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('random flows that validate never hang the interpreter: with a scripted caller every run ends within the per-call budget', async () => {
    let ran = 0;
    await fc.assert(
      fc.asyncProperty(validFlowGraph, callerScript, async (flow, script) => {
        ran++;
        const port = new ScriptedPort({ inputs: script });
        // Between two turns of the caller: node entries and the agent's speech (as the budget estimates it on text).
        let steps = 0;
        let speechMs = 0;
        let worst = { steps: 0, speechMs: 0 };
        let total = 0;
        const cap = (script.length + 1) * (MAX_STEPS_WITHOUT_INPUT + 10);
        const interpreter = createInterpreter({
          flow,
          agent: { id: 'ag_fuzz', slug: 'fuzz', name: 'Fuzz', version: 1 },
          call: { sid: 'CA' + 'f'.repeat(32), from: '+15550100999', to: '+15550100001' },
          port,
          llm: politeLlm,
          clock: new ManualClock(),
          onEvent: (e) => {
            if (e.type !== 'node.entered') return;
            steps++;
            // Never let a runaway run take the test runner with it: stop it and fail below.
            if (++total > cap) interpreter.abort('runaway');
          },
        });
        const listen = port.listen.bind(port);
        port.listen = (options) => {
          worst = { steps: Math.max(worst.steps, steps), speechMs: Math.max(worst.speechMs, speechMs) };
          steps = 0;
          speechMs = 0;
          return listen(options);
        };
        const say = port.say.bind(port);
        port.say = async (text, options) => {
          const result = await say(text, options);
          speechMs += (port.said.at(-1)!.text.length / SPOKEN_CHARS_PER_SECOND) * 1000;
          return result;
        };
        const started = performance.now();
        const result = await interpreter.run();
        const wallMs = performance.now() - started;
        worst = { steps: Math.max(worst.steps, steps), speechMs: Math.max(worst.speechMs, speechMs) };
        expect(total, 'node entries in the whole run').toBeLessThanOrEqual(cap);
        expect(result.outcome, 'the run was stopped as a runaway').not.toBe('aborted');
        // The budget: at most its steps between turns (plus the fallback), and speech up to the limit plus the say that crossed it.
        expect(worst.steps).toBeLessThanOrEqual(MAX_STEPS_WITHOUT_INPUT + 2);
        expect(worst.speechMs).toBeLessThanOrEqual(MAX_AGENT_SPEECH_WITHOUT_INPUT_MS + 2 * LONGEST_SAY_MS);
        expect(wallMs).toBeLessThan(2_000);
      }),
      { seed: SEED, numRuns: 150 },
    );
    expect(ran).toBeGreaterThan(50);
  });
});

/** A model that always answers briefly, so conversation nodes take a turn and listen again. */
const politeLlm: LlmPort = {
  async *stream() {
    yield { type: 'text', text: 'Sure.' };
    yield { type: 'done', finishReason: 'stop' };
  },
};

const LONG_TEXT = 'This announcement goes on for a while. '.repeat(12);
const LONGEST_SAY_MS = (LONG_TEXT.length / SPOKEN_CHARS_PER_SECOND) * 1000;

/**
 * Flow-shaped graphs of up to six nodes of every kind but `http` (no network here), wired at
 * random: cycles through inputs, cycles without, dead ends, branches on variables the gathers
 * set. Only those the validator accepts are kept, as only those can be published.
 */
const validFlowGraph = fc
  .array(
    fc.record({
      type: fc.constantFrom('say', 'say', 'gather', 'branch', 'branch', 'conversation', 'transfer', 'end'),
      text: fc.constantFrom('Hello.', 'One moment please.', LONG_TEXT),
      refs: fc.array(fc.nat(5), { minLength: 4, maxLength: 4 }),
      input: fc.constantFrom<('dtmf' | 'speech')[]>(['dtmf'], ['speech'], ['dtmf', 'speech']),
      retries: fc.integer({ min: 0, max: 2 }),
      variable: fc.constantFrom('x', 'y'),
      op: fc.constantFrom('eq', 'exists', 'contains'),
      maxTurns: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 6 },
  )
  .map((specs) => {
    const id = (i: number) => `n${i % specs.length}`;
    const nodes = specs.map((n, i) => {
      const [a, b, c, d] = n.refs.map(id) as [string, string, string, string];
      const nodeId = `n${i}`;
      switch (n.type) {
        case 'say':
          return { id: nodeId, type: 'say', text: n.text, next: a };
        case 'gather':
          return { id: nodeId, type: 'gather', prompt: 'Your choice?', variable: n.variable, input: n.input, retries: n.retries, next: a, onFailure: b };
        case 'branch':
          return { id: nodeId, type: 'branch', branches: [{ if: { var: n.variable, op: n.op, value: '1' }, to: a }, { if: { var: 'y', op: 'eq', value: 'yes' }, to: b }], else: c };
        case 'conversation':
          return { id: nodeId, type: 'conversation', prompt: 'Help the caller.', exits: [{ when: 'the caller is done', to: a }], ...(n.maxTurns ? { maxTurns: n.maxTurns, onMaxTurns: b } : {}) };
        case 'transfer':
          return { id: nodeId, type: 'transfer', target: { number: '+15550109999' }, mode: 'cold', onUnavailable: d };
        default:
          return { id: nodeId, type: 'end', text: 'Goodbye.' };
      }
    });
    return { version: 1, name: 'Fuzzed', settings: { fallbackMessage: 'Sorry, goodbye.' }, start: 'n0', nodes };
  })
  .map((input) => validateFlow(input))
  .filter((v) => v.errors.length === 0 && v.flow !== undefined)
  .map((v) => v.flow!);

/** The caller: silence, random words, keys; when the script runs out, the caller hangs up. */
const callerScript: fc.Arbitrary<ListenStep[]> = fc.array(
  fc.oneof(
    fc.constant(timeout),
    fc.array(fc.constantFrom('yes', 'no', 'one', 'help', 'pizza', 'done', '1'), { minLength: 1, maxLength: 4 }).map((w) => speech(w.join(' '))),
    fc.stringMatching(/^[0-9*#]{1,3}$/).map((d) => dtmf(d)),
  ),
  { maxLength: 8 },
);

describe('over HTTP', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ env: { TWILIO_AUTH_TOKEN: AUTH_TOKEN, PUBLIC_URL, TWILIO_ACCOUNT_SID: 'AC' + '0'.repeat(32) } });
  });
  afterAll(async () => t.close());

  const paramName = fc.oneof(fc.constantFrom('CallSid', 'AccountSid', 'To', 'From', 'CallStatus', 'Direction', 'DialCallStatus', 'Digits', 'StreamSid'), fc.string({ maxLength: 12 }));
  const paramValue = fc.oneof(fc.constantFrom('CA' + 'a'.repeat(32), '+15550100009', 'completed', 'in-progress', ''), fc.string({ maxLength: 40 }));

  it('signed Twilio webhooks with random, missing and extra parameters never get a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(TWILIO_PATHS.voice, TWILIO_PATHS.status, TWILIO_PATHS.streamEnded, TWILIO_PATHS.dialResult),
        fc.dictionary(paramName, paramValue, { maxKeys: 8 }),
        async (path, params) => {
          const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, PUBLIC_URL + path, params);
          const res = await t.app.inject({
            method: 'POST',
            url: path,
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
            payload: new URLSearchParams(params).toString(),
          });
          expect(res.statusCode, res.body).toBeLessThan(500);
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('the public API answers any JSON body with a 2xx or a 4xx in the error shape, never a 5xx', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/agents', headers: { authorization: `Bearer ${t.adminKey}` }, payload: { name: 'Fuzz' } });
    const agentId = created.json().id as string;
    const routes = [
      { method: 'POST' as const, url: '/api/v1/agents' },
      { method: 'PATCH' as const, url: `/api/v1/agents/${agentId}` },
      { method: 'PUT' as const, url: `/api/v1/agents/${agentId}/draft` },
      { method: 'POST' as const, url: `/api/v1/agents/${agentId}/validate` },
      { method: 'POST' as const, url: `/api/v1/agents/${agentId}/activate` },
      { method: 'POST' as const, url: '/api/v1/api-keys' },
      { method: 'POST' as const, url: '/api/v1/staff' },
      { method: 'POST' as const, url: '/api/v1/queues' },
      { method: 'POST' as const, url: '/api/v1/auth/login' },
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), fc.oneof(json, fc.record({ name: json, flow: json, role: json, baseRevision: json }, { requiredKeys: [] })), async (route, body) => {
        const res = await t.app.inject({
          ...route,
          headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json' },
          payload: JSON.stringify(body),
        });
        expect(res.statusCode, res.body).toBeLessThan(500);
        if (res.statusCode >= 400) expect(res.json()).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
      }),
      { seed: SEED, numRuns: 120 },
    );
  });

  it('random flows that validate, run in the HTTP test chat, always reply or end, and the server keeps answering', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(validFlowGraph, fc.array(fc.constantFrom('1', '2', 'yes', 'done'), { minLength: 1, maxLength: 6 }), async (flow, answers) => {
        const auth = { authorization: `Bearer ${t.adminKey}` };
        const created = await t.app.inject({ method: 'POST', url: '/api/v1/agents', headers: auth, payload: { name: `Fuzz chat ${n++}`, flow } });
        expect(created.statusCode, created.body).toBe(201);
        let turn = await t.app.inject({ method: 'POST', url: `/api/v1/agents/${created.json().id}/test-chat`, headers: auth, payload: {} });
        expect(turn.statusCode, turn.body).toBe(201);
        const chatId = turn.json().id as string;
        for (const answer of answers) {
          const body = turn.json() as { status: string; expects: { speech: boolean; dtmf: boolean } | null };
          expect(['waiting', 'ended']).toContain(body.status);
          if (body.status === 'ended') break;
          const message = body.expects?.dtmf && /^[0-9]$/.test(answer) ? { digits: answer } : body.expects?.speech ? { text: answer } : { digits: '1' };
          turn = await t.app.inject({ method: 'POST', url: `/api/v1/test-chats/${chatId}/messages`, headers: auth, payload: message });
          expect(turn.statusCode, turn.body).toBe(200);
          expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
        }
        expect(['waiting', 'ended']).toContain(turn.json().status);
      }),
      { seed: SEED, numRuns: 25 },
    );
  });
});

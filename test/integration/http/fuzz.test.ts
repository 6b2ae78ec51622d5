/**
 * Hostile input, fuzzed with fast-check (seeded, bounded runs so the suite stays
 * fast). Invariants: the media-stream frame parser never throws, whatever
 * arrives; the flow validator never throws on any JSON; signed Twilio webhooks
 * with random, missing and extra parameters never get a 5xx; the public API
 * answers any JSON body with a 2xx or a 4xx in the `{ error: { code, message } }`
 * shape, never a 5xx.
 */
import fc from 'fast-check';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateFlow } from '../../../src/flow/validator.js';
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
});

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
});

import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app.js';
import type { CallRecord } from '../../src/calls/call-record.js';
import type { CallEvent } from '../../src/calls/events.js';
import { loadConfig } from '../../src/config.js';
import { createContainer, type Container } from '../../src/container.js';
import { ManualClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { ElevenLabsTts } from '../../src/providers/tts/elevenlabs.js';
import { startFakeElevenLabs, type FakeElevenLabs, type FakeElevenLabsOptions } from '../../src/testing/elevenlabs-server.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../src/testing/twilio-rest.js';
import { TwilioSimulator, type SimCall } from '../../src/testing/twilio-simulator.js';
import { ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL } from './harness.js';
import { untilVirtual } from '../support/virtual-time.js';

/**
 * A server built by the REAL container wiring: the container's own PhraseCache
 * over SQL `tts_cache`, its start-up warm-up, the publish/activation hooks and
 * the call history recorder, with ElevenLabs and Twilio faked on loopback. The
 * only injected parts are the manual clock and a TTS port on real time (so a
 * loopback reply is never a first-byte timeout in virtual time); the container
 * builds its phrase cache over that port like over its own.
 * Unlike ./harness.ts, nothing is warmed by the test.
 */
export interface RealServer {
  clock: ManualClock;
  container: Container;
  app: FastifyInstance;
  sim: TwilioSimulator;
  tts: FakeElevenLabs;
  rest: FakeTwilioRest;
  events: CallEvent[];
  adminKey: string;
  databaseUrl: string;
  eventsOf(callSid: string): CallEvent[];
  record(callSid: string): Promise<CallRecord>;
  api(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown): Promise<LightMyRequestResponse>;
  until(done: () => boolean | Promise<boolean>, options?: { maxMs?: number; stepMs?: number; what?: string }): Promise<void>;
  finish(call: SimCall, maxMs?: number): Promise<CallRecord>;
  /** Closes the server; the fakes stay up unless `fakes` (for a restart on the same data). */
  close(options?: { keepData?: boolean }): Promise<void>;
}

export interface RealServerOptions {
  env?: Record<string, string>;
  /** Reuse a running fake ElevenLabs (a restart). */
  tts?: FakeElevenLabs;
  ttsOptions?: FakeElevenLabsOptions;
  /** Reuse a database (a restart); default a fresh SQLite file. */
  databaseUrl?: string;
  adminKey?: string;
  /** Do not wait for the start-up warm-up before returning. */
  skipWarmupWait?: boolean;
  /** Called as soon as the container exists, before the app is built (to see start-up state). */
  onContainer?: (container: Container) => void;
}


export async function startRealServer(options: RealServerOptions = {}): Promise<RealServer> {
  const clock = new ManualClock();
  const tts = options.tts ?? (await startFakeElevenLabs(options.ttsOptions));
  const rest = await startFakeTwilioRest();
  const dir = mkdtempSync(join(tmpdir(), 'real-wiring-'));
  const databaseUrl = options.databaseUrl ?? `sqlite:${join(dir, 'runtime.db')}`;
  const adminKey = options.adminKey ?? 'real-wiring-admin-key-0123456789';
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    PUBLIC_URL,
    LOG_LEVEL: 'silent',
    ADMIN_API_KEY: adminKey,
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_API_BASE_URL: rest.url,
    ELEVENLABS_API_KEY: tts.apiKey,
    ELEVENLABS_BASE_URL: tts.url,
    SECRET_KEY: 'scenario-secret-key-0123456789',
    FLOWS_DIR: join(dir, 'no-flows'),
    // The loop-lag guard measures real time; a busy test machine must not refuse calls. Its own tests turn it on.
    LOOP_LAG_LIMIT_MS: '0',
    ...options.env,
  });
  const container = await createContainer(config, silentLogger, {
    clock,
    telephony: { tts: new ElevenLabsTts({ apiKey: tts.apiKey, baseUrl: tts.url }) },
  });
  options.onContainer?.(container);
  if (!options.skipWarmupWait) await container.warmup;
  const events: CallEvent[] = [];
  container.telephony.calls.bus.subscribe((e) => events.push(e));
  const app = await buildApp(container);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const sim = new TwilioSimulator({
    serverUrl: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    publicUrl: PUBLIC_URL,
    authToken: AUTH_TOKEN,
    accountSid: ACCOUNT_SID,
    clock,
  });

  const until: RealServer['until'] = (done, opts = {}) => untilVirtual(clock, done, { ...opts, defaultStepMs: 50 });
  const record = async (callSid: string) => {
    const r = await container.telephony.calls.get(callSid);
    if (!r) throw new Error(`no call record for ${callSid}`);
    return r;
  };

  return {
    clock,
    container,
    app,
    sim,
    tts,
    rest,
    events,
    adminKey,
    databaseUrl,
    eventsOf: (callSid) => events.filter((e) => e.callSid === callSid),
    record,
    api: (method, url, payload) =>
      app.inject({
        method,
        url: `/api/v1${url}`,
        headers: { authorization: `Bearer ${adminKey}` },
        ...(payload !== undefined ? { payload: payload as object } : {}),
      }),
    until,
    async finish(call, maxMs = 120_000) {
      await until(async () => call.ended && (await container.telephony.calls.get(call.callSid))?.state === 'ended', {
        maxMs,
        what: 'the call to end',
      });
      await call.done;
      return record(call.callSid);
    },
    async close({ keepData = false } = {}) {
      await app.close();
      await container.close();
      await rest.close();
      if (!options.tts && !keepData) await tts.close();
      if (!keepData) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A flow that greets, waits for one key, then says goodbye: `tag` marks every text of a version. */
export function keyFlow(tag: string): Record<string, unknown> {
  return {
    version: 1,
    name: `Versions ${tag}`,
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

/** Creates an agent with `flow` through the API, publishes it, assigns `number` and activates; returns its id. */
export async function launchAgent(s: RealServer, slug: string, flow: Record<string, unknown>, number: string): Promise<string> {
  const created = await s.api('POST', '/agents', { name: slug, slug, flow });
  if (created.statusCode !== 201) throw new Error(`create: ${created.body}`);
  const id = created.json().id as string;
  const published = await s.api('POST', `/agents/${id}/publish`, { note: 'v1' });
  if (published.statusCode !== 201) throw new Error(`publish: ${published.body}`);
  const assigned = await s.api('PUT', `/phone-numbers/${encodeURIComponent(number)}`, { agentId: id });
  if (assigned.statusCode !== 200) throw new Error(`assign: ${assigned.body}`);
  const activated = await s.api('POST', `/agents/${id}/activate`, { reason: 'launch' });
  if (activated.statusCode !== 200) throw new Error(`activate: ${activated.body}`);
  return id;
}

/** Saves `flow` as the draft and publishes it through the API; returns the version number. */
export async function publishVersion(s: RealServer, id: string, flow: Record<string, unknown>): Promise<number> {
  const agent = (await s.api('GET', `/agents/${id}`)).json();
  const saved = await s.api('PUT', `/agents/${id}/draft`, { flow, baseRevision: agent.draft.revision });
  if (saved.statusCode !== 200) throw new Error(`save: ${saved.body}`);
  const published = await s.api('POST', `/agents/${id}/publish`, {});
  if (published.statusCode !== 201) throw new Error(`publish: ${published.body}`);
  return published.json().version as number;
}

import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../../src/app.js';
import type { CallRecord } from '../../src/calls/call-record.js';
import type { CallEvent } from '../../src/calls/events.js';
import { loadConfig } from '../../src/config.js';
import { createContainer, type Container } from '../../src/container.js';
import { ManualClock } from '../../src/core/clock.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import type { Flow } from '../../src/flow/schema.js';
import { MemoryTtsCacheStore, PhraseCache } from '../../src/pipeline/phrase-cache.js';
import { staticPhrasesOf } from '../../src/pipeline/static-phrases.js';
import { DeepgramStt } from '../../src/providers/stt/deepgram.js';
import { ElevenLabsTts } from '../../src/providers/tts/elevenlabs.js';
import { voiceFor } from '../../src/container.js';
import { startFakeDeepgram, type FakeDeepgram, type FakeDeepgramOptions } from '../../src/testing/deepgram-server.js';
import { startFakeElevenLabs, type FakeElevenLabs } from '../../src/testing/elevenlabs-server.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeOpenAIOptions } from '../../src/testing/openai-server.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../src/testing/twilio-rest.js';
import { attachSimulatorToRest } from '../../src/testing/twilio-sim-rest.js';
import { TwilioSimulator, type DialOutcome, type SimCall } from '../../src/testing/twilio-simulator.js';
import { realTick, untilVirtual } from '../support/virtual-time.js';

/**
 * One server on 127.0.0.1 with every vendor faked on loopback, a manual clock
 * shared by the server and the simulator, and every call event collected.
 * Virtual time moves in small steps; between steps the real event loop gets a
 * moment for socket I/O, so a 30-second call takes well under a second.
 */
export const ACCOUNT_SID = 'AC' + '0'.repeat(31) + '1';
export const AUTH_TOKEN = 'test-twilio-auth-token';
export const PUBLIC_URL = 'https://voice.test';
export const PIZZA_NUMBER = '+15550100002';
export const CALLER = '+15550001111';

export interface Harness {
  clock: ManualClock;
  container: Container;
  app: FastifyInstance;
  sim: TwilioSimulator;
  tts: FakeElevenLabs;
  rest: FakeTwilioRest;
  phrases: PhraseCache;
  /** With `speech`: the loopback Deepgram (the caller's words) and OpenAI. */
  dg: FakeDeepgram | undefined;
  openai: FakeOpenAI | undefined;
  /** The caller says `text` now (fake Deepgram, on the newest open connection). */
  say(text: string, options?: Parameters<FakeDeepgram['say']>[1]): void;
  events: CallEvent[];
  eventsOf(callSid: string): CallEvent[];
  record(callSid: string): Promise<CallRecord>;
  /** Advances virtual time until `done()` holds (or fails after `maxMs` virtual). */
  until(done: () => boolean | Promise<boolean>, options?: { maxMs?: number; stepMs?: number; what?: string }): Promise<void>;
  /** Waits for the call to end on both sides (simulator finished, record ended). */
  finish(call: SimCall, maxMs?: number): Promise<CallRecord>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  env?: Record<string, string>;
  dialOutcome?: DialOutcome | ((n: string) => DialOutcome);
  transferVia?: 'stream' | 'rest';
  /** Warm the phrase cache with the static phrases of these slugs (default: pizza). */
  warm?: string[];
  /**
   * Spoken calls: a fake Deepgram and a fake OpenAI on loopback, their keys and
   * base URLs in the config, and every live call's microphone streaming μ-law
   * silence at real time on the manual clock (the fake Deepgram transcribes by
   * audio received). Virtual time stands still while an LLM or TTS response is
   * streaming, so provider latency on loopback never turns into virtual seconds.
   */
  speech?: boolean;
  deepgram?: FakeDeepgramOptions;
  openai?: FakeOpenAIOptions;
  /** Where the server logs (default: nowhere). */
  logger?: Logger;
}


export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const clock = new ManualClock();
  const tts = await startFakeElevenLabs();
  const rest = await startFakeTwilioRest();
  const dg = options.speech ? await startFakeDeepgram(options.deepgram) : undefined;
  const openai = options.speech ? await startFakeOpenAI(options.openai) : undefined;
  // Scenarios count the LLM requests of the call itself; post-call processing has its own test (test/integration/jobs/post-call.test.ts).
  const speechEnv: Record<string, string> =
    dg && openai
      ? { DEEPGRAM_API_KEY: dg.apiKey, DEEPGRAM_BASE_URL: dg.url, OPENAI_API_KEY: 'test-openai-key', OPENAI_BASE_URL: openai.url, POST_CALL_PROCESSING: 'off' }
      : {};
  const config = loadConfig({
    DATABASE_URL: 'sqlite::memory:',
    PUBLIC_URL,
    LOG_LEVEL: 'silent',
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_API_BASE_URL: rest.url,
    ELEVENLABS_API_KEY: tts.apiKey,
    ELEVENLABS_BASE_URL: tts.url,
    SECRET_KEY: 'scenario-secret-key-0123456789',
    FLOWS_DIR: './flows',
    PHONE_NUMBERS: `${PIZZA_NUMBER}=pizza`,
    // The loop-lag guard measures real time; a busy test machine must not refuse calls. Its own tests turn it on.
    LOOP_LAG_LIMIT_MS: '0',
    ...speechEnv,
    ...options.env,
  });
  // TTS timeouts run on real time: virtual time races ahead of loopback I/O, and a
  // busy machine must not turn into a spurious first-byte timeout.
  const ttsPort = new ElevenLabsTts({ apiKey: tts.apiKey, baseUrl: tts.url });
  const phrases = new PhraseCache({ tts: ttsPort, store: new MemoryTtsCacheStore(clock), clock });
  const container = await createContainer(config, options.logger ?? silentLogger, {
    clock,
    telephony: {
      tts: ttsPort,
      phrases,
      ...(options.transferVia ? { transferVia: options.transferVia } : {}),
      // A generous connect timeout: virtual time runs ahead of the loopback handshake.
      ...(dg ? { stt: new DeepgramStt({ apiKey: dg.apiKey, baseUrl: dg.url, clock, timing: { connectTimeoutMs: 30_000 } }) } : {}),
    },
  });
  // Start-up warm-up of every served flow's static phrases, as the server does before /ready.
  for (const slug of options.warm ?? ['pizza']) {
    const flow = await servedFlow(container, slug);
    if (flow) await phrases.warm(staticPhrasesOf(flow), voiceFor(config, flow));
  }
  tts.requests.length = 0;
  const events: CallEvent[] = [];
  container.telephony.calls.bus.subscribe((e) => events.push(e));
  const app = await buildApp(container);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const serverUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const sim = new TwilioSimulator({
    serverUrl,
    publicUrl: PUBLIC_URL,
    authToken: AUTH_TOKEN,
    accountSid: ACCOUNT_SID,
    clock,
    ...(options.dialOutcome ? { dialOutcome: options.dialOutcome } : {}),
  });
  // The REST fake acts on simulated calls: redirects, hang-ups, person legs, conferences, forks.
  attachSimulatorToRest(sim, rest);

  // Caller microphones: 20 ms μ-law frames of silence for the virtual time that passed.
  const SILENCE = new Uint8Array(160).fill(0xff);
  const micAt = new Map<SimCall, number>();
  const pumpMics = () => {
    if (!options.speech) return;
    for (const call of sim.calls) {
      if (call.ended || !call.streamSid) continue;
      let at = micAt.get(call) ?? clock.now();
      while (clock.now() - at >= 20) {
        call.sendAudio(SILENCE, at);
        at += 20;
      }
      micAt.set(call, at);
    }
  };
  // Real-time providers on loopback: wait (bounded) until no LLM or TTS response is mid-stream.
  const pendingTts = new Set<Promise<void>>();
  let ttsSeen = 0;
  const providersIdle = async () => {
    if (!options.speech) return;
    for (let spins = 0; spins < 2000; spins++) {
      for (; ttsSeen < tts.requests.length; ttsSeen++) {
        const p: Promise<void> = tts.requests[ttsSeen]!.closed.then(() => void pendingTts.delete(p));
        pendingTts.add(p);
      }
      // A stalled response is marked 'stalled' at once: time must move for the client's timers to fire.
      const llmBusy = openai?.responses.some((r) => r.outcome === 'pending');
      if (!llmBusy && pendingTts.size === 0) return;
      await realTick();
    }
  };

  const until: Harness['until'] = (done, opts = {}) =>
    untilVirtual(clock, done, {
      ...opts,
      defaultStepMs: options.speech ? 20 : 50,
      beforeStep: providersIdle,
      afterStep: pumpMics,
    });

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
    phrases,
    dg,
    openai,
    say(text, sayOptions) {
      if (!dg) throw new Error('startHarness({ speech: true }) for spoken calls');
      dg.say(text, sayOptions);
    },
    events,
    eventsOf: (callSid) => events.filter((e) => e.callSid === callSid),
    record,
    until,
    async finish(call, maxMs = 120_000) {
      await until(async () => call.ended && (await container.telephony.calls.get(call.callSid))?.state === 'ended', {
        maxMs,
        what: 'the call to end',
      });
      await call.done;
      return record(call.callSid);
    },
    async close() {
      await app.close();
      await container.close();
      await tts.close();
      await rest.close();
      await dg?.close();
      await openai?.close();
    },
  };
}

async function servedFlow(container: Container, slug: string): Promise<Flow | undefined> {
  for (const [num, s] of Object.entries(container.config.PHONE_NUMBERS)) {
    if (s !== slug) continue;
    const found = await container.telephony.directory.lookupNumber(num);
    if (found.kind === 'active') return found.flow;
  }
  return undefined;
}

/** Event types in order, for compact assertions. */
export const typesOf = (events: CallEvent[]) => events.map((e) => e.type);

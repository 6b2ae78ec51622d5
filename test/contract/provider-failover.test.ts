/**
 * Provider failover behind circuit breakers, with the real adapters (official
 * SDKs) against the loopback fakes. Invariants: a primary that fails a request
 * before producing anything (500, timeout, a closed socket) hands it to the
 * secondary within the same request, so the caller hears the secondary's
 * answer; after BREAKER_FAILURES failures in a row the primary is skipped
 * without a request; after the open period one probe goes to it, and its
 * success closes the breaker. Something already spoken is never restarted
 * elsewhere. Breaker time runs on a manual clock; the adapters on real time.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { ProviderEndpoint, ProviderHealth, type EndpointRole } from '../../src/providers/endpoints.js';
import { ProviderError, type ProviderName, type ProviderStage } from '../../src/providers/errors.js';
import { FailoverLlm } from '../../src/providers/llm/failover.js';
import { OpenAiLlm } from '../../src/providers/llm/openai.js';
import type { LlmStreamEvent } from '../../src/providers/llm/port.js';
import { DeepgramStt } from '../../src/providers/stt/deepgram.js';
import { FailoverStt } from '../../src/providers/stt/failover.js';
import type { SttEvent } from '../../src/providers/stt/port.js';
import { ElevenLabsTts } from '../../src/providers/tts/elevenlabs.js';
import { FailoverTts } from '../../src/providers/tts/failover.js';
import type { VoiceSpec } from '../../src/providers/tts/port.js';
import { startFakeDeepgram } from '../../src/testing/deepgram-server.js';
import { startFakeElevenLabs } from '../../src/testing/elevenlabs-server.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../src/testing/openai-server.js';

const OPEN_MS = 30_000;
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function breakers(clock: ManualClock) {
  const health = new ProviderHealth();
  const endpoint = (stage: ProviderStage, role: EndpointRole, provider: ProviderName) =>
    health.add(new ProviderEndpoint(stage, role, provider, clock, silentLogger, { failureThreshold: 2, openMs: OPEN_MS }));
  return { health, endpoint };
}

async function fakeOpenAI(): Promise<FakeOpenAI> {
  const f = await startFakeOpenAI();
  cleanups.push(() => f.close());
  return f;
}

/** A TCP server that accepts and at once destroys every connection (a provider closing the socket). */
async function socketCloser(): Promise<{ url: string; connections: number }> {
  const state = { url: '', connections: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    state.connections++;
    sockets.add(s);
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  cleanups.push(() => new Promise((r) => server.close(r)));
  return state;
}

function openAi(baseUrl: string, model: string, extra: { firstTokenTimeoutMs?: number } = {}) {
  return new OpenAiLlm({ apiKey: 'test-openai-key', baseUrl, model, maxAttempts: 1, ...extra });
}

async function collectText(events: AsyncIterable<LlmStreamEvent>): Promise<string> {
  let text = '';
  for await (const e of events) if (e.type === 'text') text += e.text;
  return text;
}

async function rejection(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ProviderError) return err;
    throw err;
  }
  throw new Error('expected a ProviderError');
}

const ask = { messages: [{ role: 'user' as const, content: 'Where are you?' }] };

describe('LLM failover', () => {
  it('a flow’s llm.secondaryModel is the model the secondary answers with; the primary keeps the flow’s model', async () => {
    const primary = await fakeOpenAI();
    const secondary = await fakeOpenAI();
    primary.setResponder(() => ({ status: 500 }));
    secondary.setResponder(() => ({ text: 'From the secondary.' }));
    const { endpoint } = breakers(new ManualClock());
    const llm = new FailoverLlm(
      [
        { endpoint: endpoint('llm', 'primary', 'openai'), llm: openAi(primary.url, 'primary-model') },
        { endpoint: endpoint('llm', 'secondary', 'openai'), llm: openAi(secondary.url, 'secondary-model') },
      ],
      silentLogger,
    );
    expect(await collectText(llm.stream({ ...ask, model: 'flow-model', secondaryModel: 'flow-secondary-model' }))).toBe('From the secondary.');
    expect(primary.requests.map((r) => r.model)).toEqual(['flow-model']);
    expect(secondary.requests.map((r) => r.model)).toEqual(['flow-secondary-model']);
  });

  it('a primary answering 500 hands the turn to the secondary (its own model); the breaker opens after 2 and skips the primary', async () => {
    const clock = new ManualClock();
    const primary = await fakeOpenAI();
    const secondary = await fakeOpenAI();
    primary.setResponder(() => ({ status: 500 }));
    secondary.setResponder(() => ({ text: 'From the secondary.' }));
    const { health, endpoint } = breakers(clock);
    const llm = new FailoverLlm(
      [
        { endpoint: endpoint('llm', 'primary', 'openai'), llm: openAi(primary.url, 'primary-model') },
        { endpoint: endpoint('llm', 'secondary', 'openai'), llm: openAi(secondary.url, 'secondary-model') },
      ],
      silentLogger,
    );

    // The flow's model names a model of the primary; the secondary answers with its own.
    expect(await collectText(llm.stream({ ...ask, model: 'flow-model' }))).toBe('From the secondary.');
    expect(primary.requests.map((r) => r.model)).toEqual(['flow-model']);
    expect(secondary.requests.map((r) => r.model)).toEqual(['secondary-model']);
    expect(health.report().stages.llm).toBe('ok');

    expect(await collectText(llm.stream(ask))).toBe('From the secondary.');
    expect(primary.requests).toHaveLength(2);
    expect(health.report()).toMatchObject({ status: 'degraded', stages: { llm: 'degraded' } });

    // Open: the primary gets no request at all.
    expect(await collectText(llm.stream(ask))).toBe('From the secondary.');
    expect(primary.requests).toHaveLength(2);
    expect(secondary.requests).toHaveLength(3);

    // Half-open after the open period: one probe; the primary has recovered, so it closes.
    primary.setResponder(() => ({ text: 'Primary again.' }));
    await clock.advance(OPEN_MS);
    expect(health.report().endpoints.find((e) => e.role === 'primary')?.state).toBe('half_open');
    expect(await collectText(llm.stream(ask))).toBe('Primary again.');
    expect(health.report()).toMatchObject({ status: 'ok', stages: { llm: 'ok' } });
  });

  it('a failed half-open probe opens the breaker again for another period', async () => {
    const clock = new ManualClock();
    const primary = await fakeOpenAI();
    const secondary = await fakeOpenAI();
    primary.setResponder(() => ({ status: 503 }));
    const { health, endpoint } = breakers(clock);
    const llm = new FailoverLlm(
      [
        { endpoint: endpoint('llm', 'primary', 'openai'), llm: openAi(primary.url, 'p') },
        { endpoint: endpoint('llm', 'secondary', 'openai'), llm: openAi(secondary.url, 's') },
      ],
      silentLogger,
    );
    await collectText(llm.stream(ask));
    await collectText(llm.stream(ask));
    await clock.advance(OPEN_MS);
    await collectText(llm.stream(ask));
    expect(primary.requests).toHaveLength(3);
    expect(health.report().endpoints.find((e) => e.role === 'primary')?.state).toBe('open');
    await clock.advance(OPEN_MS - 1);
    await collectText(llm.stream(ask));
    expect(primary.requests).toHaveLength(3);
  });

  it('a primary that times out before its first token, or closes the socket, fails over within the request', async () => {
    const clock = new ManualClock();
    const slow = await fakeOpenAI();
    slow.setResponder(() => ({ headersDelayMs: 2_000 }));
    const closer = await socketCloser();
    const secondary = await fakeOpenAI();
    const { endpoint } = breakers(clock);
    const viaSlow = new FailoverLlm(
      [
        { endpoint: endpoint('llm', 'primary', 'openai'), llm: openAi(slow.url, 'p', { firstTokenTimeoutMs: 100 }) },
        { endpoint: endpoint('llm', 'secondary', 'openai'), llm: openAi(secondary.url, 's') },
      ],
      silentLogger,
    );
    expect(await collectText(viaSlow.stream(ask))).not.toBe('');
    const viaCloser = new FailoverLlm(
      [
        { endpoint: endpoint('llm', 'primary', 'openai'), llm: openAi(closer.url, 'p') },
        { endpoint: endpoint('llm', 'secondary', 'openai'), llm: openAi(secondary.url, 's') },
      ],
      silentLogger,
    );
    expect(await collectText(viaCloser.stream(ask))).not.toBe('');
    expect(closer.connections).toBeGreaterThan(0);
    expect(secondary.requests).toHaveLength(2);
  });

  it('a reply that fails after text was handed on is not restarted on the secondary', async () => {
    const clock = new ManualClock();
    const primary = await fakeOpenAI();
    const secondary = await fakeOpenAI();
    primary.setResponder(() => ({ text: 'Half an answer that breaks', errorAfterChunks: 3 }));
    const { endpoint } = breakers(clock);
    const llm = new FailoverLlm(
      [
        { endpoint: endpoint('llm', 'primary', 'openai'), llm: openAi(primary.url, 'p') },
        { endpoint: endpoint('llm', 'secondary', 'openai'), llm: openAi(secondary.url, 's') },
      ],
      silentLogger,
    );
    const error = await rejection(collectText(llm.stream(ask)));
    expect(error.stage).toBe('llm');
    expect(secondary.requests).toHaveLength(0);
  });

  it('without a secondary, an open breaker fails the turn at once (circuit_open) instead of waiting on the dead primary', async () => {
    const clock = new ManualClock();
    const primary = await fakeOpenAI();
    primary.setResponder(() => ({ status: 500 }));
    const { health, endpoint } = breakers(clock);
    const llm = new FailoverLlm([{ endpoint: endpoint('llm', 'primary', 'openai'), llm: openAi(primary.url, 'p') }], silentLogger);
    expect((await rejection(collectText(llm.stream(ask)))).kind).toBe('server_error');
    expect((await rejection(collectText(llm.stream(ask)))).kind).toBe('server_error');
    const skipped = await rejection(collectText(llm.stream(ask)));
    expect(skipped).toMatchObject({ kind: 'circuit_open', retryable: false });
    expect(primary.requests).toHaveLength(2);
    expect(health.report()).toMatchObject({ status: 'degraded', stages: { llm: 'failing' } });
  });

  it('a refused request (400: our payload) does not count against the endpoint', async () => {
    const clock = new ManualClock();
    const primary = await fakeOpenAI();
    primary.setResponder(() => ({ status: 400 }));
    const { health, endpoint } = breakers(clock);
    const llm = new FailoverLlm([{ endpoint: endpoint('llm', 'primary', 'openai'), llm: openAi(primary.url, 'p') }], silentLogger);
    for (let i = 0; i < 3; i++) expect((await rejection(collectText(llm.stream(ask)))).kind).toBe('bad_request');
    expect(primary.requests).toHaveLength(3);
    expect(health.report().stages.llm).toBe('ok');
  });
});

describe('TTS failover', () => {
  const voice: VoiceSpec = { voiceId: 'voice-primary', modelId: 'eleven_flash_v2_5', language: 'en' };

  // The first client loads the ElevenLabs SDK (thousands of modules: seconds on a loaded machine);
  // loaded here, under the hook's longer timeout, the tests' own limits time failover, not that.
  beforeAll(() => {
    new ElevenLabsTts({ apiKey: 'warm-up' });
  });

  async function setup() {
    const clock = new ManualClock();
    const primary = await startFakeElevenLabs({ behaviour: () => ({ status: 500 }) });
    const secondary = await startFakeElevenLabs();
    cleanups.push(() => primary.close(), () => secondary.close());
    const { health, endpoint } = breakers(clock);
    const tts = new FailoverTts(
      [
        { endpoint: endpoint('tts', 'primary', 'elevenlabs'), tts: new ElevenLabsTts({ apiKey: primary.apiKey, baseUrl: primary.url }) },
        {
          endpoint: endpoint('tts', 'secondary', 'elevenlabs'),
          tts: new ElevenLabsTts({ apiKey: secondary.apiKey, baseUrl: secondary.url }),
          voice: { voiceId: 'voice-secondary' },
        },
      ],
      silentLogger,
    );
    return { clock, primary, secondary, health, tts };
  }

  async function bytes(chunks: AsyncIterable<Uint8Array>): Promise<number> {
    let n = 0;
    for await (const c of chunks) n += c.length;
    return n;
  }

  it('a primary answering 500 is replaced by the secondary voice; open after 2 failures, the primary is skipped', async () => {
    const { primary, secondary, health, tts } = await setup();
    expect(await bytes(tts.synthesize({ text: 'One moment please.', voice }))).toBeGreaterThan(0);
    expect(secondary.requests.map((r) => r.voiceId)).toEqual(['voice-secondary']);
    await bytes(tts.synthesize({ text: 'Again.', voice }));
    await bytes(tts.synthesize({ text: 'Third.', voice }));
    expect(primary.requests).toHaveLength(2);
    expect(secondary.requests).toHaveLength(3);
    expect(health.report().stages.tts).toBe('degraded');
  });

  it('a flow’s voice.secondary is what the secondary speaks, over the endpoint’s configured voice; the primary never sees it', async () => {
    const { primary, secondary, tts } = await setup();
    const flowVoice: VoiceSpec = { ...voice, secondary: { voiceId: 'voice-flow-secondary', modelId: 'eleven_turbo_v2_5' } };
    expect(await bytes(tts.synthesize({ text: 'One moment please.', voice: flowVoice }))).toBeGreaterThan(0);
    expect(primary.requests.map((r) => r.voiceId)).toEqual(['voice-primary']);
    expect(secondary.requests.map((r) => [r.voiceId, r.body.model_id])).toEqual([['voice-flow-secondary', 'eleven_turbo_v2_5']]);
  });

  it('audio stored under the primary voice (the phrase cache) is never made by a secondary with another voice', async () => {
    const { secondary, tts } = await setup();
    const error = await rejection(bytes(tts.synthesize({ text: 'Cached phrase.', voice, exactVoice: true })));
    expect(error.kind).toBe('server_error');
    expect(secondary.requests).toHaveLength(0);
  });
});

/** Two fake Deepgrams behind breakers (primary, then secondary), with immediate reconnect tries. */
async function sttPair(
  primaryOptions: Parameters<typeof startFakeDeepgram>[0],
  secondaryOptions: Parameters<typeof startFakeDeepgram>[0] = {},
  secondaryModel?: string,
) {
  const clock = new ManualClock();
  const primary = await startFakeDeepgram(primaryOptions);
  const secondary = await startFakeDeepgram(secondaryOptions);
  cleanups.push(() => primary.close(), () => secondary.close());
  const { health, endpoint } = breakers(clock);
  const timing = { tickMs: 20, reconnectBackoffMs: [0, 0, 0] };
  const stt = new FailoverStt(
    [
      { endpoint: endpoint('stt', 'primary', 'deepgram'), stt: new DeepgramStt({ apiKey: primary.apiKey, baseUrl: primary.url, timing }) },
      {
        endpoint: endpoint('stt', 'secondary', 'deepgram'),
        stt: new DeepgramStt({ apiKey: secondary.apiKey, baseUrl: secondary.url, timing }),
        ...(secondaryModel ? { model: secondaryModel } : {}),
      },
    ],
    silentLogger,
  );
  return { primary, secondary, health, stt };
}

describe('STT failover', () => {
  it('a primary refusing the stream (500, after its reconnect tries) moves the call to the secondary, times on the call timeline', async () => {
    const { primary, secondary, health, stt } = await sttPair({ refuseStatus: 500 }, {}, 'nova-2-phonecall');
    const events: SttEvent[] = [];
    const session = stt.open({ language: 'en-US', model: 'nova-3' }, (e) => {
      events.push(e);
      secondary.notify();
    });
    cleanups.push(() => session.close());
    // One second of call audio before the failover.
    session.sendAudio(new Uint8Array(8000).fill(0xff));
    await secondary.until(() => secondary.connections.length === 1, 5_000, 'the secondary connection');
    expect(primary.rejections.length).toBeGreaterThan(0);
    expect(events.some((e) => e.type === 'failed')).toBe(false);
    expect(secondary.connections[0]!.query.model).toBe('nova-2-phonecall');
    for (let i = 0; i < 100; i++) session.sendAudio(new Uint8Array(160).fill(0xff));
    secondary.say('I need an appointment');
    await secondary.until(() => events.some((e) => e.type === 'transcript' && e.isFinal && e.text !== ''), 5_000, 'the transcript');
    const final = events.find((e): e is Extract<SttEvent, { type: 'transcript' }> => e.type === 'transcript' && e.isFinal && e.text !== '')!;
    expect(final.text).toContain('appointment');
    // The secondary's time 0 is one second into the call.
    expect(final.start).toBeGreaterThanOrEqual(1);
    expect(health.report().endpoints.map((e) => [e.role, e.failures])).toEqual([
      ['primary', 1],
      ['secondary', 0],
    ]);
  });

  it('a primary that refuses every stream opens its breaker over calls one after another (its reconnect tries are not a sign of life)', async () => {
    const { primary, secondary, health, stt } = await sttPair({ refuseStatus: 500 });
    // Two calls in turn, each moved to the secondary after the primary's tries: that is two failures in a row.
    for (let call = 1; call <= 2; call++) {
      const session = stt.open({ language: 'en-US' }, () => secondary.notify());
      await secondary.until(() => secondary.connections.length === call, 5_000, `call ${call} on the secondary`);
      await session.close();
    }
    const [primaryHealth] = health.report().endpoints;
    expect(primaryHealth).toMatchObject({ role: 'primary', state: 'open', failures: 2 });
    // The third call goes straight to the secondary, without waiting on the dead primary.
    const refused = primary.rejections.length;
    const third = stt.open({ language: 'en-US' }, () => secondary.notify());
    cleanups.push(() => third.close());
    await secondary.until(() => secondary.connections.length === 3, 5_000, 'call 3 on the secondary');
    expect(primary.rejections.length).toBe(refused);
  });

  it('a flow’s stt.secondaryModel is what the secondary hears with, over the endpoint’s configured model', async () => {
    const { secondary, stt } = await sttPair({ refuseStatus: 500 }, {}, 'nova-2-phonecall');
    const session = stt.open({ language: 'en-US', model: 'nova-3', secondaryModel: 'nova-2-meeting' }, () => secondary.notify());
    cleanups.push(() => session.close());
    session.sendAudio(new Uint8Array(8000).fill(0xff));
    await secondary.until(() => secondary.connections.length === 1, 5_000, 'the secondary connection');
    expect(secondary.connections[0]!.query.model).toBe('nova-2-meeting');
    expect(secondary.connections[0]!.query.secondaryModel).toBeUndefined();
  });

  it('every endpoint failing ends in one failed event for the call (the flow fallback applies)', async () => {
    const { secondary, stt } = await sttPair({ refuseStatus: 401 }, { refuseStatus: 500 });
    const events: SttEvent[] = [];
    const session = stt.open({ language: 'en-US' }, (e) => {
      events.push(e);
      secondary.notify();
    });
    cleanups.push(() => session.close());
    await secondary.until(() => events.some((e) => e.type === 'failed'), 5_000, 'the failure');
    expect(events.filter((e) => e.type === 'failed')).toHaveLength(1);
    expect(secondary.rejections.length).toBeGreaterThan(0);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { fakeSpeech } from '../../../src/core/audio/tone.js';
import { ElevenLabsTts, isoLanguage } from '../../../src/providers/tts/elevenlabs.js';
import type { VoiceSpec } from '../../../src/providers/tts/port.js';
import { startFakeElevenLabs, type FakeElevenLabs } from '../../../src/testing/elevenlabs-server.js';
import { ProviderError } from '../../../src/providers/errors.js';

/**
 * The real @elevenlabs/elevenlabs-js client against the loopback ElevenLabs:
 * what goes on the wire, streamed bytes, typed errors, our own first-byte and
 * between-chunk timeouts (driven by a ManualClock, no real waiting), and quiet
 * aborts that the server sees as a disconnect.
 */

const voice: VoiceSpec = { voiceId: 'voice-123', modelId: 'eleven_flash_v2_5', language: 'en-US', stability: 0.4, similarityBoost: 0.8, speed: 1.1 };

let fake: FakeElevenLabs;
beforeEach(async () => {
  fake = await startFakeElevenLabs();
});
afterEach(async () => {
  await fake.close();
});

function tts(extra: Partial<ConstructorParameters<typeof ElevenLabsTts>[0]> = {}) {
  return new ElevenLabsTts({ apiKey: fake.apiKey, baseUrl: fake.url, ...extra });
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const c of it) chunks.push(c);
  return chunks;
}

const concat = (chunks: Uint8Array[]) => Uint8Array.from(chunks.flatMap((c) => [...c]));

async function rejection(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error('expected a TtsError');
}

describe('ElevenLabsTts against the loopback ElevenLabs', () => {
  it('streams the μ-law bytes in chunks and puts voice, settings and format on the wire', async () => {
    fake.setBehaviour(() => ({ bytesPerSecond: 100_000, chunkPattern: [200, 333] }));
    const chunks = await collect(tts({ optimizeStreamingLatency: 3 }).synthesize({ text: 'Hello there.', voice }));
    expect(chunks.length).toBeGreaterThan(1);
    expect(concat(chunks)).toEqual(fakeSpeech('Hello there.'));
    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expect(req.problems).toEqual([]);
    expect(req.voiceId).toBe('voice-123');
    expect(req.apiKey).toBe(fake.apiKey);
    expect(req.query).toMatchObject({ output_format: 'ulaw_8000', optimize_streaming_latency: '3' });
    expect(req.body).toEqual({
      text: 'Hello there.',
      model_id: 'eleven_flash_v2_5',
      voice_settings: { stability: 0.4, similarity_boost: 0.8, speed: 1.1 },
      language_code: 'en',
    });
    expect(req.completed).toBe(true);
  });

  it('tells the plan when the first audio byte is written, once, before the client can read it', async () => {
    const firstBytes: number[] = [];
    fake.setBehaviour((_text, record) => ({ bytesPerSecond: 100_000, chunkPattern: [100], onFirstByte: () => firstBytes.push(record.bytesWritten) }));
    const chunks = await collect(tts().synthesize({ text: 'Hello there.', voice }));
    expect(chunks.length).toBeGreaterThan(1);
    // Called once, right after the first chunk went out (bytesWritten is updated after the hook).
    expect(firstBytes).toEqual([0]);
  });

  it('sends no voice_settings when the voice has none, and no optimize_streaming_latency unless asked', async () => {
    await collect(tts().synthesize({ text: 'Hi.', voice: { voiceId: 'v', modelId: 'm', language: 'de' } }));
    const req = fake.requests[0]!;
    expect(req.body).toEqual({ text: 'Hi.', model_id: 'm', language_code: 'de' });
    expect(req.query).toEqual({ output_format: 'ulaw_8000' });
  });

  it('classifies a 500 as a retryable server_error with the status and ElevenLabs detail message', async () => {
    fake.setBehaviour(() => ({ status: 500, detail: { status: 'internal', message: 'model overloaded' } }));
    const err = await rejection(collect(tts().synthesize({ text: 'Hello.', voice })));
    expect(err).toMatchObject({ provider: 'elevenlabs', stage: 'tts', kind: 'server_error', retryable: true, status: 500 });
    expect(err.message).toMatch(/500.*model overloaded/);
  });

  it('classifies a rejected key (401) as auth and a validation error (422) as bad_request, neither retryable', async () => {
    const bad = new ElevenLabsTts({ apiKey: 'wrong', baseUrl: fake.url });
    expect(await rejection(collect(bad.synthesize({ text: 'Hi.', voice })))).toMatchObject({ kind: 'auth', retryable: false, status: 401 });
    const err = await rejection(collect(tts().synthesize({ text: '   ', voice })));
    expect(err).toMatchObject({ kind: 'bad_request', retryable: false, status: 422 });
    expect(err.message).toMatch(/field required/);
  });

  it('fails with not_configured naming ELEVENLABS_API_KEY, without any request', async () => {
    const err = await rejection(collect(new ElevenLabsTts({ baseUrl: fake.url }).synthesize({ text: 'Hi.', voice })));
    expect(err.kind).toBe('not_configured');
    expect(err.message).toMatch(/ELEVENLABS_API_KEY/);
    expect(fake.requests).toHaveLength(0);
  });

  it('fails with connection when nothing listens at the base URL', async () => {
    const dead = await startFakeElevenLabs();
    await dead.close();
    const err = await rejection(collect(new ElevenLabsTts({ apiKey: 'k', baseUrl: dead.url }).synthesize({ text: 'Hi.', voice })));
    expect(err.kind).toBe('connection');
  });

  it('a connection dropped before any audio is tried once more at once, and the audio arrives', async () => {
    let n = 0;
    fake.setBehaviour(() => (++n === 1 ? { dropAfterMs: 0 } : {}));
    expect(concat(await collect(tts().synthesize({ text: 'Hello.', voice })))).toEqual(fakeSpeech('Hello.'));
    expect(fake.requests.map((r) => r.status)).toEqual([0, 200]);
  });

  it('a second dropped connection fails with connection: one retry, no more', async () => {
    fake.setBehaviour(() => ({ dropAfterMs: 0 }));
    const err = await rejection(collect(tts().synthesize({ text: 'Hello.', voice })));
    expect(err.kind).toBe('connection');
    expect(fake.requests).toHaveLength(2);
  });

  it('a connection dropped after our late loop used the first-byte budget is still retried', async () => {
    const clock = new ManualClock();
    let n = 0;
    const late = await startFakeElevenLabs({ clock, behaviour: () => (++n === 1 ? { dropAfterMs: 2500 } : {}) });
    try {
      const lateness = { ms: 0, totalMs: () => lateness.ms };
      const run = collect(new ElevenLabsTts({ apiKey: late.apiKey, baseUrl: late.url, clock, lateness }).synthesize({ text: 'Hello.', voice }));
      await late.waitForRequest();
      // 2.5 s pass before the drop; our loop was behind for 1 s of them, which the 2 s budget forgives.
      lateness.ms = 1_000;
      await clock.advance(2_500);
      expect(concat(await run)).toEqual(fakeSpeech('Hello.'));
      expect(late.requests.map((r) => r.status)).toEqual([0, 200]);
    } finally {
      await late.close();
    }
  });

  it('an error status is not retried here (failover decides): one request', async () => {
    fake.setBehaviour(() => ({ status: 503 }));
    const err = await rejection(collect(tts().synthesize({ text: 'Hello.', voice })));
    expect(err.kind).toBe('server_error');
    expect(fake.requests).toHaveLength(1);
  });

  it('times out after 2 s without a first byte although headers arrived, and hangs up', async () => {
    const clock = new ManualClock();
    fake.setBehaviour(() => ({ stallAfterBytes: 0 }));
    const iterator = tts({ clock }).synthesize({ text: 'Hello.', voice })[Symbol.asyncIterator]();
    const first = iterator.next();
    let settled = false;
    first.then(() => (settled = true), () => (settled = true));
    const req = await fake.waitForRequest();
    await clock.advance(1999);
    expect(settled).toBe(false);
    await clock.advance(1);
    const err = await rejection(first);
    expect(err.kind).toBe('first_byte_timeout');
    await req.closed;
    expect(req.clientDisconnected).toBe(true);
  });

  it('a first-byte timer that fires late because our loop was busy does not fail when the audio is waiting', async () => {
    const clock = new ManualClock();
    const late = await startFakeElevenLabs({ clock, behaviour: () => ({ firstByteDelayMs: 2400 }) });
    try {
      const run = collect(new ElevenLabsTts({ apiKey: late.apiKey, baseUrl: late.url, clock }).synthesize({ text: 'Hello.', voice }));
      await late.waitForRequest();
      // One busy stretch from before the 2 s deadline to 2.5 s: our timer fires first (late), then
      // the answer is read in the same turn, as Node runs the timers phase before reading sockets.
      await clock.advanceLate(2500);
      expect(concat(await run)).toEqual(fakeSpeech('Hello.'));
    } finally {
      await late.close();
    }
  });

  it('a first-byte timer that fires late still fails when nothing is waiting', async () => {
    const clock = new ManualClock();
    fake.setBehaviour(() => ({ stallAfterBytes: 0 }));
    const run = collect(tts({ clock }).synthesize({ text: 'Hello.', voice }));
    let settled = false;
    run.then(() => (settled = true), () => (settled = true));
    await fake.waitForRequest();
    await clock.advanceLate(2500);
    expect(settled).toBe(false);
    await clock.advance(1);
    expect((await rejection(run)).kind).toBe('first_byte_timeout');
  });

  it('fails with stall when no chunk follows for 2 s mid-stream, and hangs up', async () => {
    const clock = new ManualClock();
    fake.setBehaviour(() => ({ stallAfterBytes: 1000 }));
    const iterator = tts({ clock }).synthesize({ text: 'A long sentence that will stall.', voice })[Symbol.asyncIterator]();
    let received = 0;
    while (received < 1000) {
      const r = await iterator.next();
      if (r.done) throw new Error('ended early');
      received += r.value.length;
    }
    const failure = rejection(iterator.next());
    await clock.advance(2000);
    expect((await failure).kind).toBe('stall');
    const req = fake.requests[0]!;
    await req.closed;
    expect(req.clientDisconnected).toBe(true);
  });

  it('does not count a slow consumer as a stall', async () => {
    const clock = new ManualClock();
    const iterator = tts({ clock }).synthesize({ text: 'Take your time.', voice })[Symbol.asyncIterator]();
    const chunks: Uint8Array[] = [];
    const first = await iterator.next();
    chunks.push(first.value as Uint8Array);
    await clock.advance(5000); // the consumer sits on the first chunk for 5 s
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) chunks.push(r.value);
    expect(concat(chunks)).toEqual(fakeSpeech('Take your time.'));
  });

  it('ends quietly when aborted mid-stream, and the server sees the disconnect', async () => {
    fake.setBehaviour(() => ({ bytesPerSecond: 16000, chunkPattern: [400] })); // 30 chars → 2400 bytes over ~150 ms
    const controller = new AbortController();
    const chunks: Uint8Array[] = [];
    for await (const c of tts().synthesize({ text: 'This sentence will be cut off.', voice, signal: controller.signal })) {
      chunks.push(c);
      if (chunks.length === 1) controller.abort(new Error('barge-in'));
    }
    expect(chunks).toHaveLength(1);
    const req = fake.requests[0]!;
    await req.closed;
    expect(req.clientDisconnected).toBe(true);
    expect(req.completed).toBe(false);
  });

  it('ends quietly when aborted before the first byte, and makes no request if aborted before starting', async () => {
    fake.setBehaviour(() => ({ firstByteDelayMs: 5000 }));
    const controller = new AbortController();
    const run = collect(tts().synthesize({ text: 'Never heard.', voice, signal: controller.signal }));
    const req = await fake.waitForRequest();
    controller.abort();
    await expect(run).resolves.toEqual([]);
    await req.closed;
    expect(req.clientDisconnected).toBe(true);

    const pre = new AbortController();
    pre.abort();
    await expect(collect(tts().synthesize({ text: 'x', voice, signal: pre.signal }))).resolves.toEqual([]);
    expect(fake.requests).toHaveLength(1);
  });

  it('closes the response when the consumer stops reading early', async () => {
    fake.setBehaviour(() => ({ bytesPerSecond: 16000, chunkPattern: [400] }));
    for await (const c of tts().synthesize({ text: 'I only want the first chunk.', voice })) {
      expect(c.length).toBeGreaterThan(0);
      break;
    }
    const req = fake.requests[0]!;
    await req.closed;
    expect(req.clientDisconnected).toBe(true);
  });

  it('maps BCP-47 languages to ISO 639-1', () => {
    expect(isoLanguage('en-US')).toBe('en');
    expect(isoLanguage('pt_BR')).toBe('pt');
    expect(isoLanguage('de')).toBe('de');
  });
});

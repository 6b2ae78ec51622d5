import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { fakeSpeech } from '../../../src/core/audio/tone.js';
import { flowSchema } from '../../../src/flow/schema.js';
import { FakeTts } from '../../../src/providers/tts/fake.js';
import type { TtsPort, TtsRequest, VoiceSpec } from '../../../src/providers/tts/port.js';
import {
  MemoryTtsCacheStore,
  PhraseCache,
  phraseKey,
  voiceKey,
  type TtsCacheStore,
} from '../../../src/pipeline/phrase-cache.js';
import { FILLER_PHRASE, staticPhrasesOf, staticTextsOf } from '../../../src/pipeline/static-phrases.js';
import { ProviderError } from '../../../src/providers/errors.js';

/**
 * The static-phrase cache: content keys (never the version), a hit costs no TTS
 * request, misses are synthesized once and stored, memory is a byte-bounded LRU
 * in front of the store, and warming fills what is missing with bounded
 * concurrency and reports counts.
 */

const voice: VoiceSpec = { voiceId: 'v1', modelId: 'eleven_flash_v2_5', language: 'en-US', stability: 0.5 };

function setup(options: { maxMemoryBytes?: number; tts?: TtsPort; store?: TtsCacheStore; clock?: ManualClock } = {}) {
  const tts = (options.tts as FakeTts | undefined) ?? new FakeTts();
  const store = options.store ?? new MemoryTtsCacheStore();
  const cache = new PhraseCache({ tts, store, ...(options.maxMemoryBytes ? { maxMemoryBytes: options.maxMemoryBytes } : {}), ...(options.clock ? { clock: options.clock } : {}) });
  return { tts, store, cache };
}

describe('phrase keys', () => {
  it('depend on text, voice, model, settings, language and format, and on nothing else', () => {
    const base = phraseKey('Hello.', voice);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(phraseKey('Hello.', { ...voice })).toBe(base);
    expect(phraseKey('Hello.', { language: 'en-US', stability: 0.5, modelId: 'eleven_flash_v2_5', voiceId: 'v1' })).toBe(base);
    for (const other of [
      phraseKey('Hello!', voice),
      phraseKey('Hello.', { ...voice, voiceId: 'v2' }),
      phraseKey('Hello.', { ...voice, modelId: 'm2' }),
      phraseKey('Hello.', { ...voice, stability: 0.6 }),
      phraseKey('Hello.', { ...voice, similarityBoost: 0.5 }),
      phraseKey('Hello.', { ...voice, speed: 1.1 }),
      phraseKey('Hello.', { ...voice, language: 'de' }),
      phraseKey('Hello.', voice, 'pcm_16000'),
    ]) {
      expect(other).not.toBe(base);
    }
    expect(voiceKey(voice)).not.toBe(base);
    expect(voiceKey({ ...voice })).toBe(voiceKey(voice));
  });
});

describe('PhraseCache', () => {
  it('synthesizes a miss once, stores it, and serves hits with no TTS request', async () => {
    const { tts, store, cache } = setup();
    expect(await cache.get('Welcome.', voice)).toBeUndefined();
    const audio = await cache.getOrSynthesize('Welcome.', voice);
    expect(audio).toEqual(fakeSpeech('Welcome.'));
    expect(tts.requests).toHaveLength(1);
    expect(await cache.getOrSynthesize('Welcome.', voice)).toEqual(audio);
    expect(await cache.get('Welcome.', voice)).toEqual(audio);
    expect(tts.requests).toHaveLength(1);
    const stored = (store as MemoryTtsCacheStore).entries.get(phraseKey('Welcome.', voice))!;
    expect(stored).toMatchObject({ text: 'Welcome.', voiceKey: voiceKey(voice) });
    expect(await cache.has(phraseKey('Welcome.', voice))).toBe(true);
    expect(await cache.has(phraseKey('Other.', voice))).toBe(false);
  });

  it('serves another process (a fresh cache on the same store) without TTS, and records the use', async () => {
    const clock = new ManualClock();
    const store = new MemoryTtsCacheStore(clock);
    await setup({ store }).cache.getOrSynthesize('Hi.', voice);
    await clock.advance(5000);
    const fresh = setup({ store });
    expect(await fresh.cache.get('Hi.', voice)).toEqual(fakeSpeech('Hi.'));
    expect(fresh.tts.requests).toHaveLength(0);
    await Promise.resolve();
    const e = store.entries.get(phraseKey('Hi.', voice))!;
    expect(e.lastUsedAtMs - e.createdAtMs).toBe(5000);
  });

  it('shares one synthesis between concurrent requests for the same phrase', async () => {
    const clock = new ManualClock();
    const tts = new FakeTts({ clock, firstByteDelayMs: 100 });
    const { cache } = setup({ tts });
    const a = cache.getOrSynthesize('Same.', voice);
    const b = cache.getOrSynthesize('Same.', voice);
    await clock.advance(100);
    expect(await a).toEqual(await b);
    expect(tts.requests).toHaveLength(1);
  });

  it('resolves undefined on abort, stops the synthesis when nobody waits, and stores nothing partial', async () => {
    const clock = new ManualClock();
    const tts = new FakeTts({ clock, chunkBytes: 100, chunkDelayMs: 50 });
    const { cache, store } = setup({ tts });
    const controller = new AbortController();
    const p = cache.getOrSynthesize('A longer phrase.', voice, { signal: controller.signal });
    await clock.advance(120);
    controller.abort();
    await expect(p).resolves.toBeUndefined();
    await clock.advance(5000);
    expect((store as MemoryTtsCacheStore).puts).toBe(0);
    expect(tts.requests[0]!.signal?.aborted).toBe(true);
    // A later request synthesizes afresh.
    const again = cache.getOrSynthesize('A longer phrase.', voice);
    await clock.advance(5000);
    expect(await again).toEqual(fakeSpeech('A longer phrase.'));
  });

  it('keeps synthesizing for the remaining waiter when one of two gives up', async () => {
    const clock = new ManualClock();
    const tts = new FakeTts({ clock, firstByteDelayMs: 100 });
    const { cache } = setup({ tts });
    const controller = new AbortController();
    const quitter = cache.getOrSynthesize('Shared.', voice, { signal: controller.signal });
    const stayer = cache.getOrSynthesize('Shared.', voice);
    controller.abort();
    await expect(quitter).resolves.toBeUndefined();
    await clock.advance(100);
    expect(await stayer).toEqual(fakeSpeech('Shared.'));
  });

  it('rejects with the ProviderError and caches nothing when synthesis fails; the next request retries', async () => {
    const tts = new FakeTts({ error: new ProviderError('fake', 'tts', 'server_error', 'boom', 500) });
    const { cache, store } = setup({ tts });
    await expect(cache.getOrSynthesize('Bad.', voice)).rejects.toMatchObject({ kind: 'server_error', status: 500 });
    expect((store as MemoryTtsCacheStore).entries.size).toBe(0);
    tts.configure({ error: undefined });
    expect(await cache.getOrSynthesize('Bad.', voice)).toEqual(fakeSpeech('Bad.'));
    expect(tts.requests).toHaveLength(2);
  });

  it('falls back to live synthesis when the store cannot be read, and keeps the audio when it cannot be written', async () => {
    const broken: TtsCacheStore = {
      get: async () => { throw new Error('database down'); },
      put: async () => { throw new Error('database down'); },
    };
    const { cache, tts } = setup({ store: broken });
    expect(await cache.getOrSynthesize('Still works.', voice)).toEqual(fakeSpeech('Still works.'));
    expect(await cache.get('Still works.', voice)).toEqual(fakeSpeech('Still works.'));
    expect(tts.requests).toHaveLength(1);
  });

  it('evicts the least recently used phrases by bytes, keeping them in the store', async () => {
    // Each 10-character phrase is 800 bytes; room for two.
    const { cache, tts } = setup({ maxMemoryBytes: 1700 });
    await cache.getOrSynthesize('Phrase AA.', voice);
    await cache.getOrSynthesize('Phrase BB.', voice);
    await cache.get('Phrase AA.', voice); // AA is now the most recent
    await cache.getOrSynthesize('Phrase CC.', voice); // evicts BB
    expect(cache.memoryEntries).toBe(2);
    expect(cache.memoryBytes).toBe(1600);
    expect(await cache.get('Phrase BB.', voice)).toEqual(fakeSpeech('Phrase BB.')); // from the store
    expect(tts.requests).toHaveLength(3);
  });

  it('does not hold a phrase bigger than the whole memory budget', async () => {
    const { cache } = setup({ maxMemoryBytes: 100 });
    await cache.getOrSynthesize('Too long for memory.', voice);
    expect(cache.memoryBytes).toBe(0);
  });
});

describe('PhraseCache.warm', () => {
  it('fills missing phrases, counts cached, synthesized and failed, and asks TTS once per distinct phrase', async () => {
    const tts = new FakeTts({ error: (r: TtsRequest) => (r.text === 'Broken.' ? new ProviderError('fake', 'tts', 'server_error', 'no', 500) : undefined) });
    const { cache } = setup({ tts });
    await cache.getOrSynthesize('Already.', voice);
    const result = await cache.warm(['Already.', 'One.', 'Two.', 'One.', 'Broken.'], voice);
    expect(result).toMatchObject({ total: 4, cached: 1, synthesized: 2, failed: 1, timedOut: false });
    expect(result.errors).toEqual([{ text: 'Broken.', message: 'no' }]);
    expect(tts.texts.filter((t) => t === 'One.')).toHaveLength(1);
    const again = await cache.warm(['One.', 'Two.'], voice);
    expect(again).toMatchObject({ cached: 2, synthesized: 0 });
  });

  it('runs at most 4 syntheses at once', async () => {
    let running = 0;
    let peak = 0;
    const slow: TtsPort = {
      async *synthesize(req) {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        yield fakeSpeech(req.text);
      },
    };
    const { cache } = setup({ tts: slow });
    const phrases = Array.from({ length: 10 }, (_, i) => `Phrase ${i}.`);
    expect(await cache.warm(phrases, voice)).toMatchObject({ synthesized: 10 });
    expect(peak).toBe(4);
  });

  it('stops waiting at the timeout (activation waits 15 s) while the fill goes on', async () => {
    const clock = new ManualClock();
    const tts = new FakeTts({ clock, firstByteDelayMs: 20_000 });
    const { cache } = setup({ tts, clock });
    const pending = cache.warm(['Slow one.'], voice, { timeoutMs: 15_000 });
    await clock.advance(15_000);
    expect(await pending).toMatchObject({ total: 1, synthesized: 0, timedOut: true });
    await clock.advance(5_000);
    expect(await cache.get('Slow one.', voice)).toEqual(fakeSpeech('Slow one.'));
  });
});

describe('staticPhrasesOf', () => {
  const flow = flowSchema.parse({
    version: 1,
    name: 'Pizza',
    start: 'hello',
    settings: {
      pronunciations: [{ text: 'Pizzeria', say: 'Pit-sa-ria' }],
      fallbackMessage: 'Sorry, the Pizzeria line has a problem.',
      silence: { reprompt: 'Still there, {{name}}?' },
    },
    nodes: [
      { id: 'hello', type: 'say', text: 'Welcome to the Pizzeria!', next: 'menu' },
      { id: 'menu', type: 'gather', prompt: 'Press 1 for pizza.', variable: 'choice', next: 'route' },
      { id: 'route', type: 'branch', branches: [{ if: { var: 'choice', op: 'eq', value: '1' }, to: 'order' }], else: 'agent' },
      { id: 'order', type: 'say', text: 'Your order, {{name}}, is on its way.', next: 'bye' },
      { id: 'agent', type: 'transfer', target: { number: '+15550100009' }, announce: 'Connecting you now.' },
      { id: 'again', type: 'say', text: 'Welcome to the Pizzeria!', next: 'bye' },
      { id: 'bye', type: 'end', text: 'Goodbye.' },
      { id: 'quiet', type: 'end' },
    ],
  });

  it('lists every static phrase once, after pronunciations, with the filler and without templated texts', () => {
    expect(staticTextsOf(flow)).toEqual([
      'Welcome to the Pizzeria!',
      'Press 1 for pizza.',
      'Connecting you now.',
      'Goodbye.',
      'Sorry, the Pizzeria line has a problem.',
      FILLER_PHRASE,
    ]);
    expect(staticPhrasesOf(flow)).toEqual([
      'Welcome to the Pit-sa-ria!',
      'Press 1 for pizza.',
      'Connecting you now.',
      'Goodbye.',
      'Sorry, the Pit-sa-ria line has a problem.',
      'One moment.',
    ]);
  });

  it('warms a flow so its greeting needs no TTS request afterwards', async () => {
    const { cache, tts } = setup();
    const result = await cache.warm(staticPhrasesOf(flow), voice);
    expect(result).toMatchObject({ total: 6, synthesized: 6, failed: 0 });
    const before = tts.requests.length;
    expect(await cache.get('Welcome to the Pit-sa-ria!', voice)).toBeDefined();
    expect(tts.requests).toHaveLength(before);
  });
});

import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { flowSchema, type Flow } from '../../../src/flow/schema.js';
import { ACTIVATION_WARM_TIMEOUT_MS, MemoryTtsCacheStore, PhraseCache } from '../../../src/pipeline/phrase-cache.js';
import { PhraseWarmer, servedFlowsOf, type ServedFlow } from '../../../src/pipeline/phrase-warmer.js';
import { staticPhrasesOf } from '../../../src/pipeline/static-phrases.js';
import { FakeTts } from '../../../src/providers/tts/fake.js';
import type { VoiceSpec } from '../../../src/providers/tts/port.js';
import { ProviderError } from '../../../src/providers/errors.js';

/**
 * When the phrase cache is filled: activation waits at most 15 s and reports
 * counts, publish fills in the background, start-up fills every served version
 * once per voice within its deadline, a disabled warmer never calls TTS, and
 * close stops background fills.
 */

const flowOf = (greeting: string, voice?: { voiceId: string }): Flow =>
  flowSchema.parse({
    version: 1,
    name: 'Test',
    settings: { language: 'en-US', ...(voice ? { voice } : {}), pronunciations: [{ text: 'Dr.', say: 'Doctor' }] },
    start: 'hello',
    nodes: [
      { id: 'hello', type: 'say', text: greeting, next: 'bye' },
      { id: 'bye', type: 'end', text: 'Goodbye {{name}}.' },
    ],
  });

const defaults = (flow: Flow): VoiceSpec => ({
  voiceId: flow.settings.voice?.voiceId ?? 'default-voice',
  modelId: 'm1',
  language: flow.settings.language,
});

function setup(options: { disabledReason?: string } = {}) {
  const clock = new ManualClock();
  const tts = new FakeTts({ clock });
  const store = new MemoryTtsCacheStore(clock);
  const cache = new PhraseCache({ tts, store, clock });
  const warmer = new PhraseWarmer({ cache, voiceFor: defaults, clock, ...options });
  return { clock, tts, store, cache, warmer };
}

const served = (flow: Flow, slug = 'a'): ServedFlow => ({ agentId: `ag_${slug}`, slug, version: 1, flow });

describe('PhraseWarmer', () => {
  it('fills the served version on activation (pronunciations applied, templated text left out), then finds it all cached', async () => {
    const { tts, cache, warmer } = setup();
    const flow = flowOf('Welcome to Dr. Who.');
    const first = await warmer.warmForActivation(served(flow));
    const phrases = staticPhrasesOf(flow);
    expect(phrases).toContain('Welcome to Doctor Who.');
    expect(phrases.some((p) => p.includes('{{'))).toBe(false);
    expect(first).toEqual({ total: phrases.length, cached: 0, synthesized: phrases.length, failed: 0, timedOut: false });
    expect(tts.texts.sort()).toEqual([...phrases].sort());
    expect(await cache.get('Welcome to Doctor Who.', defaults(flow))).toBeDefined();

    const again = await warmer.warmForActivation(served(flow));
    expect(again).toMatchObject({ cached: phrases.length, synthesized: 0 });
    expect(tts.requests).toHaveLength(phrases.length);
  });

  it('answers an activation after 15 s with timedOut, and the fill goes on in the background', async () => {
    const { clock, tts, cache, warmer } = setup();
    tts.configure({ firstByteDelayMs: 20_000 });
    const flow = flowOf('Slow greeting.');
    const pending = warmer.warmForActivation(served(flow));
    await clock.advance(ACTIVATION_WARM_TIMEOUT_MS);
    const summary = await pending;
    expect(summary).toMatchObject({ timedOut: true, synthesized: 0 });
    await clock.advance(10_000);
    await expect.poll(async () => cache.get('Slow greeting.', defaults(flow))).toBeDefined();
  });

  it('counts TTS failures without throwing', async () => {
    const { tts, warmer } = setup();
    tts.configure({ error: new ProviderError('fake', 'tts', 'server_error', 'ElevenLabs answered 500') });
    const summary = await warmer.warmForActivation(served(flowOf('Hi.')));
    expect(summary).toMatchObject({ failed: summary!.total, synthesized: 0, timedOut: false });
  });

  it('does nothing when disabled (no key): no TTS request, no summary', async () => {
    const { tts, warmer } = setup({ disabledReason: 'ELEVENLABS_API_KEY is not set' });
    expect(warmer.enabled).toBe(false);
    expect(await warmer.warmForActivation(served(flowOf('Hi.')))).toBeUndefined();
    expect(await warmer.warmInBackground(served(flowOf('Hi.')))).toBeUndefined();
    expect(await warmer.warmAtStartup([served(flowOf('Hi.'))])).toBeUndefined();
    expect(tts.requests).toHaveLength(0);
  });

  it('fills a published version in the background', async () => {
    const { tts, warmer } = setup();
    const run = warmer.warmInBackground(served(flowOf('Published.')));
    expect(await run).toMatchObject({ failed: 0, timedOut: false });
    expect(tts.texts).toContain('Published.');
  });

  it('warms every served version at start-up, one batch per voice, shared phrases once', async () => {
    const { tts, warmer } = setup();
    const a = flowOf('Hello from A.');
    const b = flowOf('Hello from B.');
    const c = flowOf('Hello from A.', { voiceId: 'other-voice' });
    const summary = await warmer.warmAtStartup([served(a, 'a'), served(b, 'b'), served(c, 'c')]);
    const defaultVoice = new Set([...staticPhrasesOf(a), ...staticPhrasesOf(b)]);
    expect(summary).toEqual({
      total: defaultVoice.size + staticPhrasesOf(c).length,
      cached: 0,
      synthesized: defaultVoice.size + staticPhrasesOf(c).length,
      failed: 0,
      timedOut: false,
    });
    expect(tts.requests.filter((r) => r.voice.voiceId === 'other-voice').map((r) => r.text)).toContain('Hello from A.');
  });

  it('stops waiting at the start-up deadline', async () => {
    const { clock, tts, warmer } = setup();
    tts.configure({ firstByteDelayMs: 5_000 });
    const pending = warmer.warmAtStartup([served(flowOf('One.'), 'a'), served(flowOf('Two.', { voiceId: 'v2' }), 'b')], { timeoutMs: 1_000 });
    await clock.advance(1_000);
    const summary = await pending;
    expect(summary?.timedOut).toBe(true);
    expect(summary?.synthesized).toBe(0);
  });

  it('close aborts background fills so nothing is stored after shutdown', async () => {
    const { clock, tts, store, warmer } = setup();
    tts.configure({ firstByteDelayMs: 5_000 });
    const run = warmer.warmInBackground(served(flowOf('Late.')));
    await warmer.close();
    await clock.advance(10_000);
    await run;
    expect(store.puts).toBe(0);
    expect(await warmer.warmForActivation(served(flowOf('After close.')))).toBeUndefined();
  });
});

describe('servedFlowsOf', () => {
  it('pages through agents and keeps only active ones with a served version', async () => {
    const flow = flowOf('x');
    const agents = [
      { id: '1', slug: 'one', state: 'active', servedVersion: 2 },
      { id: '2', slug: 'two', state: 'inactive', servedVersion: 1 },
      { id: '3', slug: 'three', state: 'draft', servedVersion: null },
      { id: '4', slug: 'four', state: 'active', servedVersion: 1 },
    ];
    const source = {
      list: async (page: { limit: number; cursor?: string | undefined }) => {
        const start = page.cursor ? Number(page.cursor) : 0;
        const items = agents.slice(start, start + 2);
        return { items, nextCursor: start + 2 < agents.length ? String(start + 2) : null };
      },
      getVersion: async () => ({ flow }),
    };
    const result = await servedFlowsOf(source);
    expect(result.map((s) => [s.slug, s.version])).toEqual([
      ['one', 2],
      ['four', 1],
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { CallPlayout } from '../../../src/pipeline/playout.js';
import { ClockPacer } from '../../../src/pipeline/pacer.js';
import { MARK_GRACE_MS, MAX_TTS_IN_FLIGHT, Speaker, type PhraseSource } from '../../../src/pipeline/speaker.js';
import { TextQueue } from '../../../src/flow/text-queue.js';
import { FakeTts } from '../../../src/providers/tts/fake.js';
import { ProviderError } from '../../../src/providers/errors.js';
import type { VoiceSpec } from '../../../src/providers/tts/port.js';

/**
 * Speech out for one call without sockets: text → segments (cached phrases or
 * one TTS request per sentence) → paced playout, and what each utterance ends as.
 */
const voice: VoiceSpec = { voiceId: 'v', modelId: 'm', language: 'en-US' };

function setup(options: { phrases?: Record<string, Uint8Array>; tts?: FakeTts } = {}) {
  const clock = new ManualClock();
  const sent: { kind: string; name?: string }[] = [];
  const playout = new CallPlayout({
    clock,
    pacer: new ClockPacer({ clock }),
    sink: (m) => sent.push(m.kind === 'mark' ? { kind: 'mark', name: m.name } : { kind: m.kind }),
  });
  const tts = options.tts ?? new FakeTts({ clock });
  const phrases: PhraseSource = { get: async (text) => options.phrases?.[text] };
  const counters = { ttsRequests: 0, firstBytes: 0, cached: 0 };
  const speaker = new Speaker({
    playout,
    tts,
    phrases,
    voice,
    pronunciations: [{ text: 'Pizzeria', say: 'Pit-sa-ria' }],
    clock,
    logger: silentLogger,
    onTtsRequest: () => counters.ttsRequests++,
    onTtsFirstByte: () => counters.firstBytes++,
    onCachedPhrase: () => counters.cached++,
  });
  /** Twilio returns every mark sent so far (their audio has played). */
  const returnMarks = () => {
    for (const m of sent.filter((s) => s.kind === 'mark')) playout.onMarkReturned(m.name!);
  };
  return { clock, playout, speaker, tts, sent, counters, returnMarks };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

describe('speaker', () => {
  it('one TTS request per sentence, after pronunciations; played once the last mark returns', async () => {
    const { clock, speaker, tts, counters, returnMarks } = setup();
    const ctl = new AbortController();
    const p = speaker.speak('Welcome to the Pizzeria. What would you like?', { turn: 1, interruptible: true, cacheable: false, signal: ctl.signal });
    await clock.advance(1000);
    returnMarks();
    const r = await p;
    expect(r).toMatchObject({ outcome: 'played', text: 'Welcome to the Pizzeria. What would you like?', cached: false });
    expect(r.segments).toEqual(['Welcome to the Pizzeria.', 'What would you like?']);
    expect(tts.texts).toEqual(['Welcome to the Pit-sa-ria.', 'What would you like?']);
    expect(counters).toMatchObject({ ttsRequests: 2, firstBytes: 2, cached: 0 });
  });

  it(`never has more than ${MAX_TTS_IN_FLIGHT} TTS requests in flight`, async () => {
    const clock = new ManualClock();
    const tts = new FakeTts({ clock, firstByteDelayMs: 1000 });
    const { speaker } = setup({ tts });
    const ctl = new AbortController();
    void speaker.speak('One. Two. Three. Four.', { turn: 1, interruptible: true, cacheable: false, signal: ctl.signal });
    await settle();
    expect(tts.requests).toHaveLength(MAX_TTS_IN_FLIGHT);
    ctl.abort('hangup');
  });

  it('a cacheable phrase found in the phrase cache needs no TTS request', async () => {
    const audio = new Uint8Array(1600).fill(0x7f);
    const { clock, speaker, tts, counters, returnMarks } = setup({ phrases: { 'Welcome to the Pit-sa-ria!': audio } });
    const ctl = new AbortController();
    const p = speaker.speak('Welcome to the Pizzeria!', { turn: 1, interruptible: false, cacheable: true, signal: ctl.signal });
    await clock.advance(400);
    returnMarks();
    expect(await p).toMatchObject({ outcome: 'played', cached: true, segments: ['Welcome to the Pizzeria!'] });
    expect(tts.requests).toHaveLength(0);
    expect(counters.cached).toBe(1);
  });

  it('a TTS failure ends the utterance as tts_failed with the error', async () => {
    const clock = new ManualClock();
    const tts = new FakeTts({ clock, error: new ProviderError('fake', 'tts', 'server_error', 'boom', 500) });
    const { speaker } = setup({ tts });
    const r = await speaker.speak('Hello.', { turn: 1, interruptible: true, cacheable: false, signal: new AbortController().signal });
    expect(r.outcome).toBe('tts_failed');
    expect(r.error).toBeInstanceOf(ProviderError);
    expect(r.error?.status).toBe(500);
  });

  it('an abort ends the utterance at once, even while the text source has nothing new (a barge-in never waits for the LLM)', async () => {
    const { clock, speaker } = setup();
    const queue = new TextQueue();
    const ctl = new AbortController();
    let done: unknown;
    const p = speaker.speak(queue, { turn: 1, interruptible: true, cacheable: false, signal: ctl.signal }).then((r) => (done = r));
    queue.push('The first sentence is here. ');
    await clock.advance(200);
    expect(done).toBeUndefined();
    ctl.abort('barge_in');
    await settle();
    await clock.advance(1);
    await p;
    expect(done).toMatchObject({ outcome: 'aborted', text: 'The first sentence is here.' });
    queue.close();
  });

  it('a lost mark cannot hold the call: the utterance ends after its audio plus MARK_GRACE_MS', async () => {
    const { clock, speaker } = setup();
    let done: { outcome: string } | undefined;
    void speaker.speak('Short.', { turn: 1, interruptible: false, cacheable: false, signal: new AbortController().signal }).then((r) => (done = r));
    await clock.advance(1000);
    expect(done).toBeUndefined();
    await clock.advance(MARK_GRACE_MS);
    await settle();
    expect(done?.outcome).toBe('timed_out');
  });

  it('playCached plays a cached phrase as its own segment, and says undefined when it is not cached', async () => {
    const audio = new Uint8Array(800).fill(0x7f);
    const { clock, speaker, returnMarks } = setup({ phrases: { 'One moment.': audio } });
    expect(await speaker.playCached('filler-1', 'Not there.', new AbortController().signal)).toBeUndefined();
    const p = speaker.playCached('filler-1', 'One moment.', new AbortController().signal);
    await settle();
    await clock.advance(200);
    returnMarks();
    expect(await p).toMatchObject({ outcome: 'played', cached: true, segments: ['One moment.'] });
  });
});

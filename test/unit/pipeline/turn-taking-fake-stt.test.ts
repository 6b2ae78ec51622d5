/**
 * The wiring a call session uses: SttPort events → TurnTaking → decisions,
 * with the in-process FakeStt (no sockets, no timers).
 */
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/core/errors.js';
import { ManualClock } from '../../../src/core/clock.js';
import { FakeStt } from '../../../src/providers/stt/fake.js';
import { TurnTaking, type TurnDecision } from '../../../src/pipeline/turn-taking.js';

describe('FakeStt feeding TurnTaking', () => {
  it('a spoken turn ends as one caller_turn with endpointMs from the audio anchor', async () => {
    const clock = new ManualClock();
    const tt = new TurnTaking({ minWords: 2 });
    const decisions: TurnDecision[] = [];
    const stt = new FakeStt();
    const session = stt.open({ language: 'en-US' }, (event) => decisions.push(...tt.feed({ type: 'stt', event }, clock.now())));
    for (let i = 0; i < 100; i++) {
      session.sendAudio(new Uint8Array(160).fill(0xff));
      await clock.advance(20);
      tt.feed({ type: 'caller_audio', audioMs: (session.bytesReceived / 8000) * 1000 }, clock.now());
    }
    await clock.advance(150); // Deepgram's endpointing delay
    session.say('I need an appointment');
    const turn = decisions.find((d) => d.type === 'caller_turn');
    expect(turn).toMatchObject({ text: 'I need an appointment', endpointMs: 210, endedAtMs: 2150 });
    expect(decisions.map((d) => d.type)).toEqual(['pause_silence_timers', 'restart_silence_timers', 'caller_turn']);
    expect(session.bytesReceived).toBe(16000);
  });

  it('a FakeStt without a key throws NOT_CONFIGURED naming DEEPGRAM_API_KEY', () => {
    expect(() => new FakeStt({ configured: false }).open({ language: 'en' }, () => {})).toThrow(AppError);
    expect(() => new FakeStt({ configured: false }).open({ language: 'en' }, () => {})).toThrow(/DEEPGRAM_API_KEY/);
  });
});

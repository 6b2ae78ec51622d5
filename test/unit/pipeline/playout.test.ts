import { describe, expect, it } from 'vitest';
import { PlayoutState, leadingWords, type OutboundMessage } from '../../../src/pipeline/playout.js';

/**
 * The playout state machine, driven with explicit nowMs values (no timers):
 * pacing never more than 300 ms ahead, fixed frames with a padded tail, one mark
 * after each segment, clear first on barge-in, and heard text from marks.
 */

const audio = (bytes: number, value = 0x55) => new Uint8Array(bytes).fill(value);
const kinds = (ms: readonly OutboundMessage[]) => ms.map((m) => (m.kind === 'media' ? `media:${m.payload.length}` : m.kind === 'mark' ? `mark:${m.name}` : 'clear'));

function segment(p: PlayoutState, turn: number, seg: number, text: string, bytes: number, nowMs = 0): string {
  const name = p.openSegment({ turn, segment: seg, text });
  p.pushAudio(name, audio(bytes), nowMs);
  p.endSegment(name, nowMs);
  return name;
}

describe('PlayoutState pacing', () => {
  it('sends at most 300 ms ahead of estimated playout, then one frame per 100 ms as playout advances', () => {
    const p = new PlayoutState();
    segment(p, 1, 0, 'Two seconds of audio.', 16000); // 2000 ms
    expect(kinds(p.pull(0).messages)).toEqual(['media:800', 'media:800', 'media:800']);
    expect(p.leadMs(0)).toBe(300);
    expect(p.pull(50).messages).toEqual([]);
    expect(p.pull(99).messages).toEqual([]);
    expect(kinds(p.pull(100).messages)).toEqual(['media:800']);

    let frames = 4;
    let markAt: number | undefined;
    for (let now = 107; now <= 3000; now += 7) {
      for (const m of p.pull(now).messages) {
        if (m.kind === 'media') frames++;
        if (m.kind === 'mark') markAt = now;
      }
      expect(p.leadMs(now)).toBeLessThanOrEqual(300);
    }
    expect(frames).toBe(20);
    // The mark follows the last frame, which goes out 300 ms before the audio ends.
    expect(markAt).toBeGreaterThanOrEqual(1700);
    expect(markAt).toBeLessThan(1710);
    expect(p.stats()).toMatchObject({ framesSent: 20, mediaBytesSent: 16000, marksSent: 1, underruns: 0 });
    expect(p.stats().maxLeadMs).toBeLessThanOrEqual(300);
  });

  it('sends what is due after a late tick instead of counting ticks, and counts the underrun', () => {
    const p = new PlayoutState();
    segment(p, 1, 0, 'x', 8000); // 1000 ms, ready at 0
    p.pull(0); // 300 ms queued
    const late = p.pull(1000); // the timer was starved for a second
    expect(kinds(late.messages)).toEqual(['media:800', 'media:800', 'media:800']);
    expect(late.events).toContainEqual({ type: 'underrun', name: '1:0', lateMs: 700, atMs: 1000 });
    expect(p.stats()).toMatchObject({ underruns: 1, underrunMs: 700 });
    expect(p.leadMs(1000)).toBe(300);
  });

  it('does not count a gap caused by audio arriving late as an underrun', () => {
    const p = new PlayoutState();
    const name = p.openSegment({ turn: 1, segment: 0, text: 'x' });
    p.pushAudio(name, audio(800), 0);
    p.pull(0); // 100 ms queued
    p.pushAudio(name, audio(800), 250); // TTS was slow: ready after playout ran dry
    const step = p.pull(250);
    expect(kinds(step.messages)).toEqual(['media:800']);
    expect(step.events.filter((e) => e.type === 'underrun')).toEqual([]);
  });

  it('re-frames uneven chunks into 800-byte messages and pads the tail with 0xFF to a multiple of 160', () => {
    const p = new PlayoutState();
    const name = p.openSegment({ turn: 3, segment: 0, text: 'Hi.' });
    p.pushAudio(name, audio(7), 0);
    p.pushAudio(name, audio(593), 0);
    expect(p.pull(0).messages).toEqual([]); // not a whole frame yet, and not ended
    p.pushAudio(name, audio(400), 0);
    p.endSegment(name, 0);
    const out = p.pull(0).messages;
    expect(kinds(out)).toEqual(['media:800', 'media:320', 'mark:3:0']);
    const tail = (out[1] as { payload: Uint8Array }).payload;
    expect([...tail.subarray(0, 200)].every((b) => b === 0x55)).toBe(true);
    expect([...tail.subarray(200)].every((b) => b === 0xff)).toBe(true);
  });

  it('honours a configured frame size and rejects bad sizes and leads', () => {
    const p = new PlayoutState({ frameBytes: 160, maxLeadMs: 40 });
    segment(p, 1, 0, 'x', 800);
    expect(kinds(p.pull(0).messages)).toEqual(['media:160', 'media:160']);
    expect(() => new PlayoutState({ frameBytes: 100 })).toThrow(/multiple of 160/);
    expect(() => new PlayoutState({ frameBytes: 800, maxLeadMs: 50 })).toThrow(/at least one frame/);
  });

  it('plays segments in the order opened, each followed by its mark, even when a later one is ready first', () => {
    const p = new PlayoutState({ maxLeadMs: 10_000 });
    const a = p.openSegment({ turn: 7, segment: 0, text: 'First.' });
    const b = p.openSegment({ turn: 7, segment: 1, text: 'Second.' });
    p.pushAudio(b, audio(800, 0x22), 0);
    p.endSegment(b, 0);
    p.pushAudio(a, audio(1000, 0x11), 0);
    expect(kinds(p.pull(0).messages)).toEqual(['media:800']); // a's whole frame; a not ended
    p.endSegment(a, 1);
    const out = p.pull(1).messages;
    expect(kinds(out)).toEqual(['media:320', 'mark:7:0', 'media:800', 'mark:7:1']);
    expect((out[2] as { payload: Uint8Array }).payload[0]).toBe(0x22);
  });

  it('sends just a mark for a segment without audio (a failed TTS keeps the order)', () => {
    const p = new PlayoutState();
    const name = p.openSegment({ turn: 1, segment: 0, text: 'lost' });
    p.endSegment(name, 0);
    expect(kinds(p.pull(0).messages)).toEqual(['mark:1:0']);
  });

  it('reports segment_started at the first frame and segment_played and idle when the mark returns', () => {
    const p = new PlayoutState();
    segment(p, 1, 0, 'Hello.', 800);
    const step = p.pull(5);
    expect(step.events).toEqual([{ type: 'segment_started', name: '1:0', turn: 1, segment: 0, atMs: 5 }]);
    expect(p.idle).toBe(false);
    expect(p.markReturned('1:0', 105)).toEqual([
      { type: 'segment_played', name: '1:0', turn: 1, segment: 0, atMs: 105 },
      { type: 'idle', atMs: 105 },
    ]);
    expect(p.idle).toBe(true);
    expect(p.segmentState('1:0')).toBe('played');
  });

  it('treats a later mark as proof that earlier segments played', () => {
    const p = new PlayoutState({ maxLeadMs: 1000 });
    segment(p, 1, 0, 'a', 800);
    segment(p, 1, 1, 'b', 800);
    p.pull(0);
    const events = p.markReturned('1:1', 200);
    expect(events.map((e) => e.type)).toEqual(['segment_played', 'segment_played', 'idle']);
  });

  it('ignores unknown marks', () => {
    const p = new PlayoutState();
    expect(p.markReturned('nope:1', 0)).toEqual([]);
    expect(p.stats().marksIgnored).toBe(1);
  });

  it('rejects a duplicate segment and audio after the end', () => {
    const p = new PlayoutState();
    const name = segment(p, 1, 0, 'a', 100);
    expect(() => p.openSegment({ turn: 1, segment: 0, text: 'again' })).toThrow(/already exists/);
    expect(() => p.pushAudio(name, audio(10), 0)).toThrow(/already ended/);
    expect(() => p.pushAudio('9:9', audio(10), 0)).toThrow(/unknown/);
  });
});

describe('PlayoutState clear and heard text', () => {
  const first = 'Hello there.';
  const second = 'I can help you book a table for tonight.'; // 40 characters

  function twoSegments(): PlayoutState {
    const p = new PlayoutState();
    segment(p, 7, 0, first, 1000); // 125 ms
    segment(p, 7, 1, second, 3200); // 400 ms
    return p;
  }

  it('emits clear first, drops queued audio and ignores marks of discarded audio', () => {
    const p = twoSegments();
    p.pull(0);
    const result = p.clear(150);
    expect(kinds(result.messages)).toEqual(['clear']);
    expect(result.events.map((e) => `${e.type}:${'name' in e ? e.name : ''}`)).toEqual([
      'segment_cleared:7:0',
      'segment_cleared:7:1',
    ]);
    expect(p.pull(200).messages).toEqual([]);
    expect(p.idle).toBe(true);
    // Twilio returns the marks of discarded audio too; they must not count as played.
    expect(p.markReturned('7:0', 210)).toEqual([]);
    expect(p.stats()).toMatchObject({ marksIgnored: 1, marksReturned: 0, clears: 1 });
    // Late TTS audio for a cleared segment is dropped quietly.
    expect(p.pushAudio('7:1', audio(800), 220)).toBe(false);
    expect(p.pull(220).messages).toEqual([]);
    expect(p.segmentState('7:1')).toBe('cleared');
  });

  it('hears every returned segment plus the playing one in proportion to elapsed time, cut at a word', () => {
    const p = twoSegments();
    for (let now = 0; now <= 125; now += 20) p.pull(now);
    p.markReturned('7:0', 125); // second segment starts playing at 125
    const { heard } = p.clear(125 + 200); // half of 400 ms → 20 of 40 characters
    expect(heard.heardText).toBe('Hello there. I can help you book…');
    expect(heard.interrupted).toBe(true);
    expect(heard.turns).toEqual([{ turn: 7, heardText: 'Hello there. I can help you book…', interrupted: true }]);
  });

  it('cuts back to the last whole word when the proportion ends mid-word', () => {
    const p = twoSegments();
    for (let now = 0; now <= 125; now += 20) p.pull(now);
    p.markReturned('7:0', 125);
    const { heard } = p.clear(125 + 170); // 17 characters: "I can help you bo"
    expect(heard.heardText).toBe('Hello there. I can help you…');
  });

  it('hears nothing when cleared before any audio played', () => {
    const p = twoSegments();
    p.pull(0);
    expect(p.clear(0).heard).toMatchObject({ heardText: '', interrupted: true });
  });

  it('hears nothing of a segment that has not started, but keeps the played ones', () => {
    const p = new PlayoutState();
    segment(p, 2, 0, 'One.', 800);
    p.pull(0);
    p.markReturned('2:0', 100);
    p.openSegment({ turn: 2, segment: 1, text: 'Two is still being synthesized.' });
    expect(p.clear(150).heard.heardText).toBe('One.…');
  });

  it('counts a segment as heard when its audio should have finished though its mark is still on the way', () => {
    const p = new PlayoutState();
    segment(p, 4, 0, 'Short one.', 800); // 100 ms
    p.pull(0);
    expect(p.clear(130).heard).toMatchObject({ heardText: 'Short one.', interrupted: true });
  });

  it('restarts the playing segment at the moment the previous mark returned', () => {
    const p = twoSegments();
    p.pull(0); // 3 frames: segment 0 ends at 125 by estimate
    p.pull(100);
    p.markReturned('7:0', 180); // Twilio was 55 ms behind our estimate
    const { heard } = p.clear(180 + 200);
    expect(heard.heardText).toBe('Hello there. I can help you book…');
  });

  it('reports only the turns still tracked: finished earlier turns are forgotten when a new turn opens', () => {
    const p = new PlayoutState();
    segment(p, 1, 0, 'Welcome.', 800);
    p.pull(0);
    p.markReturned('1:0', 100);
    segment(p, 2, 0, 'What would you like?', 1600, 100);
    p.pull(100);
    const { heard } = p.clear(150); // 50 of 200 ms → 5 of 20 characters → "What"
    expect(heard.turns.map((t) => t.turn)).toEqual([2]);
    expect(heard.heardText).toBe('What…');
  });

  it('keeps working after a clear: new segments play and their marks count', () => {
    const p = twoSegments();
    p.pull(0);
    p.clear(50);
    segment(p, 8, 0, 'Sure.', 800, 60);
    expect(kinds(p.pull(60).messages)).toEqual(['media:800', 'mark:8:0']);
    expect(p.markReturned('7:1', 70)).toEqual([]); // a discarded mark arriving late
    expect(p.markReturned('8:0', 160).map((e) => e.type)).toEqual(['segment_played', 'idle']);
  });

  it('gates barge-in on unplayed interruptible audio only', () => {
    const p = new PlayoutState();
    const n = p.openSegment({ turn: 1, segment: 0, text: 'Please listen carefully.', interruptible: false });
    p.pushAudio(n, audio(800), 0);
    p.endSegment(n, 0);
    expect(p.hasUnplayedAudio).toBe(true);
    expect(p.hasUnplayedInterruptibleAudio).toBe(false);
    segment(p, 1, 1, 'Now you may interrupt.', 800);
    expect(p.hasUnplayedInterruptibleAudio).toBe(true);
  });
});

describe('leadingWords', () => {
  it('cuts at whole words and drops trailing separators', () => {
    expect(leadingWords('Hello there, how are you?', 0)).toBe('');
    expect(leadingWords('Hello there, how are you?', 1)).toBe('Hello there, how are you?');
    expect(leadingWords('Hello there, how are you?', 0.5)).toBe('Hello there'); // "Hello there, " → comma dropped
    expect(leadingWords('Hello', 0.9)).toBe('');
    expect(leadingWords('  padded text  ', 1)).toBe('padded text');
  });
});

describe('PlayoutState bookkeeping', () => {
  it('still answers "played" for a segment forgotten when a later turn opened', () => {
    const p = new PlayoutState();
    segment(p, 1, 0, 'Welcome.', 800);
    p.pull(0);
    p.markReturned('1:0', 100);
    segment(p, 2, 0, 'Next.', 800, 100); // prunes turn 1
    expect(p.segmentState('1:0')).toBe('played');
    expect(p.segmentState('5:5')).toBeUndefined();
  });
});

describe('PlayoutState hold and resume (fast interrupt)', () => {
  it('a hold sends nothing new; resume goes on from the next frame, with no underrun for the deliberate gap', () => {
    const p = new PlayoutState();
    segment(p, 1, 0, 'one two three four five six seven eight nine ten', 8000); // 1000 ms
    expect(kinds(p.pull(0).messages)).toHaveLength(3); // 300 ms at Twilio
    p.hold();
    expect(p.held).toBe(true);
    expect(p.pull(100).messages).toEqual([]);
    expect(p.pull(600).messages).toEqual([]); // Twilio ran dry at 300
    p.resume(600);
    expect(p.held).toBe(false);
    const out = p.pull(600);
    expect(kinds(out.messages)).toEqual(['media:800', 'media:800', 'media:800']);
    expect(out.events.filter((e) => e.type === 'underrun')).toEqual([]);
    // Every byte is still sent exactly once.
    let bytes = 2400 * 2;
    for (let now = 700; now <= 2000; now += 100) for (const m of p.pull(now).messages) if (m.kind === 'media') bytes += m.payload.length;
    expect(bytes).toBe(8000);
    expect(p.stats()).toMatchObject({ underruns: 0, mediaBytesSent: 8000 });
  });

  it('what was heard excludes the silence of the hold', () => {
    const p = new PlayoutState();
    segment(p, 1, 0, 'one two three four five six seven eight nine ten', 8000); // 1000 ms
    p.pull(0);
    p.hold();
    p.resume(800); // 500 ms of silence after the 300 ms played
    p.pull(800);
    // 300 ms played before the hold + 100 ms after it = 40 %.
    expect(p.heard(900).heardText).toBe('one two three four…');
  });

  it('a clear during a hold ends the hold', () => {
    const p = new PlayoutState();
    segment(p, 1, 0, 'x', 8000);
    p.pull(0);
    p.hold();
    expect(kinds(p.clear(100).messages)).toEqual(['clear']);
    expect(p.held).toBe(false);
  });
});

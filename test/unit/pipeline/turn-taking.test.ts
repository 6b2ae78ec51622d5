/**
 * Turn-taking rules (docs/architecture.md#turn-taking), driven as a pure state machine: every input
 * carries its own nowMs, no timers, no sockets.
 */
import { describe, expect, it } from 'vitest';
import type { SttEvent } from '../../../src/providers/stt/port.js';
import { TurnTaking, type TurnDecision, type TurnInput } from '../../../src/pipeline/turn-taking.js';

const interim = (text: string, start: number, end: number): SttEvent => ({
  type: 'transcript',
  text,
  isFinal: false,
  speechFinal: false,
  start,
  end,
  ...(text ? { lastWordEnd: end - 0.05 } : {}),
});
const final = (text: string, start: number, end: number, speechFinal = false, lastWordEnd?: number): SttEvent => ({
  type: 'transcript',
  text,
  isFinal: true,
  speechFinal,
  start,
  end,
  ...(text ? { lastWordEnd: lastWordEnd ?? end - 0.3 } : {}),
});
const stt = (event: SttEvent): TurnInput => ({ type: 'stt', event });
const types = (ds: TurnDecision[]) => ds.map((d) => d.type);
const find = <T extends TurnDecision['type']>(ds: TurnDecision[], type: T) =>
  ds.find((d): d is Extract<TurnDecision, { type: T }> => d.type === type);

function machine(minWords = 2) {
  const tt = new TurnTaking({ minWords });
  const feed = (input: TurnInput, nowMs: number) => tt.feed(input, nowMs);
  return { tt, feed };
}

describe('turn end', () => {
  it('ends on speech_final with the final text and endpointMs on the mapped audio clock', () => {
    const { feed } = machine();
    // Caller audio arrives in real time from t=1000: audio 0 ms at now 1000.
    feed({ type: 'caller_audio', audioMs: 0 }, 1000);
    expect(types(feed(stt({ type: 'speech_started', timestamp: 0.5 }), 1600))).toEqual(['pause_silence_timers']);
    expect(feed(stt(interim('I need', 0.5, 1.0)), 2050)).toEqual([]);
    feed({ type: 'caller_audio', audioMs: 2000 }, 3000);
    const out = feed(stt(final('I need an appointment.', 0, 2.0, true, 1.7)), 3050);
    const turn = find(out, 'caller_turn');
    expect(turn).toEqual({ type: 'caller_turn', text: 'I need an appointment.', endpointMs: 350, endedAtMs: 3050, deferred: false });
    expect(types(out)).toEqual(['restart_silence_timers', 'caller_turn']);
  });

  it('ends on UtteranceEnd when speech_final never comes, using its last_word_end', () => {
    const { feed } = machine();
    feed({ type: 'caller_audio', audioMs: 3000 }, 13000);
    expect(feed(stt(final('Tuesday morning', 0, 2.5, false, 2.0)), 12600).some((d) => d.type === 'caller_turn')).toBe(false);
    const out = feed(stt({ type: 'utterance_end', lastWordEnd: 2.1 }), 13200);
    // last word at audio 2100 ms → now 12100; event at 13200.
    expect(find(out, 'caller_turn')).toMatchObject({ text: 'Tuesday morning', endpointMs: 1100 });
  });

  it('an UtteranceEnd after speech_final closed the turn does nothing', () => {
    const { feed } = machine();
    feed(stt(final('Hello there.', 0, 1.2, true)), 100);
    expect(feed(stt({ type: 'utterance_end', lastWordEnd: 0.9 }), 200)).toEqual([]);
  });

  it('concatenates every is_final since the last turn', () => {
    const { feed } = machine();
    expect(feed(stt(final('I would like', 0, 1, false)), 10)).toEqual([expect.objectContaining({ type: 'pause_silence_timers' })]);
    feed(stt(interim('to book a', 1, 1.6)), 20);
    feed(stt(final('to book a cleaning', 1, 2, false)), 30);
    const out = feed(stt(final('next week.', 2, 3, true)), 40);
    expect(find(out, 'caller_turn')?.text).toBe('I would like to book a cleaning next week.');
    // The next turn starts empty.
    feed({ type: 'reply_first_frame' }, 45);
    const out2 = feed(stt(final('Thanks.', 3, 4, true)), 50);
    expect(find(out2, 'caller_turn')?.text).toBe('Thanks.');
  });

  it('an empty speech_final closes a turn that has earlier finals', () => {
    const { feed } = machine();
    feed(stt(final('My name is Ana', 0, 1.5)), 10);
    expect(find(feed(stt(final('', 1.5, 2, true)), 20), 'caller_turn')?.text).toBe('My name is Ana');
  });

  it('ignores empty transcripts for turn logic', () => {
    const { feed } = machine();
    expect(feed(stt(final('', 0, 1, true)), 10)).toEqual([]);
    expect(feed(stt(interim('', 1, 1.5)), 20)).toEqual([]);
    expect(feed(stt({ type: 'utterance_end', lastWordEnd: 1 }), 30)).toEqual([]);
  });

  it('UtteranceEnd while the words are still interim closes the turn at the next final', () => {
    const { feed } = machine();
    feed(stt(interim('cancel my visit', 0, 1.5)), 10);
    expect(types(feed(stt({ type: 'utterance_end', lastWordEnd: 1.4 }), 20))).toEqual([]);
    const out = feed(stt(final('Cancel my visit.', 0, 2.6, false)), 30);
    expect(find(out, 'caller_turn')?.text).toBe('Cancel my visit.');
  });

  it('without an audio anchor, endpointMs is the gap on the audio clock to the closing result', () => {
    const { feed } = machine();
    const out = feed(stt(final('Yes please.', 0, 1.5, true, 1.2)), 999);
    expect(find(out, 'caller_turn')?.endpointMs).toBe(300);
  });

  it('interim words of a dropped STT connection are forgotten; finals are kept', () => {
    const { feed, tt } = machine();
    feed(stt(final('I need', 0, 1)), 10);
    feed(stt(interim('an appo', 1, 1.5)), 20);
    feed(stt({ type: 'reconnecting', attempt: 1 }), 30);
    expect(tt.snapshot()).toMatchObject({ finals: ['I need'], interim: '' });
    feed(stt({ type: 'reconnected', attempt: 1 }), 40);
    expect(find(feed(stt(final('an appointment', 1, 2.2, true)), 50), 'caller_turn')?.text).toBe('I need an appointment');
  });
});

describe('joining turns', () => {
  it('a turn that ends before the reply’s first frame is joined with the pending one', () => {
    const { feed } = machine();
    expect(find(feed(stt(final('I need to reschedule.', 0, 1.5, true)), 100), 'caller_turn')).toBeTruthy();
    const out = feed(stt(final('Actually, cancel it.', 2, 3.5, true)), 900);
    expect(find(out, 'join_turns')).toMatchObject({
      text: 'I need to reschedule. Actually, cancel it.',
      turns: ['I need to reschedule.', 'Actually, cancel it.'],
      endedAtMs: 900,
    });
    expect(find(out, 'caller_turn')).toBeUndefined();
    // A third one joins all three.
    expect(find(feed(stt(final('Please.', 4, 4.5, true)), 1200), 'join_turns')?.turns).toHaveLength(3);
  });

  it('after the first frame is sent, the next turn is a new turn', () => {
    const { feed } = machine();
    feed(stt(final('Hi.', 0, 1, true)), 100);
    feed({ type: 'reply_first_frame' }, 600);
    feed({ type: 'agent_audio', state: 'interruptible' }, 600);
    feed({ type: 'agent_audio', state: 'idle' }, 2000);
    expect(find(feed(stt(final('Book me in.', 3, 4, true)), 4100), 'caller_turn')?.text).toBe('Book me in.');
  });

  it('a cancelled reply ends the join window', () => {
    const { feed } = machine();
    feed(stt(final('Hi.', 0, 1, true)), 100);
    feed({ type: 'reply_cancelled' }, 200);
    expect(find(feed(stt(final('Hello?', 2, 3, true)), 300), 'caller_turn')).toBeTruthy();
  });
});

describe('barge-in', () => {
  function speaking(minWords = 2) {
    const m = machine(minWords);
    m.feed(stt(final('What time?', 0, 1, true)), 0);
    m.feed({ type: 'reply_first_frame' }, 500);
    m.feed({ type: 'agent_audio', state: 'interruptible' }, 500);
    return m;
  }

  it('one word does not interrupt; the second word does, once', () => {
    const { feed } = speaking();
    expect(types(feed(stt(interim('Wait', 2, 2.4)), 1000))).toEqual(['pause_silence_timers']);
    const out = feed(stt(interim('Wait, no', 2, 2.8)), 1200);
    expect(out).toEqual([{ type: 'barge_in', words: 'Wait, no', atMs: 1200 }]);
    expect(find(feed(stt(interim('Wait, no, I meant', 2, 3.2)), 1300), 'barge_in')).toBeUndefined();
  });

  it('"yeah okay" does not interrupt and ends as a backchannel that starts no reply', () => {
    const { feed, tt } = speaking();
    expect(find(feed(stt(interim('yeah okay', 2, 2.8)), 1000), 'barge_in')).toBeUndefined();
    const out = feed(stt(final('Yeah, okay.', 2, 3, true)), 1500);
    expect(types(out)).toEqual(['restart_silence_timers', 'backchannel']);
    expect(find(out, 'backchannel')?.text).toBe('Yeah, okay.');
    expect(tt.snapshot()).toMatchObject({ agentAudio: 'interruptible', finals: [], deferred: [] });
  });

  it('"okay wait" interrupts', () => {
    const { feed } = speaking();
    expect(find(feed(stt(interim('okay wait', 2, 2.8)), 1000), 'barge_in')?.words).toBe('okay wait');
  });

  it('counts finals and the interim of the turn in progress together', () => {
    const { feed } = speaking();
    expect(find(feed(stt(final('Okay', 2, 2.4)), 1000), 'barge_in')).toBeUndefined();
    expect(find(feed(stt(interim('hold on', 2.4, 3)), 1100), 'barge_in')?.words).toBe('Okay hold on');
  });

  it('a final transcript can trigger it too', () => {
    const { feed } = speaking();
    expect(find(feed(stt(final('Stop please', 2, 3)), 1000), 'barge_in')).toBeTruthy();
  });

  it('after barge-in the caller’s turn ends as a normal caller_turn (the interrupting question is answered)', () => {
    const { feed } = speaking();
    feed(stt(interim('Hold on', 2, 2.6)), 1000);
    const out = feed(stt(final('Hold on, is it open Sunday?', 2, 4, true)), 3000);
    expect(find(out, 'caller_turn')?.text).toBe('Hold on, is it open Sunday?');
  });

  it('honours minWords from the flow settings', () => {
    const { feed } = speaking(3);
    expect(find(feed(stt(interim('no thanks', 2, 2.6)), 1000), 'barge_in')).toBeUndefined();
    expect(find(feed(stt(interim('no thanks bye', 2, 3)), 1100), 'barge_in')).toBeTruthy();
  });

  it('never fires while no agent audio is unplayed', () => {
    const { feed } = machine();
    expect(find(feed(stt(interim('hello there friend', 0, 1)), 100), 'barge_in')).toBeUndefined();
    feed({ type: 'agent_audio', state: 'interruptible' }, 200);
    feed({ type: 'agent_audio', state: 'idle' }, 300);
    expect(find(feed(stt(interim('hello there friend again', 0, 1.2)), 400), 'barge_in')).toBeUndefined();
  });

  it('fires again for a later stretch of interruptible audio', () => {
    const { feed } = speaking();
    expect(find(feed(stt(interim('wait wait', 2, 2.5)), 1000), 'barge_in')).toBeTruthy();
    feed(stt(final('wait wait', 2, 3, true)), 1100);
    feed({ type: 'reply_first_frame' }, 1500);
    feed({ type: 'agent_audio', state: 'interruptible' }, 1500);
    expect(find(feed(stt(interim('no stop', 4, 4.5)), 2000), 'barge_in')).toBeTruthy();
  });
});

describe('non-interruptible audio', () => {
  it('is never cut; speech ending over it becomes the next turn after playout', () => {
    const { feed } = machine();
    feed({ type: 'agent_audio', state: 'non_interruptible' }, 0);
    expect(find(feed(stt(interim('I want to speak to someone', 1, 2.5)), 1000), 'barge_in')).toBeUndefined();
    const out = feed(stt(final('I want to speak to someone.', 1, 3, true)), 1500);
    expect(types(out)).toEqual(['restart_silence_timers', 'turn_deferred']);
    expect(feed(stt(final('Now.', 3, 4, true)), 1800).map((d) => d.type)).toContain('turn_deferred');
    expect(feed({ type: 'agent_audio', state: 'non_interruptible' }, 2500)).toEqual([]);
    const released = feed({ type: 'agent_audio', state: 'idle' }, 4000);
    expect(released).toEqual([
      expect.objectContaining({ type: 'caller_turn', text: 'I want to speak to someone. Now.', deferred: true, endedAtMs: 4000 }),
    ]);
  });

  it('a backchannel over it is kept, not deferred', () => {
    const { feed } = machine();
    feed({ type: 'agent_audio', state: 'non_interruptible' }, 0);
    const out = feed(stt(final('Mm-hmm.', 1, 2, true)), 1500);
    expect(types(out)).toEqual(['pause_silence_timers', 'restart_silence_timers', 'backchannel']);
    expect(feed({ type: 'agent_audio', state: 'idle' }, 3000)).toEqual([]);
  });

  it('a sub-threshold turn over interruptible audio waits for playout instead of cutting it', () => {
    const { feed } = machine();
    feed({ type: 'agent_audio', state: 'interruptible' }, 0);
    const out = feed(stt(final('Tuesday.', 1, 2, true)), 1500);
    expect(types(out)).toEqual(['pause_silence_timers', 'restart_silence_timers', 'turn_deferred']);
    expect(find(feed({ type: 'agent_audio', state: 'idle' }, 3000), 'caller_turn')?.text).toBe('Tuesday.');
  });

  it('with no agent audio a backchannel word is an ordinary answer', () => {
    const { feed } = machine();
    expect(find(feed(stt(final('Yeah.', 0, 1, true)), 100), 'caller_turn')?.text).toBe('Yeah.');
  });
});

describe('SpeechStarted and silence timers', () => {
  it('holds interruptible audio and pauses silence timers; never clears, never barges in, never ends a turn', () => {
    const { feed, tt } = machine();
    feed({ type: 'agent_audio', state: 'interruptible' }, 0);
    expect(feed(stt({ type: 'speech_started', timestamp: 1 }), 100)).toEqual([{ type: 'hold_audio' }, { type: 'pause_silence_timers' }]);
    expect(feed(stt({ type: 'speech_started', timestamp: 1.2 }), 150)).toEqual([]);
    expect(tt.snapshot()).toMatchObject({ agentAudio: 'interruptible', holdingAudio: true, bargedIn: false });
  });

  it('holds nothing over silence or non-interruptible audio', () => {
    const { feed, tt } = machine();
    expect(feed(stt({ type: 'speech_started', timestamp: 1 }), 100)).toEqual([{ type: 'pause_silence_timers' }]);
    const b = machine();
    b.feed({ type: 'agent_audio', state: 'non_interruptible' }, 0);
    expect(b.feed(stt({ type: 'speech_started', timestamp: 1 }), 100)).toEqual([{ type: 'pause_silence_timers' }]);
    expect(tt.snapshot().holdingAudio).toBe(false);
    expect(b.tt.snapshot().holdingAudio).toBe(false);
  });

  it('noise (SpeechStarted, then only empty finals) restarts the silence timers', () => {
    const { feed } = machine();
    feed(stt({ type: 'speech_started', timestamp: 1 }), 100);
    expect(feed(stt(final('', 0, 2)), 900)).toEqual([{ type: 'restart_silence_timers' }]);
  });

  it('a turn end restarts them', () => {
    const { feed } = machine();
    feed(stt({ type: 'speech_started', timestamp: 1 }), 100);
    expect(types(feed(stt(final('Hi.', 1, 2, true)), 900))[0]).toBe('restart_silence_timers');
  });
});

describe('fast interrupt (SpeechStarted holds, words decide)', () => {
  function held() {
    const m = machine();
    m.feed({ type: 'agent_audio', state: 'interruptible' }, 0);
    m.feed(stt({ type: 'speech_started', timestamp: 1 }), 100);
    return m;
  }

  it('words that interrupt: barge_in (the clear), and the hold is over', () => {
    const { feed, tt } = held();
    expect(types(feed(stt(interim('Wait, actually', 1, 1.6)), 700))).toEqual(['barge_in']);
    expect(tt.snapshot().holdingAudio).toBe(false);
    // Nothing to resume afterwards, even when the caller's final comes.
    expect(types(feed(stt(final('Wait, actually I have a question.', 1, 2.5, true)), 1600))).not.toContain('resume_audio');
  });

  it('a backchannel final resumes the audio and never interrupts', () => {
    const { feed, tt } = held();
    const out = types(feed(stt(final('Yeah.', 1, 1.3, true)), 600));
    expect(out).toContain('resume_audio');
    expect(out).not.toContain('barge_in');
    expect(tt.snapshot()).toMatchObject({ holdingAudio: false, agentAudio: 'interruptible' });
  });

  it('noise (an empty final) resumes the audio', () => {
    const { feed } = held();
    expect(types(feed(stt(final('', 0, 2)), 600))).toEqual(['resume_audio', 'restart_silence_timers']);
  });

  it('no words within confirmMs: the timer input resumes the audio, once', () => {
    const { feed } = held();
    expect(feed({ type: 'hold_expired' }, 700)).toEqual([{ type: 'resume_audio' }]);
    expect(feed({ type: 'hold_expired' }, 800)).toEqual([]);
  });

  it('the audio ending or being stopped ends the hold: a late timer resumes nothing', () => {
    const { feed } = held();
    feed({ type: 'agent_audio', state: 'idle' }, 300);
    expect(feed({ type: 'hold_expired' }, 700)).toEqual([]);
  });
});

describe('DTMF', () => {
  it('during a gather prompt with stopOnDtmf: stops the prompt, then the digit counts', () => {
    const { feed, tt } = machine();
    feed({ type: 'agent_audio', state: 'interruptible', stopOnDtmf: true }, 0);
    expect(feed({ type: 'dtmf', digit: '1' }, 500)).toEqual([
      { type: 'stop_prompt', reason: 'dtmf' },
      { type: 'dtmf', digit: '1' },
      { type: 'restart_silence_timers' },
    ]);
    expect(tt.snapshot().agentAudio).toBe('idle');
    expect(feed({ type: 'dtmf', digit: '2' }, 600)).toEqual([{ type: 'dtmf', digit: '2' }, { type: 'restart_silence_timers' }]);
  });

  it('a non-interruptible gather prompt with stopOnDtmf is stopped by a key too', () => {
    const { feed } = machine();
    feed({ type: 'agent_audio', state: 'non_interruptible', stopOnDtmf: true }, 0);
    expect(types(feed({ type: 'dtmf', digit: '#' }, 10))).toEqual(['stop_prompt', 'dtmf', 'restart_silence_timers']);
  });

  it('elsewhere a key is only queued: ordinary agent audio is not stopped', () => {
    const { feed, tt } = machine();
    feed({ type: 'agent_audio', state: 'interruptible' }, 0);
    expect(feed({ type: 'dtmf', digit: '0' }, 500)).toEqual([{ type: 'dtmf', digit: '0' }, { type: 'restart_silence_timers' }]);
    expect(tt.snapshot().agentAudio).toBe('interruptible');
    feed({ type: 'agent_audio', state: 'idle' }, 600);
    expect(types(feed({ type: 'dtmf', digit: '5' }, 700))).toEqual(['dtmf', 'restart_silence_timers']);
  });

  it('stopOnDtmf does not outlive its prompt', () => {
    const { feed } = machine();
    feed({ type: 'agent_audio', state: 'interruptible', stopOnDtmf: true }, 0);
    feed({ type: 'agent_audio', state: 'idle' }, 100);
    feed({ type: 'agent_audio', state: 'interruptible' }, 200);
    expect(types(feed({ type: 'dtmf', digit: '3' }, 300))).toEqual(['dtmf', 'restart_silence_timers']);
  });
});

import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { CallSession, type SessionEvent } from '../../../src/pipeline/call-session.js';
import { CallListening } from '../../../src/pipeline/listening.js';
import { ProviderError } from '../../../src/providers/errors.js';
import { FakeStt } from '../../../src/providers/stt/fake.js';
import { CALL_SID, callFixture, makeFlow, voice } from './call-fixture.js';

/**
 * The listening side without sockets: caller audio → (fake) speech-to-text →
 * turn-taking → the session; barge-in through the utterance's own controller;
 * per-turn metrics attached to the utterance that carries the reply.
 */
const flow = makeFlow([{ id: 'e', type: 'end' }]);
/** Several seconds of (fake) speech: still streaming when the caller starts talking. */
const LONG = 'One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twenty-one twenty-two.';

async function setup(options: { stt?: FakeStt | undefined } = {}) {
  const f = await callFixture();
  const session = new CallSession({ callSid: CALL_SID, channel: f.channel, calls: f.calls, clock: f.clock, logger: silentLogger, pacer: f.pacer, tts: f.tts, phrases: f.phrases, flow, voice });
  const stt = 'stt' in options ? options.stt : new FakeStt();
  const listening = new CallListening({ callSid: CALL_SID, session, stt, flow, calls: f.calls, clock: f.clock, logger: silentLogger });
  const sessionEvents: SessionEvent[] = [];
  session.events.on((e) => sessionEvents.push(e));
  listening.start();
  /** `ms` of caller audio (μ-law silence) through the session, as the media stream delivers it. */
  let audioMs = 0;
  const callerAudio = (ms: number) => {
    for (let t = 0; t < ms; t += 20) {
      session.onMedia(Buffer.alloc(160, 0xff), audioMs);
      audioMs += 20;
    }
  };
  return { ...f, session, listening, stt, sessionEvents, callerAudio };
}

describe('call listening', () => {
  it('streams caller audio to speech-to-text, and a finished caller turn answers a speech listen', async () => {
    const { session, stt, callerAudio } = await setup();
    const heard = session.listen({ speech: true, timeoutMs: 10_000 });
    callerAudio(2000);
    expect(stt!.latest()!.bytesReceived).toBe(16_000);
    stt!.latest()!.say('a large pizza please');
    expect(await heard).toEqual({ kind: 'speech', text: 'a large pizza please' });
  });

  it('speech-to-text failing for good is reported once as stt_failed', async () => {
    const { stt, sessionEvents } = await setup();
    stt!.latest()!.emit({ type: 'failed', reason: 'gone', error: new ProviderError('fake', 'stt', 'connection', 'gone') });
    stt!.latest()!.emit({ type: 'failed', reason: 'gone again', error: new ProviderError('fake', 'stt', 'connection', 'gone again') });
    expect(sessionEvents.filter((e) => e.type === 'failed')).toEqual([{ type: 'failed', reason: 'stt_failed' }]);
  });

  it('caller speech over interruptible speech is a barge-in: the utterance stops through its controller with barge_in', async () => {
    const { clock, session, stt, callerAudio, eventsOf } = await setup();
    const said = session.say('One two three four five six seven eight. Nine ten eleven twelve.', { interruptible: true, cacheable: false });
    await clock.advance(400);
    const speech = session.currentSpeech!;
    callerAudio(1000);
    stt!.latest()!.say('wait I have a question');
    const r = await said;
    expect(r.outcome).toBe('interrupted');
    expect(speech.stopReason).toBe('barge_in');
    expect(speech.outcome).toBe('interrupted');
    expect(eventsOf('barge_in')).toHaveLength(1);
  });

  it('fast interrupt: SpeechStarted over interruptible speech holds new frames at once; words then clear', async () => {
    const { clock, session, stt, sent, eventsOf } = await setup();
    const said = session.say(LONG, { interruptible: true, cacheable: false });
    await clock.advance(400);
    stt!.latest()!.emit({ type: 'speech_started', timestamp: 0.4 });
    const media = () => sent.filter((m) => m.kind === 'media').length;
    const atHold = media();
    await clock.advance(500); // under confirmMs (600): still held, nothing new goes out
    expect(media()).toBe(atHold);
    expect(sent.some((m) => m.kind === 'clear')).toBe(false);
    stt!.latest()!.say('wait I have a question');
    expect((await said).outcome).toBe('interrupted');
    expect(sent.filter((m) => m.kind === 'clear')).toHaveLength(1);
    expect(eventsOf('barge_in')).toHaveLength(1);
  });

  it('fast interrupt: no words within confirmMs resumes the audio where it stopped, and the utterance plays out', async () => {
    const { clock, session, stt, sent, eventsOf, returnMarks } = await setup();
    const said = session.say(LONG, { interruptible: true, cacheable: false });
    await clock.advance(400);
    stt!.latest()!.emit({ type: 'speech_started', timestamp: 0.4 });
    const media = () => sent.filter((m) => m.kind === 'media').length;
    const atHold = media();
    await clock.advance(599);
    expect(media()).toBe(atHold);
    await clock.advance(200); // confirmMs passed: the audio goes on
    expect(media()).toBeGreaterThan(atHold);
    for (let i = 0; i < 100 && !session.playout.idle; i++) {
      await clock.advance(100);
      returnMarks(session);
    }
    expect((await said).outcome).toBe('played');
    expect(sent.some((m) => m.kind === 'clear')).toBe(false);
    expect(eventsOf('barge_in')).toHaveLength(0);
  });

  it('fast interrupt: a backchannel resumes the audio at once and never interrupts', async () => {
    const { clock, session, stt, sent, eventsOf } = await setup();
    void session.say(LONG, { interruptible: true, cacheable: false });
    await clock.advance(400);
    stt!.latest()!.emit({ type: 'speech_started', timestamp: 0.4 });
    const media = () => sent.filter((m) => m.kind === 'media').length;
    await clock.advance(100);
    const atHold = media();
    stt!.latest()!.emit({ type: 'transcript', text: 'yeah', isFinal: true, speechFinal: true, start: 0.4, end: 0.7 });
    await clock.advance(100);
    expect(media()).toBeGreaterThan(atHold);
    expect(sent.some((m) => m.kind === 'clear')).toBe(false);
    expect(eventsOf('barge_in')).toHaveLength(0);
  });

  it('the reply to a caller turn carries its turn metrics on its SpeechHandle', async () => {
    const { clock, session, stt, callerAudio } = await setup();
    const heard = session.listen({ speech: true, timeoutMs: 10_000 });
    callerAudio(2000);
    stt!.latest()!.say('what are your hours');
    await heard;
    await clock.advance(300);
    const reply = session.say('We are open nine to five.', { interruptible: true, cacheable: false });
    await clock.advance(100);
    const speech = session.currentSpeech!;
    expect(speech.metrics).toBeDefined();
    expect(Object.keys(speech.metrics!)).toEqual(expect.arrayContaining(['endpointMs', 'ttsFirstByteMs']));
    await clock.advance(5000);
    await reply;
  });

  it('endpointMs maps the last word through when the latest caller audio arrived, not when the words came', async () => {
    const { clock, session, stt, callerAudio } = await setup();
    const heard = session.listen({ speech: true, timeoutMs: 10_000 });
    callerAudio(2000); // 2 s of audio, all of it arriving at 0 ms
    await clock.advance(500);
    stt!.latest()!.emit({ type: 'transcript', text: 'what are your hours', isFinal: true, speechFinal: true, start: 0.5, end: 1.9, lastWordEnd: 1.8 });
    await heard;
    const reply = session.say('We are open nine to five.', { interruptible: true, cacheable: false });
    await clock.advance(100);
    // The last word ended 200 ms before the newest audio (at 0 ms); the turn ended at 500 ms.
    expect(session.currentSpeech!.metrics!.endpointMs).toBe(700);
    await clock.advance(5000);
    await reply;
  });

  it('closing the session closes speech-to-text and stops feeding it', async () => {
    const { session, stt, callerAudio } = await setup();
    session.close('hangup');
    expect(stt!.latest()!.closed).toBe(true);
    callerAudio(200);
    expect(stt!.latest()!.bytesReceived).toBe(0);
  });

  it('without speech-to-text the call runs keypad-only', async () => {
    const { session } = await setup({ stt: undefined });
    const p = session.listen({ speech: false, dtmf: { min: 1, max: 1, terminator: 'none' }, timeoutMs: 5000 });
    session.onDtmf('7');
    expect(await p).toEqual({ kind: 'dtmf', digits: '7' });
  });
});

import { describe, expect, it } from 'vitest';
import { Calls } from '../../../src/calls/calls.js';
import { MemoryCallEventBus, type CallEvent } from '../../../src/calls/events.js';
import { MemoryCallRepository } from '../../../src/calls/repository.js';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { flowSchema } from '../../../src/flow/schema.js';
import { CallSession } from '../../../src/pipeline/call-session.js';
import type { MediaChannel } from '../../../src/pipeline/media-channel.js';
import { ClockPacer } from '../../../src/pipeline/pacer.js';
import type { PhraseSource } from '../../../src/pipeline/speaker.js';
import { FakeTts } from '../../../src/providers/tts/fake.js';

/**
 * The session's input side without sockets: caller turns (the entry point the
 * speech-to-text layer feeds), barge-in, keypad rules and listen timers that
 * start only once the agent's last mark has returned.
 */
/** Nothing cached: every phrase goes to TTS. */
const noPhrases: PhraseSource = { get: async () => undefined };
const flow = flowSchema.parse({ version: 1, name: 't', start: 'e', nodes: [{ id: 'e', type: 'end' }] });

async function setup() {
  const clock = new ManualClock();
  const bus = new MemoryCallEventBus();
  const events: CallEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const calls = new Calls(new MemoryCallRepository(), bus, clock, silentLogger);
  await calls.open({ callSid: 'CA1', accountSid: 'AC1', agentId: 'a', slug: 's', version: 1, from: '+15550001111', to: '+15550100002', direction: 'inbound' });
  await calls.streamStarted('CA1', 'MZ1');
  const sent: { kind: string; name?: string; bytes?: number }[] = [];
  const channel: MediaChannel = {
    callSid: 'CA1',
    streamSid: 'MZ1',
    isOpen: true,
    sendMedia: (b) => sent.push({ kind: 'media', bytes: b.length }),
    sendMark: (name) => sent.push({ kind: 'mark', name }),
    sendClear: () => sent.push({ kind: 'clear' }),
    close: () => sent.push({ kind: 'close' }),
  };
  const session = new CallSession({
    callSid: 'CA1',
    channel,
    calls,
    clock,
    logger: silentLogger,
    pacer: new ClockPacer({ clock }),
    tts: new FakeTts({ clock }),
    phrases: noPhrases,
    flow,
    voice: { voiceId: 'v', modelId: 'm', language: 'en-US' },
  });
  /** Plays everything sent so far: returns every mark, as Twilio would once audio has played. */
  const returnMarks = () => {
    for (const m of sent.filter((s) => s.kind === 'mark')) session.onMark(m.name!);
  };
  return { clock, session, sent, events, returnMarks, calls };
}

describe('call session input', () => {
  it('a caller turn answers a speech listen; one that arrives first waits for the next listen', async () => {
    const { session } = await setup();
    const p = session.listen({ speech: true, timeoutMs: 5000 });
    session.onCallerTurn({ text: 'a large pizza' });
    expect(await p).toEqual({ kind: 'speech', text: 'a large pizza' });
    session.onCallerTurn({ text: 'and a soda' });
    expect(await session.listen({ speech: true, timeoutMs: 5000 })).toEqual({ kind: 'speech', text: 'and a soda' });
  });

  it('the listen timer starts only when the last mark returns, and caller speech restarts it', async () => {
    const { clock, session, returnMarks } = await setup();
    const said = session.say('Hello there.', { interruptible: true, cacheable: false });
    await clock.advance(500);
    let result: unknown;
    const heard = said.then(() => session.listen({ speech: true, timeoutMs: 1000 }).then((r) => (result = r)));
    await clock.advance(5000);
    expect(result).toBeUndefined(); // marks have not come back: no timer yet
    returnMarks();
    await clock.advance(900);
    session.onCallerSpeech();
    await clock.advance(900);
    expect(result).toBeUndefined();
    await clock.advance(200);
    await heard;
    expect(result).toEqual({ kind: 'timeout' });
  });

  it('barge-in clears first, then the say resolves interrupted with what was heard', async () => {
    const { clock, session, sent, events } = await setup();
    const said = session.say('One two three four five six seven eight. Nine ten eleven twelve.', { interruptible: true, cacheable: false });
    await clock.advance(300);
    expect(session.canBargeIn).toBe(true);
    expect(session.bargeIn()).toBe(true);
    const r = await said;
    expect(r.outcome).toBe('interrupted');
    expect(r.heardText.endsWith('…')).toBe(true);
    expect(sent.filter((s) => s.kind === 'clear')).toHaveLength(1);
    expect(events.find((e) => e.type === 'barge_in')).toMatchObject({ reason: 'speech' });
    expect(session.bargeIn()).toBe(false);
  });

  it('non-interruptible audio cannot be barged in on', async () => {
    const { clock, session, returnMarks } = await setup();
    const said = session.say('Please listen carefully.', { interruptible: false, cacheable: false });
    await clock.advance(200);
    expect(session.bargeIn()).toBe(false);
    await clock.advance(5000);
    returnMarks();
    expect((await said).outcome).toBe('played');
  });

  it('keys pressed before a gather prompt answer it and skip the prompt; an inter-digit pause ends the entry', async () => {
    const { clock, session, sent } = await setup();
    session.onDtmf('4');
    session.onDtmf('2');
    expect(await session.say('Enter your code.', { interruptible: true, cacheable: false, stopOnDtmf: true })).toEqual({ outcome: 'interrupted', heardText: '' });
    expect(sent).toHaveLength(0);
    const p = session.listen({ speech: false, dtmf: { min: 1, max: 6, terminator: '#' }, timeoutMs: 3000 });
    await clock.advance(3000);
    expect(await p).toEqual({ kind: 'dtmf', digits: '42' });
  });

  it('a closed stream answers listen with hangup', async () => {
    const { session } = await setup();
    const p = session.listen({ speech: true, timeoutMs: 5000 });
    session.onStop();
    expect(await p).toEqual({ kind: 'hangup' });
    expect(await session.say('x', { interruptible: true, cacheable: false })).toEqual({ outcome: 'aborted', heardText: '' });
  });
});

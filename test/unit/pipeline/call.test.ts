import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import type { Flow } from '../../../src/flow/schema.js';
import { snapshotNodeId } from '../../../src/flow/snapshot.js';
import { startCall, type CallDeps, type CallHandle, type LiveCallEvent } from '../../../src/pipeline/call.js';
import { CallRunner } from '../../../src/pipeline/call-runner.js';
import { CallSession } from '../../../src/pipeline/call-session.js';
import { SHUTDOWN_GOODBYE } from '../../../src/pipeline/static-phrases.js';
import { FakeStt } from '../../../src/providers/stt/fake.js';
import { ProviderError } from '../../../src/providers/errors.js';
import { CALL_SID, callFixture, makeFlow, voice } from './call-fixture.js';

/**
 * One live call assembled by `startCall`, without sockets: the handle's
 * stop/park/events, the runner's fallbacks, and the speech handles it reports.
 */
const holdFlow = makeFlow(
  [
    { id: 'hello', type: 'say', text: 'Hello.', next: 'ask' },
    { id: 'ask', type: 'gather', prompt: 'Press a key.', variable: 'k', input: ['dtmf'], digits: { min: 1, max: 1, terminator: 'none' }, timeoutMs: 60_000, retries: 0, next: 'bye' },
    { id: 'bye', type: 'end', text: 'Bye {{k}}.' },
  ],
  { fallbackMessage: 'Sorry, call {{shop}} again.', variables: { shop: 'Tony' } },
);

async function setup(flow: Flow = holdFlow, options: { stt?: FakeStt; phrases?: Record<string, Uint8Array> } = {}) {
  const f = await callFixture(options.phrases ? { phrases: options.phrases } : {});
  const live = new Map<string, CallHandle>();
  const deps: CallDeps = {
    calls: f.calls,
    clock: f.clock,
    logger: silentLogger,
    pacer: f.pacer,
    tts: f.tts,
    phrases: f.phrases,
    ...(options.stt ? { stt: options.stt } : {}),
    directory: { getVersion: async () => ({ slug: 'unit', flow }) },
    voiceFor: () => voice,
    live,
  };
  const handle = (await startCall(deps, { callSid: CALL_SID, channel: f.channel, logger: silentLogger }))!;
  const events: LiveCallEvent[] = [];
  handle.on((e) => events.push(e));
  /** Lets time pass with Twilio returning marks as audio plays. */
  const play = async (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      await f.clock.advance(100);
      f.returnMarks(handle.stream);
      await f.settle();
    }
  };
  const atNode = (id: string) => f.events.some((e) => e.type === 'turn.agent' && e.nodeId === id);
  return { ...f, deps, live, handle, events, play, atNode };
}

describe('startCall', () => {
  it('serves nothing without a call record or its pinned flow version', async () => {
    const f = await callFixture();
    const base = { calls: f.calls, clock: f.clock, logger: silentLogger, tts: f.tts, phrases: f.phrases, voiceFor: () => voice, live: new Map() };
    const stream = { callSid: CALL_SID, channel: f.channel, logger: silentLogger };
    expect(await startCall({ ...base, directory: { getVersion: async () => undefined } }, stream)).toBeUndefined();
    expect(await startCall({ ...base, directory: { getVersion: async () => ({ slug: 's', flow: holdFlow }) } }, { ...stream, callSid: 'CAnone' })).toBeUndefined();
  });

  it('runs the flow to its end: each utterance is reported as a SpeechHandle, then the call ends and leaves the live map', async () => {
    const { handle, live, play, atNode, calls, events } = await setup();
    expect(live.get(CALL_SID)).toBe(handle);
    await play(2000);
    expect(atNode('ask')).toBe(true);
    handle.stream.onDtmf('5');
    await play(3000);
    expect(await handle.done).toMatchObject({ outcome: 'completed' });
    const spoken = events.flatMap((e) => (e.type === 'speech' ? [e.speech] : []));
    expect(spoken.map((s) => [s.text, s.outcome])).toEqual([
      ['Hello.', 'played'],
      ['Press a key.', 'played'],
      ['Bye 5.', 'played'],
    ]);
    expect(spoken[0]!.segments).toEqual(['Hello.']);
    expect(events.at(-1)).toMatchObject({ type: 'ended', result: { outcome: 'completed' } });
    expect(live.size).toBe(0);
    expect((await calls.get(CALL_SID))?.outcome?.kind).toBe('completed');
  });

  it("stop('shutdown'): the turn is aborted, the caller hears a goodbye and is hung up", async () => {
    const { handle, play, atNode, calls, tts, sent, events } = await setup();
    await play(2000);
    expect(atNode('ask')).toBe(true);
    const stopped = handle.stop('shutdown');
    await play(6000);
    await stopped;
    expect(tts.texts.at(-1)).toBe(SHUTDOWN_GOODBYE);
    expect(sent.at(-1)).toMatchObject({ kind: 'close', reason: 'shutdown' });
    const record = await calls.get(CALL_SID);
    expect(record?.state).toBe('ended');
    expect(record?.outcome?.kind).toBe('shutdown');
    expect(await handle.done).toMatchObject({ outcome: 'aborted', reason: 'shutdown' });
    expect(events.find((e) => e.type === 'stopping')).toEqual({ type: 'stopping', reason: 'shutdown' });
  });

  it("stop('hangup') (the status callback): the flow stops quietly and nothing more is sent", async () => {
    const { handle, play, sent, settle } = await setup();
    await play(300);
    await handle.stop('hangup');
    const count = sent.length;
    await settle();
    expect(await handle.done).toMatchObject({ outcome: 'aborted', reason: 'hangup' });
    expect(sent.length).toBe(count);
  });

  it('park(): the AI stops mid-prompt, the stream stays open and the snapshot resumes where it stopped', async () => {
    const { handle, play, atNode, calls, sent, events } = await setup();
    await play(2000);
    expect(atNode('ask')).toBe(true);
    const snapshot = await handle.park();
    expect(snapshotNodeId(snapshot)).toBe('ask');
    expect(snapshot.status).toBe('running');
    expect(sent.some((s) => s.kind === 'close')).toBe(false);
    expect((await calls.get(CALL_SID))?.state).not.toBe('ended');
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['stopping', 'parked', 'ended']));
  });

  it('TTS failing mid-call: the interpreter speaks the fallback with the call variables (through <Say> when it has variables)', async () => {
    const { handle, play, tts, calls, eventsOf } = await setup();
    tts.configure({ error: new ProviderError('fake', 'tts', 'server_error', 'down', 500) });
    await play(3000);
    expect(await handle.done).toMatchObject({ outcome: 'failed', reason: 'tts_failed' });
    const record = await calls.get(CALL_SID);
    expect(record?.outcome?.kind).toBe('tts_failed');
    expect(record?.nextStep).toMatchObject({ kind: 'say', text: 'Sorry, call Tony again.' });
    expect(eventsOf('tts.failed')[0]).toMatchObject({ fallback: 'twiml' });
  });

  it('TTS failing with a cached fallback message: it plays from the cache, then the call ends as tts_failed', async () => {
    const flow = makeFlow([{ id: 'hello', type: 'say', text: 'Hello {{caller.number}}.', next: 'bye' }, { id: 'bye', type: 'end' }], { fallbackMessage: 'Sorry.' });
    const { handle, play, tts, calls, eventsOf } = await setup(flow, { phrases: { 'Sorry.': new Uint8Array(800).fill(0x7f) } });
    tts.configure({ error: new ProviderError('fake', 'tts', 'server_error', 'down', 500) });
    await play(3000);
    expect(await handle.done).toMatchObject({ outcome: 'failed', reason: 'tts_failed' });
    const record = await calls.get(CALL_SID);
    expect(record?.state).toBe('ended');
    expect(record?.outcome?.kind).toBe('tts_failed');
    expect(eventsOf('tts.failed')[0]).toMatchObject({ fallback: 'cached' });
  });

  it('speech-to-text failing for good: the flow takes its fallbackNode', async () => {
    const stt = new FakeStt();
    const flow = makeFlow(
      [
        { id: 'ask', type: 'gather', prompt: 'Say your name.', variable: 'n', input: ['speech'], timeoutMs: 60_000, retries: 0, next: 'bye' },
        { id: 'desk', type: 'end', text: 'Transferring.' },
        { id: 'bye', type: 'end', text: 'Bye.' },
      ],
      { fallbackNode: 'desk' },
    );
    const { handle, play, atNode } = await setup(flow, { stt });
    await play(2000);
    stt.latest()!.emit({ type: 'failed', reason: 'gone', error: new ProviderError('fake', 'stt', 'connection', 'gone') });
    await play(3000);
    expect(atNode('desk')).toBe(true);
    expect(await handle.done).toMatchObject({ outcome: 'completed', lastNodeId: 'desk' });
  });
});

describe('call runner', () => {
  it('back from a transfer nobody took: resumes at the fallback node, or speaks the fallback message from there', async () => {
    const flow = makeFlow(
      [
        { id: 'hello', type: 'say', text: 'Hello.', next: 'desk' },
        { id: 'desk', type: 'transfer', target: { number: '+15550100009' } },
        { id: 'bye', type: 'end', text: 'Bye.' },
      ],
      { fallbackNode: 'desk', fallbackMessage: 'Sorry, call {{shop}} again.', variables: { shop: 'Tony' } },
    );
    const f = await callFixture();
    const session = new CallSession({ callSid: CALL_SID, channel: f.channel, calls: f.calls, clock: f.clock, logger: silentLogger, pacer: f.pacer, tts: f.tts, phrases: f.phrases, flow, voice });
    const record = (await f.calls.get(CALL_SID))!;
    const saved = { schemaVersion: 1, agent: { id: 'agent-1', slug: 'unit', name: 'Unit flow', version: 1 }, call: {}, status: 'ended', position: { nodeId: 'desk', step: { type: 'transfer', phase: 'done' } }, variables: { shop: 'Tony' }, transcript: [], counters: { steps: 2, llmRequests: 0, callerTurns: 0, agentTurns: 1, fallbacks: 0, resumes: 0, visits: {} }, callStartedAt: f.clock.wallNow(), businessHoursChecked: true, updatedAt: f.clock.wallNow() };
    const runner = new CallRunner({ session, record: { ...record, snapshot: saved, resume: { reason: 'dial_no-answer', failed: 'transfer_unavailable' } }, flow, agentName: 'Unit flow', calls: f.calls, clock: f.clock, logger: silentLogger });
    const done = runner.run();
    for (let t = 0; t < 4000; t += 100) {
      await f.clock.advance(100);
      f.returnMarks(session);
      await f.settle();
    }
    expect(await done).toMatchObject({ outcome: 'failed', reason: 'transfer_unavailable' });
    expect(f.tts.texts).toEqual(['Sorry, call Tony again.']);
    expect((await f.calls.get(CALL_SID))?.resume).toBeUndefined();
    expect(f.eventsOf('turn.agent')).toMatchObject([{ text: 'Sorry, call Tony again.', outcome: 'played' }]);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CALLER, PIZZA_NUMBER, startHarness, type Harness } from './harness.js';

/**
 * Media stream hygiene (docs/architecture.md#media-stream-hygiene): malformed and unknown frames below the
 * payload limit are ignored and counted, and the call goes on; a frame above
 * 64 KiB closes the socket with 1009 and the call ends cleanly in its record.
 */
let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

describe('media hygiene', () => {
  it('ignores malformed and unknown frames and the call goes on', async () => {
    const call = await h.sim.placeCall({ from: CALLER, to: PIZZA_NUMBER });
    await h.until(() => h.eventsOf(call.callSid).some((e) => e.type === 'stream.started'));
    call.sendRaw('{not json');
    call.sendRaw('[]');
    call.sendRaw(JSON.stringify({ event: 'party', streamSid: call.streamSid }));
    call.sendRaw(JSON.stringify({ event: 'media', streamSid: call.streamSid }));
    call.sendRaw(JSON.stringify({ event: 'dtmf', streamSid: 'MZ' + '0'.repeat(32), dtmf: { digit: '1' } }));
    call.sendRaw(Buffer.from([1, 2, 3]), { binary: true });
    call.sendAudio(new Uint8Array(1600).fill(0xff));
    await h.until(() => h.eventsOf(call.callSid).some((e) => e.type === 'turn.agent' && e.nodeId === 'menu'), { what: 'menu' });
    call.pressDigit('1');
    await h.until(() => h.eventsOf(call.callSid).some((e) => e.type === 'node.entered' && e.nodeId === 'quantity'));
    await call.hangUp();
    const record = await h.finish(call);
    expect(record.metrics.ignoredFrames).toBe(6);
    expect(record.metrics.framesIn).toBe(10);
    // Whichever of `stop` and the status callback arrives first ends it; both mean the caller hung up.
    expect(record.outcome?.kind).toBe('completed');
    expect(['caller_hangup', 'status:completed']).toContain(record.outcome?.detail);
    expect(record.streams[0]).toMatchObject({ endReason: 'stop' });
    expect(h.eventsOf(call.callSid).find((e) => e.type === 'media.ignored')).toMatchObject({ count: 6 });
    expect(h.eventsOf(call.callSid).filter((e) => e.type === 'call.ended')).toHaveLength(1);
  });

  it('a 1 MB frame closes the stream with 1009 and the call ends cleanly', async () => {
    const call = await h.sim.placeCall({ from: CALLER, to: PIZZA_NUMBER });
    await h.until(() => h.eventsOf(call.callSid).some((e) => e.type === 'stream.started'));
    call.sendRaw('x'.repeat(1024 * 1024));
    const record = await h.finish(call);
    expect(call.events.find((e) => e.kind === 'stream_closed')).toMatchObject({ code: 1009 });
    expect(record.state).toBe('ended');
    expect(record.outcome).toEqual({ kind: 'media_error', detail: 'too_large' });
    expect(record.streams[0]).toMatchObject({ endReason: 'too_large', endedAt: expect.any(Number) });
    // The Connect action found nothing to do and hung up; the status callback changed nothing.
    const last = call.events.filter((e) => e.kind === 'twiml').at(-1) as { path: string; xml: string };
    expect(last.path).toBe('/twilio/stream-ended');
    expect(last.xml).toContain('<Hangup/>');
    expect(h.eventsOf(call.callSid).filter((e) => e.type === 'call.ended')).toHaveLength(1);
    expect(h.container.telephony.sessions.size).toBe(0);
  });

  it('a flood of thousands of frames a second is dropped, then closed with 1008 and counted; the call ends in its record', async () => {
    const call = await h.sim.placeCall({ from: CALLER, to: PIZZA_NUMBER });
    await h.until(() => h.eventsOf(call.callSid).some((e) => e.type === 'stream.started'));
    const frame = JSON.stringify({ event: 'media', streamSid: call.streamSid, media: { track: 'inbound', chunk: '1', timestamp: '0', payload: 'AAAA' } });
    // No virtual time passes: 2,000 frames in the same instant.
    for (let i = 0; i < 2_000; i++) call.sendRaw(frame);
    const record = await h.finish(call);
    expect(call.events.find((e) => e.kind === 'stream_closed')).toMatchObject({ code: 1008 });
    expect(record.outcome).toEqual({ kind: 'media_error', detail: 'rate_limited' });
    expect(record.streams[0]).toMatchObject({ endReason: 'rate_limited' });
    const counters = h.container.telephony.streamCounters;
    expect(counters.closedForRate).toBe(1);
    expect(counters.droppedForRate).toBe(500);
    expect(h.container.telephony.sessions.size).toBe(0);
  });
});

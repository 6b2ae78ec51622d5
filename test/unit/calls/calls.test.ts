import { describe, expect, it } from 'vitest';
import { Calls, STREAM_START_TIMEOUT_MS } from '../../../src/calls/calls.js';
import { MemoryCallEventBus, type CallEvent } from '../../../src/calls/events.js';
import { MemoryCallRepository } from '../../../src/calls/repository.js';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';

function setup() {
  const clock = new ManualClock();
  const bus = new MemoryCallEventBus();
  const events: CallEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const calls = new Calls(new MemoryCallRepository(), bus, clock, silentLogger);
  const init = {
    callSid: 'CA1',
    accountSid: 'AC1',
    agentId: 'a1',
    slug: 'pizza',
    version: 3,
    from: '+15550001111',
    to: '+15550100002',
    direction: 'inbound' as const,
  };
  return { clock, calls, events, init };
}

describe('the call ledger', () => {
  it('creates one record per CallSid, idempotently', async () => {
    const { calls, events, init } = setup();
    expect((await calls.open(init)).created).toBe(true);
    const again = await calls.open({ ...init, version: 9 });
    expect(again.created).toBe(false);
    expect(again.record.version).toBe(3);
    expect(events.filter((e) => e.type === 'call.started')).toHaveLength(1);
  });

  it('a stream-start timer that fires while the loop was behind looks again before ending the call', async () => {
    const { calls, clock, init } = setup();
    await calls.open(init);
    calls.armStreamStart('CA1');
    // The loop comes back 500 ms late: the timer fires first, the waiting `start` is read next.
    await clock.advanceLate(STREAM_START_TIMEOUT_MS + 500);
    expect((await calls.get('CA1'))!.state).toBe('connecting');
    expect(await calls.streamStarted('CA1', 'MZ1')).toBe(true);
    await clock.advance(STREAM_START_TIMEOUT_MS);
    expect((await calls.get('CA1'))!.state).toBe('ai');
  });

  it('a late stream-start timer still ends the call when no start was waiting', async () => {
    const { calls, clock, init } = setup();
    await calls.open(init);
    calls.armStreamStart('CA1');
    await clock.advanceLate(STREAM_START_TIMEOUT_MS + 500);
    await clock.advance(1);
    const r = (await calls.get('CA1'))!;
    expect(r.state).toBe('ended');
    expect(r.outcome?.kind).toBe('no_stream');
  });

  it('ends with no_stream when no start arrives within 10 s of the TwiML', async () => {
    const { calls, clock, events, init } = setup();
    await calls.open(init);
    calls.armStreamStart('CA1');
    await clock.advance(STREAM_START_TIMEOUT_MS - 1);
    expect((await calls.get('CA1'))!.state).toBe('connecting');
    await clock.advance(1);
    const r = (await calls.get('CA1'))!;
    expect(r.state).toBe('ended');
    expect(r.outcome?.kind).toBe('no_stream');
    expect(events.at(-1)).toMatchObject({ type: 'call.ended', reason: 'no_stream' });
  });

  it('a stream start cancels the timeout and records the stream', async () => {
    const { calls, clock, init } = setup();
    await calls.open(init);
    calls.armStreamStart('CA1');
    expect(await calls.streamStarted('CA1', 'MZ1')).toBe(true);
    await clock.advance(STREAM_START_TIMEOUT_MS * 2);
    const r = (await calls.get('CA1'))!;
    expect(r.state).toBe('ai');
    expect(r.streams).toEqual([{ streamSid: 'MZ1', startedAt: expect.any(Number) }]);
  });

  it('a stop with no next step ends the call; with a next step it does not', async () => {
    const { calls, init } = setup();
    await calls.open(init);
    await calls.streamStarted('CA1', 'MZ1');
    await calls.setNextStep('CA1', { kind: 'dial', number: '+15550009999' });
    await calls.signal('CA1', 'transfer_requested');
    await calls.streamEnded('CA1', 'MZ1', 'stop');
    expect((await calls.get('CA1'))!.state).toBe('transferring');

    await calls.open({ ...init, callSid: 'CA2' });
    await calls.streamStarted('CA2', 'MZ2');
    await calls.streamEnded('CA2', 'MZ2', 'stop');
    const r = (await calls.get('CA2'))!;
    expect(r.state).toBe('ended');
    expect(r.streams[0]).toMatchObject({ endReason: 'stop', endedAt: expect.any(Number) });
  });

  it('ending is idempotent and keeps the first outcome', async () => {
    const { calls, events, init } = setup();
    await calls.open(init);
    expect(await calls.end('CA1', 'status:completed')).toBe(true);
    expect(await calls.end('CA1', 'stop', 'media_error')).toBe(false);
    expect(events.filter((e) => e.type === 'call.ended')).toHaveLength(1);
    expect((await calls.get('CA1'))!.outcome).toEqual({ kind: 'completed', detail: 'status:completed' });
  });

  it('illegal signals are ignored and leave the state alone', async () => {
    const { calls, init } = setup();
    await calls.open(init);
    expect(await calls.signal('CA1', 'transfer_connected')).toBe(false);
    expect((await calls.get('CA1'))!.state).toBe('connecting');
    expect(await calls.signal('nope', 'end')).toBe(false);
  });
});

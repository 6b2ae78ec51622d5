import { describe, expect, it } from 'vitest';
import { MemoryCallEventBus, type CallEvent } from '../../../src/calls/events.js';
import { LiveCallFeed, type FeedBacklog } from '../../../src/calls/live-feed.js';

/**
 * Invariant: a live-feed viewer gets every event of the call exactly once and
 * in order, the backlog first, whether this process heard the call from its
 * start (synchronous) or joined late and took the backlog from elsewhere.
 */
const SID = 'CA' + '3'.repeat(32);
const ev = (type: 'node.entered' | 'dtmf' | 'silence.reprompt', at: number): CallEvent =>
  type === 'node.entered'
    ? { type, callSid: SID, at, nodeId: `n${at}` }
    : type === 'dtmf'
      ? { type, callSid: SID, at, digit: String(at % 10) }
      : { type, callSid: SID, at };
const started: CallEvent = { type: 'call.started', callSid: SID, at: 1, agentId: 'ag', slug: 's', version: 1, direction: 'inbound' };

function viewer() {
  const seen: string[] = [];
  return {
    seen,
    backlog: (events: CallEvent[], ended: boolean) => {
      for (const e of events) seen.push(`${e.type}@${e.at}`);
      seen.push(`caught_up:${ended}`);
    },
    event: (e: CallEvent) => void seen.push(`${e.type}@${e.at}`),
  };
}

describe('LiveCallFeed', () => {
  it('heard from call.started: served synchronously from memory', () => {
    const bus = new MemoryCallEventBus();
    const feed = new LiveCallFeed(bus);
    bus.publish(started);
    bus.publish(ev('node.entered', 2));
    const got: string[] = [];
    const sub = feed.subscribe(SID, (e) => got.push(e.type))!;
    expect(sub.backlog.map((e) => e.type)).toEqual(['call.started', 'node.entered']);
    bus.publish(ev('dtmf', 3));
    expect(got).toEqual(['dtmf']);
  });

  it('joined late: events arriving while the backlog is fetched are neither lost nor repeated', async () => {
    const bus = new MemoryCallEventBus();
    const feed = new LiveCallFeed(bus);
    // This process heard only the middle of the call.
    bus.publish(ev('node.entered', 2));
    expect(feed.subscribe(SID, () => undefined)).toBeUndefined();
    let answer!: (b: FeedBacklog) => void;
    const v = viewer();
    const joined = feed.join(SID, v, () => new Promise<FeedBacklog>((r) => (answer = r)));
    // Arrives while the holder is asked: the holder's backlog has it too.
    bus.publish(ev('dtmf', 3));
    answer({ events: [started, ev('node.entered', 2), ev('dtmf', 3)], ended: false });
    await joined;
    bus.publish(ev('silence.reprompt', 4));
    expect(v.seen).toEqual(['call.started@1', 'node.entered@2', 'dtmf@3', 'caught_up:false', 'silence.reprompt@4']);
    // The log is whole now: the next viewer is served at once.
    expect(feed.backlogOf(SID)?.events.map((e) => e.at)).toEqual([1, 2, 3, 4]);
  });

  it('joined late with no backlog to be had: what this process heard, then live', async () => {
    const bus = new MemoryCallEventBus();
    const feed = new LiveCallFeed(bus);
    bus.publish(ev('node.entered', 2));
    const v = viewer();
    await feed.join(SID, v, async () => {
      throw new Error('holder gone');
    });
    bus.publish(ev('dtmf', 3));
    expect(v.seen).toEqual(['node.entered@2', 'caught_up:false', 'dtmf@3']);
    expect(feed.backlogOf(SID)).toBeUndefined();
  });

  it('the call ended elsewhere before the join: caught_up says ended', async () => {
    const bus = new MemoryCallEventBus();
    const feed = new LiveCallFeed(bus);
    const v = viewer();
    const result = await feed.join(SID, v, async () => ({ events: [started, { type: 'call.ended', callSid: SID, at: 5, reason: 'x', outcome: 'completed' }], ended: true }));
    expect(result.ended).toBe(true);
    expect(v.seen).toEqual(['call.started@1', 'call.ended@5', 'caught_up:true']);
  });
});

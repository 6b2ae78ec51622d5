import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallSink } from '../../../bench/lib/caller.js';
import { streamingBenchCall } from './bench-call.js';

/**
 * The simulated caller acts once the agent's audio has played out. A mark's
 * timer can fire a few ms before the audio's end as performance.now() sees it
 * (Node runs timers on the event loop's cached whole-millisecond clock, behind
 * when the loop is busy), and audio can come after a mark: either way the
 * caller must look again at the end of playout, not fall silent for the call.
 */

const STREAM = 'MZ1';
const media = (ms: number) =>
  Buffer.from(`{"event":"media","streamSid":"${STREAM}","media":{"payload":"${Buffer.alloc(ms * 8, 0xff).toString('base64')}"}}`);
const mark = (name: string) => Buffer.from(`{"event":"mark","streamSid":"${STREAM}","mark":{"name":"${name}"}}`);

/** performance.now() = the fake timers' clock + lag (how far the timers' clock is behind). */
let lag = 0;

function makeCall() {
  const say = vi.fn();
  const { call, receive } = streamingBenchCall(say, new Proxy({}, { get: () => () => {} }) as CallSink);
  return { call, say, receive };
}

describe('bench caller: acting after the agent goes quiet', () => {
  beforeEach(() => {
    lag = 0;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.spyOn(performance, 'now').mockImplementation(() => Date.now() + lag);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('still speaks when the last mark timer fires a few ms before the audio has played', () => {
    const { say, receive } = makeCall();
    receive(media(1000));
    // The mark is handled while the timers' clock lags 3 ms: its timer fires 3 ms early.
    lag = 3;
    receive(mark('1:0'));
    lag = 0;
    vi.advanceTimersByTime(3000);
    expect(say).toHaveBeenCalledTimes(1);
  });

  it('still speaks when audio came after the last mark', () => {
    const { say, receive } = makeCall();
    receive(media(1000));
    receive(mark('1:0'));
    vi.advanceTimersByTime(500);
    receive(media(500));
    vi.advanceTimersByTime(3000);
    expect(say).toHaveBeenCalledTimes(1);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallSink } from '../../../bench/lib/caller.js';
import { streamingBenchCall } from './bench-call.js';

/**
 * interruptMs runs to the `clear`; interruptHeardMs to when the agent's audio
 * stopped playing at the caller, which is sooner when the server stopped
 * sending new audio (it held it on SpeechStarted) and the caller's buffer ran
 * out before the clear came.
 */

const STREAM = 'MZ1';
const media = (ms: number) =>
  Buffer.from(`{"event":"media","streamSid":"${STREAM}","media":{"payload":"${Buffer.alloc(ms * 8, 0xff).toString('base64')}"}}`);
const clear = () => Buffer.from(`{"event":"clear","streamSid":"${STREAM}"}`);

function makeCall() {
  const interrupts: [number, number][] = [];
  const sink = new Proxy(
    {},
    { get: (_t, name) => (name === 'interrupt' ? (ms: number, heard: number) => interrupts.push([ms, heard]) : () => {}) },
  ) as CallSink;
  return { interrupts, ...streamingBenchCall(() => {}, sink) };
}

describe('bench caller: when an interruption is heard', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.spyOn(performance, 'now').mockImplementation(() => Date.now());
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('the agent goes quiet when its buffered audio runs out if the server sent nothing more before the clear', () => {
    const { interrupts, receive, bargeIn } = makeCall();
    receive(media(300));
    bargeIn();
    vi.advanceTimersByTime(550);
    receive(clear());
    expect(interrupts).toEqual([[550, 300]]);
  });

  it('the agent goes quiet at the clear when audio kept coming', () => {
    const { interrupts, receive, bargeIn } = makeCall();
    receive(media(300));
    bargeIn();
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(100);
      receive(media(100));
    }
    vi.advanceTimersByTime(50);
    receive(clear());
    expect(interrupts).toEqual([[550, 550]]);
  });
});

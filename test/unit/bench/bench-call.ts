import { BenchCall, type CallEnv, type CallSink } from '../../../bench/lib/caller.js';
import type { BenchFakes } from '../../../bench/lib/fakes.js';

/**
 * A simulated caller already streaming, wired to stub fakes and the given
 * sink, with its private message handler and barge-in start reachable.
 */
export function streamingBenchCall(say: (...args: unknown[]) => void, sink: CallSink) {
  const fakes = { hasStt: () => true, sttSeen: true, say, watch: () => {}, forget: () => {} } as unknown as BenchFakes;
  const env: CallEnv = {
    serverUrl: 'http://127.0.0.1:1',
    publicUrl: 'http://127.0.0.1:1',
    authToken: 't',
    accountSid: 'AC1',
    to: '+15550199999',
    callSeconds: 60,
    keypadTurns: 0,
    bargeInEvery: 0,
    sttFinalMs: 150,
    fakes,
    sink,
  };
  const call = new BenchCall(env, 1);
  call.phase = 'streaming';
  const internals = call as unknown as { onMessage(d: Buffer): void; startBargeIn(): void };
  return { call, receive: (data: Buffer) => internals.onMessage(data), bargeIn: () => internals.startBargeIn() };
}

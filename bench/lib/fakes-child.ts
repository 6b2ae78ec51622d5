import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { BenchOptions } from './args.js';
import { startLocalFakes } from './fakes-host.js';
import type { FakesToGenerator, GeneratorToFakes } from './fakes.js';
import { monoMs } from './fakes.js';
import { loopDelayMs } from './stats.js';

/**
 * The provider fakes' own process (pinned to core 1 next to the call
 * generator), so the generator's event loop carries only the Twilio side and
 * times it honestly. Talks to the generator over the IPC channel: which call
 * a Deepgram connection belongs to, `say` requests, and the Results the fake
 * Deepgram sends — stamped on the machine-wide monotonic clock so the
 * generator can time the `clear` they cause.
 */

const send = (m: FakesToGenerator) => process.send?.(m);
const o = JSON.parse(process.env.BENCH_FAKES_OPTIONS ?? '{}') as BenchOptions;
const ELD_RESOLUTION_MS = 10;
const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
eld.enable();

const fakes = await startLocalFakes(
  o,
  (callId) => {
    send({ t: 'conn', id: callId });
    fakes.watch(callId, {
      onSttResults(words, isFinal) {
        // Only Results with words can satisfy the barge-in rule; idle Results stay here.
        if (words > 0) send({ t: 'stt', id: callId, words, final: isFinal, at: monoMs() });
      },
    });
  },
  (callId, stamps) => send({ t: 'turn', id: callId, stamps }),
);

process.on('message', (m: GeneratorToFakes) => {
  switch (m.t) {
    case 'say':
      fakes.sttOf(m.id)?.say(m.text, m.options);
      break;
    case 'forget':
      fakes.forget(m.id);
      break;
    case 'prune':
      fakes.prune();
      break;
    case 'eld':
      send({ t: 'eld', p99Ms: loopDelayMs(eld.percentile(99), ELD_RESOLUTION_MS) });
      if (m.reset) eld.reset();
      break;
    case 'close':
      void fakes.close().then(() => process.exit(0));
      break;
  }
});
process.on('disconnect', () => process.exit(0));

send({
  t: 'ready',
  urls: {
    openai: fakes.openai.url,
    tts: fakes.tts.url,
    ttsKey: fakes.tts.apiKey,
    deepgram: fakes.deepgram.url,
    deepgramKey: fakes.deepgram.apiKey,
    rest: fakes.rest.url,
  },
});

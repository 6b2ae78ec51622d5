import { isProviderError, type ProviderError } from './errors.js';
import type { LlmPort } from './llm/port.js';
import type { SttPort } from './stt/port.js';
import type { TtsPort } from './tts/port.js';

/**
 * Port decorators that report every provider failure a caller of the port
 * sees (after the adapter's own retries and reconnects) to one listener, and
 * change nothing else: the error still reaches the caller, aborts stay quiet.
 * The container wraps each provider once, so metrics need no counter inside
 * the adapters or the pipeline.
 */
export type ProviderErrorListener = (err: ProviderError) => void;

export function observeLlm(port: LlmPort, onError: ProviderErrorListener): LlmPort {
  return {
    async *stream(request) {
      try {
        yield* port.stream(request);
      } catch (err) {
        if (isProviderError(err)) onError(err);
        throw err;
      }
    },
  };
}

export function observeTts(port: TtsPort, onError: ProviderErrorListener): TtsPort {
  return {
    async *synthesize(request) {
      try {
        yield* port.synthesize(request);
      } catch (err) {
        if (isProviderError(err)) onError(err);
        throw err;
      }
    },
  };
}

/** Speech-to-text reports its final failure as an event, not a throw. */
export function observeStt(port: SttPort, onError: ProviderErrorListener): SttPort {
  return {
    open(options, onEvent, signal) {
      return port.open(
        options,
        (event) => {
          if (event.type === 'failed') onError(event.error);
          onEvent(event);
        },
        signal,
      );
    },
  };
}

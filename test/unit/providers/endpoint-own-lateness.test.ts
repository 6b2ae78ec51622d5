import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { ProviderEndpoint } from '../../../src/providers/endpoints.js';
import { ProviderError } from '../../../src/providers/errors.js';

/**
 * A timeout that expired while our own loop was late beyond what its deadline forgives says as much
 * about this process as about the provider: it must not open the breaker, or an overloaded server
 * turns a few late answers into every call failing at once on the open circuit (bench/README.md).
 */
describe('the breaker and our own lateness', () => {
  const timeout = (ownLatenessMs?: number) => {
    const err = new ProviderError('elevenlabs', 'tts', 'first_byte_timeout', 'no audio from ElevenLabs within 2000 ms');
    if (ownLatenessMs !== undefined) err.ownLatenessMs = ownLatenessMs;
    return err;
  };

  it('timeouts taken while the loop was late do not open it; the same timeouts with the loop on time do', () => {
    const clock = new ManualClock();
    const endpoint = new ProviderEndpoint('tts', 'primary', 'elevenlabs', clock, silentLogger, { failureThreshold: 3, openMs: 30_000 });
    for (let i = 0; i < 5; i++) {
      expect(endpoint.tryAcquire()).toBe(true);
      endpoint.failure(timeout(800));
    }
    expect(endpoint.status()).toMatchObject({ state: 'closed', failures: 0 });

    for (let i = 0; i < 3; i++) {
      expect(endpoint.tryAcquire()).toBe(true);
      endpoint.failure(timeout());
    }
    expect(endpoint.status()).toMatchObject({ state: 'open', failures: 3 });
  });
});

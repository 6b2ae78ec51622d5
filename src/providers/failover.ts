import type { Logger } from '../core/logger.js';
import type { ProviderEndpoint } from './endpoints.js';
import { asProviderError, ProviderError, type ProviderStage } from './errors.js';

/**
 * Failover for a streamed request (an LLM reply, a TTS synthesis): the
 * endpoints are tried in order (primary, then secondary), each only if its
 * circuit breaker admits the request. An endpoint that fails before it has
 * produced anything hands the request to the next one; once something has been
 * handed on (text spoken, audio played), a failure is final, because starting
 * the answer again elsewhere would repeat it to the caller.
 */

export interface StreamTarget<Req, Ev> {
  endpoint: ProviderEndpoint;
  /** Skip this target for this request (e.g. a secondary voice for audio that is cached under the primary's). */
  skip?: (request: Req) => boolean;
  run(request: Req): AsyncIterable<Ev>;
}

export async function* streamWithFailover<Req extends { signal?: AbortSignal | undefined }, Ev>(
  stage: ProviderStage,
  targets: readonly StreamTarget<Req, Ev>[],
  request: Req,
  logger: Logger,
): AsyncGenerator<Ev, void, undefined> {
  let lastError: ProviderError | undefined;
  for (const target of targets) {
    if (request.signal?.aborted) return;
    if (target.skip?.(request) || !target.endpoint.tryAcquire()) continue;
    const { endpoint } = target;
    if (lastError) logger.warn({ stage, role: endpoint.role, after: lastError.kind }, `${stage}: trying the ${endpoint.role}`);
    // Whether the breaker has heard how this request went (else `finally` frees its probe slot).
    let reported = false;
    let yielded = false;
    try {
      for await (const event of target.run(request)) {
        if (!yielded) {
          yielded = true;
          // The first output proves the endpoint alive; a later stall still counts as a failure.
          endpoint.success();
          reported = true;
        }
        yield event;
      }
      if (!yielded && !request.signal?.aborted) {
        endpoint.success();
        reported = true;
      }
      return;
    } catch (err) {
      const error = asProviderError(err, stage);
      if (request.signal?.aborted) throw error;
      endpoint.failure(error);
      reported = true;
      if (yielded) throw error;
      logger.warn({ stage, role: endpoint.role, provider: error.provider, kind: error.kind, reason: error.message }, `${stage} ${endpoint.role} failed`);
      lastError = error;
    } finally {
      if (!reported) endpoint.release();
    }
  }
  throw lastError ?? allSkipped(stage, targets);
}

/** The error when no endpoint admitted the request: nothing was sent anywhere. */
export function allSkipped(stage: ProviderStage, targets: readonly { endpoint: ProviderEndpoint }[]): ProviderError {
  const provider = targets[0]?.endpoint.provider ?? 'unknown';
  return new ProviderError(provider, stage, 'circuit_open', `every ${stage} endpoint is skipped by its circuit breaker; trying again after its open period`);
}

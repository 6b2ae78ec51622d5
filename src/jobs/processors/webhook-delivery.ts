import type { AgentWebhook } from '../../agents/types.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { FetchLike } from '../../flow/http-request.js';
import { OutboundRefused } from '../../flow/outbound.js';
import { PermanentJobError, type JobDefinition, type RetryPolicy } from '../runner.js';
import type { WebhookEnvelope } from '../webhooks/envelope.js';
import { DELIVERY_ID_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, webhookSignature } from '../webhooks/signature.js';

/**
 * Delivers one webhook (docs/jobs.md#webhooks): POSTs the event as JSON to the
 * agent's URL, signed afresh on every attempt (a new timestamp, so a receiver's
 * replay window holds for retries too). A 2xx reply is delivered; anything else,
 * a timeout or a network error is retried with backoff; a URL the outbound guard
 * refuses (an internal address not in HTTP_ALLOW_HOSTS) fails at once.
 */

export const WEBHOOK_JOB = 'webhook';

/**
 * Eight tries over about half an hour (15 s, 30 s, … 16 min between them): long
 * enough to ride out a receiver's deploy or brief outage, short enough that a
 * failure shows in the failed list the same working session.
 */
export const WEBHOOK_RETRY_POLICY: RetryPolicy = { attempts: 8, backoff: { type: 'exponential', delayMs: 15_000 } };
/** A receiver should answer at once and do its work later; 10 s covers a slow cold start. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Deliveries in flight per process: receivers are other people's servers, so a burst stays polite. */
const WEBHOOK_CONCURRENCY = 8;

export interface WebhookJob {
  agentId: string;
  envelope: WebhookEnvelope;
}

export interface WebhookDeliveryDeps {
  /** The agent's webhook now (URL and secret are read at each attempt, so a fix applies to retries). */
  webhookOf(agentId: string): Promise<AgentWebhook | null>;
  /** The outbound guard's fetch (src/flow/outbound.ts, HTTP_ALLOW_HOSTS). */
  fetch: FetchLike;
  clock: Clock;
  logger: Logger;
  policy?: RetryPolicy;
}

export function webhookDeliveryJob(deps: WebhookDeliveryDeps): JobDefinition<WebhookJob> {
  return {
    name: WEBHOOK_JOB,
    policy: deps.policy ?? WEBHOOK_RETRY_POLICY,
    concurrency: WEBHOOK_CONCURRENCY,
    async process({ agentId, envelope }, ctx) {
      const webhook = await deps.webhookOf(agentId);
      if (!webhook) {
        // Removed since the event: nobody to tell, nothing to retry.
        deps.logger.info({ agentId, deliveryId: envelope.id }, 'webhook removed from the agent; delivery dropped');
        return;
      }
      const body = JSON.stringify(envelope);
      const timestamp = Math.floor(deps.clock.wallNow() / 1000);
      const controller = new AbortController();
      const timer = deps.clock.setTimeout(() => controller.abort(new Error(`no reply within ${WEBHOOK_TIMEOUT_MS} ms`)), WEBHOOK_TIMEOUT_MS);
      const onShutdown = () => controller.abort(ctx.signal.reason);
      ctx.signal.addEventListener('abort', onShutdown, { once: true });
      try {
        const res = await deps.fetch(webhook.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'voice-agent-runtime-webhooks',
            [DELIVERY_ID_HEADER]: envelope.id,
            [EVENT_HEADER]: envelope.type,
            [TIMESTAMP_HEADER]: String(timestamp),
            [SIGNATURE_HEADER]: webhookSignature(webhook.secret, timestamp, body),
          },
          body,
          signal: controller.signal,
        });
        // The reply body is not ours to keep; reading it frees the connection.
        await res.arrayBuffer().catch(() => undefined);
        if (res.status < 200 || res.status >= 300) throw new Error(`the receiver answered HTTP ${res.status}`);
      } catch (err) {
        if (err instanceof OutboundRefused) throw new PermanentJobError(err.message, { cause: err });
        if (controller.signal.aborted && !ctx.signal.aborted) throw new Error(`no reply within ${WEBHOOK_TIMEOUT_MS} ms`, { cause: err });
        throw err;
      } finally {
        timer.cancel();
        ctx.signal.removeEventListener('abort', onShutdown);
      }
    },
  };
}

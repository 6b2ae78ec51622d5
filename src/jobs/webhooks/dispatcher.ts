import type { AgentWebhook } from '../../agents/types.js';
import type { CallRecord } from '../../calls/call-record.js';
import type { CallEvent, CallEventBus } from '../../calls/events.js';
import type { Logger } from '../../core/logger.js';
import type { JobRunner } from '../runner.js';
import { WEBHOOK_JOB, type WebhookJob } from '../processors/webhook-delivery.js';
import { isWebhookEvent, webhookEnvelope } from './envelope.js';

/**
 * Turns the agent's call events into webhook jobs: for each `call.ended`,
 * `transfer.*` and `handoff.*` event of a call whose agent has a webhook, one
 * delivery is queued (its id derived from the event, so it is queued once).
 * Runs beside the call, never in its way: a failure here is logged, never thrown.
 */
export class WebhookDispatcher {
  private readonly unsubscribe: () => void;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly deps: {
      bus: CallEventBus;
      /** The call as it is now: the live ledger, else the history. */
      callOf(callSid: string): Promise<CallRecord | undefined>;
      webhookOf(agentId: string): Promise<AgentWebhook | null>;
      jobs: JobRunner;
      logger: Logger;
    },
  ) {
    this.unsubscribe = deps.bus.subscribe((event) => {
      if (!isWebhookEvent(event)) return;
      const p = this.dispatch(event).finally(() => this.pending.delete(p));
      this.pending.add(p);
    });
  }

  /** Resolves once every event seen so far is queued (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await this.settled();
  }

  private async dispatch(event: CallEvent): Promise<void> {
    try {
      const call = await this.deps.callOf(event.callSid);
      if (!call) return;
      if (!(await this.deps.webhookOf(call.agentId))) return;
      const envelope = webhookEnvelope(event, call);
      await this.deps.jobs.enqueue<WebhookJob>(WEBHOOK_JOB, { agentId: call.agentId, envelope }, { jobId: envelope.id });
    } catch (err) {
      this.deps.logger.error({ err, callSid: event.callSid, type: event.type }, 'queueing a webhook failed');
    }
  }
}

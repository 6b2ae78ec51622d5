import { createHash } from 'node:crypto';
import type { CallRecord } from '../../calls/call-record.js';
import type { CallEvent } from '../../calls/events.js';
import { maskNumbersInText } from '../../core/phone-mask.js';

/**
 * What a webhook delivers (docs/jobs.md#webhooks): the agent's call events
 * `call.ended`, `flow.fallback`, `transfer.*` and `handoff.*`, each wrapped with the call it
 * belongs to. Phone numbers are masked (`+1****5678`) like everywhere a viewer
 * without the right to see them reads calls: the receiver is whatever URL a
 * builder typed.
 */

export const WEBHOOK_EVENT_TYPES = /^(call\.ended|flow\.fallback|transfer\.[a-z_]+|handoff\.[a-z_]+)$/;

export function isWebhookEvent(event: CallEvent): boolean {
  return WEBHOOK_EVENT_TYPES.test(event.type);
}

export interface WebhookEnvelope {
  /** The delivery's id: the same on every attempt and retry, so a receiver can drop duplicates. */
  id: string;
  type: string;
  /** When the event happened (ISO 8601). */
  createdAt: string;
  agent: { id: string; slug: string };
  call: { id: string; direction: string; from: string; to: string; version: number; state: string; outcome: { kind: string; detail?: string } | null };
  /** The event's own fields (e.g. `reason` and `outcome` of `call.ended`, `staffId` of `transfer.accepted`). */
  data: Record<string, unknown>;
}

/**
 * One id per event, the same in every process that might see it (a Redis bridge
 * of the event bus): it is the job id, so the event is queued once.
 */
export function deliveryId(event: CallEvent): string {
  const digest = createHash('sha256').update(JSON.stringify(event)).digest('hex').slice(0, 12);
  return `wh-${event.callSid}-${event.type}-${event.at}-${digest}`;
}

function maskDeep(value: unknown): unknown {
  if (typeof value === 'string') return maskNumbersInText(value);
  if (Array.isArray(value)) return value.map(maskDeep);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskDeep(v)]));
  return value;
}

export function webhookEnvelope(event: CallEvent, call: CallRecord): WebhookEnvelope {
  const { callSid: _sid, at, type, ...data } = event;
  return {
    id: deliveryId(event),
    type,
    createdAt: new Date(at).toISOString(),
    agent: { id: call.agentId, slug: call.slug },
    call: {
      id: call.callSid,
      direction: call.direction,
      from: maskNumbersInText(call.from),
      to: maskNumbersInText(call.to),
      version: call.version,
      state: call.state,
      outcome: call.outcome ? { ...call.outcome } : null,
    },
    data: maskDeep(data) as Record<string, unknown>,
  };
}

import { describe, expect, it } from 'vitest';
import type { CallRecord } from '../../../src/calls/call-record.js';
import type { CallEvent } from '../../../src/calls/events.js';
import { isWebhookEvent, webhookEnvelope } from '../../../src/jobs/webhooks/envelope.js';

/**
 * Invariant: a webhook carries the events a builder's system acts on (the call's end, a fallback
 * the caller heard, transfers, handoffs), not the call's every step, and masks phone numbers.
 */
const call = {
  callSid: 'CA1',
  agentId: 'ag_1',
  slug: 'clinic',
  direction: 'inbound',
  from: '+15550001234',
  to: '+15550009876',
  version: 3,
  state: 'live',
} as unknown as CallRecord;

describe('webhook events', () => {
  it('delivers a fallback the caller heard, with its reason and nodes', () => {
    const event: CallEvent = { callSid: 'CA1', at: Date.UTC(2026, 0, 5, 15), type: 'flow.fallback', reason: 'llm_failed', nodeId: 'talk', fallbackNode: 'desk' };
    expect(isWebhookEvent(event)).toBe(true);
    const envelope = webhookEnvelope(event, call);
    expect(envelope).toMatchObject({ type: 'flow.fallback', agent: { id: 'ag_1', slug: 'clinic' }, data: { reason: 'llm_failed', nodeId: 'talk', fallbackNode: 'desk' } });
    expect(envelope.call.from).toBe('+1****1234');
  });

  it("leaves out the call's every step", () => {
    const steps: CallEvent[] = [
      { callSid: 'CA1', at: 1, type: 'node.entered', nodeId: 'talk' },
      { callSid: 'CA1', at: 2, type: 'dtmf', digit: '1' },
      { callSid: 'CA1', at: 3, type: 'silence.reprompt' },
    ];
    for (const e of steps) expect(isWebhookEvent(e)).toBe(false);
    expect(isWebhookEvent({ callSid: 'CA1', at: 4, type: 'call.ended', reason: 'end', outcome: 'completed' })).toBe(true);
  });
});

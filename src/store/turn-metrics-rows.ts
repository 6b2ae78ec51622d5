import type { CallTurnMetricsTable } from './tables.js';

/**
 * The `call_turn_metrics` row of a `turn.agent` event with measured metrics
 * (docs/architecture.md#per-turn-metrics), or undefined for a reply that
 * answered no caller turn (a greeting, a static prompt): no `responseMs`.
 */
export function turnMetricsRow(
  eventId: string,
  event: { callSid: string; at: number; type: string; metrics?: Record<string, number | null> },
  speaker: { agentId: string; version: number },
): CallTurnMetricsTable | undefined {
  const m = event.metrics;
  if (event.type !== 'turn.agent' || !m || typeof m.responseMs !== 'number') return undefined;
  const ms = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) ? Math.round(v) : null);
  return {
    id: eventId,
    call_sid: event.callSid,
    agent_id: speaker.agentId,
    version: speaker.version,
    at: event.at,
    endpoint_ms: ms(m.endpointMs),
    response_ms: ms(m.responseMs),
    llm_first_token_ms: ms(m.llmFirstTokenMs),
    llm_first_sentence_ms: ms(m.llmFirstSentenceMs),
    tts_first_byte_ms: ms(m.ttsFirstByteMs),
    overhead_ms: ms(m.overheadMs),
  };
}

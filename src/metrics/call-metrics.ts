import type { CallEvent, CallEventBus } from '../calls/events.js';
import type { PlayoutTotals } from '../pipeline/playout.js';
import type { ProviderError } from '../providers/errors.js';
import type { Metrics } from './registry.js';

/**
 * The call figures of /metrics, read off the call's typed events (the same
 * events history and the live feed read) instead of counters spread through
 * the pipeline: outcomes from `call.ended`, latency from the per-turn metrics
 * of `turn.agent`, barge-ins from `barge_in`. What no event carries is read
 * at scrape time from the process's own totals (sessions held, playout
 * underruns) or reported by the provider observers (src/providers/observed.ts).
 */

/** Per-turn latency buckets, seconds: phone replies live between ~300 ms and a few seconds. */
export const TURN_LATENCY_BUCKETS_S = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10];

/** Per-turn metric (docs/architecture.md#per-turn-metrics) → histogram name (seconds, Prometheus' base unit). */
export const TURN_HISTOGRAMS = {
  responseMs: 'turn_response_seconds',
  overheadMs: 'turn_overhead_seconds',
  llmFirstTokenMs: 'turn_llm_first_token_seconds',
  ttsFirstByteMs: 'turn_tts_first_byte_seconds',
} as const;

export interface CallMetricsSources {
  bus: CallEventBus;
  /** AI calls whose media stream this process holds now. */
  liveCalls: () => number;
  /** Calls answered with stream TwiML whose stream has not started yet. */
  awaitingStream: () => number;
  playout: PlayoutTotals;
}

export interface CallMetrics {
  /** Counts a provider failure (wired into the provider observers). */
  providerError(err: ProviderError): void;
  /** Stops listening to the bus. */
  close(): void;
}

export function registerCallMetrics(metrics: Metrics, sources: CallMetricsSources): CallMetrics {
  metrics.gauge({
    name: 'calls_in_progress',
    help: 'AI calls whose media stream this process holds now.',
    read: sources.liveCalls,
  });
  metrics.gauge({
    name: 'calls_awaiting_stream',
    help: 'Calls answered with stream TwiML by this process whose media stream has not started yet.',
    read: sources.awaitingStream,
  });
  const ended = metrics.counter({ name: 'calls_ended_total', help: 'Calls ended, by outcome (the call record outcome kind).', labelNames: ['outcome'] });
  const bargeIns = metrics.counter({ name: 'barge_ins_total', help: 'Agent speech cut off by the caller, by what cut it (speech or dtmf).', labelNames: ['via'] });
  const transfers = metrics.counter({ name: 'transfers_requested_total', help: 'Transfers to people requested by flows, by mode.', labelNames: ['mode'] });
  const fallbacks = metrics.counter({
    name: 'flow_fallbacks_total',
    help: "Failures that took the flow's fallback (the caller heard it), by reason: llm_failed, stt_failed, tts_failed, gather_failed, …",
    labelNames: ['reason'],
  });
  const providerErrors = metrics.counter({
    name: 'provider_errors_total',
    help: 'Failures reported by speech-to-text, LLM and text-to-speech providers, by provider, stage and kind.',
    labelNames: ['provider', 'stage', 'kind'],
  });
  const turnHistograms = Object.entries(TURN_HISTOGRAMS).map(([field, name]) => ({
    field,
    histogram: metrics.histogram({ name, help: `Per-turn ${field} of agent replies, in seconds.`, buckets: TURN_LATENCY_BUCKETS_S }),
  }));
  metrics.counterOf({
    name: 'playout_underruns_total',
    help: 'Outbound media frames sent after their playout time although they were ready in time (the pacer ran late).',
    read: () => sources.playout.underruns,
  });
  metrics.counterOf({
    name: 'playout_underrun_seconds_total',
    help: 'How late those frames were, summed, in seconds.',
    read: () => sources.playout.underrunMs / 1000,
  });

  const onEvent = (e: CallEvent) => {
    switch (e.type) {
      case 'call.ended':
        ended.inc({ outcome: e.outcome });
        return;
      case 'barge_in':
        bargeIns.inc({ via: e.reason });
        return;
      case 'transfer.requested':
        transfers.inc({ mode: e.mode });
        return;
      case 'flow.fallback':
        fallbacks.inc({ reason: e.reason });
        return;
      case 'turn.agent':
        if (!e.metrics) return;
        for (const { field, histogram } of turnHistograms) {
          const ms = e.metrics[field];
          // A stage that did not happen (no LLM for a static phrase, no TTS for a cached one) is null.
          if (typeof ms === 'number' && Number.isFinite(ms)) histogram.observe(ms / 1000);
        }
        return;
      default:
        return;
    }
  };
  const unsubscribe = sources.bus.subscribe(onEvent);
  return {
    providerError: (err) => providerErrors.inc({ provider: err.provider, stage: err.stage, kind: err.kind }),
    close: unsubscribe,
  };
}

import type { CallResult } from './call-result.js';

/**
 * Call analytics (docs/metrics.md#analytics): counts, durations, result
 * classes, transfer and handoff rates and reply latency percentiles over the
 * calls that started in a time range, overall, per day, per agent and per
 * version. Computed by the database (src/store/analytics-repo.ts).
 */
export interface AnalyticsQuery {
  /** Calls created at or after this (epoch ms). */
  fromMs: number;
  /** Calls created before this (epoch ms, exclusive). */
  toMs: number;
  agentId?: string;
  version?: number;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
}

export interface AnalyticsSummary {
  calls: number;
  /** Calls that have ended; the others are in progress. */
  ended: number;
  durationMs: { total: number; average: number | null };
  outcomes: Record<CallResult, number>;
  /** Share of calls whose flow asked for a transfer to people (0..1; null with no calls). */
  transferRate: number | null;
  /** Share of calls a person of the staff handled (accepted a warm transfer or assumed the call). */
  handoffRate: number | null;
  latency: { turns: number; responseMs: Percentiles; overheadMs: Percentiles };
}

export interface AnalyticsReport {
  totals: AnalyticsSummary;
  /** UTC days with calls, oldest first. */
  days: ({ day: string } & Pick<AnalyticsSummary, 'calls' | 'outcomes'>)[];
  agents: ({ agentId: string; slug: string } & AnalyticsSummary)[];
  versions: ({ agentId: string; slug: string; version: number } & AnalyticsSummary)[];
}

export interface CallAnalytics {
  report(query: AnalyticsQuery): Promise<AnalyticsReport>;
}

import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Container } from '../../container.js';
import { CALL_RESULTS } from '../../calls/call-result.js';
import { AppError } from '../../core/errors.js';
import { SqlCallAnalytics } from '../../store/analytics-repo.js';

/**
 * GET /analytics (docs/metrics.md#analytics): call figures over the calls that
 * started in [from, to), overall, per UTC day, per agent and per version, so two
 * versions of an agent compare side by side.
 */
export const DAY_MS = 86_400_000;
/** Without `from`: this many days before `to`. */
export const DEFAULT_ANALYTICS_DAYS = 30;

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
/** A date-time with a zone (Z or ±hh:mm), as Date.parse reads the same everywhere only then. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Epoch ms of a query date; a date alone is UTC midnight, and as `to` the end of that day. */
export function parseAnalyticsDate(value: string, name: 'from' | 'to'): number {
  const dateOnly = DATE_ONLY.test(value);
  const ms = dateOnly ? Date.parse(`${value}T00:00:00Z`) : DATE_TIME.test(value) ? Date.parse(value) : NaN;
  // Date.parse rolls 2026-02-31 over to March; a real date prints back the same.
  if (!Number.isFinite(ms) || (dateOnly && new Date(ms).toISOString().slice(0, 10) !== value)) {
    throw new AppError('BAD_REQUEST', `${name} must be a date (2026-05-31) or a date-time with a zone (2026-05-31T14:00:00Z)`, { [name]: value });
  }
  return dateOnly && name === 'to' ? ms + DAY_MS : ms;
}

const percentiles = z.object({ p50: z.number().nullable(), p95: z.number().nullable() });
const outcomes = z.object(Object.fromEntries(CALL_RESULTS.map((r) => [r, z.number().int()])) as Record<(typeof CALL_RESULTS)[number], z.ZodNumber>);
export const analyticsSummarySchema = z.object({
  calls: z.number().int(),
  ended: z.number().int(),
  durationMs: z.object({ total: z.number(), average: z.number().nullable().describe('over ended calls') }),
  outcomes: outcomes.describe('ended calls by result class'),
  transferRate: z.number().nullable().describe('share of calls whose flow asked for a transfer (0..1)'),
  handoffRate: z.number().nullable().describe('share of calls a person of the staff handled (0..1)'),
  latency: z.object({ turns: z.number().int().describe('measured agent replies'), responseMs: percentiles, overheadMs: percentiles }),
});

const reportSchema = z.object({
  from: z.string(),
  to: z.string().describe('exclusive'),
  agentId: z.string().nullable(),
  version: z.number().int().nullable(),
  totals: analyticsSummarySchema,
  days: z.array(z.object({ day: z.string(), calls: z.number().int(), outcomes })),
  agents: z.array(analyticsSummarySchema.extend({ agentId: z.string(), slug: z.string() })),
  versions: z.array(analyticsSummarySchema.extend({ agentId: z.string(), slug: z.string(), version: z.number().int() })),
});

export async function analyticsRoutes(app: FastifyInstance, { container }: { container: Container }) {
  const analytics = new SqlCallAnalytics(container.persistence.db.db);
  app.withTypeProvider<ZodTypeProvider>().get(
    '/analytics',
    {
      schema: {
        tags: ['calls'],
        summary: 'Call analytics by day, agent and version',
        querystring: z.object({
          from: z.string().optional().describe(`date or date-time (default: ${DEFAULT_ANALYTICS_DAYS} days before to)`),
          to: z.string().optional().describe('date (the whole day counts) or date-time; exclusive; default now'),
          agentId: z.string().min(1).optional(),
          version: z.coerce.number().int().min(0).optional().describe('needs agentId'),
        }),
        response: { 200: reportSchema },
      },
    },
    async (req) => {
      const q = req.query;
      const toMs = q.to === undefined ? container.clock.wallNow() : parseAnalyticsDate(q.to, 'to');
      const fromMs = q.from === undefined ? toMs - DEFAULT_ANALYTICS_DAYS * DAY_MS : parseAnalyticsDate(q.from, 'from');
      if (fromMs > toMs) throw new AppError('BAD_REQUEST', 'from must not be after to', { from: q.from, to: q.to });
      if (q.version !== undefined && q.agentId === undefined) throw new AppError('BAD_REQUEST', 'version needs agentId');
      // What the live ledger has not written yet counts too.
      await container.callRecorder.flush();
      const report = await analytics.report({
        fromMs,
        toMs,
        ...(q.agentId !== undefined ? { agentId: q.agentId } : {}),
        ...(q.version !== undefined ? { version: q.version } : {}),
      });
      return {
        from: new Date(fromMs).toISOString(),
        to: new Date(toMs).toISOString(),
        agentId: q.agentId ?? null,
        version: q.version ?? null,
        ...report,
      };
    },
  );
}

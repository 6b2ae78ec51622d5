import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Container } from '../../container.js';
import { AppError } from '../../core/errors.js';
import type { FailedJob } from '../../jobs/runner.js';
import { WEBHOOK_JOB, type WebhookJob } from '../../jobs/processors/webhook-delivery.js';
import { decodeCursor, encodeCursor } from '../../store/cursor.js';
import { pageOf, pageQuery } from './agents.js';

/**
 * Webhook deliveries that used their last attempt (docs/jobs.md#the-failed-list),
 * newest failure first, and the retry action: the delivery goes back to the
 * queue with every attempt again, signed afresh at each.
 */

const iso = (ms: number) => new Date(ms).toISOString();

const failedDeliverySchema = z.object({
  id: z.string().describe('the delivery id (also the payload’s `id` and the X-Webhook-Id header)'),
  agentId: z.string(),
  type: z.string().describe('the event: call.ended, transfer.*, handoff.*'),
  callId: z.string(),
  attempts: z.number().int(),
  error: z.string().describe('why the last attempt failed'),
  createdAt: z.string(),
  failedAt: z.string(),
  payload: z.looseObject({ id: z.string(), type: z.string() }).describe('the body that is signed and POSTed'),
});

function view(job: FailedJob<WebhookJob>): z.infer<typeof failedDeliverySchema> {
  return {
    id: job.id,
    agentId: job.payload.agentId,
    type: job.payload.envelope.type,
    callId: job.payload.envelope.call.id,
    attempts: job.attemptsMade,
    error: job.error,
    createdAt: iso(job.createdAt),
    failedAt: iso(job.failedAt),
    payload: job.payload.envelope as unknown as z.infer<typeof failedDeliverySchema>['payload'],
  };
}

export async function webhookRoutes(app: FastifyInstance, { container }: { container: Container }): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { jobs } = container;
  const tags = ['webhooks'];

  r.get(
    '/webhooks/failed',
    {
      schema: {
        tags,
        summary: 'Webhook deliveries that failed their last attempt, newest first',
        querystring: pageQuery,
        response: { 200: pageOf(failedDeliverySchema) },
      },
    },
    async (req) => {
      // The failed list is ordered by failure time, and new failures push older ones along: an offset cursor is enough.
      const offset = decodeCursor<number>(req.query.cursor, 'number') ?? 0;
      const rows = await jobs.failed<WebhookJob>(WEBHOOK_JOB, { offset, limit: req.query.limit + 1 });
      const items = rows.slice(0, req.query.limit).map(view);
      return { items, nextCursor: rows.length > req.query.limit ? encodeCursor(offset + req.query.limit) : null };
    },
  );

  r.post(
    '/webhooks/failed/:id/retry',
    {
      schema: {
        tags,
        summary: 'Deliver a failed webhook again, with every attempt',
        params: z.object({ id: z.string().min(1).max(300) }),
        response: { 202: z.object({ id: z.string(), state: z.literal('queued') }) },
      },
    },
    async (req, reply) => {
      if (!(await jobs.retry(WEBHOOK_JOB, req.params.id))) {
        throw new AppError('NOT_FOUND', `no failed webhook delivery ${req.params.id}`);
      }
      return reply.code(202).send({ id: req.params.id, state: 'queued' as const });
    },
  );
}

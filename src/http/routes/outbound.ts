import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Container } from '../../container.js';
import { AppError, notConfigured } from '../../core/errors.js';
import { forViewer } from '../../handoff/masking.js';
import type { OutboundCall } from '../../outbound/dialer.js';
import { principalOf } from '../auth.js';

/**
 * Outbound calls and recordings (docs/outbound.md, docs/api.md#calls):
 * `POST /calls` places a call for an agent (202: dialled at once, or queued
 * behind the agent's limits), `GET /calls/outbound/:id` follows the request,
 * `GET /calls/:id/recording` streams the call's recording through the API.
 * Numbers are masked per viewer like every call view.
 */

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
const scalar = z.union([z.string(), z.number(), z.boolean()]);

const outboundSchema = z.object({
  id: z.string().describe('the request id'),
  callSid: z.string().nullable().describe('the call id (GET /calls/:id) once dialled; null while queued'),
  state: z.enum(['queued', 'dialing', 'in_progress', 'ended']),
  agent: z.object({ id: z.string(), slug: z.string() }),
  to: z.string(),
  from: z.string().nullable().describe("the agent's number the call is placed from, once dialled"),
  version: z.number().int().nullable().describe('the flow version pinned when dialled'),
  machineDetection: z.boolean(),
  outcome: z.string().nullable().describe('how it ended: completed, voicemail, no-answer, busy, failed, not_dialled, canceled, …'),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  createdAt: z.string(),
  dialledAt: z.string().nullable(),
  endedAt: z.string().nullable(),
});

function view(c: OutboundCall): z.infer<typeof outboundSchema> {
  return {
    id: c.id,
    callSid: c.callSid ?? null,
    state: c.state,
    agent: { id: c.agentId, slug: c.slug },
    to: c.to,
    from: c.from ?? null,
    version: c.version ?? null,
    machineDetection: c.machineDetection,
    outcome: c.outcome ?? null,
    error: c.error ?? null,
    createdAt: iso(c.createdAt)!,
    dialledAt: iso(c.dialledAt),
    endedAt: iso(c.endedAt),
  };
}

export async function outboundRoutes(app: FastifyInstance, { container }: { container: Container }): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { dialer, recordings } = container.outbound;
  const { config } = container;
  const tags = ['calls'];

  r.post(
    '/calls',
    {
      schema: {
        tags,
        summary: 'Place an outbound call for an agent: 202, dialled at once or queued behind the agent’s outbound limits',
        body: z
          .object({
            agentId: z.string().min(1).max(200).describe('agent id or slug; the agent must be active and own a phone number'),
            to: z.string().min(1).max(40).describe('the number to call, E.164 (+14155550100)'),
            variables: z.record(z.string(), scalar).optional().describe('call variables the flow sees ({{name}}), over its defaults'),
            machineDetection: z.boolean().optional().describe('answering-machine detection: the flow sees {{call.answeredBy}}'),
          })
          .strict(),
        response: { 202: outboundSchema },
      },
    },
    async (req, reply) => {
      // Nothing is queued that could never be dialled.
      if (!config.TWILIO_ACCOUNT_SID) throw notConfigured('TWILIO_ACCOUNT_SID', 'outbound calls');
      if (!config.TWILIO_AUTH_TOKEN) throw notConfigured('TWILIO_AUTH_TOKEN', 'outbound calls');
      const call = await dialer.submit(req.body);
      reply.code(202);
      return forViewer(view(call), principalOf(req));
    },
  );

  r.get(
    '/calls/outbound/:id',
    {
      schema: {
        tags,
        summary: 'An outbound call request: queued, dialing, in progress or ended (kept in this process for recent requests)',
        params: z.object({ id: z.string().min(1) }),
        response: { 200: outboundSchema },
      },
    },
    async (req) => {
      const call = dialer.get(req.params.id);
      if (!call) throw new AppError('NOT_FOUND', `no outbound request ${req.params.id}`);
      return forViewer(view(call), principalOf(req));
    },
  );

  r.get(
    '/calls/:id/recording',
    {
      schema: {
        tags,
        summary: 'The call’s recording (WAV, two channels), streamed from Twilio; 404 while none is completed or after retention',
        params: z.object({ id: z.string().min(1).describe('the CallSid') }),
      },
    },
    async (req, reply) => {
      // Read your writes: a status callback queued for the history is stored first.
      await container.callRecorder.flush();
      const media = await recordings.media(req.params.id);
      reply.type(media.contentType);
      if (media.length !== undefined) reply.header('content-length', media.length);
      reply.header('content-disposition', `attachment; filename="${req.params.id}.wav"`);
      reply.header('cache-control', 'private, no-store');
      return reply.send(Readable.fromWeb(media.body as NodeReadableStream<Uint8Array>));
    },
  );
}

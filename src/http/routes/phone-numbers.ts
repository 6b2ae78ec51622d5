import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Container } from '../../container.js';
import type { PhoneNumberRecord } from '../../agents/types.js';
import { pageOf, pageQuery } from './agents.js';

/** Number → agent assignments (docs/api.md#phone-numbers): E.164, one agent per number. */
const numberSchema = z.object({ e164: z.string(), agentId: z.string(), createdAt: z.string(), updatedAt: z.string() });
const e164Params = z.object({ e164: z.string().min(1).describe('E.164, URL-encoded (+ as %2B)') });

function view(n: PhoneNumberRecord): z.infer<typeof numberSchema> {
  return { e164: n.e164, agentId: n.agentId, createdAt: new Date(n.createdAtMs).toISOString(), updatedAt: new Date(n.updatedAtMs).toISOString() };
}

export async function phoneNumberRoutes(app: FastifyInstance, { container }: { container: Container }): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const numbers = container.persistence.phoneNumbers;
  const tags = ['phone numbers'];

  r.get(
    '/phone-numbers',
    { schema: { tags, summary: 'Assigned numbers', querystring: pageQuery, response: { 200: pageOf(numberSchema) } } },
    async (req) => {
      const page = await numbers.list(req.query);
      return { items: page.items.map(view), nextCursor: page.nextCursor };
    },
  );

  r.put(
    '/phone-numbers/:e164',
    {
      schema: {
        tags,
        summary: 'Assign a number to an agent (409 NUMBER_TAKEN when another agent has it)',
        params: e164Params,
        body: z.object({ agentId: z.string().min(1).describe('agent id or slug') }),
        response: { 200: numberSchema },
      },
    },
    async (req) => view(await numbers.assign(normalise(req.params.e164), req.body.agentId)),
  );

  r.delete(
    '/phone-numbers/:e164',
    { schema: { tags, summary: 'Unassign a number', params: e164Params } },
    async (req, reply) => {
      await numbers.unassign(normalise(req.params.e164));
      return reply.code(204).send();
    },
  );
}

/** A literal "+" in a path may arrive as a space when a client form-encodes it. */
function normalise(e164: string): string {
  return e164.startsWith(' ') ? '+' + e164.slice(1) : e164;
}

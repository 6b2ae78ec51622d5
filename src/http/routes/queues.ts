import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Container } from '../../container.js';
import type { QueueRecord } from '../../handoff/queues.js';
import { pageOf, pageQuery } from './agents.js';

/** Queues of people (docs/people.md#queues); membership is also settable on the person. */
const queueSchema = z.object({
  id: z.string(),
  name: z.string(),
  members: z.array(z.string()).describe('staff ids'),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const name = z.string().trim().min(1).max(100).describe('unique, case-insensitively');
const members = z.array(z.string().min(1)).max(1000);
const idParams = z.object({ id: z.string().min(1) });

function view(q: QueueRecord): z.infer<typeof queueSchema> {
  return { id: q.id, name: q.name, members: q.members, createdAt: new Date(q.createdAtMs).toISOString(), updatedAt: new Date(q.updatedAtMs).toISOString() };
}

export async function queueRoutes(app: FastifyInstance, { container }: { container: Container }): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { queues } = container.people;
  const tags = ['queues'];

  r.get(
    '/queues',
    { schema: { tags, summary: 'Queues and their members', querystring: pageQuery, response: { 200: pageOf(queueSchema) } } },
    async (req) => {
      const page = await queues.list(req.query);
      return { items: page.items.map(view), nextCursor: page.nextCursor };
    },
  );

  r.post(
    '/queues',
    {
      schema: {
        tags,
        summary: 'Create a queue (409 QUEUE_NAME_TAKEN)',
        body: z.object({ name, members: members.optional() }).strict(),
        response: { 201: queueSchema },
      },
    },
    async (req, reply) => reply.code(201).send(view(await queues.create(req.body))),
  );

  r.patch(
    '/queues/:id',
    {
      schema: {
        tags,
        summary: 'Rename a queue or replace its members',
        params: idParams,
        body: z.object({ name: name.optional(), members: members.optional() }).strict(),
        response: { 200: queueSchema },
      },
    },
    async (req) => view(await queues.update(req.params.id, req.body)),
  );

  r.delete('/queues/:id', { schema: { tags, summary: 'Delete a queue (its people stay)', params: idParams } }, async (req, reply) => {
    await queues.delete(req.params.id);
    return reply.code(204).send();
  });
}

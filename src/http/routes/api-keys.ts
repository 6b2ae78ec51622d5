import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Container } from '../../container.js';
import { actorOf, ROLES } from '../../auth/roles.js';
import type { ApiKeyRecord } from '../../auth/api-keys.js';
import { principalOf } from '../auth.js';
import { pageOf, pageQuery } from './agents.js';

/** API keys (admin only): the key is returned once at creation, only its hash is stored. */
const keySchema = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  prefix: z.string().describe('the first characters of the key, to tell keys apart'),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
});

function view(k: ApiKeyRecord): z.infer<typeof keySchema> {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    prefix: k.prefix,
    createdBy: k.createdBy,
    createdAt: new Date(k.createdAtMs).toISOString(),
    lastUsedAt: k.lastUsedAtMs === null ? null : new Date(k.lastUsedAtMs).toISOString(),
  };
}

export async function apiKeyRoutes(app: FastifyInstance, { container }: { container: Container }): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const keys = container.persistence.apiKeys;
  const tags = ['api keys'];

  r.get(
    '/api-keys',
    { schema: { tags, summary: 'List API keys (never the keys themselves)', querystring: pageQuery, response: { 200: pageOf(keySchema) } } },
    async (req) => {
      const page = await keys.list(req.query);
      return { items: page.items.map(view), nextCursor: page.nextCursor };
    },
  );

  r.post(
    '/api-keys',
    {
      schema: {
        tags,
        summary: 'Create an API key; the response is the only time the key is shown',
        body: z.object({ name: z.string().min(1).max(100), role: z.enum(ROLES) }),
        response: { 201: keySchema.extend({ key: z.string() }) },
      },
    },
    async (req, reply) => {
      const { record, key } = await keys.create(req.body, actorOf(principalOf(req)));
      return reply.code(201).send({ ...view(record), key });
    },
  );

  r.delete(
    '/api-keys/:id',
    { schema: { tags, summary: 'Revoke an API key', params: z.object({ id: z.string().min(1) }) } },
    async (req, reply) => {
      await keys.delete(req.params.id);
      return reply.code(204).send();
    },
  );
}

import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Container } from '../../container.js';
import { actorOf } from '../../auth/roles.js';
import { DEFAULT_UNAVAILABLE } from '../../agents/directory.js';
import { DEFAULT_OUTBOUND_LIMITS, type AgentRecord, type AuditEntry, type VersionRecord } from '../../agents/types.js';
import { principalOf } from '../auth.js';

/** Agents, drafts, versions, lifecycle and audit (docs/api.md#agents, docs/architecture.md#agent-lifecycle). */

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50).describe('page size'),
  cursor: z.string().optional().describe('nextCursor from the previous page'),
});

export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });

const iso = (ms: number) => new Date(ms).toISOString();
const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'phone number in E.164, e.g. +15550100001');

export const unavailableSchema = z
  .object({
    message: z.string().min(1).max(1000).describe('said to the caller (TwiML <Say>)'),
    then: z.union([
      z.literal('hangup'),
      z.object({ number: e164 }).strict(),
      z.object({ queue: z.string().min(1) }).strict(),
    ]),
  })
  .strict();

/** The secret is write-only: an agent's view shows the URL, never the key. */
export const webhookSchema = z
  .object({
    url: z.string().max(2048).describe('http(s) URL the agent’s call events are POSTed to (docs/jobs.md#webhooks)'),
    secret: z.string().min(16).max(256).describe('HMAC-SHA256 key the deliveries are signed with; never shown again'),
  })
  .strict();
export const outboundLimitsSchema = z
  .object({
    maxConcurrent: z.number().int().min(1).max(1000).describe('outbound calls dialling or in progress at once; more wait in a queue'),
    perMinute: z.number().int().min(1).max(10_000).describe('outbound calls started in any 60 seconds'),
  })
  .strict()
  .describe('how fast this agent places outbound calls (POST /calls)');

const agentStateSchema = z.enum(['draft', 'active', 'inactive']);

export const agentSchema = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  state: agentStateSchema,
  servedVersion: z.number().int().nullable(),
  latestVersion: z.number().int().describe('0 until the first publish'),
  draft: z.object({ revision: z.number().int(), updatedAt: z.string() }),
  unavailable: unavailableSchema,
  requireTestsToPublish: z.boolean().describe('publishing runs the stored test suite against the draft first (422 TESTS_FAILED with the report)'),
  webhook: z.object({ url: z.string() }).nullable().describe('where call events are POSTed; the secret is never shown'),
  outbound: outboundLimitsSchema,
  createdAt: z.string(),
});

const versionSummarySchema = z.object({
  version: z.number().int(),
  author: z.string(),
  note: z.string().nullable(),
  draftRevision: z.number().int(),
  createdAt: z.string(),
});
const versionSchema = versionSummarySchema.extend({ flow: z.record(z.string(), z.unknown()) });

const findingSchema = z.object({
  code: z.string(),
  message: z.string(),
  nodeId: z.string().optional(),
  path: z.string(),
});
const findingsSchema = z.object({ errors: z.array(findingSchema), warnings: z.array(findingSchema) });

const auditSchema = z.object({
  id: z.string(),
  action: z.enum(['activate', 'deactivate', 'switch', 'rollback']),
  actor: z.string(),
  fromState: agentStateSchema,
  toState: agentStateSchema,
  fromVersion: z.number().int().nullable(),
  toVersion: z.number().int().nullable(),
  reason: z.string().nullable(),
  at: z.string(),
});

/** Only when the phrase cache is filled (ELEVENLABS_API_KEY set): what the served version's warm-up did. */
const phrasesSchema = z
  .object({
    total: z.number().int(),
    cached: z.number().int().describe('already in the cache'),
    synthesized: z.number().int(),
    failed: z.number().int(),
    timedOut: z.boolean().describe('15 s passed first; the rest fills in the background'),
  })
  .describe('static phrases of the served version (cached audio); the request waits up to 15 s for them');
const servedAgentSchema = agentSchema.extend({ phrases: phrasesSchema.optional() });

const flowBody = z.record(z.string(), z.unknown()).describe('a flow (flows/flow.schema.json); drafts may be incomplete');
const idParams = z.object({ id: z.string().min(1).describe('agent id or slug') });
const reason = z.string().max(1000).optional();

export function agentView(a: AgentRecord): z.infer<typeof agentSchema> {
  return {
    id: a.id,
    slug: a.slug,
    name: a.name,
    state: a.state,
    servedVersion: a.servedVersion,
    latestVersion: a.latestVersion,
    draft: { revision: a.draft.revision, updatedAt: iso(a.draft.updatedAtMs) },
    unavailable: a.unavailable ?? DEFAULT_UNAVAILABLE,
    requireTestsToPublish: a.requireTestsToPublish,
    webhook: a.webhook ? { url: a.webhook.url } : null,
    outbound: a.outbound ?? DEFAULT_OUTBOUND_LIMITS,
    createdAt: iso(a.createdAtMs),
  };
}

function versionSummary(v: VersionRecord): z.infer<typeof versionSummarySchema> {
  return { version: v.version, author: v.author, note: v.note, draftRevision: v.draftRevision, createdAt: iso(v.createdAtMs) };
}

function auditView(e: AuditEntry): z.infer<typeof auditSchema> {
  return {
    id: e.id,
    action: e.action,
    actor: e.actor,
    fromState: e.fromState,
    toState: e.toState,
    fromVersion: e.fromVersion,
    toVersion: e.toVersion,
    reason: e.reason,
    at: iso(e.createdAtMs),
  };
}

export async function agentRoutes(app: FastifyInstance, { container }: { container: Container }): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const agents = container.persistence.agents;
  const warmer = container.phraseWarmer;
  const tags = ['agents'];

  /** The agent, with its served version's phrases cached (waits up to 15 s; never fails the change). */
  const served = async (a: AgentRecord): Promise<z.infer<typeof servedAgentSchema>> => {
    if (a.servedVersion === null || !warmer.enabled) return agentView(a);
    const v = await agents.getVersion(a.id, a.servedVersion);
    const phrases = await warmer.warmForActivation({ agentId: a.id, slug: a.slug, version: v.version, flow: v.flow });
    return phrases ? { ...agentView(a), phrases } : agentView(a);
  };

  r.post(
    '/agents',
    {
      schema: {
        tags,
        summary: 'Create an agent',
        body: z.object({
          name: z.string().min(1).max(200),
          slug: z.string().optional().describe('default: from the name'),
          flow: flowBody.optional().describe('the first draft'),
        }),
        response: { 201: agentSchema },
      },
    },
    async (req, reply) => reply.code(201).send(agentView(await agents.create(req.body))),
  );

  r.get(
    '/agents',
    { schema: { tags, summary: 'List agents', querystring: pageQuery, response: { 200: pageOf(agentSchema) } } },
    async (req) => {
      const page = await agents.list(req.query);
      return { items: page.items.map(agentView), nextCursor: page.nextCursor };
    },
  );

  r.get(
    '/agents/:id',
    { schema: { tags, summary: 'Get an agent', params: idParams, response: { 200: agentSchema } } },
    async (req) => agentView(await agents.get(req.params.id)),
  );

  r.patch(
    '/agents/:id',
    {
      schema: {
        tags,
        summary: 'Rename, set the unavailable behaviour or the outbound limits (null restores a default), require a passing test suite to publish, or set the outbound webhook (null removes it)',
        params: idParams,
        body: z
          .object({
            name: z.string().min(1).max(200).optional(),
            unavailable: unavailableSchema.nullable().optional(),
            requireTestsToPublish: z.boolean().optional(),
            webhook: webhookSchema.nullable().optional(),
            outbound: outboundLimitsSchema.nullable().optional(),
          })
          .strict(),
        response: { 200: agentSchema },
      },
    },
    async (req) => agentView(await agents.patch(req.params.id, req.body)),
  );

  r.delete(
    '/agents/:id',
    { schema: { tags, summary: 'Delete an agent (409 AGENT_ACTIVE while active)', params: idParams } },
    async (req, reply) => {
      await agents.delete(req.params.id);
      return reply.code(204).send();
    },
  );

  r.get(
    '/agents/:id/draft',
    {
      schema: {
        tags,
        summary: 'The draft flow with its revision',
        params: idParams,
        response: { 200: z.object({ flow: z.record(z.string(), z.unknown()).nullable(), revision: z.number().int(), updatedAt: z.string() }) },
      },
    },
    async (req) => {
      const a = await agents.get(req.params.id);
      return { flow: (a.draft.flow ?? null) as Record<string, unknown> | null, revision: a.draft.revision, updatedAt: iso(a.draft.updatedAtMs) };
    },
  );

  r.put(
    '/agents/:id/draft',
    {
      schema: {
        tags,
        summary: 'Save the draft (409 STALE_REVISION with details.currentRevision when baseRevision is not current)',
        params: idParams,
        body: z.object({ flow: flowBody, baseRevision: z.number().int().min(0) }),
        response: { 200: agentSchema },
      },
    },
    async (req) => agentView(await agents.saveDraft(req.params.id, req.body.flow, req.body.baseRevision)),
  );

  r.post(
    '/agents/:id/validate',
    {
      schema: {
        tags,
        summary: 'Validate the draft (or a published version)',
        params: idParams,
        body: z.object({ version: z.number().int().min(1).optional() }).nullish().describe('optional'),
        response: { 200: findingsSchema.extend({ valid: z.boolean() }) },
      },
    },
    async (req) => {
      const res = await agents.validate(req.params.id, req.body?.version);
      return { valid: res.errors.length === 0, errors: res.errors, warnings: res.warnings };
    },
  );

  r.post(
    '/agents/:id/publish',
    {
      schema: {
        tags,
        summary: 'Publish the draft as the next version (422 INVALID_FLOW with the findings; 422 TESTS_FAILED with the report when the agent requires tests)',
        params: idParams,
        body: z.object({ note: z.string().max(1000).optional() }).nullish().describe('optional'),
        response: { 201: versionSchema },
      },
    },
    async (req, reply) => {
      await container.persistence.flowTests.checkBeforePublish(req.params.id, actorOf(principalOf(req)));
      const v = await agents.publish(req.params.id, { note: req.body?.note }, actorOf(principalOf(req)));
      const agent = await agents.get(req.params.id);
      void warmer.warmInBackground({ agentId: agent.id, slug: agent.slug, version: v.version, flow: v.flow });
      return reply.code(201).send({ ...versionSummary(v), flow: v.flow as unknown as Record<string, unknown> });
    },
  );

  r.get(
    '/agents/:id/versions',
    {
      schema: { tags, summary: 'Published versions, newest first', params: idParams, querystring: pageQuery, response: { 200: pageOf(versionSummarySchema) } },
    },
    async (req) => {
      const page = await agents.listVersions(req.params.id, req.query);
      return { items: page.items.map(versionSummary), nextCursor: page.nextCursor };
    },
  );

  r.get(
    '/agents/:id/versions/:version',
    {
      schema: {
        tags,
        summary: 'A published version with its flow',
        params: idParams.extend({ version: z.coerce.number().int().min(1) }),
        response: { 200: versionSchema },
      },
    },
    async (req) => {
      const v = await agents.getVersion(req.params.id, req.params.version);
      return { ...versionSummary(v), flow: v.flow as unknown as Record<string, unknown> };
    },
  );

  r.post(
    '/agents/:id/activate',
    {
      schema: {
        tags,
        summary: 'Activate (or, when active, switch) the served version; default the latest',
        params: idParams,
        body: z.object({ version: z.number().int().min(1).optional(), reason }).nullish().describe('optional'),
        response: { 200: servedAgentSchema },
      },
    },
    async (req) => served(await agents.activate(req.params.id, req.body ?? {}, actorOf(principalOf(req)))),
  );

  r.post(
    '/agents/:id/deactivate',
    {
      schema: { tags, summary: 'Deactivate: new calls get the unavailable behaviour', params: idParams, body: z.object({ reason }).nullish().describe('optional'), response: { 200: agentSchema } },
    },
    async (req) => agentView(await agents.deactivate(req.params.id, req.body ?? {}, actorOf(principalOf(req)))),
  );

  r.post(
    '/agents/:id/rollback',
    {
      schema: {
        tags,
        summary: 'Serve an earlier version, in either state; the draft is untouched',
        params: idParams,
        body: z.object({ version: z.number().int().min(1), reason }),
        response: { 200: servedAgentSchema },
      },
    },
    async (req) => served(await agents.rollback(req.params.id, req.body, actorOf(principalOf(req)))),
  );

  r.get(
    '/agents/:id/audit',
    { schema: { tags, summary: 'Lifecycle audit log, newest first', params: idParams, querystring: pageQuery, response: { 200: pageOf(auditSchema) } } },
    async (req) => {
      const page = await agents.audit(req.params.id, req.query);
      return { items: page.items.map(auditView), nextCursor: page.nextCursor };
    },
  );
}

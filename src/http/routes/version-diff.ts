import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AgentService } from '../../agents/service.js';
import { diffFlows } from '../../agents/version-diff.js';
import type { Container } from '../../container.js';
import { AppError } from '../../core/errors.js';
import type { Flow } from '../../flow/schema.js';
import { SqlCallAnalytics } from '../../store/analytics-repo.js';
import { allowedRoles, principalOf } from '../auth.js';
import { analyticsSummarySchema, DAY_MS, DEFAULT_ANALYTICS_DAYS } from './analytics.js';

/** Comparing two versions of an agent's flow (docs/api.md#comparing-versions). */

const versionRef = z.string().regex(/^([1-9]\d{0,8}|draft)$/, 'a version number or "draft"');

const fieldChange = z.object({ path: z.string(), from: z.unknown().optional(), to: z.unknown().optional() });
const diffSchema = z.object({
  from: z.union([z.number().int(), z.literal('draft')]),
  to: z.union([z.number().int(), z.literal('draft')]),
  same: z.boolean(),
  nodes: z.object({
    added: z.array(z.object({ id: z.string(), type: z.string() })),
    removed: z.array(z.object({ id: z.string(), type: z.string() })),
    changed: z.array(z.object({ id: z.string(), type: z.string(), fields: z.array(fieldChange) })),
  }),
  settings: z.array(fieldChange),
  flow: z.array(fieldChange).describe('name, description, start'),
  calls: z
    .object({
      from: z.string(),
      to: z.string(),
      versions: z.object({ from: analyticsSummarySchema.nullable(), to: analyticsSummarySchema.nullable() }),
    })
    .optional()
    .describe(`the two versions' call figures over the last ${DEFAULT_ANALYTICS_DAYS} days, side by side (null: the draft, or no calls); only for roles that may read GET /analytics`),
});

/** A published version's flow, or the draft's (which must validate). */
export async function flowAt(agents: AgentService, agentId: string, ref: number | 'draft'): Promise<Flow> {
  if (ref !== 'draft') return (await agents.getVersion(agentId, ref)).flow;
  const result = await agents.validate(agentId);
  if (result.errors.length > 0 || !result.flow) {
    throw new AppError('INVALID_FLOW', 'the draft has errors; fix them before comparing it', { errors: result.errors, warnings: result.warnings });
  }
  return result.flow;
}

const parseRef = (s: string): number | 'draft' => (s === 'draft' ? 'draft' : Number(s));

export async function versionDiffRoutes(app: FastifyInstance, { container }: { container: Container }): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const agents = container.persistence.agents;
  const analytics = new SqlCallAnalytics(container.persistence.db.db);
  const mayReadAnalytics = (req: Parameters<typeof principalOf>[0]) => {
    const roles = allowedRoles('GET', '/analytics');
    return roles === 'public' || roles.includes(principalOf(req).role);
  };

  r.get(
    '/agents/:id/versions/:version/diff/:other',
    {
      schema: {
        tags: ['agents'],
        summary: 'What changed from one version to another ("draft" for the draft): nodes added, removed and changed field by field, settings changed',
        params: z.object({ id: z.string().min(1).describe('agent id or slug'), version: versionRef, other: versionRef }),
        response: { 200: diffSchema },
      },
    },
    async (req) => {
      const agent = await agents.get(req.params.id);
      const from = parseRef(req.params.version);
      const to = parseRef(req.params.other);
      const diff = diffFlows(await flowAt(agents, agent.id, from), await flowAt(agents, agent.id, to));
      if (!mayReadAnalytics(req)) return { from, to, ...diff };
      // How each version did with callers, so a change and its effect are read together.
      const toMs = container.clock.wallNow();
      const fromMs = toMs - DEFAULT_ANALYTICS_DAYS * DAY_MS;
      await container.callRecorder.flush();
      const report = await analytics.report({ fromMs, toMs, agentId: agent.id });
      const figures = (ref: number | 'draft') => (ref === 'draft' ? null : (report.versions.find((v) => v.version === ref) ?? null));
      const calls = { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), versions: { from: figures(from), to: figures(to) } };
      return { from, to, ...diff, calls };
    },
  );
}

import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { LastRun, StoredSuite } from '../../agents/flow-tests.js';
import type { AgentRecord } from '../../agents/types.js';
import { actorOf } from '../../auth/roles.js';
import type { Container } from '../../container.js';
import { principalOf } from '../auth.js';

/** Flow test suites stored with an agent (docs/api.md#flow-tests, docs/flows.md#testing-a-flow). */

const iso = (ms: number) => new Date(ms).toISOString();
const idParams = z.object({ id: z.string().min(1).describe('agent id or slug') });

const failureSchema = z.object({
  kind: z.string(),
  message: z.string(),
  expected: z.unknown().optional(),
  actual: z.unknown().optional(),
  step: z.number().int().optional().describe('path failures: the 0-based step where the paths part'),
  nodeId: z.string().optional(),
});

export const suiteReportSchema = z
  .object({
    passed: z.boolean(),
    total: z.number().int(),
    failed: z.number().int(),
    durationMs: z.number(),
    mode: z.enum(['scripted', 'live']),
    cases: z.array(
      z.object({
        name: z.string(),
        passed: z.boolean(),
        durationMs: z.number(),
        failures: z.array(failureSchema),
        path: z.array(z.string()),
        outcome: z.string(),
        reason: z.string().optional(),
        transfer: z.union([z.object({ queue: z.string() }), z.object({ number: z.string() })]).nullable(),
        variables: z.record(z.string(), z.unknown()),
        said: z.array(z.string()),
        turns: z.object({ caller: z.number().int(), agent: z.number().int() }),
      }),
    ),
  })
  .describe('pass or fail per case; a path failure names the first step where expected and actual part');

const runSchema = z.object({
  version: z.number().int().nullable().describe('null: the draft'),
  draftRevision: z.number().int().optional(),
  at: z.string(),
  actor: z.string(),
  report: suiteReportSchema,
});

const storedSchema = z.object({
  suite: z.record(z.string(), z.unknown()).describe('the suite (flows/flow-test.schema.json)'),
  requireTestsToPublish: z.boolean(),
  updatedBy: z.string(),
  updatedAt: z.string(),
  lastRun: runSchema.nullable(),
});

function runView(r: LastRun): z.infer<typeof runSchema> {
  return { version: r.version, ...(r.draftRevision !== undefined ? { draftRevision: r.draftRevision } : {}), at: iso(r.at), actor: r.actor, report: r.report };
}

function storedView(agent: AgentRecord, s: StoredSuite): z.infer<typeof storedSchema> {
  return {
    suite: s.suite as unknown as Record<string, unknown>,
    requireTestsToPublish: agent.requireTestsToPublish,
    updatedBy: s.updatedBy,
    updatedAt: iso(s.updatedAtMs),
    lastRun: s.lastRun && runView(s.lastRun),
  };
}

export async function flowTestRoutes(app: FastifyInstance, { container }: { container: Container }): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tests = container.persistence.flowTests;
  const tags = ['flow tests'];

  r.get(
    '/agents/:id/tests',
    { schema: { tags, summary: "The agent's test suite and its last run", params: idParams, response: { 200: storedSchema } } },
    async (req) => {
      const { agent, stored } = await tests.get(req.params.id);
      return storedView(agent, stored);
    },
  );

  r.put(
    '/agents/:id/tests',
    {
      schema: {
        tags,
        summary: 'Store the test suite (400 VALIDATION_FAILED naming the first problem and details.issues with JSON paths)',
        params: idParams,
        body: z.record(z.string(), z.unknown()).describe('a suite: { version: 1, cases: [ … ] } (flows/flow-test.schema.json)'),
        response: { 200: storedSchema },
      },
    },
    async (req) => {
      const { agent, stored } = await tests.put(req.params.id, req.body, actorOf(principalOf(req)));
      return storedView(agent, stored);
    },
  );

  r.post(
    '/agents/:id/tests/run',
    {
      schema: {
        tags,
        summary: 'Run the stored suite against the draft (default) or a published version, with its scripted replies; 200 whether it passes or not',
        params: idParams,
        body: z
          .union([
            z.object({ version: z.number().int().min(1) }).strict(),
            z.object({ draft: z.literal(true) }).strict(),
            z.object({}).strict(),
          ])
          .nullish()
          .describe('{ version } or { draft: true }; default the draft'),
        response: { 200: runSchema },
      },
    },
    async (req) => {
      const body = req.body ?? {};
      const version = 'version' in body ? body.version : undefined;
      return runView(await tests.run(req.params.id, { version }, actorOf(principalOf(req))));
    },
  );
}

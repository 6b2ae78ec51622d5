import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MAX_REPLAY_CALLS, replayCalls } from '../../agents/replay.js';
import type { Container } from '../../container.js';

/** Regression replay of past calls against a version or the draft (docs/api.md#regression-replay). */

const resultSchema = z.object({
  callSid: z.string(),
  status: z.enum(['same', 'different', 'failed']),
  path: z.array(z.string()).describe('the nodes the replay entered'),
  step: z.number().int().optional().describe('different: the 0-based step where the paths part'),
  recordedNode: z.string().nullable().optional(),
  replayedNode: z.string().nullable().optional(),
  recordedPath: z.array(z.string()).optional(),
  reason: z.string().optional().describe('failed: why (needs_llm: a changed node needs the model; replay with mode live)'),
  nodeId: z.string().optional(),
});

export async function replayRoutes(app: FastifyInstance, { container }: { container: Container }): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(
    '/agents/:id/replay',
    {
      schema: {
        tags: ['flow tests'],
        summary: "Re-run past calls' caller turns against a version or the draft: per call same path, different path (where it parted) or failed",
        params: z.object({ id: z.string().min(1).describe('agent id or slug') }),
        body: z
          .object({
            callIds: z.array(z.string().min(1).max(64)).min(1).max(MAX_REPLAY_CALLS).optional(),
            last: z.number().int().min(1).max(MAX_REPLAY_CALLS).optional().describe("the agent's last N ended calls"),
            version: z.number().int().min(1).optional(),
            draft: z.literal(true).optional(),
            mode: z.enum(['paths', 'live']).default('paths'),
          })
          .strict()
          .refine((b) => (b.callIds === undefined) !== (b.last === undefined), { message: 'give either callIds or last' })
          .refine((b) => !(b.version !== undefined && b.draft), { message: 'give either version or draft' }),
        response: {
          200: z.object({
            target: z.object({ version: z.number().int().nullable().describe('null: the draft') }),
            mode: z.enum(['paths', 'live']),
            summary: z.object({ total: z.number().int(), same: z.number().int(), different: z.number().int(), failed: z.number().int() }),
            calls: z.array(resultSchema),
          }),
        },
      },
    },
    async (req) => {
      // Calls that just ended are in the history before they are looked up.
      await container.callRecorder.flush();
      return replayCalls(
        { agents: container.persistence.agents, history: container.callHistory, llm: req.body.mode === 'live' && container.config.OPENAI_API_KEY ? container.providers.llm : undefined },
        req.params.id,
        { callIds: req.body.callIds, last: req.body.last, version: req.body.version, mode: req.body.mode },
      );
    },
  );
}

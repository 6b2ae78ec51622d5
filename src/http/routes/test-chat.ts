import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Container } from '../../container.js';
import type { ChatTurn } from '../../agents/test-chat.js';

/** The HTTP test chat (docs/api.md#test-chat): the interpreter port over request/response. */
const replySchema = z.union([
  z.object({ type: z.literal('say'), text: z.string(), nodeId: z.string().optional() }),
  z.object({
    type: z.literal('transfer'),
    nodeId: z.string(),
    target: z.union([z.object({ queue: z.string() }), z.object({ number: z.string() })]),
    mode: z.enum(['warm', 'cold']),
    summary: z.string().optional(),
  }),
  z.object({ type: z.literal('hangup'), reason: z.string().optional() }),
]);

const turnSchema = z.object({
  id: z.string(),
  agentId: z.string(),
  version: z.number().int().nullable().describe('null: the draft'),
  status: z.enum(['waiting', 'running', 'ended']),
  replies: z.array(replySchema),
  transitions: z.array(z.object({ from: z.string().nullable(), to: z.string(), nodeType: z.string() })),
  expects: z.object({ speech: z.boolean(), dtmf: z.boolean() }).nullable(),
  variables: z.record(z.string(), z.unknown()),
  result: z.object({ outcome: z.string(), reason: z.string().optional(), lastNodeId: z.string().optional() }).nullable(),
});

const view = (t: ChatTurn): z.infer<typeof turnSchema> => t;

export async function testChatRoutes(app: FastifyInstance, { container }: { container: Container }): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  // Built with the container: a follow-up message may be run on the process holding the chat.
  const chats = container.testChats;
  const tags = ['test chat'];

  r.post(
    '/agents/:id/test-chat',
    {
      schema: {
        tags,
        summary: 'Start a text chat with the draft (default) or a published version; returns the first replies',
        params: z.object({ id: z.string().min(1).describe('agent id or slug') }),
        body: z.object({ version: z.number().int().min(1).optional() }).nullish().describe('optional'),
        response: { 201: turnSchema },
      },
    },
    async (req, reply) => reply.code(201).send(view(await chats.start(req.params.id, { version: req.body?.version }))),
  );

  r.post(
    '/test-chats/:id/messages',
    {
      schema: {
        tags,
        summary: "Send the caller's next turn: text (speech) or digits (keypad); returns the replies and node transitions",
        params: z.object({ id: z.string().min(1) }),
        body: z.union([
          z.object({ text: z.string().min(1).max(4000) }).strict(),
          z.object({ digits: z.string().regex(/^[0-9*#]{1,64}$/, 'digits are 0-9, * and #') }).strict(),
        ]),
        response: { 200: turnSchema },
      },
    },
    async (req) => view(await chats.send(req.params.id, req.body)),
  );
}

import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Container } from '../../container.js';
import type { CallRecord } from '../../calls/call-record.js';
import type { CallEvent } from '../../calls/events.js';
import { AppError } from '../../core/errors.js';
import { DISPOSITIONS, type PostCallResult } from '../../calls/post-call.js';
import { forViewer } from '../../handoff/masking.js';
import type { StaffState } from '../../handoff/staff.js';
import { principalOf } from '../auth.js';
import { pageOf, pageQuery } from './agents.js';

/**
 * Call history (docs/api.md#calls, docs/architecture.md#storage): the record of each call with its turns,
 * per-turn metrics and event history. Callers' numbers are masked per viewer by
 * src/handoff/masking.ts (`+1****5678` unless the viewer may see them).
 */

const callStateSchema = z.enum(['connecting', 'ai', 'transferring', 'human', 'ended']);
const iso = (ms: number) => new Date(ms).toISOString();

const callSummarySchema = z.object({
  id: z.string().describe('the CallSid'),
  agent: z.object({ id: z.string(), slug: z.string() }),
  version: z.number().int().describe('the flow version pinned when the call started (0: no version answered)'),
  from: z.string(),
  to: z.string(),
  direction: z.enum(['inbound', 'outbound']),
  state: callStateSchema,
  outcome: z.object({ kind: z.string(), detail: z.string().optional() }).nullable(),
  createdAt: z.string(),
  endedAt: z.string().nullable(),
  assignee: z.string().nullable().describe('staff id of the person who last handled the call'),
  assigneeUnreachable: z.boolean().describe('the person who handled the call was deleted or removed from the workspace'),
});

const turnSchema = z.object({
  role: z.enum(['caller', 'agent', 'staff']),
  text: z.string(),
  at: z.string(),
  interrupted: z.boolean().optional(),
  nodeId: z.string().optional(),
  via: z.enum(['speech', 'dtmf']).optional(),
  metrics: z.record(z.string(), z.number()).optional().describe('endpointMs, responseMs, llmFirstTokenMs, llmFirstSentenceMs, ttsFirstByteMs, overheadMs'),
});

const callDetailSchema = callSummarySchema.extend({
  handler: z.looseObject({ kind: z.string() }),
  streams: z.array(
    z.object({ streamSid: z.string(), startedAt: z.string(), endedAt: z.string().nullable(), endReason: z.string().optional() }),
  ),
  nextStep: z.looseObject({ kind: z.string() }).nullable().describe('what /twilio/stream-ended answers when the stream closes'),
  turns: z.array(turnSchema),
  metrics: z.record(z.string(), z.number()),
  events: z.array(z.looseObject({ type: z.string(), at: z.string() })).describe('every call event, oldest first'),
  postCall: z
    .object({
      summary: z.string(),
      disposition: z.enum(DISPOSITIONS),
      variables: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
      at: z.string(),
    })
    .nullable()
    .describe('post-call processing (docs/jobs.md#post-call-processing): null until it has run, and for calls it skips'),
});

type Summary = z.infer<typeof callSummarySchema>;
type Detail = z.infer<typeof callDetailSchema>;

/** States of the people calls name; a missing id was deleted. */
type PeopleStates = Map<string, StaffState>;

function summary(r: CallRecord, people: PeopleStates): Summary {
  const assignee = r.handledBy?.at(-1) ?? null;
  const state = assignee === null ? undefined : people.get(assignee);
  return {
    id: r.callSid,
    agent: { id: r.agentId, slug: r.slug },
    version: r.version,
    from: r.from,
    to: r.to,
    direction: r.direction,
    state: r.state,
    outcome: r.outcome ? { kind: r.outcome.kind, ...(r.outcome.detail !== undefined ? { detail: r.outcome.detail } : {}) } : null,
    createdAt: iso(r.createdAt),
    endedAt: r.endedAt === undefined ? null : iso(r.endedAt),
    assignee,
    assigneeUnreachable: assignee !== null && (state === undefined || state === 'removed'),
  };
}

function detail(r: CallRecord, events: CallEvent[], people: PeopleStates, postCall: PostCallResult | null): Detail {
  return {
    ...summary(r, people),
    handler: r.handler,
    streams: r.streams.map((s) => ({
      streamSid: s.streamSid,
      startedAt: iso(s.startedAt),
      endedAt: s.endedAt === undefined ? null : iso(s.endedAt),
      ...(s.endReason !== undefined ? { endReason: s.endReason } : {}),
    })),
    nextStep: r.nextStep ?? null,
    turns: r.turns.map(({ at, ...t }) => ({ ...t, at: iso(at) })),
    metrics: r.metrics,
    events: events.map(({ callSid: _sid, at, ...e }) => ({ ...e, at: iso(at) })),
    postCall: postCall && { ...postCall, at: iso(postCall.at) },
  };
}

export async function callRoutes(app: FastifyInstance, { container }: { container: Container }): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { callHistory, callRecorder } = container;
  const peopleOf = (records: CallRecord[]) =>
    container.people.staff.statesOf([...new Set(records.flatMap((r) => (r.handledBy?.length ? [r.handledBy.at(-1)!] : [])))]);
  const tags = ['calls'];

  r.get(
    '/calls',
    {
      schema: {
        tags,
        summary: 'Calls, newest first',
        querystring: pageQuery.extend({
          agentId: z.string().min(1).optional().describe('only this agent’s calls (agent id)'),
          state: callStateSchema.optional(),
        }),
        response: { 200: pageOf(callSummarySchema) },
      },
    },
    async (req) => {
      // Read your writes: what the live ledger queued is stored before the read.
      await callRecorder.flush();
      const page = await callHistory.page(req.query);
      const people = await peopleOf(page.items);
      return { items: forViewer(page.items.map((r) => summary(r, people)), principalOf(req)), nextCursor: page.nextCursor };
    },
  );

  r.get(
    '/calls/:id',
    {
      schema: {
        tags,
        summary: 'A call: agent, pinned version, state, streams, next step, outcome, turns with metrics and its event history',
        params: z.object({ id: z.string().min(1).describe('the CallSid') }),
        response: { 200: callDetailSchema },
      },
    },
    async (req) => {
      await callRecorder.flush();
      const id = req.params.id;
      // The live ledger is fresher for a call in progress; history has calls from before a restart.
      const record = (await container.telephony.calls.get(id)) ?? (await callHistory.get(id));
      if (!record) throw new AppError('NOT_FOUND', `no call ${id}`);
      // forViewer masks numbers inside the summary and variables too: the caller may have said one.
      const postCall = await callHistory.getPostCall(id);
      return forViewer(detail(record, await callHistory.events(id), await peopleOf([record]), postCall), principalOf(req));
    },
  );
}

/** A live-feed message: each call event (numbers masked per viewer), then `caught_up` after the backlog. */
export type LiveFeedMessage =
  | { type: 'event'; event: Record<string, unknown> & { type: string; at: string } }
  | { type: 'caught_up'; ended: boolean };

const eventView = ({ callSid: _sid, at, ...e }: CallEvent) => ({ ...e, at: iso(at) });

/**
 * Commands on a live call and its live feed (docs/handoff.md): assume, hand
 * back to an AI, hang up, and `WS /calls/:id/live`. The commands go through
 * `container.live` (one call each), so a router can carry them to the process
 * that holds the call.
 */
export async function liveCallRoutes(app: FastifyInstance, { container }: { container: Container }): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['calls'];
  const params = z.object({ id: z.string().min(1).describe('the CallSid') });
  const accepted = z.object({ id: z.string(), state: callStateSchema });
  const stateOf = async (id: string) => ({ id, state: (await container.telephony.calls.get(id))?.state ?? ('ended' as const) });

  r.post(
    '/calls/:id/assume',
    {
      schema: {
        tags,
        summary: 'A person takes the call from the AI: the AI stops at once, the caller holds in the conference, the person is rung',
        description:
          'With a session token the person is the signed-in one; an admin API key names `staffId`. 409 `CALL_ENDED`, 409 `CALL_STATE_CONFLICT` when a person already has the call or a transfer is under way.',
        params,
        body: z.object({ reason: z.string().max(500).optional(), staffId: z.string().min(1).optional() }).optional(),
        response: { 202: accepted },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const body = req.body ?? {};
      // The call first: an unknown or ended call is the answer whoever asks.
      await callMustBeLive(container, req.params.id);
      let staffId: string;
      if (p.kind === 'session') {
        if (body.staffId && body.staffId !== p.id && p.role !== 'admin') throw new AppError('FORBIDDEN', 'only an admin may assume a call for someone else');
        staffId = body.staffId ?? p.id;
      } else {
        if (p.role !== 'admin') throw new AppError('FORBIDDEN', 'an API key needs the admin role to assume a call for a person');
        if (!body.staffId) throw new AppError('VALIDATION_FAILED', 'body.staffId: an API key must name the person who takes the call');
        staffId = body.staffId;
      }
      await container.live.assume(req.params.id, { staffId, ...(body.reason ? { reason: body.reason } : {}) });
      return reply.code(202).send(await stateOf(req.params.id));
    },
  );

  r.post(
    '/calls/:id/transfer-to-ai',
    {
      schema: {
        tags,
        summary: 'The person hands the caller to an active AI agent, which continues with the whole conversation',
        description: '409 `AGENT_NOT_ACTIVE` for an agent that is not active; 409 `CALL_STATE_CONFLICT` when no person has the call; 409 `CALL_ENDED`.',
        params,
        body: z.object({ agentId: z.string().min(1).describe('agent id or slug'), reason: z.string().max(500).optional() }),
        response: { 202: accepted },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      await callMustBeLive(container, req.params.id);
      await container.live.transferToAi(req.params.id, {
        agentId: req.body.agentId,
        by: `${p.kind === 'session' ? 'staff' : 'api-key'}:${p.id}`,
        ...(req.body.reason ? { reason: req.body.reason } : {}),
      });
      return reply.code(202).send(await stateOf(req.params.id));
    },
  );

  r.post(
    '/calls/:id/hang-up',
    {
      schema: {
        tags,
        summary: 'Ends a call in progress for everyone (the caller, the AI, a person on it); whichever process holds it',
        description: '404 for an unknown call, 409 `CALL_ENDED` for one that has already ended.',
        params,
        body: z.object({ reason: z.string().max(500).optional() }).optional(),
        response: { 200: accepted },
      },
    },
    async (req) => {
      const p = principalOf(req);
      await callMustBeLive(container, req.params.id);
      await container.live.hangUp(req.params.id, {
        by: `${p.kind === 'session' ? 'staff' : 'api-key'}:${p.id}`,
        ...(req.body?.reason ? { reason: req.body.reason } : {}),
      });
      return stateOf(req.params.id);
    },
  );

  app.get(
    '/calls/:id/live',
    {
      websocket: true,
      schema: {
        tags,
        summary: 'WebSocket: the call’s events as they happen (turns, node transitions, tools, handoffs); a late joiner first gets the events so far',
        params,
      },
      preHandler: async (req) => {
        const id = (req.params as { id: string }).id;
        if (!container.callFeed.has(id) && !(await container.telephony.calls.get(id)) && !(await container.callHistory.get(id))) {
          throw new AppError('NOT_FOUND', `no call ${id}`);
        }
      },
    },
    (socket, req) => {
      const viewer = principalOf(req);
      const id = (req.params as { id: string }).id;
      const send = (m: LiveFeedMessage) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(forViewer(m, viewer)));
      };
      const viewerOf = {
        backlog(events: CallEvent[], ended: boolean) {
          for (const e of events) send({ type: 'event', event: eventView(e) });
          send({ type: 'caught_up', ended });
          if (ended) socket.close(1000, 'call ended');
        },
        event(e: CallEvent) {
          send({ type: 'event', event: eventView(e) });
          if (e.type === 'call.ended') socket.close(1000, 'call ended');
        },
      };
      let unsubscribe: (() => void) | undefined;
      let closed = false;
      socket.on('close', () => {
        closed = true;
        unsubscribe?.();
      });
      // Viewers only listen; anything they send is ignored.
      socket.on('message', () => undefined);
      // Synchronously when this process heard the whole call: the backlog and the subscription cannot miss or repeat an event.
      const sub = container.callFeed.subscribe(id, (e) => viewerOf.event(e));
      if (sub) {
        unsubscribe = sub.unsubscribe;
        viewerOf.backlog(sub.backlog, sub.ended);
        return;
      }
      void (async () => {
        // In progress, heard here only in part (or not at all): the backlog from the holder's feed or history, then live.
        const record = await container.telephony.calls.get(id);
        if (record && record.state !== 'ended') {
          const joined = await container.callFeed.join(id, viewerOf, () => container.feedBacklog(id));
          unsubscribe = joined.unsubscribe;
          if (closed) joined.unsubscribe();
          return;
        }
        // Not live any more: what history has, then the end.
        await container.callRecorder.flush();
        viewerOf.backlog(await container.callHistory.events(id), true);
      })().catch((err: unknown) => {
        req.log.error({ err }, 'live feed failed');
        socket.close(1011, 'internal error');
      });
    },
  );
}

/** 404 for an unknown call, 409 CALL_ENDED for one that is over. */
async function callMustBeLive(container: Container, id: string): Promise<void> {
  const record = await container.telephony.calls.get(id);
  if (!record) {
    if (await container.callHistory.get(id)) throw new AppError('CALL_ENDED', 'the call has ended');
    throw new AppError('NOT_FOUND', `no live call ${id}`);
  }
  if (record.state === 'ended') throw new AppError('CALL_ENDED', 'the call has ended');
}

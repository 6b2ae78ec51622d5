import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Container } from '../../container.js';
import { ROLES } from '../../auth/roles.js';
import { STAFF_STATES, type StaffRecord } from '../../handoff/staff.js';
import { toStaffView } from '../../handoff/staff-view.js';
import { pageOf, pageQuery } from './agents.js';

/** The staff directory (docs/people.md): admin only, per the role matrix. */

export const staffSchema = z.object({
  id: z.string(),
  displayName: z.string(),
  username: z.string(),
  email: z.string().nullable(),
  role: z.enum(ROLES).nullable().describe('null once removed from the workspace'),
  state: z.enum(STAFF_STATES),
  queues: z.array(z.string()).describe('queue ids'),
  presence: z.enum(['online', 'offline']),
  maxConcurrentSessions: z.number().int().nullable().describe('null: unlimited'),
  liveSessions: z.number().int(),
  showRealPhoneNumbers: z.boolean(),
  phone: z.string().nullable(),
  clientIdentity: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const idParams = z.object({ id: z.string().min(1) });
const displayName = z.string().trim().min(1).max(200);
const password = z.string().min(6).max(1024).describe('at least 6 characters');
const maxSessions = z.number().int().min(1).max(1000).nullable().describe('null: unlimited');

const createBody = z
  .object({
    displayName,
    username: z.string().min(2).max(64).describe('unique (case-insensitive), immutable'),
    password: password.optional().describe('absent: the person starts invited and sets it through an activation link'),
    email: z.string().max(254).nullable().optional(),
    role: z.enum(ROLES),
    phone: z.string().nullable().optional().describe('E.164; where the person is dialled'),
    clientIdentity: z.string().nullable().optional().describe('a Twilio Client name, dialled as client:<identity>'),
    maxConcurrentSessions: maxSessions.optional(),
    showRealPhoneNumbers: z.boolean().optional(),
    queues: z.array(z.string()).max(100).optional(),
  })
  .strict();

const patchBody = z
  .object({
    displayName: displayName.optional(),
    password: password.optional().describe('changed only when given'),
    email: z.string().max(254).nullable().optional().describe('null clears it'),
    role: z.enum(ROLES).optional(),
    state: z.enum(['enabled', 'disabled']).optional().describe('enable or disable the person; disabling ends their sessions at once'),
    phone: z.string().nullable().optional(),
    clientIdentity: z.string().nullable().optional(),
    maxConcurrentSessions: maxSessions.optional(),
    showRealPhoneNumbers: z.boolean().optional(),
    queues: z.array(z.string()).max(100).optional(),
  })
  .strict()
  .describe('username is immutable');

export async function staffRoutes(app: FastifyInstance, { container }: { container: Container }): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { staff, presence } = container.people;
  const tags = ['staff'];
  const view = async (s: StaffRecord) => toStaffView(s, await presence.isOnline(s.id));

  r.get(
    '/staff',
    { schema: { tags, summary: 'People of the workspace', querystring: pageQuery, response: { 200: pageOf(staffSchema) } } },
    async (req) => {
      const page = await staff.list(req.query);
      return { items: await Promise.all(page.items.map(view)), nextCursor: page.nextCursor };
    },
  );

  r.post(
    '/staff',
    {
      schema: {
        tags,
        summary: 'Add a person (409 USERNAME_TAKEN, 409 SEAT_LIMIT_REACHED)',
        body: createBody,
        response: { 201: staffSchema },
      },
    },
    async (req, reply) => reply.code(201).send(await view(await staff.create(req.body))),
  );

  r.get(
    '/staff/:id',
    { schema: { tags, summary: 'A person', params: idParams, response: { 200: staffSchema } } },
    async (req) => view(await staff.get(req.params.id)),
  );

  r.patch(
    '/staff/:id',
    { schema: { tags, summary: 'Edit a person; `state` enables or disables', params: idParams, body: patchBody, response: { 200: staffSchema } } },
    async (req) => {
      const { state, ...changes } = req.body;
      const id = req.params.id;
      let record = Object.keys(changes).length > 0 || state === undefined ? await staff.update(id, changes) : await staff.get(id);
      if (state === 'enabled') record = await staff.enable(id);
      if (state === 'disabled') record = await staff.disable(id);
      return view(record);
    },
  );

  r.delete(
    '/staff/:id',
    { schema: { tags, summary: 'Delete a person for good (frees the seat; their calls stay, marked assigneeUnreachable)', params: idParams } },
    async (req, reply) => {
      await staff.delete(req.params.id);
      return reply.code(204).send();
    },
  );

  r.post(
    '/staff/:id/remove',
    {
      schema: {
        tags,
        summary: 'Remove from the workspace: no access, roles and queues cleared, seat freed; can be invited again',
        params: idParams,
        response: { 200: staffSchema },
      },
    },
    async (req) => view(await staff.remove(req.params.id)),
  );

  r.post(
    '/staff/:id/invite',
    {
      schema: {
        tags,
        summary: 'A single-use activation link valid 7 days; a resend invalidates the previous link. A removed person is invited again with a role',
        params: idParams,
        body: z.object({ role: z.enum(ROLES).optional(), queues: z.array(z.string()).max(100).optional() }).strict().nullish(),
        response: { 200: z.object({ activationUrl: z.string(), expiresAt: z.string(), staff: staffSchema }) },
      },
    },
    async (req) => {
      const inv = await staff.invite(req.params.id, req.body ?? {});
      return { activationUrl: inv.activationUrl, expiresAt: new Date(inv.expiresAtMs).toISOString(), staff: await view(inv.staff) };
    },
  );

  r.post(
    '/staff/bulk',
    {
      schema: {
        tags,
        summary: 'Enable, disable or delete several people; one result per id, a bad id does not stop the others',
        body: z.object({ ids: z.array(z.string().min(1)).min(1).max(500), action: z.enum(['enable', 'disable', 'delete']) }).strict(),
        response: {
          200: z.object({
            results: z.array(z.object({ id: z.string(), ok: z.boolean(), error: z.object({ code: z.string(), message: z.string() }).optional() })),
          }),
        },
      },
    },
    async (req) => ({ results: await staff.bulk(req.body.ids, req.body.action) }),
  );

  r.get(
    '/usage',
    {
      schema: {
        tags,
        summary: 'Seats used of SEAT_LIMIT, and conversations people handled in the last 30 days',
        response: {
          200: z.object({
            seats: z.object({ used: z.number().int(), limit: z.number().int().nullable().describe('null: unlimited') }),
            sessionsLast30Days: z.number().int(),
          }),
        },
      },
    },
    async () => staff.usage(),
  );
}

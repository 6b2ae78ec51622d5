import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Container } from '../../container.js';
import { ROLES } from '../../auth/roles.js';
import { AppError } from '../../core/errors.js';
import { toStaffView } from '../../handoff/staff-view.js';
import { principalOf } from '../auth.js';
import { staffSchema } from './staff.js';

/** Sign-in, sign-out, activation and "who am I" (docs/people.md#sign-in). */
export async function sessionRoutes(app: FastifyInstance, { container }: { container: Container }): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { sessions, staff, presence, workspace } = container.people;
  const tags = ['sign-in'];

  r.post(
    '/auth/login',
    {
      schema: {
        tags,
        summary: 'Sign in: a session token used as `Authorization: Bearer`. The same 401 for every wrong case; 429 with Retry-After after 10 failures per username or IP in 15 minutes',
        security: [],
        body: z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).strict(),
        response: { 200: z.object({ token: z.string(), expiresAt: z.string(), staff: staffSchema }) },
      },
    },
    async (req, reply) => {
      const result = await sessions.login(req.body.username, req.body.password, req.ip);
      if (result.kind === 'limited') {
        reply.header('retry-after', String(result.retryAfterSeconds));
        throw new AppError('RATE_LIMITED', 'too many failed sign-ins; try again later', { retryAfterSeconds: result.retryAfterSeconds });
      }
      if (result.kind === 'refused') throw new AppError('UNAUTHENTICATED', 'wrong username or password');
      return {
        token: result.token,
        expiresAt: new Date(result.expiresAtMs).toISOString(),
        staff: toStaffView(result.staff, await presence.isOnline(result.staff.id)),
      };
    },
  );

  r.post(
    '/auth/logout',
    { schema: { tags, summary: 'End this session (its workspace sockets close)' } },
    async (req, reply) => {
      const p = principalOf(req);
      if (p.kind !== 'session' || p.sessionId === undefined) {
        throw new AppError('BAD_REQUEST', 'logout ends a sign-in session; revoke an API key with DELETE /api-keys/:id');
      }
      await sessions.logout(p.sessionId);
      await workspace.endSession(p.sessionId, 'signed out');
      return reply.code(204).send();
    },
  );

  r.post(
    '/auth/activate',
    {
      schema: {
        tags,
        summary: 'Set the password from an activation link and enable the account (400 INVALID_INVITATION when used, replaced or expired)',
        security: [],
        body: z.object({ token: z.string().min(1).max(200), password: z.string().min(6).max(1024) }).strict(),
        response: { 200: z.object({ staff: staffSchema }) },
      },
    },
    async (req) => {
      const s = await staff.activate(req.body.token, req.body.password);
      return { staff: toStaffView(s, await presence.isOnline(s.id)) };
    },
  );

  r.get(
    '/me',
    {
      schema: {
        tags,
        summary: 'Who is calling: the signed-in person, or the API key',
        response: {
          200: z.union([
            z.object({ kind: z.literal('session'), staff: staffSchema }),
            z.object({ kind: z.literal('api-key'), apiKey: z.object({ id: z.string(), name: z.string(), role: z.enum(ROLES) }) }),
          ]),
        },
      },
    },
    async (req) => {
      const p = principalOf(req);
      if (p.kind === 'api-key') return { kind: 'api-key' as const, apiKey: { id: p.id, name: p.name, role: p.role } };
      const s = await staff.get(p.id);
      return { kind: 'session' as const, staff: toStaffView(s, await presence.isOnline(s.id)) };
    },
  );
}

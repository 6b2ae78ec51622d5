import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.js';
import { ROLES, type Authenticator, type Principal, type Role } from '../auth/roles.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the /api/v1 auth hook for every authenticated route. */
    principal?: Principal;
  }
}

const ALL: readonly Role[] = ROLES;
const EDITORS: readonly Role[] = ['admin', 'builder'];
const ADMIN: readonly Role[] = ['admin'];

/**
 * THE role matrix: `METHOD /path` (as registered under /api/v1) → roles allowed,
 * or 'public'. docs/api.md shows the same table. Admin and builder change agents
 * and flows; staff, queues, numbers and keys are changed by admin only; calls
 * (read, live feed, assume, hand back) are for every role. A route missing here
 * is admin-only (fail closed).
 */
export const ROUTE_ROLES: Readonly<Record<string, readonly Role[] | 'public'>> = {
  // Agents
  'GET /agents': ALL,
  'POST /agents': EDITORS,
  'GET /agents/:id': ALL,
  'PATCH /agents/:id': EDITORS,
  'DELETE /agents/:id': EDITORS,
  'GET /agents/:id/draft': ALL,
  'PUT /agents/:id/draft': EDITORS,
  'POST /agents/:id/validate': ALL,
  'POST /agents/:id/publish': EDITORS,
  'GET /agents/:id/versions': ALL,
  'GET /agents/:id/versions/:version': ALL,
  'GET /agents/:id/versions/:version/diff/:other': ALL,
  'POST /agents/:id/activate': EDITORS,
  'POST /agents/:id/deactivate': EDITORS,
  'POST /agents/:id/rollback': EDITORS,
  'GET /agents/:id/audit': ALL,
  'POST /agents/:id/test-chat': EDITORS,
  'POST /test-chats/:id/messages': EDITORS,
  // Flow tests: everyone who reads the agent reads its suite and last result; builders change and run them.
  'GET /agents/:id/tests': ALL,
  'PUT /agents/:id/tests': EDITORS,
  'POST /agents/:id/tests/run': EDITORS,
  'POST /agents/:id/replay': EDITORS,
  // Phone numbers
  'GET /phone-numbers': ALL,
  // Which agent answers a number is an admin decision (docs/people.md#roles: numbers are admin).
  'PUT /phone-numbers/:e164': ADMIN,
  'DELETE /phone-numbers/:e164': ADMIN,
  // API keys
  'GET /api-keys': ADMIN,
  'POST /api-keys': ADMIN,
  'DELETE /api-keys/:id': ADMIN,
  // Calls: read, the live feed, assume and hand back are for every role (docs/handoff.md)
  'GET /calls': ALL,
  'GET /calls/:id': ALL,
  'GET /calls/:id/live': ALL,
  // Placing a call is the builders' (docs/outbound.md); following it and hearing recordings is reading calls.
  'POST /calls': EDITORS,
  'GET /calls/outbound/:id': ALL,
  'GET /calls/:id/recording': ALL,
  'POST /calls/:id/assume': ALL,
  'POST /calls/:id/transfer-to-ai': ALL,
  'POST /calls/:id/hang-up': ALL,
  // Figures about agents and versions, for the people who build them (docs/metrics.md#analytics).
  'GET /analytics': EDITORS,
  // Staff and queues (docs/people.md)
  'GET /staff': ADMIN,
  'POST /staff': ADMIN,
  'GET /staff/:id': ADMIN,
  'PATCH /staff/:id': ADMIN,
  'DELETE /staff/:id': ADMIN,
  'POST /staff/:id/invite': ADMIN,
  'POST /staff/:id/remove': ADMIN,
  'POST /staff/bulk': ADMIN,
  'GET /usage': ADMIN,
  'GET /queues': ALL,
  'POST /queues': ADMIN,
  'PATCH /queues/:id': ADMIN,
  'DELETE /queues/:id': ADMIN,
  // Sign-in: login and activation are how a person gets a token at all.
  'POST /auth/login': 'public',
  'POST /auth/activate': 'public',
  'POST /auth/logout': ALL,
  'GET /me': ALL,
  'GET /workspace': ALL,
  // Webhooks are part of building an agent (docs/jobs.md#webhooks): their failures are the builder's to see and retry.
  'GET /webhooks/failed': EDITORS,
  'POST /webhooks/failed/:id/retry': EDITORS,
};

export const API_PREFIX = '/api/v1';

/** The matrix key of a registered route: method and path relative to /api/v1. */
export function routeKey(method: string, url: string): string {
  const path = url.startsWith(API_PREFIX) ? url.slice(API_PREFIX.length) || '/' : url;
  return `${method.toUpperCase()} ${path.length > 1 ? path.replace(/\/+$/, '') : path}`;
}

export function allowedRoles(method: string, url: string): readonly Role[] | 'public' {
  return ROUTE_ROLES[routeKey(method, url)] ?? ADMIN;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * The credential of a request. WebSocket upgrades may carry it as `?token=` or in
 * Sec-WebSocket-Protocol (browsers cannot set Authorization on a WebSocket):
 * either the token alone, or `bearer, <token>` (the server then answers `bearer`).
 * Plain HTTP requests use the Authorization header only, so tokens stay out of URLs.
 */
export function credentialOf(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === 'string') return BEARER.exec(header)?.[1];
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return undefined;
  const query = (req.query as Record<string, unknown> | undefined)?.token;
  if (typeof query === 'string' && query !== '') return query;
  const protocols = req.headers['sec-websocket-protocol']?.split(',').map((p) => p.trim()).filter(Boolean) ?? [];
  if (protocols.length === 1) return protocols[0];
  if (protocols.length === 2 && protocols[0]!.toLowerCase() === 'bearer') return protocols[1];
  return undefined;
}

/**
 * Installs authentication and authorization on an encapsulated /api/v1 context:
 * 401 UNAUTHENTICATED without a valid bearer token, 403 FORBIDDEN when the
 * token's role is not in the route's row of the matrix.
 */
export function installApiAuth(api: FastifyInstance, authenticator: Authenticator): void {
  api.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const m of methods) {
      if (m === 'HEAD' || m === 'OPTIONS') continue;
      if (!(routeKey(m, route.url) in ROUTE_ROLES)) {
        api.log.warn({ route: routeKey(m, route.url) }, 'route has no entry in the role matrix (src/http/auth.ts); admin only');
      }
    }
  });

  api.addHook('onRequest', async (req: FastifyRequest, _reply: FastifyReply) => {
    const url = req.routeOptions.url;
    if (url === undefined) return; // no such route: the 404 handler answers
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const roles = allowedRoles(method, url);
    if (roles === 'public') return;
    const token = credentialOf(req);
    if (!token) throw new AppError('UNAUTHENTICATED', 'send Authorization: Bearer <API key or session token>');
    const principal = await authenticator.authenticate(token);
    if (!principal) throw new AppError('UNAUTHENTICATED', 'the API key or session token is not valid');
    if (!roles.includes(principal.role)) {
      throw new AppError('FORBIDDEN', `role ${principal.role} may not ${method} ${routeKey(method, url).split(' ')[1]}`, {
        role: principal.role,
        allowed: roles,
      });
    }
    req.principal = principal;
  });
}

/** The authenticated caller of a route behind installApiAuth. */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new AppError('UNAUTHENTICATED', 'not authenticated');
  return req.principal;
}

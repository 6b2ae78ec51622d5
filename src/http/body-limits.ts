import type { FastifyInstance, RouteOptions } from 'fastify';

/**
 * Request body limits per route (docs/reliability.md). A flow, with its inlined knowledge
 * base (at most 1 MB), travels only on the routes that create an agent or save a draft, and a
 * test suite with its scripted replies on the one that saves it; they take 2 MiB. Every other route carries a few fields (Twilio's webhooks are a couple of
 * kilobytes), so 64 KiB is plenty and a client cannot make the server buffer and parse
 * megabytes of JSON or form data it has no use for. Over the limit: 413 PAYLOAD_TOO_LARGE
 * naming the route's limit.
 */
export const FLOW_BODY_LIMIT = 2 * 1024 * 1024;
export const SMALL_BODY_LIMIT = 64 * 1024;

/** Method and path (with the API prefix) of the routes a flow (or a flow's test suite) travels on. */
const FLOW_ROUTES = new Set(['POST /api/v1/agents', 'PUT /api/v1/agents/:id/draft', 'PUT /api/v1/agents/:id/tests']);

export function bodyLimitFor(method: string, url: string): number {
  return FLOW_ROUTES.has(`${method} ${url}`) ? FLOW_BODY_LIMIT : SMALL_BODY_LIMIT;
}

/** Sets each route's limit as it is added (routes that set their own keep it). */
export function installBodyLimits(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.bodyLimit !== undefined) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    route.bodyLimit = Math.max(...methods.map((m) => bodyLimitFor(m.toUpperCase(), route.url)));
  });
}

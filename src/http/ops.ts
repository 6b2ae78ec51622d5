import type { FastifyInstance } from 'fastify';
import type { Container } from '../container.js';

/** Unauthenticated operational routes: liveness and readiness. */
export async function opsRoutes(app: FastifyInstance, { container }: { container: Container }) {
  app.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/ready', { schema: { hide: true } }, async (_req, reply) => {
    const { pending, shuttingDown } = container.readiness;
    if (shuttingDown) return reply.code(503).send({ status: 'shutting_down' });
    if (pending.size > 0) return reply.code(503).send({ status: 'starting', pending: [...pending] });
    // A provider outage is not this process's fault and another process would fare no better:
    // it reads `degraded` (200) with the breakers' states, so a load balancer keeps sending calls.
    const providers = container.providers.health.report();
    // The SQL history failing: calls go on and their events wait in memory (bounded) for a retry.
    const history = { failing: container.callRecorder.failing, backlog: container.callRecorder.pending };
    // Redis (REDIS_URL) unreachable: calls in progress go on from this process's copies; changes wait.
    const shared = container.liveState.shared;
    const liveState = shared ? { failing: shared.health.failing, backlog: shared.backlog() } : undefined;
    const degraded = providers.status !== 'ok' || history.failing || liveState?.failing === true;
    return { status: degraded ? 'degraded' : 'ready', providers, history, ...(liveState ? { liveState } : {}) };
  });
}

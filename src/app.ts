import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Container } from './container.js';
import { AppError } from './core/errors.js';
import { FLOW_BODY_LIMIT, installBodyLimits } from './http/body-limits.js';
import { clientErrorHandler, frameworkErrorHandler, installErrorHandling } from './http/errors.js';
import { installJsonBodyPolicy, strictValidatorCompiler } from './http/request-body.js';
import { installSecurity } from './http/security.js';
import { opsRoutes } from './http/ops.js';
import { metricsRoutes } from './http/metrics.js';
import { twilioRoutes } from './http/routes/twilio.js';
import { twilioHandoffRoutes } from './http/routes/twilio-handoff.js';
import { benchStatsRoutes } from './http/bench-stats.js';
import { API_PREFIX, installApiAuth } from './http/auth.js';
import { agentRoutes } from './http/routes/agents.js';
import { apiKeyRoutes } from './http/routes/api-keys.js';
import { callRoutes, liveCallRoutes } from './http/routes/calls.js';
import { analyticsRoutes } from './http/routes/analytics.js';
import { outboundRoutes } from './http/routes/outbound.js';
import { phoneNumberRoutes } from './http/routes/phone-numbers.js';
import { testChatRoutes } from './http/routes/test-chat.js';
import { flowTestRoutes } from './http/routes/flow-tests.js';
import { versionDiffRoutes } from './http/routes/version-diff.js';
import { replayRoutes } from './http/routes/replay.js';
import { consoleRoutes } from './http/console.js';
import { staffRoutes } from './http/routes/staff.js';
import { queueRoutes } from './http/routes/queues.js';
import { sessionRoutes } from './http/routes/session.js';
import { workspaceRoutes } from './http/routes/workspace.js';
import { webhookRoutes } from './http/routes/webhooks.js';

/** Media frames larger than this close the socket with 1009 (docs/architecture.md#media-stream-hygiene). */
export const MEDIA_MAX_PAYLOAD_BYTES = 64 * 1024;

/** Path prefixes that keep answering during the shutdown drain. */
const SERVED_WHILE_DRAINING = ['/health', '/ready', '/metrics', '/twilio/'];

/** Builds the Fastify instance; never listens (tests use inject / injectWS). */
export async function buildApp(container: Container): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: container.logger as FastifyBaseLogger,
    // Per-request logs would drown the call logs; routes log what matters.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: FLOW_BODY_LIMIT,
    // Close idle keep-alive sockets promptly on shutdown.
    forceCloseConnections: 'idle',
    // Errors Fastify and Node answer themselves get the same { error } shape (src/http/errors.ts).
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);
  installJsonBodyPolicy(app);
  installBodyLimits(app);
  await installSecurity(app, { publicUrl: container.config.PUBLIC_URL });

  await app.register(formbody);
  await app.register(websocket, {
    options: { maxPayload: MEDIA_MAX_PAYLOAD_BYTES, perMessageDeflate: false },
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'Voice agent runtime API', version: '1' },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // Designed shutdown (src/http/shutdown.ts): new API work gets 503 while the server drains.
  // Health and readiness answer for themselves, and Twilio's routes keep serving: new calls
  // get the unavailable answer there, calls in progress keep their callbacks and streams.
  app.addHook('onRequest', async (req) => {
    if (container.readiness.shuttingDown && !SERVED_WHILE_DRAINING.some((p) => req.url.startsWith(p))) {
      throw new AppError('SHUTTING_DOWN', 'server is shutting down');
    }
  });

  await app.register(opsRoutes, { container });
  await app.register(metricsRoutes, { container });
  await app.register(twilioRoutes, { container });
  const { handoff } = container;
  await app.register(twilioHandoffRoutes, {
    config: container.config,
    logger: container.logger,
    handoffs: handoff.handoffs,
    languageOf: handoff.languageOf,
    onConferenceEvent: (e) =>
      void handoff.liveHandoff.onConferenceEvent(e).catch((err: unknown) => container.logger.error({ err, callSid: e.callerSid }, 'conference event failed')),
    tokens: container.telephony.tokens,
    openFork: handoff.openFork,
    forward: container.telephony.callbacks,
    knows: (callerSid) => handoff.handoffs.get(callerSid) !== undefined || handoff.liveHandoff.has(callerSid),
    clock: container.clock,
    counters: container.telephony.streamCounters,
  });
  if (container.config.BENCH_STATS) await app.register(benchStatsRoutes, { container });
  // The web console (static files); it talks to the API below like any client.
  await app.register(consoleRoutes);

  // Every /api/v1 route is authenticated and checked against the role matrix (src/http/auth.ts).
  await app.register(
    async (api) => {
      // Unknown fields in bodies and query strings are refused on every API route (src/http/request-body.ts).
      api.setValidatorCompiler(strictValidatorCompiler);
      installApiAuth(api, container.persistence.authenticator);
      await api.register(agentRoutes, { container });
      await api.register(phoneNumberRoutes, { container });
      await api.register(apiKeyRoutes, { container });
      await api.register(testChatRoutes, { container });
      await api.register(flowTestRoutes, { container });
      await api.register(versionDiffRoutes, { container });
      await api.register(replayRoutes, { container });
      await api.register(callRoutes, { container });
      await api.register(analyticsRoutes, { container });
      await api.register(liveCallRoutes, { container });
      await api.register(outboundRoutes, { container });
      await api.register(staffRoutes, { container });
      await api.register(queueRoutes, { container });
      await api.register(sessionRoutes, { container });
      await api.register(workspaceRoutes, { container });
      await api.register(webhookRoutes, { container });
    },
    { prefix: API_PREFIX },
  );

  return app;
}

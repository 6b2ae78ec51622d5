import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Container } from '../container.js';
import { AppError } from '../core/errors.js';

/**
 * GET /metrics: the Prometheus text exposition of this process (docs/metrics.md).
 * Outside /api/v1 and its role matrix, like /health: scrapers hold no API key.
 * With METRICS_TOKEN set it wants `Authorization: Bearer <METRICS_TOKEN>`.
 */
export async function metricsRoutes(app: FastifyInstance, { container }: { container: Container }) {
  const token = container.config.METRICS_TOKEN;
  // Hashes have equal lengths, so the comparison takes the same time whatever was sent.
  const expected = token === undefined ? undefined : sha256(token);

  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    if (expected) {
      const given = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
      if (given === undefined || !timingSafeEqual(sha256(given), expected)) {
        reply.header('www-authenticate', 'Bearer realm="metrics"');
        throw new AppError('UNAUTHENTICATED', 'send Authorization: Bearer <METRICS_TOKEN>');
      }
    }
    const { contentType, body } = await container.metrics.render();
    return reply.type(contentType).send(body);
  });
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

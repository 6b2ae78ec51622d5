import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, isAppError } from '../core/errors.js';

/** Every error leaves the server as `{ error: { code, message, details } }` (DESIGN §7). */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, req, reply) => {
    if (isAppError(err)) {
      return reply.code(err.status).send(err.toJSON());
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issues = err.validation.map((v) => ({
        path: `${err.validationContext ?? 'body'}${v.instancePath.replace(/\//g, '.')}`,
        message: v.message,
      }));
      const first = issues[0];
      return reply
        .code(400)
        .send(
          new AppError('VALIDATION_FAILED', first ? `${first.path}: ${first.message}` : 'invalid request', {
            issues,
          }).toJSON(),
        );
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      return reply.code(400).send(new AppError('VALIDATION_FAILED', fe.message, { issues: fe.validation }).toJSON());
    }
    if (fe.statusCode === 413 || fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send(new AppError('PAYLOAD_TOO_LARGE', 'request body too large').toJSON());
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.code(fe.statusCode).send(new AppError('BAD_REQUEST', fe.message).toJSON());
    }
    req.log.error({ err }, 'unhandled error');
    return reply.code(500).send(new AppError('INTERNAL', 'internal error').toJSON());
  });

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(new AppError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`).toJSON());
  });
}

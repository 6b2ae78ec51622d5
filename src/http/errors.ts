import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, isAppError, type ErrorCode } from '../core/errors.js';

/**
 * Every error leaves the server as `{ error: { code, message, details? } }`
 * (docs/api.md "Errors"): AppErrors, validation failures, Fastify's own
 * errors (bad JSON, 413, 414, 415, bad URL encoding, unknown routes) and the
 * errors Node answers before Fastify sees a request (431, malformed HTTP).
 * Echoed input is cut to MAX_ECHO_CHARS so an error never repeats a megabyte back.
 */

/** Longest piece of the request an error message or detail repeats. */
export const MAX_ECHO_CHARS = 200;

export function truncateEcho(text: string, max = MAX_ECHO_CHARS): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Strings inside error details, cut; arrays cut to their first 50 entries. */
function boundDetails(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return truncateEcho(value);
  if (depth > 6) return undefined;
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => boundDetails(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[truncateEcho(k)] = boundDetails(v, depth + 1);
    return out;
  }
  return value;
}

function send(reply: FastifyReply, err: AppError, status = err.status) {
  const bounded = new AppError(err.code, truncateEcho(err.message, MAX_ECHO_CHARS * 2), err.details === undefined ? undefined : boundDetails(err.details));
  return reply.code(status).send(bounded.toJSON());
}

/** `body` + `/nodes/0/id` → `body.nodes.0.id`; the body itself is `body` (no trailing dot). */
function issuePath(context: string, instancePath: string, params: unknown): string {
  const keys = (params as { keys?: unknown } | undefined)?.keys;
  const base = [context, ...instancePath.split('/').filter(Boolean)].join('.');
  // An unknown field is named in the path, as PATCH /agents always did in its message.
  return Array.isArray(keys) && keys.length === 1 ? `${base}.${String(keys[0])}` : base;
}

const CODE_BY_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  431: 'HEADERS_TOO_LARGE',
};

const CODE_BY_FASTIFY: Partial<Record<string, ErrorCode>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
};

/** A Fastify (or Node) error as an AppError with its own status. */
function fromFastify(fe: FastifyError, bodyLimit?: number): { error: AppError; status: number } | undefined {
  const status = fe.statusCode;
  if (!status || status < 400 || status >= 500) return undefined;
  const code = CODE_BY_FASTIFY[fe.code] ?? CODE_BY_STATUS[status] ?? 'BAD_REQUEST';
  // The route's own limit (src/http/body-limits.ts), so a client knows what fits.
  if (code === 'PAYLOAD_TOO_LARGE' && bodyLimit !== undefined) {
    return { error: new AppError(code, `request body too large: this route takes at most ${bodyLimit} bytes`, { limit: bodyLimit }), status };
  }
  const message =
    code === 'PAYLOAD_TOO_LARGE'
      ? 'request body too large'
      : code === 'URI_TOO_LONG'
        ? 'a path parameter is too long'
        : code === 'BAD_REQUEST' && fe.code === 'FST_ERR_BAD_URL'
          ? 'the URL is not validly encoded'
          : fe.message;
  return { error: new AppError(code, message), status };
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, req, reply) => {
    if (isAppError(err)) return send(reply, err);
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issues = err.validation.map((v) => ({
        path: issuePath(err.validationContext ?? 'body', v.instancePath, v.params),
        message: v.message,
      }));
      const first = issues[0];
      return send(reply, new AppError('VALIDATION_FAILED', first ? `${first.path}: ${first.message}` : 'invalid request', { issues }));
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      return send(reply, new AppError('VALIDATION_FAILED', fe.message, { issues: fe.validation }));
    }
    const mapped = fromFastify(fe, req.routeOptions?.bodyLimit);
    if (mapped) return send(reply, mapped.error, mapped.status);
    req.log.error({ err }, 'unhandled error');
    return send(reply, new AppError('INTERNAL', 'internal error'));
  });

  app.setNotFoundHandler((req, reply) => {
    send(reply, new AppError('NOT_FOUND', `no route ${req.method} ${truncateEcho(req.url.split('?')[0] ?? '')}`));
  });
}

/** For Fastify's `frameworkErrors` option: bad URL encoding, over-long path parameters. */
export function frameworkErrorHandler(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const mapped = fromFastify(err) ?? { error: new AppError('BAD_REQUEST', 'bad request'), status: 400 };
  void send(reply, mapped.error, mapped.status);
}

/**
 * For Fastify's `clientErrorHandler` option: what Node rejects before there is a
 * request (headers over the size limit, malformed HTTP), answered in the same shape.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, error] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, new AppError('HEADERS_TOO_LARGE', 'request headers too large')]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, new AppError('BAD_REQUEST', 'request timed out')]
        : [400, new AppError('BAD_REQUEST', 'malformed HTTP request')];
  const body = JSON.stringify(error.toJSON());
  if (!socket.writable) return void socket.destroy();
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

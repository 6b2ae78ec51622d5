import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../core/errors.js';

/**
 * What every JSON route accepts, in one place:
 * - unknown fields in a body or query string are refused with 400 naming them
 *   (`strictValidatorCompiler`; a schema that is explicitly loose stays loose);
 * - JSON nested deeper than MAX_JSON_DEPTH is refused with 400 BODY_TOO_DEEP
 *   before it is parsed (deep values overflow the stack later, in JSON.stringify);
 * - an empty body with `Content-Type: application/json` is no body at all (curl
 *   sessions send the header on DELETE too).
 */

/** Deepest nesting of objects and arrays a JSON request body may have. */
export const MAX_JSON_DEPTH = 64;

/** zod objects made strict, through optional / nullable wrappers. */
export function strictSchema(schema: z.ZodType): z.ZodType {
  if (schema instanceof z.ZodObject) {
    // `catchall` is set by .strict() (never) and .loose()/.passthrough() (unknown): respect both.
    return schema.def.catchall === undefined ? schema.strict() : schema;
  }
  if (schema instanceof z.ZodOptional) return strictSchema(schema.unwrap() as z.ZodType).optional();
  if (schema instanceof z.ZodNullable) return strictSchema(schema.unwrap() as z.ZodType).nullable();
  return schema;
}

const strictParts = new Set(['body', 'querystring']);

/** The zod validator compiler, refusing unknown fields in bodies and query strings. */
export const strictValidatorCompiler: FastifySchemaCompiler<z.ZodType> = (route) =>
  validatorCompiler({ ...route, schema: strictParts.has(route.httpPart ?? '') ? strictSchema(route.schema) : route.schema });

const STRUCTURE = /["[\]{}]/g;
const STRING_END = /["\\]/g;

/**
 * The deepest nesting in a JSON text, counted without parsing; stops early past
 * `limit`. Regular expressions jump from one bracket or quote to the next, so
 * long strings cost little (a 1.7 MB flow takes a few milliseconds).
 */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  STRUCTURE.lastIndex = 0;
  for (let m = STRUCTURE.exec(text); m; m = STRUCTURE.exec(text)) {
    const c = m[0];
    if (c === '"') {
      // Skip to the closing quote, stepping over escapes.
      STRING_END.lastIndex = STRUCTURE.lastIndex;
      for (let e = STRING_END.exec(text); ; e = STRING_END.exec(text)) {
        if (!e) return max; // unterminated: JSON.parse reports it
        if (e[0] === '"') break;
        STRING_END.lastIndex++; // the escaped character
      }
      STRUCTURE.lastIndex = STRING_END.lastIndex;
    } else if (c === '{' || c === '[') {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else depth--;
  }
  return max;
}

/** Replaces the JSON body parser of `app` (and its children) with the checked one. */
export function installJsonBodyPolicy(app: FastifyInstance): void {
  // Fastify's own parser: refuses "__proto__" keys and constructor.prototype poisoning.
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
      return done(
        new AppError('BODY_TOO_DEEP', `the request body nests deeper than ${MAX_JSON_DEPTH} levels, the limit (MAX_JSON_DEPTH)`, {
          limit: MAX_JSON_DEPTH,
        }),
        undefined,
      );
    }
    parse(req, text, done);
  });
}

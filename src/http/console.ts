import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';

/** Where `npm run build:console` (run by `npm install`) writes the console. */
export const CONSOLE_DIST = fileURLToPath(new URL('../../dist/console/', import.meta.url));

export const CONSOLE_PREFIX = '/console';

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Console not built</title>
<h1>The console is not built</h1>
<p>Run <code>npm run build:console</code> (or <code>npm install</code>, which builds it), then reload this page.
The API under <code>/api/v1</code> works without it.</p></html>`;

/**
 * Serves the web console (docs/console.md) under /console: hashed assets with a
 * long cache life, and index.html for every other path so deep links such as
 * /console/agents/clinic load the app, which routes on the client. Sets no
 * security headers of its own; the app-wide ones apply.
 */
export async function consoleRoutes(app: FastifyInstance, opts: { root?: string } = {}): Promise<void> {
  const root = opts.root ?? CONSOLE_DIST;

  if (!existsSync(join(root, 'index.html'))) {
    app.log.warn({ root }, 'console not built: /console answers 503 until `npm run build:console`');
    const notBuilt = async (_req: FastifyRequest, reply: FastifyReply) =>
      reply.code(503).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
    app.get(CONSOLE_PREFIX, notBuilt);
    app.get(`${CONSOLE_PREFIX}/*`, notBuilt);
    return;
  }

  const assets = join(root, 'assets');
  await app.register(
    async (scope) => {
      await scope.register(fastifyStatic, {
        root,
        prefix: '/',
        index: false,
        // The build writes .br/.gz next to each file (scripts/build-console.ts).
        preCompressed: true,
        // Hashed file names never change content; index.html must always be revalidated.
        setHeaders(reply, path) {
          reply.header('cache-control', path.startsWith(assets) ? 'public, max-age=31536000, immutable' : 'no-cache');
        },
      });
      const sendIndex = (reply: FastifyReply) => reply.header('cache-control', 'no-cache').sendFile('index.html');
      // In a prefixed scope '/' answers both /console and /console/.
      scope.get('/', async (_req, reply) => sendIndex(reply));
      // Unknown paths: client-side routes get the app; a missing asset is a real 404.
      scope.setNotFoundHandler(async (req, reply) => {
        const path = req.url.split('?')[0] ?? '';
        if (req.method !== 'GET' && req.method !== 'HEAD') return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${path}` } });
        if (/\.[a-z0-9]+$/i.test(path)) return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no file ${path}` } });
        return sendIndex(reply);
      });
    },
    { prefix: CONSOLE_PREFIX },
  );
}

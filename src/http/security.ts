import helmet from '@fastify/helmet';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.js';

/**
 * Security headers and the cross-origin policy (docs/api.md "Security headers and CORS").
 *
 * Headers come from @fastify/helmet. The Content-Security-Policy suits the JSON
 * API, the Swagger UI under /docs (its scripts and styles are files of our own
 * origin; it sets inline styles and uses data: images) and a console served
 * from this origin: nothing may load from elsewhere, be framed, or post
 * forms elsewhere.
 *
 * CORS: no cross-origin access at all. No Access-Control-Allow-* header is ever
 * sent, and a request whose Origin is another site is refused (403) before it
 * runs, so even "simple" cross-site requests a browser sends without a
 * preflight have no effect. Same-origin pages (the console) and clients that
 * send no Origin (curl, SDKs) are unaffected; /twilio/* is Twilio's, whatever it sends.
 */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'", 'data:'],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  imgSrc: ["'self'", 'data:'],
  objectSrc: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  // Not upgrade-insecure-requests: local development runs on plain http.
  upgradeInsecureRequests: null,
};

export async function installSecurity(app: FastifyInstance, options: { publicUrl: string }): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    // The API is read by scripts of this origin only.
    crossOriginResourcePolicy: { policy: 'same-origin' },
    // The media stream and webhooks are behind PUBLIC_URL, usually https; HSTS is set there by the proxy too.
    hsts: { maxAge: 15552000, includeSubDomains: false },
  });
  const publicOrigin = new URL(options.publicUrl).origin;
  app.addHook('onRequest', async (req) => {
    const origin = req.headers.origin;
    if (origin === undefined || isSameOrigin(origin, req, publicOrigin)) return;
    // Twilio's webhooks and media stream are checked by signature and stream token instead.
    if (req.url.startsWith('/twilio/')) return;
    throw new AppError('FORBIDDEN', 'cross-origin requests are not allowed');
  });
}

function isSameOrigin(origin: string, req: FastifyRequest, publicOrigin: string): boolean {
  if (origin === publicOrigin) return true;
  const host = req.headers.host;
  if (!host) return false;
  return origin === `http://${host}` || origin === `https://${host}`;
}

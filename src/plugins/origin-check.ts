import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route accepts state-changing requests from other sites. Only the envelope's "Open"
     * button needs it: securedoc.html is a local file (Origin: null) posting to the key service.
     */
    crossSite?: boolean;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF defence for every cookie-authenticated route: a request that changes state must come from
 * this origin, shown by Sec-Fetch-Site (every current browser sends it) or, failing that, by an
 * Origin equal to PUBLIC_URL's. A browser request carrying neither is refused too. Bearer-token
 * APIs (/api/) carry no cookies and are not checked here; SameSite=Lax cookies are the second line.
 */
export function registerOriginCheck(
  app: FastifyInstance,
  opts: { publicUrl: string; refuse: (request: FastifyRequest, reply: FastifyReply) => FastifyReply },
): void {
  const expected = new URL(opts.publicUrl).origin;
  app.addHook('onRequest', async (request, reply) => {
    if (SAFE_METHODS.has(request.method)) return;
    if (request.url.startsWith('/api/')) return;
    if (request.routeOptions.config?.crossSite === true) return;
    if (isSameOrigin(request, expected)) return;
    request.log.warn({ origin: request.headers.origin, fetchSite: request.headers['sec-fetch-site'], url: request.routeOptions.url }, 'cross-site request refused');
    return opts.refuse(request, reply);
  });
}

export function isSameOrigin(request: FastifyRequest, expectedOrigin: string): boolean {
  const site = request.headers['sec-fetch-site'];
  const origin = request.headers.origin;
  // With Referrer-Policy: no-referrer, Chromium sends "Origin: null" on same-origin form posts;
  // Sec-Fetch-Site is set by the browser alone (pages cannot forge it), so it decides then.
  if (typeof site === 'string') return site === 'same-origin' && (origin === undefined || origin === 'null' || origin === expectedOrigin);
  return origin === expectedOrigin;
}

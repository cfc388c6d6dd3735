import type { FastifyInstance } from 'fastify';

/**
 * Strict defaults for every response. Pages that need more (the API browser) set their own
 * Content-Security-Policy before this hook runs, and it is left alone.
 */
export const DEFAULT_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', DEFAULT_CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    // A page that may be framed by this site (the console's template preview) says so itself.
    if (!reply.hasHeader('x-frame-options')) reply.header('x-frame-options', 'DENY');
    if (!reply.hasHeader('cross-origin-resource-policy')) {
      reply.header('cross-origin-resource-policy', request.url.startsWith('/payloads/') ? 'cross-origin' : 'same-origin');
    }
    return payload;
  });
}

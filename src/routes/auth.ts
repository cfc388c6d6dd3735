import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../domain/errors.ts';

/** The bearer token of a request, or an error that becomes 401 (never saying why it failed). */
export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!m) throw new DomainError('unauthenticated', 'Send a valid token in the Authorization header (Bearer).');
  return m[1]!;
}

const INVALID_TOKEN = 'The token is not valid, was revoked, or belongs to something else.';

/**
 * Makes every route of this plugin require a bearer token that `authenticate` accepts, and
 * returns the accessor for the request's principal. Unknown, revoked and malformed tokens all
 * get the same 401.
 */
export function requireBearer<P extends object>(
  app: FastifyInstance,
  authenticate: (token: string) => Promise<P | null>,
): (request: FastifyRequest) => P {
  const principals = new WeakMap<FastifyRequest, P>();
  app.addHook('onRequest', async (request) => {
    const principal = await authenticate(bearerToken(request));
    if (!principal) throw new DomainError('unauthenticated', INVALID_TOKEN);
    principals.set(request, principal);
  });
  return (request) => principals.get(request)!;
}

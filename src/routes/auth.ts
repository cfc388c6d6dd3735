import type { FastifyRequest } from 'fastify';
import { DomainError } from '../domain/errors.ts';

/** The bearer token of a request, or an error that becomes 401 (never saying why it failed). */
export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!m) throw new DomainError('unauthenticated', 'Send a valid token in the Authorization header (Bearer).');
  return m[1]!;
}

export const INVALID_TOKEN = 'The token is not valid, was revoked, or belongs to something else.';

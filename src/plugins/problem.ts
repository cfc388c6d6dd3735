import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { DomainError, type DomainErrorCode } from '../domain/errors.ts';

/**
 * Every error leaves as application/problem+json (RFC 9457). Domain errors carry their own
 * message, meant for the person or program that sent the request; anything unexpected is
 * logged with its stack and answered with a generic sentence, so internals never leak.
 */
const STATUS: Record<DomainErrorCode, number> = {
  not_found: 404,
  conflict: 409,
  unauthenticated: 401,
  forbidden: 403,
  invalid: 422,
  too_large: 413,
  already_initialised: 409,
};

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Authentication required',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  415: 'Unsupported media type',
  422: 'Invalid request',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'Service unavailable',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: readonly string[];
}

export function sendProblem(reply: FastifyReply, status: number, code: string, detail: string, errors?: readonly string[]): FastifyReply {
  const body: Problem = { type: `urn:waxseal:problem:${code}`, title: TITLES[status] ?? 'Error', status, detail };
  if (errors && errors.length > 0) body.errors = errors;
  if (status === 401) reply.header('www-authenticate', 'Bearer');
  return reply.code(status).type('application/problem+json; charset=utf-8').send(body);
}

export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | DomainError, request, reply) => {
    if (error instanceof DomainError) {
      return sendProblem(reply, STATUS[error.code], error.code, error.message, error.details);
    }
    if ('validation' in error && error.validation) {
      const errors = error.validation.map((v) => `${v.instancePath || '(body)'} ${v.message ?? 'is invalid'}`.trim());
      return sendProblem(reply, 400, 'validation', 'The request does not match the API schema.', errors);
    }
    const status = 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : 500;
    if (status >= 400 && status < 500) {
      const code = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'too_large' : (error.code ?? 'bad_request').toLowerCase();
      return sendProblem(reply, status, code, error.message);
    }
    request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, 500, 'internal', 'Something went wrong on our side. The request was not completed; try again.');
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, 404, 'not_found', `Nothing is at ${request.method} ${request.url.split('?')[0]}.`));
}

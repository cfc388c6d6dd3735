/**
 * Rules the domain refuses to break. Routes never decide status codes for these: the one
 * error handler in app.ts maps each code to an HTTP status and a problem+json body.
 */
export type DomainErrorCode =
  | 'not_found'
  | 'conflict'
  | 'unauthenticated'
  | 'forbidden'
  | 'invalid'
  | 'too_large'
  | 'already_initialised';

export class DomainError extends Error {
  readonly code: DomainErrorCode;
  readonly details: readonly string[];
  constructor(code: DomainErrorCode, message: string, details: readonly string[] = []) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.details = details;
  }
}

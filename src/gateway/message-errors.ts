/**
 * Errors raised while reading an outgoing message before it is sealed.
 *
 * The gateway turns these into a bounce or an SMTP reply that goes back to
 * the person who sent the mail, so every message is written for that person:
 * it names the header involved, quotes what they wrote, and says what would
 * have been accepted instead.
 */

export type MessageErrorCode =
  | 'message_too_large'
  | 'message_malformed'
  | 'header_invalid'
  | 'message_empty';

export interface MessageErrorOptions {
  /** Name of the header the problem is about, e.g. "X-PostX-ExpirationDate" or "From". */
  header?: string;
  cause?: unknown;
}

export class MessageError extends Error {
  readonly code: MessageErrorCode;
  readonly header?: string;

  constructor(code: MessageErrorCode, message: string, options: MessageErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MessageError';
    this.code = code;
    // Left absent rather than undefined so `'header' in err` and JSON output stay honest.
    if (options.header !== undefined) this.header = options.header;
  }
}


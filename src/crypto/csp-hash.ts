import { createHash } from 'node:crypto';

/** The CSP source expression for an inline element with exactly this text. */
export function sha256Source(text: string): string {
  return `sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}`;
}

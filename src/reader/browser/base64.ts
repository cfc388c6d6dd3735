/**
 * Base64 or base64url text to bytes, in the browser (no Buffer there). atob ignores the line
 * breaks an envelope file's 7bit encoding puts into long values.
 */
export function fromBase64(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

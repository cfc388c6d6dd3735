import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Bearer tokens of the form `<prefix>_<id>.<secret>`. The id is a lookup key and may appear
 * in logs; the secret never does. Only SHA-256(secret) is stored: the secret is 32 random
 * bytes, so a slow hash would add nothing but latency. Comparison is constant-time.
 */
export interface IssuedToken {
  id: string;
  token: string;
  secretHash: Buffer;
}

const ID_BYTES = 9;
const SECRET_BYTES = 32;

export function issueToken(prefix: string): IssuedToken {
  const id = randomBytes(ID_BYTES).toString('base64url');
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  return { id, token: `${prefix}_${id}.${secret}`, secretHash: hashSecret(secret) };
}

export function parseToken(prefix: string, token: string): { id: string; secret: string } | null {
  const m = new RegExp(`^${prefix}_([A-Za-z0-9_-]{12})\\.([A-Za-z0-9_-]{43})$`).exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : null;
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function secretMatches(secret: string, storedHash: Uint8Array): boolean {
  const actual = hashSecret(secret);
  return storedHash.length === actual.length && timingSafeEqual(actual, storedHash);
}

/** Compares equal-length byte strings without early exit; different lengths are unequal. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

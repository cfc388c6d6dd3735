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

const ID_LENGTH = 12;
const SECRET_BYTES = 32;
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Ids are typed in shells (`waxseal profile revoke ID`), so they use letters and digits only:
 * a base64url id starting with '-' read as an option. 62^12 ≈ 2^71; ids are not secret.
 */
function randomId(): string {
  let id = '';
  while (id.length < ID_LENGTH) {
    for (const byte of randomBytes(16)) {
      // 248 = 4 × 62: rejecting larger bytes keeps every character equally likely.
      if (byte < 248 && id.length < ID_LENGTH) id += ID_ALPHABET[byte % 62];
    }
  }
  return id;
}

export function issueToken(prefix: string): IssuedToken {
  const id = randomId();
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

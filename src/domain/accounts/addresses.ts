import { createHash } from 'node:crypto';

/** RFC 5321 limits a path to 256 octets including the angle brackets, so an address to 254. */
const MAX_ADDRESS_LENGTH = 254;
// Deliberately loose: one @, no spaces or angle brackets, a dot in the domain. Whether the
// address works is proven by the verification mail, not by a pattern.
const ADDRESS = /^[^\s@<>(),;:"\\]+@[^\s@<>(),;:"\\]+\.[^\s@<>(),;:"\\]+$/;

/**
 * The form in which addresses are stored and compared: trimmed and lower-cased whole. Local
 * parts are case-sensitive in theory only; every mail system in use treats them as not, and
 * envelope recipients are stored lower-cased too. Null when it is not an address.
 */
export function normaliseAddress(input: unknown): string | null {
  if (typeof input !== 'string') return null;
  const address = input.trim().toLowerCase();
  if (address.length > MAX_ADDRESS_LENGTH || !ADDRESS.test(address)) return null;
  return address;
}

/**
 * A stable key for an address that is not stored as such (throttle counters for addresses that
 * may belong to nobody): SHA-256 of the normalised form, or of the trimmed input when it is not
 * an address at all.
 */
export function addressKey(input: string): string {
  const address = normaliseAddress(input) ?? input.trim().toLowerCase();
  return createHash('sha256').update(address, 'utf8').digest('base64url');
}

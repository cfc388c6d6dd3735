import { createHash } from 'node:crypto';

/** One audit record as the chain sees it. */
export interface AuditEntry {
  seq: number;
  orgId: string | null;
  at: Date;
  /** who did it: 'account:ID', 'admin:EMAIL', 'gateway:CREDENTIAL', 'system' */
  actor: string;
  /** what: 'release', 'credential.provision', 'profile.update', ... */
  action: string;
  /** what it was done to: an envelope id, a profile name; null when nothing in particular */
  subject: string | null;
  detail: Record<string, unknown>;
}

/** The hash before the first record. */
export const GENESIS = new Uint8Array(32);

/**
 * The bytes a record's hash covers: a JSON array of its fields in a fixed order, object keys
 * sorted at every depth, the time as ISO 8601 in milliseconds. The same record always gives
 * the same bytes, whichever driver read it back (jsonb does not keep key order).
 */
export function canonicalRecord(entry: AuditEntry): string {
  return JSON.stringify([entry.seq, entry.orgId, entry.at.toISOString(), entry.actor, entry.action, entry.subject, sortKeys(entry.detail)]);
}

/** hash_n = SHA-256(hash_{n-1} || canonical(record n)) */
export function chainHash(previous: Uint8Array, entry: AuditEntry): Uint8Array {
  return new Uint8Array(createHash('sha256').update(previous).update(canonicalRecord(entry), 'utf8').digest());
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

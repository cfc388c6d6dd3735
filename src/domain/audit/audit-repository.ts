import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { chainHash, type AuditEntry } from './audit-chain.ts';

export type NewAuditEntry = Omit<AuditEntry, 'seq'>;
export type StoredAuditEntry = AuditEntry & { hash: Uint8Array };

const COLUMNS = ['seq', 'org_id', 'at', 'actor', 'action', 'subject', 'detail', 'hash'] as const;

/**
 * Appends entries to the chain inside the caller's transaction: locks the head (which orders
 * concurrent appenders, on every node), hashes each entry onto the one before, inserts them and
 * moves the head. Must run in a transaction, or the lock would end before the insert.
 */
export async function appendEntries(tx: Kysely<DB>, entries: readonly NewAuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const head = await tx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).forUpdate().executeTakeFirstOrThrow();
  let seq = Number(head.seq);
  let hash: Uint8Array = head.hash;
  const rows = entries.map((entry) => {
    seq += 1;
    hash = chainHash(hash, { ...entry, seq });
    return { seq, org_id: entry.orgId, at: entry.at, actor: entry.actor, action: entry.action, subject: entry.subject, detail: JSON.stringify(entry.detail), hash: Buffer.from(hash) };
  });
  await tx.insertInto('audit_records').values(rows).execute();
  await tx.updateTable('audit_head').set({ seq, hash: Buffer.from(hash) }).where('id', '=', 1).execute();
}

/**
 * Chains release attempts written since the last call: up to `limit` rows of release_events
 * after the head's cursor, in id order, each becoming an audit record ('release'), and the
 * cursor moved past them, in the caller's transaction under the head's lock. Returns how many.
 */
export async function chainReleaseEvents(tx: Kysely<DB>, limit: number): Promise<number> {
  const head = await tx.selectFrom('audit_head').select(['seq', 'hash', 'release_cursor']).where('id', '=', 1).forUpdate().executeTakeFirstOrThrow();
  const events = await tx
    .selectFrom('release_events as e')
    .leftJoin('envelopes as v', 'v.id', 'e.envelope_id')
    .select(['e.id', 'e.envelope_id', 'e.account_id', 'e.address', 'e.at', 'e.ip', 'e.mode', 'e.result', 'v.org_id'])
    .where('e.id', '>', Number(head.release_cursor))
    .orderBy('e.id')
    .limit(limit)
    .execute();
  if (events.length === 0) return 0;
  let seq = Number(head.seq);
  let hash: Uint8Array = head.hash;
  const rows = events.map((e) => {
    seq += 1;
    const entry: AuditEntry = {
      seq,
      orgId: e.org_id ?? null,
      at: e.at,
      actor: e.account_id ? `account:${e.account_id}` : 'anonymous',
      action: 'release',
      subject: e.envelope_id,
      detail: { result: e.result, mode: e.mode, address: e.address, ip: e.ip },
    };
    hash = chainHash(hash, entry);
    return { seq, org_id: entry.orgId, at: entry.at, actor: entry.actor, action: entry.action, subject: entry.subject, detail: JSON.stringify(entry.detail), hash: Buffer.from(hash) };
  });
  await tx.insertInto('audit_records').values(rows).execute();
  await tx
    .updateTable('audit_head')
    .set({ seq, hash: Buffer.from(hash), release_cursor: Number(events[events.length - 1]!.id) })
    .where('id', '=', 1)
    .execute();
  return events.length;
}

export async function readHead(db: Kysely<DB>): Promise<{ seq: number; hash: Uint8Array }> {
  const head = await db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
  return { seq: Number(head.seq), hash: head.hash };
}

/** Records after `afterSeq` in chain order, at most `limit` (the verifier pages through all). */
export async function readAfter(db: Kysely<DB>, afterSeq: number, limit: number): Promise<StoredAuditEntry[]> {
  const rows = await db.selectFrom('audit_records').select(COLUMNS).where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
  return rows.map(toEntry);
}

export interface AuditFilter {
  orgId: string;
  action?: string;
  actor?: string;
  subject?: string;
  from?: Date;
  to?: Date;
  afterSeq?: number;
  limit: number;
}

/** One organisation's records, oldest first, filtered. */
export async function listEntries(db: Kysely<DB>, f: AuditFilter): Promise<StoredAuditEntry[]> {
  let q = db.selectFrom('audit_records').select(COLUMNS).where('org_id', '=', f.orgId);
  if (f.action) q = q.where('action', '=', f.action);
  if (f.actor) q = q.where('actor', '=', f.actor);
  if (f.subject) q = q.where('subject', '=', f.subject);
  if (f.from) q = q.where('at', '>=', f.from);
  if (f.to) q = q.where('at', '<', f.to);
  if (f.afterSeq !== undefined) q = q.where('seq', '>', f.afterSeq);
  return (await q.orderBy('seq').limit(f.limit).execute()).map(toEntry);
}

function toEntry(row: { seq: number; org_id: string | null; at: Date; actor: string; action: string; subject: string | null; detail: unknown; hash: Uint8Array }): StoredAuditEntry {
  const detail = typeof row.detail === 'string' ? (JSON.parse(row.detail) as Record<string, unknown>) : (row.detail as Record<string, unknown>);
  return { seq: Number(row.seq), orgId: row.org_id, at: row.at, actor: row.actor, action: row.action, subject: row.subject, detail, hash: new Uint8Array(row.hash) };
}

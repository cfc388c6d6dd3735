import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { uploadFinished } from '../envelopes/envelope-repository.ts';

const COLUMNS = ['id', 'org_id', 'sender', 'subject', 'created_at', 'expires_at', 'read_by', 'locked_at', 'lock_reason', 'recipients_to', 'recipients_cc', 'recipients_bcc'] as const;

/** A LIKE pattern matching `q` anywhere, its own wildcards taken literally. */
const likePattern = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
const anyRecipientLike = (like: string) => sql<boolean>`exists (select 1 from unnest(recipients_to || recipients_cc || recipients_bcc) as r(address) where r.address ilike ${like})`;

export type SentRow = Awaited<ReturnType<typeof listSent>>['rows'][number];

/** Envelopes sent from any of `senders`, newest first, optionally filtered by subject or recipient. */
export async function listSent(db: Kysely<DB>, senders: readonly string[], opts: { q: string | null; offset: number; limit: number }) {
  let query = db.selectFrom('envelopes').where('sender', 'in', senders).where(uploadFinished);
  if (opts.q) {
    const like = likePattern(opts.q);
    query = query.where((eb) => eb.or([eb('subject', 'ilike', like), anyRecipientLike(like)]));
  }
  const rows = await query.select(COLUMNS).orderBy('created_at', 'desc').orderBy('id').offset(opts.offset).limit(opts.limit + 1).execute();
  return { rows: rows.slice(0, opts.limit), more: rows.length > opts.limit };
}

/** Envelopes of an organisation, or of some of its profiles only (`profileIds` not null). */
export interface OrgScope {
  orgId: string;
  profileIds: readonly string[] | null;
}

// An empty list of profiles matches nothing (an "in ()" would be a syntax error).
const inScope = (scope: OrgScope) => (eb: ExpressionBuilder<DB, 'envelopes'>) =>
  scope.profileIds === null ? eb('org_id', '=', scope.orgId) : scope.profileIds.length === 0 ? eb.val(false) : eb.and([eb('org_id', '=', scope.orgId), eb('profile_id', 'in', scope.profileIds)]);

/** An organisation's envelopes, newest first (administrators: metadata only, never content). */
export async function listInOrg(db: Kysely<DB>, scope: OrgScope, opts: { q: string | null; offset: number; limit: number }) {
  let query = db.selectFrom('envelopes').where(inScope(scope)).where(uploadFinished);
  if (opts.q) {
    const like = likePattern(opts.q);
    query = query.where((eb) => eb.or([eb('subject', 'ilike', like), eb('sender', 'ilike', like), anyRecipientLike(like)]));
  }
  const rows = await query.select(COLUMNS).orderBy('created_at', 'desc').orderBy('id').offset(opts.offset).limit(opts.limit + 1).execute();
  return { rows: rows.slice(0, opts.limit), more: rows.length > opts.limit };
}

export async function findInOrg(db: Kysely<DB>, scope: OrgScope, id: string) {
  return (await db.selectFrom('envelopes').select(COLUMNS).where('id', '=', id).where(inScope(scope)).executeTakeFirst()) ?? null;
}

export async function findSent(db: Kysely<DB>, senders: readonly string[], id: string) {
  return (await db.selectFrom('envelopes').select(COLUMNS).where('id', '=', id).where('sender', 'in', senders).executeTakeFirst()) ?? null;
}

export async function openingsOf(db: Kysely<DB>, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return db.selectFrom('envelope_openings').select(['envelope_id', 'address', 'first_opened_at']).where('envelope_id', 'in', ids).execute();
}

export async function setLock(db: Kysely<DB>, id: string, lock: { at: Date; reason: string } | null): Promise<void> {
  await db
    .updateTable('envelopes')
    .set(lock ? { locked_at: lock.at, lock_reason: lock.reason } : { locked_at: null, lock_reason: null })
    .where('id', '=', id)
    .execute();
}

/** New dates; a new read-by date is owed a notice of its own, so that state starts over. */
export async function setDates(db: Kysely<DB>, id: string, dates: { expiresAt: Date | null; readBy: Date | null }, readByChanged: boolean): Promise<void> {
  await db
    .updateTable('envelopes')
    .set({
      expires_at: dates.expiresAt,
      read_by: dates.readBy,
      ...(readByChanged ? { read_by_notified_at: null, read_by_claimed_at: null, read_by_claimed_by: null } : {}),
    })
    .where('id', '=', id)
    .execute();
}

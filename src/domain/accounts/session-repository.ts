import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { settleCtes, type CounterSettlement } from './throttle-repository.ts';

const LISTED = ['id', 'remember', 'created_at', 'last_seen_at', 'user_agent', 'ip'] as const;

/**
 * Inserts a session and, in the same statement, deletes the account's dead ones (revoked or idle
 * since `dead.idleBefore`, or created before `dead.createdBefore`): housekeeping where it costs no
 * extra round trip. With `settle`, the sign-in's throttle counters are settled in it too.
 */
export async function insertSession(
  db: Kysely<DB>,
  row: { id: string; accountId: string; secretHash: Uint8Array; remember: boolean; at: Date; passphraseAt: Date; userAgent: string | null; ip: string | null },
  dead?: { idleBefore: Date; createdBefore: Date },
  settle?: CounterSettlement,
) {
  const isDead = dead ? sql`(revoked_at < ${dead.idleBefore} OR last_seen_at < ${dead.idleBefore} OR created_at < ${dead.createdBefore})` : sql`false`;
  await sql`WITH ${settle ? sql`${settleCtes(settle)},` : sql``}
    swept AS (DELETE FROM account_sessions WHERE account_id = ${row.accountId} AND ${isDead} RETURNING id)
    INSERT INTO account_sessions (id, account_id, secret_hash, remember, created_at, passphrase_at, last_seen_at, user_agent, ip)
    VALUES (${row.id}, ${row.accountId}, ${row.secretHash}, ${row.remember}, ${row.at}, ${row.passphraseAt}, ${row.at}, ${row.userAgent}, ${row.ip})`.execute(db);
}

/** One of the two queries that read secret_hash (findSessionsWithAddresses is the other). */
export async function findSessionForAuth(db: Kysely<DB>, id: string) {
  return db
    .selectFrom('account_sessions')
    .select(['id', 'account_id', 'secret_hash', 'remember', 'created_at', 'passphrase_at', 'last_seen_at', 'revoked_at'])
    .where('id', '=', id)
    .executeTakeFirst();
}

/**
 * findSessionForAuth with the account's verified addresses (in the order listVerifiedAddresses
 * gives), in one statement: what a key release needs to know about who is asking. Several
 * sessions at once: concurrent releases share the statement (src/db/read-batcher.ts).
 */
export async function findSessionsWithAddresses(db: Kysely<DB>, ids: string[]) {
  return db
    .selectFrom('account_sessions')
    .select(['id', 'account_id', 'secret_hash', 'remember', 'created_at', 'passphrase_at', 'last_seen_at', 'revoked_at'])
    .select(
      sql<string[]>`array(SELECT a.address FROM account_addresses a WHERE a.account_id = account_sessions.account_id AND a.verified_at IS NOT NULL ORDER BY a.verified_at, a.address)`.as('addresses'),
    )
    .where('id', '=', (eb) => eb.fn.any(eb.val(ids)))
    .execute();
}

export async function touchSession(db: Kysely<DB>, id: string, at: Date) {
  await db.updateTable('account_sessions').set({ last_seen_at: at }).where('id', '=', id).execute();
}

export async function setPassphraseAt(db: Kysely<DB>, id: string, at: Date) {
  await db.updateTable('account_sessions').set({ passphrase_at: at, last_seen_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
}

/** Sessions not revoked; the caller drops the ones past their timeouts. */
export async function listLiveSessions(db: Kysely<DB>, accountId: string) {
  return db
    .selectFrom('account_sessions')
    .select(LISTED)
    .where('account_id', '=', accountId)
    .where('revoked_at', 'is', null)
    .orderBy('last_seen_at', 'desc')
    .orderBy('id')
    .execute();
}

export async function revokeSession(db: Kysely<DB>, accountId: string, id: string, at: Date): Promise<boolean> {
  const rows = await db
    .updateTable('account_sessions')
    .set({ revoked_at: at })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returning(['id'])
    .execute();
  return rows.length > 0;
}

/** Revokes every live session of the account except `except` (null: all). */
export async function revokeSessions(db: Kysely<DB>, accountId: string, except: string | null, at: Date): Promise<number> {
  let q = db.updateTable('account_sessions').set({ revoked_at: at }).where('account_id', '=', accountId).where('revoked_at', 'is', null);
  if (except !== null) q = q.where('id', '<>', except);
  return (await q.returning(['id']).execute()).length;
}

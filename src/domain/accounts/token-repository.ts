import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';

export type TokenPurpose = 'verify' | 'reset';

export async function insertToken(
  db: Kysely<DB>,
  row: { id: string; purpose: TokenPurpose; accountId: string; address: string; secretHash: Uint8Array; at: Date; expiresAt: Date },
) {
  await db
    .insertInto('account_tokens')
    .values({ id: row.id, purpose: row.purpose, account_id: row.accountId, address: row.address, secret_hash: row.secretHash, created_at: row.at, expires_at: row.expiresAt })
    .execute();
}

export async function findToken(db: Kysely<DB>, id: string) {
  return db
    .selectFrom('account_tokens')
    .select(['id', 'purpose', 'account_id', 'address', 'secret_hash', 'expires_at', 'used_at'])
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Marks the token used if nobody did before; false when another request was first. */
export async function markTokenUsed(db: Kysely<DB>, id: string, at: Date): Promise<boolean> {
  const rows = await db.updateTable('account_tokens').set({ used_at: at }).where('id', '=', id).where('used_at', 'is', null).returning(['id']).execute();
  return rows.length > 0;
}

/** Spends every open token of this purpose for the account (after a reset, older reset mails stop working). */
export async function markAccountTokensUsed(db: Kysely<DB>, accountId: string, purpose: TokenPurpose, at: Date) {
  await db.updateTable('account_tokens').set({ used_at: at }).where('account_id', '=', accountId).where('purpose', '=', purpose).where('used_at', 'is', null).execute();
}

/** Tokens expired long ago say nothing any more. */
export async function deleteExpiredTokens(db: Kysely<DB>, before: Date) {
  await db.deleteFrom('account_tokens').where('expires_at', '<', before).execute();
}

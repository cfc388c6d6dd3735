import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';

export async function countAdmins(db: Kysely<DB>): Promise<number> {
  const row = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where('role', '=', 'admin').executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function insertOrganisation(db: Kysely<DB>, name: string): Promise<{ id: string; name: string }> {
  return db.insertInto('organisations').values({ name }).returning(['id', 'name']).executeTakeFirstOrThrow();
}

export async function insertAdmin(db: Kysely<DB>, orgId: string, email: string): Promise<{ id: string }> {
  return db.insertInto('users').values({ org_id: orgId, email, role: 'admin' }).returning(['id']).executeTakeFirstOrThrow();
}

export async function insertApiToken(
  db: Kysely<DB>,
  row: { id: string; userId: string; secretHash: Uint8Array; label: string },
): Promise<void> {
  await db.insertInto('api_tokens').values({ id: row.id, user_id: row.userId, secret_hash: row.secretHash, label: row.label }).execute();
}

export async function findApiToken(db: Kysely<DB>, id: string) {
  return db
    .selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .select(['api_tokens.id', 'api_tokens.secret_hash', 'api_tokens.revoked_at', 'users.id as user_id', 'users.org_id', 'users.email', 'users.role'])
    .where('api_tokens.id', '=', id)
    .executeTakeFirst();
}

export async function touchApiToken(db: Kysely<DB>, id: string, at: Date): Promise<void> {
  await db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
}

import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';

const PUBLIC_COLUMNS = ['id', 'profile_id', 'admin_email', 'created_at', 'last_used_at', 'revoked_at'] as const;

export async function insertCredential(
  db: Kysely<DB>,
  row: { id: string; profileId: string; secretHash: Uint8Array; adminEmail: string },
) {
  return db
    .insertInto('gateway_credentials')
    .values({ id: row.id, profile_id: row.profileId, secret_hash: row.secretHash, admin_email: row.adminEmail })
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirstOrThrow();
}

/** The only query that reads secret_hash: authentication, with the profile in the same round trip. */
export async function findCredentialForAuth(db: Kysely<DB>, id: string) {
  return db
    .selectFrom('gateway_credentials as c')
    .innerJoin('profiles as p', 'p.id', 'c.profile_id')
    .select([
      'c.id',
      'c.secret_hash',
      'c.revoked_at',
      'c.last_used_at',
      'p.id as profile_id',
      'p.org_id',
      'p.name',
      'p.settings',
      'p.created_at',
      'p.updated_at',
    ])
    .where('c.id', '=', id)
    .executeTakeFirst();
}

export async function findCredentialInOrg(db: Kysely<DB>, orgId: string, id: string) {
  return db
    .selectFrom('gateway_credentials as c')
    .innerJoin('profiles as p', 'p.id', 'c.profile_id')
    .select(['c.id', 'c.profile_id', 'c.admin_email', 'c.created_at', 'c.last_used_at', 'c.revoked_at'])
    .where('c.id', '=', id)
    .where('p.org_id', '=', orgId)
    .executeTakeFirst();
}

export async function findCredential(db: Kysely<DB>, id: string) {
  return db.selectFrom('gateway_credentials').select(PUBLIC_COLUMNS).where('id', '=', id).executeTakeFirst();
}

export async function listCredentials(db: Kysely<DB>, profileId: string) {
  return db.selectFrom('gateway_credentials').select(PUBLIC_COLUMNS).where('profile_id', '=', profileId).orderBy('created_at').execute();
}

export async function revokeCredential(db: Kysely<DB>, id: string, at: Date) {
  return db
    .updateTable('gateway_credentials')
    .set({ revoked_at: at })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirst();
}

export async function touchCredential(db: Kysely<DB>, id: string, at: Date): Promise<void> {
  await db.updateTable('gateway_credentials').set({ last_used_at: at }).where('id', '=', id).execute();
}

import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';

const COLUMNS = ['id', 'org_id', 'name', 'settings', 'created_at', 'updated_at'] as const;

export async function insertProfile(db: Kysely<DB>, row: { orgId: string; name: string; settings: unknown }) {
  return db
    .insertInto('profiles')
    .values({ org_id: row.orgId, name: row.name, settings: JSON.stringify(row.settings) })
    .onConflict((oc) => oc.columns(['org_id', 'name']).doNothing())
    .returning(COLUMNS)
    .executeTakeFirst();
}

export async function findProfileByName(db: Kysely<DB>, orgId: string, name: string) {
  return db.selectFrom('profiles').select(COLUMNS).where('org_id', '=', orgId).where('name', '=', name).executeTakeFirst();
}

export async function findProfileById(db: Kysely<DB>, id: string) {
  return db.selectFrom('profiles').select(COLUMNS).where('id', '=', id).executeTakeFirst();
}

export async function listProfiles(db: Kysely<DB>, orgId: string) {
  return db.selectFrom('profiles').select(COLUMNS).where('org_id', '=', orgId).orderBy('name').execute();
}

export async function updateProfileSettings(db: Kysely<DB>, id: string, settings: unknown, at: Date) {
  return db
    .updateTable('profiles')
    .set({ settings: JSON.stringify(settings), updated_at: at })
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirst();
}

/** The organisation's default envelope language, which a new profile starts with. */
export async function findOrgDefaultLocale(db: Kysely<DB>, orgId: string): Promise<string | undefined> {
  return (await db.selectFrom('organisations').select('default_locale').where('id', '=', orgId).executeTakeFirst())?.default_locale;
}

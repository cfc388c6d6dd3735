import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';

const USER_COLUMNS = ['u.id', 'u.org_id', 'u.email', 'u.role', 'u.role_id', 'u.invited_by', 'u.first_seen_at', 'u.last_seen_at', 'u.created_at'] as const;

/** The console user one of `addresses` is (administrators first, then the oldest), with its role's profiles. */
export async function findUserByAddresses(db: Kysely<DB>, addresses: readonly string[]) {
  if (addresses.length === 0) return undefined;
  return db
    .selectFrom('users as u')
    .innerJoin('organisations as o', 'o.id', 'u.org_id')
    .select([...USER_COLUMNS, 'o.name as org_name'])
    .select((eb) =>
      eb
        .selectFrom('admin_role_profiles as rp')
        .whereRef('rp.role_id', '=', 'u.role_id')
        .select(sql<string[]>`coalesce(array_agg(rp.profile_id::text), '{}')`.as('ids'))
        .as('profile_ids'),
    )
    .where(sql<string>`lower(u.email)`, 'in', addresses.map((a) => a.toLowerCase()))
    .orderBy(sql`u.role = 'admin'`, 'desc')
    .orderBy('u.created_at')
    .executeTakeFirst();
}

export async function markSeen(db: Kysely<DB>, userId: string, at: Date): Promise<void> {
  await db
    .updateTable('users')
    .set((eb) => ({ last_seen_at: at, first_seen_at: eb.fn.coalesce('first_seen_at', sql<Date>`${at}::timestamptz`) }))
    .where('id', '=', userId)
    .execute();
}

export async function listUsers(db: Kysely<DB>, orgId: string) {
  return db
    .selectFrom('users as u')
    .leftJoin('admin_roles as r', 'r.id', 'u.role_id')
    .select([...USER_COLUMNS, 'r.name as role_name'])
    .where('u.org_id', '=', orgId)
    .orderBy('u.email')
    .execute();
}

export async function findUser(db: Kysely<DB>, orgId: string, userId: string) {
  return db.selectFrom('users as u').select(USER_COLUMNS).where('u.org_id', '=', orgId).where('u.id', '=', userId).executeTakeFirst();
}

/** Null when the address already belongs to a console user (of any organisation). */
export async function insertUser(db: Kysely<DB>, row: { orgId: string; email: string; role: 'admin' | 'delegated'; roleId: string | null; invitedBy: string }) {
  return db
    .insertInto('users')
    .values({ org_id: row.orgId, email: row.email, role: row.role, role_id: row.roleId, invited_by: row.invitedBy })
    .onConflict((oc) => oc.expression(sql`lower(email)`).doNothing())
    .returning(['id'])
    .executeTakeFirst();
}

export async function setUserRole(db: Kysely<DB>, userId: string, role: 'admin' | 'delegated', roleId: string | null): Promise<void> {
  await db.updateTable('users').set({ role, role_id: roleId }).where('id', '=', userId).execute();
}

/** Deletes a user and its API tokens (they would otherwise outlive the person's access). */
export async function deleteUser(db: Kysely<DB>, userId: string): Promise<void> {
  await db.deleteFrom('users').where('id', '=', userId).execute();
}

export async function countAdmins(db: Kysely<DB>, orgId: string): Promise<number> {
  const row = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where('org_id', '=', orgId).where('role', '=', 'admin').executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function findOrganisation(db: Kysely<DB>, orgId: string) {
  return db.selectFrom('organisations').select(['id', 'name', 'default_locale']).where('id', '=', orgId).executeTakeFirst();
}

export async function updateOrganisation(db: Kysely<DB>, orgId: string, values: { name: string; defaultLocale: string }): Promise<void> {
  await db.updateTable('organisations').set({ name: values.name, default_locale: values.defaultLocale }).where('id', '=', orgId).execute();
}

export async function listRoles(db: Kysely<DB>, orgId: string) {
  return db
    .selectFrom('admin_roles as r')
    .select(['r.id', 'r.name', 'r.created_at'])
    .select((eb) => [
      eb
        .selectFrom('admin_role_profiles as rp')
        .innerJoin('profiles as p', 'p.id', 'rp.profile_id')
        .whereRef('rp.role_id', '=', 'r.id')
        .select(sql<string[]>`coalesce(array_agg(p.name order by p.name), '{}')`.as('names'))
        .as('profile_names'),
      eb
        .selectFrom('admin_role_profiles as rp')
        .whereRef('rp.role_id', '=', 'r.id')
        .select(sql<string[]>`coalesce(array_agg(rp.profile_id::text), '{}')`.as('ids'))
        .as('profile_ids'),
      eb.selectFrom('users as u').whereRef('u.role_id', '=', 'r.id').select((e) => e.fn.countAll<number>().as('n')).as('user_count'),
    ])
    .where('r.org_id', '=', orgId)
    .orderBy('r.name')
    .execute();
}

export async function findRole(db: Kysely<DB>, orgId: string, roleId: string) {
  return db.selectFrom('admin_roles').select(['id', 'name']).where('org_id', '=', orgId).where('id', '=', roleId).executeTakeFirst();
}

/** Null when the organisation has a role of that name already. */
export async function insertRole(db: Kysely<DB>, orgId: string, name: string) {
  return db.insertInto('admin_roles').values({ org_id: orgId, name }).onConflict((oc) => oc.columns(['org_id', 'name']).doNothing()).returning(['id']).executeTakeFirst();
}

export async function renameRole(db: Kysely<DB>, roleId: string, name: string): Promise<void> {
  await db.updateTable('admin_roles').set({ name }).where('id', '=', roleId).execute();
}

export async function setRoleProfiles(db: Kysely<DB>, roleId: string, profileIds: readonly string[]): Promise<void> {
  await db.deleteFrom('admin_role_profiles').where('role_id', '=', roleId).execute();
  if (profileIds.length > 0) await db.insertInto('admin_role_profiles').values(profileIds.map((profile_id) => ({ role_id: roleId, profile_id }))).execute();
}

export async function deleteRole(db: Kysely<DB>, roleId: string): Promise<void> {
  await db.deleteFrom('admin_roles').where('id', '=', roleId).execute();
}

/** Which of `ids` are profiles of the organisation. */
export async function profilesInOrg(db: Kysely<DB>, orgId: string, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  return (await db.selectFrom('profiles').select('id').where('org_id', '=', orgId).where('id', 'in', ids).execute()).map((r) => r.id);
}

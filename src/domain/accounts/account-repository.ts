import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';

/** Columns safe to hand around; the passphrase hash is read only by the queries named for it. */
const PUBLIC_COLUMNS = ['id', 'name', 'security_phrase', 'locale', 'created_at'] as const;

export async function insertAccount(
  db: Kysely<DB>,
  row: { name: string; passphraseHash: string; securityPhrase: string; locale: string | null; at: Date },
): Promise<string> {
  const inserted = await db
    .insertInto('accounts')
    .values({ name: row.name, passphrase_hash: row.passphraseHash, security_phrase: row.securityPhrase, locale: row.locale, created_at: row.at, passphrase_changed_at: row.at })
    .returning(['id'])
    .executeTakeFirstOrThrow();
  return inserted.id;
}

export async function findAccount(db: Kysely<DB>, id: string) {
  return db.selectFrom('accounts').select(PUBLIC_COLUMNS).where('id', '=', id).executeTakeFirst();
}

/** For a passphrase check on a known account. */
export async function findPassphraseHash(db: Kysely<DB>, id: string) {
  return db.selectFrom('accounts').select(['id', 'passphrase_hash']).where('id', '=', id).executeTakeFirst();
}

/** The account an address belongs to (verified only), with its hash, for sign-in. */
export async function findAccountByVerifiedAddress(db: Kysely<DB>, address: string) {
  return db
    .selectFrom('account_addresses as a')
    .innerJoin('accounts as c', 'c.id', 'a.account_id')
    .select(['c.id', 'c.name', 'c.locale', 'c.passphrase_hash'])
    .where('a.address', '=', address)
    .where('a.verified_at', 'is not', null)
    .executeTakeFirst();
}

/**
 * Replaces the hash. With `expected`, only when the stored hash is still that one: a rehash after
 * sign-in must not overwrite a passphrase changed meanwhile.
 */
export async function setPassphraseHash(db: Kysely<DB>, id: string, hash: string, opts: { at: Date; expected?: string; changed: boolean }): Promise<boolean> {
  let q = db
    .updateTable('accounts')
    .set(opts.changed ? { passphrase_hash: hash, passphrase_changed_at: opts.at } : { passphrase_hash: hash })
    .where('id', '=', id);
  if (opts.expected !== undefined) q = q.where('passphrase_hash', '=', opts.expected);
  return (await q.returning(['id']).execute()).length > 0;
}

export async function listAddresses(db: Kysely<DB>, accountId: string) {
  return db
    .selectFrom('account_addresses')
    .select(['address', 'created_at', 'verified_at'])
    .where('account_id', '=', accountId)
    .orderBy('created_at')
    .orderBy('address')
    .execute();
}

export async function listVerifiedAddresses(db: Kysely<DB>, accountId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('account_addresses')
    .select(['address'])
    .where('account_id', '=', accountId)
    .where('verified_at', 'is not', null)
    .orderBy('verified_at')
    .orderBy('address')
    .execute();
  return rows.map((r) => r.address);
}

/** Claims an address for the account, pending verification; nothing happens when it already has it. */
export async function insertPendingAddress(db: Kysely<DB>, accountId: string, address: string, at: Date) {
  await db
    .insertInto('account_addresses')
    .values({ account_id: accountId, address, created_at: at })
    .onConflict((oc) => oc.columns(['account_id', 'address']).doNothing())
    .execute();
}

export async function findAddress(db: Kysely<DB>, accountId: string, address: string) {
  return db.selectFrom('account_addresses').select(['address', 'verified_at']).where('account_id', '=', accountId).where('address', '=', address).executeTakeFirst();
}

/** The account the address is verified for, if any. */
export async function findVerifiedOwner(db: Kysely<DB>, address: string): Promise<string | null> {
  const row = await db.selectFrom('account_addresses').select(['account_id']).where('address', '=', address).where('verified_at', 'is not', null).executeTakeFirst();
  return row?.account_id ?? null;
}

/** The account that most recently asked for this address and has not verified it yet. */
export async function findNewestPendingClaim(db: Kysely<DB>, address: string) {
  return db
    .selectFrom('account_addresses as a')
    .innerJoin('accounts as c', 'c.id', 'a.account_id')
    .select(['c.id', 'c.name'])
    .where('a.address', '=', address)
    .where('a.verified_at', 'is', null)
    .orderBy('a.created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/**
 * Locks every claim on the address, in one order, for the rest of the transaction: two accounts
 * verifying the same address then take turns instead of deadlocking on each other's rows.
 */
export async function lockClaims(db: Kysely<DB>, address: string) {
  await db.selectFrom('account_addresses').select(['account_id']).where('address', '=', address).orderBy('account_id').forUpdate().execute();
}

export async function markVerified(db: Kysely<DB>, accountId: string, address: string, at: Date): Promise<boolean> {
  const rows = await db
    .updateTable('account_addresses')
    .set({ verified_at: at })
    .where('account_id', '=', accountId)
    .where('address', '=', address)
    .where('verified_at', 'is', null)
    .returning(['address'])
    .execute();
  return rows.length > 0;
}

export async function deletePendingAddress(db: Kysely<DB>, accountId: string, address: string): Promise<boolean> {
  const rows = await db
    .deleteFrom('account_addresses')
    .where('account_id', '=', accountId)
    .where('address', '=', address)
    .where('verified_at', 'is', null)
    .returning(['address'])
    .execute();
  return rows.length > 0;
}

/** Once an address is verified for one account, the other accounts' pending claims on it are void. */
export async function dropOtherClaims(db: Kysely<DB>, address: string, ownerId: string) {
  await db.deleteFrom('account_addresses').where('address', '=', address).where('account_id', '<>', ownerId).where('verified_at', 'is', null).execute();
}

/**
 * Registrations that never got an address verified, older than `createdBefore`: nobody can sign
 * in to them and their addresses may belong to others by now.
 */
export async function deleteUnverifiedAccounts(db: Kysely<DB>, createdBefore: Date) {
  await db
    .deleteFrom('accounts')
    .where('created_at', '<', createdBefore)
    .where((eb) =>
      eb.not(eb.exists(eb.selectFrom('account_addresses').select('address').whereRef('account_addresses.account_id', '=', 'accounts.id').where('verified_at', 'is not', null))),
    )
    .execute();
}

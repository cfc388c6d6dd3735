import type { ExpressionBuilder, Kysely } from 'kysely';
import type { DB, EnvelopesTable } from '../../db/schema.ts';
import type { Insertable } from 'kysely';

/** Columns safe to show: everything except the wrapped share and the request digest. */
const PUBLIC_COLUMNS = [
  'id', 'org_id', 'profile_id', 'sender', 'subject', 'security_level', 'locale', 'algorithm', 'flags',
  'expires_at', 'read_by', 'payload_transport', 'payload_digest', 'payload_size', 'payload_stored_at',
  'recipients_to', 'recipients_cc', 'recipients_bcc', 'locked_at', 'lock_reason', 'created_at',
] as const;

/**
 * Envelopes that went out. One sent by reference whose payload never reached this service was
 * never handed back to the mail system (the gateway retried under a new envelope), so nobody
 * received it: the message lists and read-by notices leave it out, and unfinished-uploads.ts
 * deletes it after a day.
 */
export const uploadFinished = (eb: ExpressionBuilder<DB, 'envelopes'>) =>
  eb.or([eb('payload_transport', '<>', 'reference'), eb('payload_stored_at', 'is not', null)]);

/** Inserts envelopes in one statement; returns the ids that were inserted (taken ids are skipped). */
export async function insertEnvelopes(db: Kysely<DB>, rows: Insertable<EnvelopesTable>[]): Promise<string[]> {
  const inserted = await db.insertInto('envelopes').values(rows).onConflict((oc) => oc.column('id').doNothing()).returning(['id']).execute();
  return inserted.map((r) => r.id);
}

/** For the idempotency check: the secrets-adjacent columns, named explicitly. */
export async function findEnvelopeIdentity(db: Kysely<DB>, id: string) {
  return db
    .selectFrom('envelopes')
    .select(['id', 'org_id', 'wrapped_share', 'kek_version', 'request_digest', 'payload_transport', 'payload_digest', 'payload_size', 'payload_stored_at'])
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function findEnvelope(db: Kysely<DB>, id: string) {
  return db.selectFrom('envelopes').select(PUBLIC_COLUMNS).where('id', '=', id).executeTakeFirst();
}

/**
 * The public columns and the wrapped share, for the release point (one read per release), of
 * several envelopes at once: concurrent releases share the statement (src/db/read-batcher.ts).
 */
export async function findEnvelopesWithShare(db: Kysely<DB>, ids: string[]) {
  return db.selectFrom('envelopes').select([...PUBLIC_COLUMNS, 'wrapped_share', 'kek_version']).where('id', '=', (eb) => eb.fn.any(eb.val(ids))).execute();
}

export async function markPayloadStored(db: Kysely<DB>, id: string, at: Date): Promise<void> {
  await db.updateTable('envelopes').set({ payload_stored_at: at }).where('id', '=', id).execute();
}

/** Rows whose share is wrapped under an older key; locked so two rewrap runs split the work. */
export async function lockStaleShares(db: Kysely<DB>, currentVersion: number, limit: number) {
  return db
    .selectFrom('envelopes')
    .select(['id', 'wrapped_share', 'kek_version'])
    .where('kek_version', '<>', currentVersion)
    .orderBy('id')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

export async function updateWrappedShare(db: Kysely<DB>, id: string, wrapped: Uint8Array, version: number): Promise<void> {
  await db.updateTable('envelopes').set({ wrapped_share: wrapped, kek_version: version }).where('id', '=', id).execute();
}

export async function countByKekVersion(db: Kysely<DB>) {
  return db
    .selectFrom('envelopes')
    .select(['kek_version', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('kek_version')
    .orderBy('kek_version')
    .execute();
}

/**
 * Deletes up to `limit` envelopes sent by reference whose payload never arrived and that were
 * stored before `createdBefore`; returns their ids. Their release records and openings go with
 * them (ON DELETE CASCADE); there are none, since nobody could have had the envelope file.
 */
export async function deleteUnfinishedUploads(db: Kysely<DB>, createdBefore: Date, limit: number): Promise<string[]> {
  const rows = await db
    .deleteFrom('envelopes')
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('envelopes')
        .select('id')
        .where((w) => w.not(uploadFinished(w)))
        .where('created_at', '<', createdBefore)
        .limit(limit),
    )
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

import type { Insertable, Kysely } from 'kysely';
import type { DB, ReleaseEventsTable } from '../../db/schema.ts';

export async function insertReleaseEvents(db: Kysely<DB>, rows: Insertable<ReleaseEventsTable>[]): Promise<void> {
  await db.insertInto('release_events').values(rows).execute();
}

/** Records a first opening; true only for the call that inserted it (so a receipt goes once). */
export async function recordFirstOpening(
  db: Kysely<DB>,
  row: { envelope_id: string; address: string; account_id: string | null; first_opened_at: Date },
): Promise<boolean> {
  const inserted = await db
    .insertInto('envelope_openings')
    .values(row)
    .onConflict((oc) => oc.columns(['envelope_id', 'address']).doNothing())
    .returning(['address'])
    .execute();
  return inserted.length > 0;
}

export async function markReceiptSent(db: Kysely<DB>, envelopeId: string, address: string, at: Date): Promise<void> {
  await db.updateTable('envelope_openings').set({ receipt_sent_at: at }).where('envelope_id', '=', envelopeId).where('address', '=', address).execute();
}

export async function listReleaseEvents(db: Kysely<DB>, envelopeId: string) {
  return db
    .selectFrom('release_events')
    .select(['envelope_id', 'account_id', 'address', 'at', 'ip', 'mode', 'result'])
    .where('envelope_id', '=', envelopeId)
    .orderBy('id')
    .execute();
}

export async function listOpenings(db: Kysely<DB>, envelopeId: string) {
  return db
    .selectFrom('envelope_openings')
    .select(['address', 'account_id', 'first_opened_at', 'receipt_sent_at'])
    .where('envelope_id', '=', envelopeId)
    .orderBy('first_opened_at')
    .execute();
}

import type { Kysely } from 'kysely';
import type { DB, OutboxTable } from '../../db/schema.ts';

export type OutboxKind = OutboxTable['kind'];

const SUMMARY = ['id', 'created_at', 'to_address', 'subject', 'kind'] as const;

export async function insertOutboxMail(
  db: Kysely<DB>,
  row: { toAddress: string; subject: string; raw: Uint8Array; kind: OutboxKind; createdAt: Date },
) {
  return db
    .insertInto('outbox')
    .values({ to_address: row.toAddress, subject: row.subject, raw: row.raw, kind: row.kind, created_at: row.createdAt })
    .returning(SUMMARY)
    .executeTakeFirstOrThrow();
}

/** Newest first; the id breaks ties between mails stored in the same instant so the order is stable. */
export async function listOutboxMail(db: Kysely<DB>, limit: number) {
  return db.selectFrom('outbox').select(SUMMARY).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
}

export async function findOutboxRaw(db: Kysely<DB>, id: string) {
  return db.selectFrom('outbox').select(['raw']).where('id', '=', id).executeTakeFirst();
}

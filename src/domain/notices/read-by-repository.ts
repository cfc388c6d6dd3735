import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { uploadFinished } from '../envelopes/envelope-repository.ts';

export interface DueEnvelope {
  id: string;
  sender: string;
  subject: string | null;
  locale: string;
  readBy: Date;
  createdAt: Date;
  recipients: string[];
  /** recipients (lower-case) who opened it */
  opened: string[];
}

/**
 * Claims up to `limit` envelopes whose read-by date has passed and whose sender was not told
 * yet, for `worker`, in one statement: rows another worker is claiming right now are skipped
 * (SKIP LOCKED), and a claim older than `staleBefore` (its worker stopped) can be taken over.
 * Locked envelopes are left alone: the sender stopped them on purpose.
 */
export async function claimDue(db: Kysely<DB>, worker: string, now: Date, staleBefore: Date, limit: number): Promise<DueEnvelope[]> {
  const claimed = await db
    .updateTable('envelopes')
    .set({ read_by_claimed_at: now, read_by_claimed_by: worker })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('envelopes')
        .select('id')
        .where('read_by', '<=', now)
        .where('read_by_notified_at', 'is', null)
        .where('locked_at', 'is', null)
        .where(uploadFinished)
        .where((w) => w.or([w('read_by_claimed_at', 'is', null), w('read_by_claimed_at', '<', staleBefore)]))
        .orderBy('read_by')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .returning(['id', 'sender', 'subject', 'locale', 'read_by', 'created_at', 'recipients_to', 'recipients_cc', 'recipients_bcc'])
    .execute();
  if (claimed.length === 0) return [];
  const openings = await db
    .selectFrom('envelope_openings')
    .select(['envelope_id', 'address'])
    .where(
      'envelope_id',
      'in',
      claimed.map((c) => c.id),
    )
    .execute();
  return claimed.map((c) => ({
    id: c.id,
    sender: c.sender,
    subject: c.subject,
    locale: c.locale,
    readBy: c.read_by!,
    createdAt: c.created_at,
    recipients: [...c.recipients_to, ...c.recipients_cc, ...c.recipients_bcc],
    opened: openings.filter((o) => o.envelope_id === c.id).map((o) => o.address),
  }));
}

/** Done with this envelope: told (or nothing to tell). Only the claiming worker may say so. */
export async function markNotified(db: Kysely<DB>, id: string, worker: string, at: Date): Promise<boolean> {
  const r = await db
    .updateTable('envelopes')
    .set({ read_by_notified_at: at })
    .where('id', '=', id)
    .where('read_by_claimed_by', '=', worker)
    .where('read_by_notified_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Gives a claim back (sending failed): the next sweep, on any node, tries again. */
export async function releaseClaim(db: Kysely<DB>, id: string, worker: string): Promise<void> {
  await db.updateTable('envelopes').set({ read_by_claimed_at: null, read_by_claimed_by: null }).where('id', '=', id).where('read_by_claimed_by', '=', worker).execute();
}

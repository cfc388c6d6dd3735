import { randomUUID } from 'node:crypto';
import type { i18n } from 'i18next';
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { createDateFormatter } from '../../envelope/templates.ts';
import { pickLocale } from '../../i18n/locales.ts';
import type { MailService, OutgoingMail } from '../mail/mail-service.ts';
import { createPeriodicJob } from '../periodic-job.ts';
import * as repo from './read-by-repository.ts';

export interface ReadByNotices {
  /** Tells the senders of every envelope now due; returns how many notices went out. */
  sweep(): Promise<number>;
  /** Sweeps every `intervalMs` until stop() (every node does; claims keep them apart). */
  start(intervalMs?: number): void;
  stop(): Promise<void>;
}

// A claim older than this belongs to a worker that stopped mid-way; another may take it over.
const CLAIM_TIMEOUT_MS = 5 * 60_000;
const BATCH = 50;

/**
 * Read-by notifications (X-PostX-ReadNotificationDate): once an envelope's read-by date has
 * passed and a recipient has not opened it, its sender gets one localized notice naming who has
 * not. A job on the database: the state is on the envelope row, so it survives restarts, and a
 * claim per envelope keeps two workers (two nodes) from both sending it.
 */
export function createReadByNotices(deps: { db: Kysely<DB>; mail: MailService; i18n: i18n; worker?: string; now?: () => Date; log?: { error(obj: object, msg: string): void } }): ReadByNotices {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());
  const worker = deps.worker ?? randomUUID();

  async function sweep(): Promise<number> {
    let sent = 0;
    for (;;) {
      const at = now();
      const due = await repo.claimDue(db, worker, at, new Date(at.getTime() - CLAIM_TIMEOUT_MS), BATCH);
      let failed = false;
      for (const envelope of due) {
        const opened = new Set(envelope.opened);
        const unopened = envelope.recipients.filter((r) => !opened.has(r));
        try {
          if (unopened.length > 0) {
            await deps.mail.send(buildNotice(deps.i18n, envelope, unopened));
            sent += 1;
          }
          await repo.markNotified(db, envelope.id, worker, now());
        } catch (err) {
          // Not sent: give it back, so this or another node tries again at the next sweep.
          deps.log?.error({ err, envelopeId: envelope.id }, 'read-by notice not sent');
          await repo.releaseClaim(db, envelope.id, worker);
          failed = true;
        }
      }
      // After a failure (mail down, say) the rest waits for the next sweep rather than spinning.
      if (due.length < BATCH || failed) return sent;
    }
  }

  const job = createPeriodicJob(sweep, (err) => deps.log?.error({ err }, 'read-by sweep failed'));
  return {
    sweep,
    start: (intervalMs = 60_000) => job.start(intervalMs),
    stop: () => job.stop(),
  };
}

function buildNotice(i18n: i18n, envelope: repo.DueEnvelope, unopened: string[]): OutgoingMail {
  const locale = pickLocale([envelope.locale]);
  const t = i18n.getFixedT(locale);
  const dates = createDateFormatter(locale);
  const values = {
    subject: envelope.subject ?? t('receipts:noSubject'),
    sent: dates.format(envelope.createdAt),
    readBy: dates.format(envelope.readBy),
    interpolation: { escapeValue: false },
  };
  return {
    to: envelope.sender,
    subject: t('receipts:readBy.subject', values),
    text: `${t('receipts:readBy.body', values)}\n\n${unopened.map((a) => `  ${a}`).join('\n')}\n\n${t('receipts:readBy.footer')}\n`,
    kind: 'receipt',
    headers: { 'Auto-Submitted': 'auto-generated' },
  };
}

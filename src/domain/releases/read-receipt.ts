import type { i18n } from 'i18next';
import { createDateFormatter } from '../../envelope/templates.ts';
import { pickLocale } from '../../i18n/locales.ts';
import type { EnvelopeRecord } from '../envelopes/envelope-types.ts';
import type { OutgoingMail } from '../mail/mail-service.ts';

/**
 * The read receipt a sender gets when a recipient first opens an envelope that asked for one
 * (X-PostX-Send-Return-Receipt or the profile). Written in the envelope's locale, the one the
 * sender's organisation chose for it. It says who opened it and when, never anything of the
 * message beyond the subject the envelope kept (null when the profile keeps subjects out).
 */
export function buildReadReceipt(deps: { i18n: i18n }, envelope: EnvelopeRecord, address: string, openedAt: Date): OutgoingMail {
  const locale = pickLocale([envelope.locale]);
  const t = deps.i18n.getFixedT(locale);
  const dates = createDateFormatter(locale);
  const values = {
    recipient: address,
    sent: dates.format(envelope.createdAt),
    opened: dates.format(openedAt),
    subject: envelope.subject ?? t('receipts:noSubject'),
    interpolation: { escapeValue: false },
  };
  return {
    to: envelope.sender,
    subject: t('receipts:subject', values),
    text: `${t('receipts:body', values)}\n\n${t('receipts:footer')}\n`,
    kind: 'receipt',
    // RFC 3834: an automatic reply; mail systems must not answer it with another one.
    headers: { 'Auto-Submitted': 'auto-generated' },
  };
}

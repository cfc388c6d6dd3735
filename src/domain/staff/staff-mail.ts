import type { i18n } from 'i18next';
import { createTemplateCache } from '../../envelope/template-cache.ts';
import { pickLocale } from '../../i18n/locales.ts';
import type { MailService } from '../mail/mail-service.ts';

export interface StaffMailer {
  /** Tells a new console user where to sign in, in the inviting administrator's language. */
  invite(mail: { to: string; locale: string; organisation: string; invitedBy: string }): Promise<void>;
}

/**
 * The invitation carries no token: access comes from the address itself, once the person has
 * verified it with an account (the same proof a passphrase reset relies on). A forwarded or
 * intercepted invitation therefore opens nothing.
 */
export function createStaffMailer(deps: { mail: MailService; i18n: i18n; views: string; publicUrl: string }): StaffMailer {
  const base = deps.publicUrl.replace(/\/+$/, '');
  const templates = createTemplateCache(deps);
  return {
    async invite(mail) {
      const locale = pickLocale([mail.locale]);
      const t = deps.i18n.getFixedT(locale);
      const data = { lang: locale, organisation: mail.organisation, invitedBy: mail.invitedBy, address: mail.to, link: `${base}/admin`, host: new URL(base).host };
      const render = (ext: 'txt' | 'html') =>
        templates.compile(locale, templates.view(`mail/staff-invite.${ext}.hbs`), { name: `staff-invite.${ext}.hbs`, noEscape: ext === 'txt' })(data);
      await deps.mail.send({
        to: mail.to,
        subject: t('console:mail.invite.subject', { organisation: mail.organisation }),
        text: render('txt'),
        html: render('html'),
        kind: 'other',
        headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' },
      });
    },
  };
}

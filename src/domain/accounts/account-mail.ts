import type { i18n } from 'i18next';
import { createTemplateCache } from '../../envelope/template-cache.ts';
import { pickLocale, type Locale } from '../../i18n/locales.ts';
import type { MailService } from '../mail/mail-service.ts';
import { EMAIL_TOKEN_LIFETIME_MS } from './email-tokens.ts';

/**
 * The mails the account flows send, each a text and an HTML body from views/mail/, localized
 * in the language of the page the person was using. Links carry tokens in the fragment
 * (`/verify#TOKEN`), which browsers never send to a server and link scanners cannot spend;
 * the token is also printed as a code for pasting by hand.
 */
export type AccountMail =
  | { kind: 'verify'; to: string; locale: string; name: string; token: string; alias: boolean }
  | { kind: 'exists'; to: string; locale: string; alias: boolean }
  | { kind: 'reset'; to: string; locale: string; name: string; token: string };

export interface AccountMailer {
  send(mail: AccountMail): Promise<void>;
}

const VIEWS = { verify: 'mail/account-verify', exists: 'mail/account-exists', reset: 'mail/account-reset' } as const;

export function createAccountMailer(deps: { mail: MailService; i18n: i18n; views: string; publicUrl: string }): AccountMailer {
  const base = deps.publicUrl.replace(/\/+$/, '');
  const templates = createTemplateCache(deps);
  const render = (view: string, locale: Locale, text: boolean, data: object) => {
    const file = `${view}.${text ? 'txt' : 'html'}.hbs`;
    return templates.compile(locale, templates.view(file), { name: file, noEscape: text })({ ...data, lang: locale });
  };

  return {
    async send(mail) {
      const locale = pickLocale([mail.locale]);
      const t = deps.i18n.getFixedT(locale);
      let data: object;
      let subject: string;
      switch (mail.kind) {
        case 'verify':
          subject = t(mail.alias ? 'account:mail.verify.subjectAlias' : 'account:mail.verify.subject');
          data = { name: mail.name, alias: mail.alias, link: `${base}/verify#${mail.token}`, code: mail.token, hours: EMAIL_TOKEN_LIFETIME_MS.verify / 3600_000, host: new URL(base).host };
          break;
        case 'exists':
          subject = t(mail.alias ? 'account:mail.exists.subjectAlias' : 'account:mail.exists.subject');
          data = { alias: mail.alias, signinUrl: `${base}/signin`, resetUrl: `${base}/reset`, host: new URL(base).host };
          break;
        case 'reset':
          subject = t('account:mail.reset.subject');
          data = { name: mail.name, link: `${base}/reset#${mail.token}`, code: mail.token, minutes: EMAIL_TOKEN_LIFETIME_MS.reset / 60_000, host: new URL(base).host };
          break;
      }
      await deps.mail.send({
        to: mail.to,
        subject,
        text: render(VIEWS[mail.kind], locale, true, data),
        html: render(VIEWS[mail.kind], locale, false, data),
        kind: mail.kind === 'reset' ? 'reset' : 'verification',
        // RFC 3834: a machine wrote this; auto-responders must not answer it.
        headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' },
      });
    },
  };
}

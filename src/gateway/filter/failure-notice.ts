import { randomUUID } from 'node:crypto';
import type { i18n } from 'i18next';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { ProfileSettings } from '../../domain/profiles/profile-settings.ts';
import { renderSubject } from '../../envelope/notification.ts';
import { compileTemplate, createTemplateEngine } from '../../envelope/templates.ts';
import type { Locale } from '../../i18n/locales.ts';

/** Why a message that had to be encrypted was not delivered. */
export type FailureReason = 'timeout' | 'size' | 'malformed' | 'profile';

export interface FailureNoticeInput {
  reason: FailureReason;
  /** who gets the notice: the original envelope sender */
  to: string;
  /** the notice's From: the gateway's postmaster address */
  from: string;
  settings: Pick<ProfileSettings, 'templates' | 'defaultLocale'>;
  original: { subject: string; recipients: readonly string[]; headerBlock: string; firstSeen: Date };
  /** the technical cause, for the sender's administrator (one line) */
  detail: string;
}

/**
 * The profile's encryption-failure notification (its subject template and text template, or
 * the localized default), sent to the sender instead of the message: a message that had to be
 * encrypted and could not be is never delivered in the clear, and never silently dropped.
 * The original header block travels as text/rfc822-headers (RFC 6522 style); the body does not,
 * so the notice carries nothing the encryption was meant to protect.
 */
export async function buildFailureNotice(input: FailureNoticeInput, deps: { i18n: i18n }): Promise<Buffer> {
  const text = renderFailureText(
    { locale: input.settings.defaultLocale, template: input.settings.templates.failure, reason: input.reason, detail: input.detail, original: input.original },
    deps,
  ).replace(/\r?\n/g, '\r\n');
  const composer = new MailComposer({
    from: input.from,
    to: input.to,
    subject: renderSubject(input.settings.templates.failureSubject, { subject: input.original.subject }),
    text,
    headers: { 'Auto-Submitted': 'auto-replied', 'X-Waxseal-Failure': input.reason },
    messageId: `<${randomUUID()}@waxseal.gateway>`,
    attachments: [{ filename: 'headers.txt', contentType: 'text/rfc822-headers', content: input.original.headerBlock }],
  });
  return composer.compile().build();
}

/** The notice's text body from the profile's template (or the default), as the sender will read it. */
export function renderFailureText(
  input: { locale: Locale; template: string | null; reason: FailureReason; detail: string; original: Pick<FailureNoticeInput['original'], 'subject' | 'recipients' | 'firstSeen'> },
  deps: { i18n: i18n },
): string {
  const t = deps.i18n.getFixedT(input.locale);
  const hbs = createTemplateEngine({ i18n: deps.i18n, locale: input.locale });
  const data = {
    subject: input.original.subject,
    recipients: input.original.recipients,
    reason: t(`gateway:failure.reason.${input.reason}`),
    detail: input.detail,
    firstSeen: input.original.firstSeen,
  };
  const render = compileTemplate(hbs, input.template ?? DEFAULT_TEMPLATE, { name: input.template ? 'profile failure template' : 'default failure template', noEscape: true });
  return render(data);
}

// The default body: every sentence from the locale files, so it reads in the profile's language.
const DEFAULT_TEMPLATE = `{{t "gateway:failure.intro" subject=subject}}

{{reason}}

{{t "gateway:failure.recipients"}} {{join recipients ", "}}
{{t "gateway:failure.since"}} {{formatDate firstSeen}}

{{t "gateway:failure.next"}}

{{t "gateway:failure.detail"}} {{detail}}
`;

import { randomUUID } from 'node:crypto';
import Handlebars from 'handlebars';
import type { i18n } from 'i18next';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import MimeNode from 'nodemailer/lib/mime-node/index.js';
import { isLocale } from '../i18n/locales.ts';
import type { Locale } from '../i18n/locales.ts';
import type { SecurityLevel } from './securedoc.ts';
import { createTemplateCache, type TemplateCache } from './template-cache.ts';
import { compileTemplate } from './templates.ts';

/**
 * Header values of the original message exactly as they appeared in it (still RFC 2047 encoded,
 * possibly folded). They are copied into the notification unchanged, so the recipient sees the
 * original sender and recipients, and a reply threads with the conversation.
 */
export interface OriginalHeaders {
  from: string;
  to?: string;
  cc?: string;
  date?: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string;
  replyTo?: string;
}

export interface NotificationData {
  sender: string;
  recipients: string[];
  subject: string | null;
  keyServiceUrl: string;
  securityLevel: SecurityLevel;
  expiresAt: Date | null;
  fileName: string;
}

export interface NotificationInput {
  locale: Locale;
  headers: OriginalHeaders;
  /** the notification's subject, already rendered (see renderSubject); may be non-ASCII */
  subject: string;
  /** Handlebars sources from the encryption profile; null or undefined selects the default views */
  templates: { html?: string | null; text?: string | null };
  data: NotificationData;
  /** securedoc.html: ASCII, short lines, so it travels as 7bit */
  attachment: { fileName: string; html: string };
  /** e.g. X-Waxseal-Envelope-Id; never X-PostX-* nor a header this module sets itself */
  extraHeaders?: Record<string, string>;
}

export interface NotificationDeps {
  i18n: i18n;
  views: string;
  /** compiled templates kept between notifications (a gateway's); without it, compiled for this one */
  templates?: TemplateCache;
}

// Original header fields copied verbatim, in the order they are written.
const PASSTHROUGH: readonly (readonly [keyof OriginalHeaders, string])[] = [
  ['from', 'From'],
  ['replyTo', 'Reply-To'],
  ['to', 'To'],
  ['cc', 'Cc'],
  ['date', 'Date'],
  ['messageId', 'Message-ID'],
  ['inReplyTo', 'In-Reply-To'],
  ['references', 'References'],
];

// Fields that extraHeaders may not set: this module owns them, and a second copy would make the
// message ambiguous.
const RESERVED_HEADERS = new Set([
  'from', 'sender', 'reply-to', 'to', 'cc', 'bcc', 'date', 'message-id', 'in-reply-to', 'references',
  'subject', 'mime-version', 'content-type', 'content-transfer-encoding', 'content-disposition',
]);

/**
 * Builds the notification mail: multipart/mixed holding a multipart/alternative (text and HTML
 * bodies from the templates) and securedoc.html as a 7bit text/html attachment.
 *
 * The original From, To, Cc, Reply-To, Date, Message-ID, In-Reply-To and References are kept
 * byte for byte, so the mail looks like the message the sender wrote and replies thread. Date and
 * Message-ID are generated only when the original lacks them. The result uses CRLF line ends.
 */
export async function buildNotification(input: NotificationInput, deps: NotificationDeps): Promise<Buffer> {
  if (!isLocale(input.locale)) throw new TypeError(`unsupported locale: ${String(input.locale)}`);
  const keyService = parseKeyServiceUrl(input.data.keyServiceUrl);
  const original = checkOriginalHeaders(input.headers);
  const extraHeaders = checkExtraHeaders(input.extraHeaders ?? {});
  const attachmentPart = buildSecuredocPart(input.attachment);

  const { html, text } = renderNotificationBodies(input, deps);

  const composer = new MailComposer({
    subject: input.subject.replace(/[\r\n]+/g, ' '),
    text,
    html,
    attachments: [{ raw: attachmentPart }],
    headers: extraHeaders,
  });
  const built = await composer.compile().build();

  const fields: [string, string][] = [];
  for (const [key, name] of PASSTHROUGH) {
    const value = original[key];
    if (value !== undefined) fields.push([name, value]);
  }
  if (original.date === undefined) fields.push(['Date', new Date().toUTCString().replace(/GMT$/, '+0000')]);
  if (original.messageId === undefined) fields.push(['Message-ID', `<${randomUUID()}@${keyService.hostname}>`]);
  return prependHeaders(built, fields);
}

/**
 * The notification's two bodies from the profile's templates (or the default views), as the
 * recipient will see them; also the console's preview.
 */
export function renderNotificationBodies(
  input: Pick<NotificationInput, 'locale' | 'templates' | 'data'>,
  deps: NotificationDeps,
): { html: string; text: string } {
  const keyService = parseKeyServiceUrl(input.data.keyServiceUrl);
  const templates = deps.templates ?? createTemplateCache(deps);
  const t = deps.i18n.getFixedT(input.locale);
  const dates = templates.dates(input.locale);
  const profileHtml = input.templates?.html;
  const profileText = input.templates?.text;
  const renderHtml = templates.compile(
    input.locale,
    typeof profileHtml === 'string' ? profileHtml : templates.view('envelope/notification.html.hbs'),
    { name: typeof profileHtml === 'string' ? 'profile HTML notification template' : 'default HTML notification template' },
  );
  const renderText = templates.compile(
    input.locale,
    typeof profileText === 'string' ? profileText : templates.view('envelope/notification.txt.hbs'),
    {
      name: typeof profileText === 'string' ? 'profile text notification template' : 'default text notification template',
      noEscape: true,
    },
  );

  const data = {
    lang: input.locale,
    sender: input.data.sender,
    recipients: input.data.recipients,
    subject: input.data.subject,
    keyServiceUrl: input.data.keyServiceUrl,
    keyServiceHost: keyService.host,
    securityLevel: input.data.securityLevel,
    securityLevelText: t(`envelope:level.${input.data.securityLevel}`),
    expiresAt: input.data.expiresAt,
    expiresAtText: input.data.expiresAt ? dates.format(input.data.expiresAt) : null,
    fileName: input.data.fileName,
  };
  // nodemailer keeps body line ends as given, and SMTP needs CRLF (bare LF is refused by some
  // servers), so the bodies are normalised here.
  return { html: toCrlf(renderHtml(data)), text: toCrlf(renderText(data)) };

}

/**
 * Renders a profile's subject template, e.g. '[SECURE] {{subject}}'. The output is a header
 * value, not HTML, so nothing is escaped; line breaks are flattened so a subject cannot add
 * header fields.
 */
export function renderSubject(template: string, vars: { subject: string }): string {
  const hbs = Handlebars.create();
  const render = compileTemplate(hbs, template, { name: 'subject template', noEscape: true });
  return render({ subject: vars.subject }).replace(/[\r\n]+/g, ' ').trim();
}

function toCrlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

function parseKeyServiceUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError('data.keyServiceUrl is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('data.keyServiceUrl must be an http(s) URL');
  return url;
}

// A raw value may be folded (a line break followed by white space) but must not contain a line
// break that would start a new field, nor NUL. Bare LF folding is turned into CRLF.
function checkOriginalHeaders(headers: OriginalHeaders): Partial<Record<keyof OriginalHeaders, string>> {
  const result: Partial<Record<keyof OriginalHeaders, string>> = {};
  for (const [key, name] of PASSTHROUGH) {
    const value: unknown = headers[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') throw new TypeError(`the original ${name} header must be a string`);
    const folded = value.trim().replace(/\r?\n/g, '\r\n');
    if (folded === '') continue;
    if (/\r(?!\n)|\r\n(?![ \t])|\0/.test(folded)) throw new TypeError(`the original ${name} header has a bad line break`);
    result[key] = folded;
  }
  if (result.from === undefined) throw new TypeError('the original From header is required');
  return result;
}

function checkExtraHeaders(headers: Record<string, string>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[!-9;-~]+$/.test(name)) throw new TypeError(`invalid header name: ${JSON.stringify(name)}`);
    const lower = name.toLowerCase();
    // The X-PostX-* headers are instructions to the gateway; they must never reach a recipient.
    if (lower.startsWith('x-postx-')) throw new TypeError(`${name} must not appear in a notification`);
    if (RESERVED_HEADERS.has(lower) || lower.startsWith('content-')) throw new TypeError(`${name} is set by the notification builder`);
    if (typeof value !== 'string') throw new TypeError(`header ${name} must have a string value`);
    result[name] = value;
  }
  return result;
}

// The attachment is written as a finished MIME part because nodemailer would re-encode a text part
// whose lines pass 76 characters (quoted-printable or base64), and securedoc.html should stay
// readable 7bit. Its headers still come from nodemailer, which encodes a non-ASCII file name.
function buildSecuredocPart(attachment: { fileName: string; html: string }): string {
  const { fileName, html } = attachment;
  if (typeof fileName !== 'string' || fileName.trim() === '') throw new TypeError('attachment.fileName is required');
  if (typeof html !== 'string' || !/^[\x09\x0a\x0d\x20-\x7e]*$/.test(html)) {
    throw new TypeError('attachment.html must be printable ASCII to travel as 7bit');
  }
  const body = toCrlf(html);
  // Line by line without splitting: a 2 MB inline envelope has ten thousand lines.
  for (let start = 0; start <= body.length; ) {
    const end = body.indexOf('\r\n', start);
    const stop = end === -1 ? body.length : end;
    if (stop - start > 998) throw new TypeError('attachment.html has a line over 998 characters');
    start = stop + 2;
  }

  const part = new MimeNode('multipart/mixed').createChild('text/html; charset=us-ascii', { filename: fileName });
  part.setHeader('Content-Transfer-Encoding', '7bit');
  part.setHeader('Content-Disposition', 'attachment');
  return `${part.buildHeaders()}\r\n\r\n${body}`;
}

// Puts the original header fields at the top of the header block nodemailer built, dropping the
// Date and Message-ID it generated. nodemailer cannot do this itself: it re-parses and re-encodes
// address and date fields even when told a value is already prepared.
function prependHeaders(message: Buffer, fields: [string, string][]): Buffer {
  const end = message.indexOf('\r\n\r\n');
  if (end === -1) throw new Error('composed message has no header block');
  const replaced = new Set(fields.map(([name]) => name.toLowerCase()));
  const kept = message
    .subarray(0, end)
    .toString('latin1')
    .split(/\r\n(?![ \t])/)
    .filter((field) => !replaced.has(field.slice(0, field.indexOf(':')).trim().toLowerCase()));
  // Original values may hold raw UTF-8 (RFC 6532); nodemailer's own fields are ASCII.
  const original = fields.map(([name, value]) => `${name}: ${value}\r\n`).join('');
  return Buffer.concat([Buffer.from(original, 'utf8'), Buffer.from(kept.join('\r\n'), 'latin1'), message.subarray(end)]);
}

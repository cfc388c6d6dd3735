import { createHash } from 'node:crypto';
import type { i18n } from 'i18next';
import { generateEnvelopeKeys, sealEnvelope } from '../crypto/envelope-crypto.ts';
import type { EnvelopeFlags, EnvelopeUpload } from '../domain/envelopes/envelope-types.ts';
import type { ProfileSettings } from '../domain/profiles/profile-settings.ts';
import { buildNotification, renderSubject, type NotificationInput } from '../envelope/notification.ts';
import { buildSecuredoc, opensOffline, type SecuredocInput, type SecuredocMode } from '../envelope/securedoc.ts';
import { createTemplateCache, type TemplateCache } from '../envelope/template-cache.ts';
import { pickLocale, type Locale } from '../i18n/locales.ts';
import type { GatewayProfileInfo, KeyServiceClient } from './key-client.ts';
import { DEFAULT_MAX_MESSAGE_BYTES, messageSizeWarning, readMessageHead, type MessageHead } from './message-head.ts';
import { MessageError } from './message-errors.ts';
import { readPostxHeaders, type PostxOverrides } from './postx-headers.ts';

export interface SealDeps {
  client: KeyServiceClient;
  i18n: i18n;
  views: string;
  now?: () => Date;
  /**
   * The inline script of envelope files that open offline (X-PostX-Remember-Envelope-Key-Checkbox);
   * a long-running gateway passes envelopeFileScriptCache() so it is built once. Without it, it is
   * built when such an envelope is sealed.
   */
  envelopeFileScript?: () => Promise<string>;
  /** compiled templates kept between messages; a long-running gateway passes its own */
  templates?: TemplateCache;
}

export interface SealOptions {
  /**
   * The SMTP envelope's recipients (RCPT TO). A mail filter knows them; the headers may not
   * (Bcc is removed before filtering, "To: undisclosed-recipients:;"). When given, they are the
   * recipients the key service will let open the envelope: those named in To or Cc as such,
   * every other one as Bcc.
   */
  envelopeRecipients?: readonly string[];
  /**
   * The notification's subject as a content-filter rule sets it (its template with `$Subject`
   * replaced), instead of the profile's subject template.
   */
  subject?: string;
}

export interface SealedMessage {
  envelopeId: string;
  /** The notification email (RFC 5322) with securedoc.html attached, ready to deliver. */
  envelope: Buffer;
  transport: 'inline' | 'reference';
  locale: Locale;
  warnings: string[];
}

/**
 * Seals one outgoing message: reads its head and X-PostX overrides, encrypts the original bytes
 * under a fresh split key, stores the server share (and a by-reference payload) with the key
 * service, and only then builds the notification. If the key service cannot take the key this
 * throws, and no envelope exists anywhere: one that nobody could ever open must not be sent.
 */
export async function sealMessage(message: Uint8Array, deps: SealDeps, known?: GatewayProfileInfo, options: SealOptions = {}): Promise<SealedMessage> {
  const now = (deps.now ?? (() => new Date()))();
  // A by-reference envelope is built twice (tried, then for real); one compilation serves both.
  const templates = deps.templates ?? createTemplateCache(deps);
  const info = known ?? (await deps.client.getProfile());
  const settings = info.profile.settings;
  const rcpt = options.envelopeRecipients?.map((a) => a.trim().toLowerCase()).filter((a) => a.length > 0);
  if (rcpt && rcpt.length === 0) throw new MessageError('message_malformed', 'No envelope recipients were given; pass at least one --rcpt address.');
  const head = readMessageHead(message, {
    maxBytes: Math.min(settings.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES),
    headerRecipientsOptional: rcpt !== undefined,
  });
  const recipients = rcpt ? recipientsFromEnvelope(head, rcpt) : { to: head.to, cc: head.cc, bcc: head.bcc };
  const warnings: string[] = [];
  const sizeWarning = messageSizeWarning(message.length);
  if (sizeWarning) warnings.push(sizeWarning);
  const overrides = readPostxHeaders(head, now);
  const flags = effectiveFlags(settings, overrides);
  const locale = envelopeLocale(settings, head);
  const mode: SecuredocMode = !flags.useScript ? 'no-script' : flags.suppressAppletForOpen ? 'server' : 'applet';
  const sender = head.from.name ? `${head.from.name} <${head.from.address}>` : head.from.address;
  checkCopiedHeaders(head);
  const securedocInput = (envelopeId: string, envelopeSecret: Uint8Array, payload: SecuredocInput['payload']): SecuredocInput => ({
    locale,
    envelopeId,
    envelopeSecret,
    keyServiceUrl: info.keyService.url,
    sender,
    to: head.to,
    cc: head.cc,
    date: parseDate(head.date) ?? now,
    subject: head.subject,
    securityLevel: settings.securityLevel,
    mode,
    logo: settings.logo ? { mediaType: settings.logo.mediaType, data: Buffer.from(settings.logo.dataBase64, 'base64') } : null,
    logoLink: settings.logoLink,
    payload,
    expiresAt: overrides.expirationDate ?? null,
    rememberKey: flags.rememberEnvelopeKeyCheckbox,
  });
  const notificationInput = (envelopeId: string, html: string): NotificationInput => ({
    locale,
    headers: {
      from: head.get('from')!,
      to: head.get('to') ?? undefined,
      cc: head.get('cc') ?? undefined,
      date: head.get('date') ?? undefined,
      messageId: head.get('message-id') ?? undefined,
      inReplyTo: head.get('in-reply-to') ?? undefined,
      references: head.get('references') ?? undefined,
      replyTo: head.get('reply-to') ?? undefined,
    },
    subject: options.subject?.replace(/[\r\n]+/g, ' ').trim() || renderSubject(settings.subjectTemplate, { subject: head.subject ?? '' }),
    templates: { html: settings.templates.html, text: settings.templates.text },
    data: {
      sender,
      recipients: [...head.to, ...head.cc],
      subject: head.subject,
      keyServiceUrl: info.keyService.url,
      securityLevel: settings.securityLevel,
      expiresAt: overrides.expirationDate ?? null,
      fileName: settings.envelopeFileName,
    },
    attachment: { fileName: settings.envelopeFileName, html },
    extraHeaders: { 'X-Waxseal-Envelope-Id': envelopeId },
  });
  const keys = generateEnvelopeKeys();
  const ciphertext = await sealEnvelope({ ...keys, algorithm: settings.algorithm }, message);
  const envelopeId = Buffer.from(keys.envelopeId).toString('base64url');
  const transport = ciphertext.length <= settings.payloadTransport.inlineMaxBytes ? 'inline' : 'reference';
  const offline = opensOffline({ mode, rememberKey: flags.rememberEnvelopeKeyCheckbox, payload: transport === 'inline' ? { kind: 'inline', ciphertext } : { kind: 'reference', url: '' } });
  const envelopeFileScript = offline ? await (deps.envelopeFileScript ?? (await import('../reader/bundle.ts')).buildEnvelopeFileScript)() : undefined;
  const build = async (payload: SecuredocInput['payload']): Promise<Buffer> => {
    const html = buildSecuredoc(securedocInput(envelopeId, keys.envelopeSecret, payload), { i18n: deps.i18n, views: deps.views, envelopeFileScript, templates });
    return buildNotification(notificationInput(envelopeId, html), { i18n: deps.i18n, views: deps.views, templates });
  };

  // Everything that could stop the envelope from being built is done before the key is stored,
  // so a failure never leaves a key behind for an envelope that was never sent. An inline
  // envelope is built whole here. One by reference needs the payload URL the key service
  // answers with, so it is tried with a stand-in URL now and built for real after the upload.
  let envelope: Buffer;
  try {
    envelope = await build(transport === 'inline' ? { kind: 'inline', ciphertext } : { kind: 'reference', url: info.keyService.url });
  } catch (err) {
    throw new ProfileError(`the profile "${info.profile.name}" cannot produce an envelope: ${(err as Error).message}`);
  }

  const upload: EnvelopeUpload = {
    serverShare: Buffer.from(keys.serverShare).toString('base64url'),
    sender: head.from.address,
    recipients,
    subject: head.subject,
    securityLevel: settings.securityLevel,
    expiresAt: overrides.expirationDate?.toISOString() ?? null,
    readBy: overrides.readNotificationDate?.toISOString() ?? null,
    flags,
    locale,
    algorithm: settings.algorithm,
    payload: { transport, digest: createHash('sha256').update(ciphertext).digest('hex'), size: ciphertext.length },
  };
  const stored = await deps.client.putEnvelope(envelopeId, upload);
  if (transport === 'reference') {
    if (stored.payloadPending) await deps.client.putPayload(envelopeId, ciphertext);
    if (!stored.payloadUrl) throw new Error('the key service did not say where the payload can be fetched');
    envelope = await build({ kind: 'reference', url: stored.payloadUrl });
  }
  return { envelopeId, envelope, transport, locale, warnings };
}

/** The profile (or the key service's address) cannot make a valid envelope; not the message's fault. */
export class ProfileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileError';
  }
}

function recipientsFromEnvelope(head: MessageHead, rcpt: readonly string[]): { to: string[]; cc: string[]; bcc: string[] } {
  const wanted = new Set(rcpt);
  const to = head.to.filter((a) => wanted.has(a));
  const cc = head.cc.filter((a) => wanted.has(a) && !to.includes(a));
  const bcc = [...wanted].filter((a) => !to.includes(a) && !cc.includes(a));
  return { to, cc, bcc };
}

const COPIED_HEADERS = ['from', 'to', 'cc', 'date', 'message-id', 'in-reply-to', 'references', 'reply-to'] as const;

/**
 * Header values copied into the notification must not carry a bare CR, LF or NUL: written
 * out they would start a new header line (header injection) or break the mail.
 */
function checkCopiedHeaders(head: MessageHead): void {
  for (const key of COPIED_HEADERS) {
    const value = head.get(key);
    if (value !== null && /[\r\n\0]/.test(value)) {
      const name = head.headers.find((h) => h.key === key)?.name ?? key;
      throw new MessageError('header_invalid', `${name}: the header contains a stray line break or NUL character; the message cannot be sealed as it is`, { header: name });
    }
  }
}

/** Profile settings, overridden by the message's X-PostX headers where it has them. */
export function effectiveFlags(settings: ProfileSettings, o: PostxOverrides): EnvelopeFlags {
  return {
    replyEnabled: o.replyEnabled ?? settings.replyEnabled,
    replyAllEnabled: o.replyAllEnabled ?? settings.replyAllEnabled,
    forwardEnabled: o.forwardEnabled ?? settings.forwardEnabled,
    sendReturnReceipt: o.sendReturnReceipt ?? settings.readReceipts,
    suppressAppletForOpen: o.suppressAppletForOpen ?? !settings.decryptionApplet,
    useScript: o.useScript ?? true,
    rememberEnvelopeKeyCheckbox: o.rememberEnvelopeKeyCheckbox ?? false,
  };
}

/**
 * With localized envelopes on, the message's own Content-Language (set by many clients, or by a
 * gateway rule) picks the envelope's language; otherwise the profile's default.
 */
function envelopeLocale(settings: ProfileSettings, head: MessageHead): Locale {
  if (!settings.localizedEnvelope) return settings.defaultLocale;
  return pickLocale([head.get('content-language'), head.get('accept-language')].flatMap((v) => (v ? v.split(',') : [])), settings.defaultLocale);
}

function parseDate(raw: string | null): Date | null {
  if (!raw) return null;
  const d = new Date(raw);
  return Number.isNaN(d.getTime()) ? null : d;
}
